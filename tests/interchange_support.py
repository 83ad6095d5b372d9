"""Helpers for the interchange tests: a small unit bank holding every good example item, a way
to zip a fixture folder, and a marking signature that says what an item rewards in words (so two
items with different option ids but the same key compare equal)."""
from __future__ import annotations

import io
import zipfile
from decimal import Decimal
from pathlib import Path

import yaml

from engine.plain_text import plain_text

FIXTURES = Path(__file__).parent / "fixtures"
INTERCHANGE = FIXTURES / "interchange"
URN = "T/999/0001"
UNIT = {
    "urn": URN, "title": "Interchange test unit", "level": 3,
    "learning_outcomes": [
        {"number": "1", "title": "Outcome one", "criteria": [
            {"number": "1.1", "title": "Criterion 1.1", "amplification": [
                {"id": "t-one", "heading": "Topic one", "text": "The first topic."},
                {"id": "t-two", "heading": "Topic two", "text": "The second topic."}]},
            {"number": "1.2", "title": "Criterion 1.2", "amplification": [
                {"id": "t-three", "heading": "Topic three", "text": "The third topic."}]}]},
        {"number": "2", "title": "Outcome two", "criteria": [
            {"number": "2.1", "title": "Criterion 2.1", "amplification": [
                {"id": "t-four", "heading": "Topic four", "text": "The fourth topic."}]}]},
    ],
}


def good_examples() -> list[tuple[str, int, dict]]:
    found = []
    for file in sorted((FIXTURES / "items").glob("*/*.yaml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for index, example in enumerate(data.get("good") or []):
            found.append((file.parent.name, index, example["definition"]))
    return found


def example_key(type_name: str, index: int) -> str:
    return f"{type_name.replace('_', '-')}-{index}"


def write_bank(folder: Path) -> Path:
    """A unit folder with every good example as a live item under criterion 1.1 (or 2.1 for odd ones)."""
    (folder / "items").mkdir(parents=True)
    (folder / "unit.yaml").write_text(yaml.safe_dump(UNIT, sort_keys=False), encoding="utf-8")
    items = []
    for type_name, index, definition in good_examples():
        criterion, topics = ("1.1", ["t-two"]) if index % 2 else ("2.1", ["t-four"])
        items.append({"id": example_key(type_name, index), "type": type_name, "criterion": criterion,
                      "topics": topics, "status": "live", **definition})
    (folder / "items" / "all.yaml").write_text(yaml.safe_dump({"items": items}, sort_keys=False), encoding="utf-8")
    return folder


def zip_folder(folder: Path, extra: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder).as_posix())
        for name, content in (extra or {}).items():
            archive.writestr(name, content)
    return buffer.getvalue()


def _words(html: str) -> str:
    return plain_text(html).strip()


def signature(type_name: str, defn: dict) -> tuple:
    """What the item rewards, in words: equal signatures mark every response the same way."""
    marks = Decimal(str(defn["marks"]))
    if type_name == "single_choice":
        if defn.get("preset") == "true_false" and "options" not in defn:
            return marks, defn["key"]
        key = next(o["text"] for o in defn["options"] if o["id"] == defn["key"])
        return marks, _words(key).lower() if _words(key).lower() in ("true", "false") else _words(key)
    if type_name == "multiple_response":
        texts = {o["id"]: _words(o["text"]) for o in defn["options"]}
        return (marks, sorted(texts.values()), sorted(texts[k] for k in defn["keys"]),
                defn.get("scoring", "all_or_nothing"))
    if type_name == "matching":
        premises = {p["id"]: _words(p["text"]) for p in defn["premises"]}
        responses = {r["id"]: _words(r["text"]) for r in defn["responses"]}
        return (marks, sorted((premises[p], responses[r]) for p, r in defn["pairs"].items()),
                sorted(responses.values()), defn.get("scoring", "per_pair"))
    if type_name == "ordering":
        return marks, [_words(i["text"]) for i in defn["items"]], defn.get("scoring", "exact")
    if type_name in ("gap_select", "text_entry"):
        import re
        gaps = {g["id"]: g for g in defn["gaps"]}
        order = [g for g in dict.fromkeys(re.findall(r"\[\[([A-Za-z0-9_-]+)\]\]", defn["text"])) if g in gaps]
        if type_name == "gap_select":
            return marks, [(sorted(_words(o) for o in gaps[g]["options"]), _words(gaps[g]["key"])) for g in order]
        return marks, [sorted(gaps[g]["answers"]) for g in order], bool(defn.get("case_sensitive"))
    if type_name == "short_text":
        return marks, sorted(defn["answers"]), bool(defn.get("case_sensitive"))
    if type_name == "numeric":
        answer = Decimal(defn["answer"])
        tolerance = defn.get("tolerance")
        width = Decimal(0)
        if tolerance:
            width = Decimal(tolerance["value"]) * (abs(answer) if tolerance["type"] == "relative" else 1)
        return marks, answer - width, answer + width
    if type_name == "extended_response":
        return (marks,)
    raise AssertionError(type_name)


def _by_words(entries: list[dict]) -> dict[str, str]:
    return {_words(e["text"]): e["id"] for e in entries}


def _gap_order(defn: dict) -> list[str]:
    import re
    ids = {g["id"] for g in defn["gaps"]}
    return [g for g in dict.fromkeys(re.findall(r"\[\[([A-Za-z0-9_-]+)\]\]", defn["text"])) if g in ids]


def _options(defn: dict) -> list[dict]:
    if defn.get("preset") == "true_false" and "options" not in defn:
        return [{"id": "true", "text": "True"}, {"id": "false", "text": "False"}]
    return defn["options"]


def translate(type_name: str, old: dict, new: dict, response):
    """``response`` to ``old`` as the same answer to ``new`` (ids matched through their words)."""
    if type_name in ("single_choice", "multiple_response"):
        old_words = {o["id"]: _words(o["text"]).lower() for o in _options(old)}
        new_ids = {_words(o["text"]).lower(): o["id"] for o in _options(new)}
        if isinstance(response, list):
            return sorted(new_ids[old_words[r]] for r in response)
        return new_ids[old_words[response]]
    if type_name == "ordering":
        old_words = {e["id"]: _words(e["text"]) for e in old["items"]}
        new_ids = _by_words(new["items"])
        return [new_ids[old_words[r]] for r in response]
    if type_name == "matching":
        premise = {p["id"]: _by_words(new["premises"])[_words(p["text"])] for p in old["premises"]}
        answer = {r["id"]: _by_words(new["responses"])[_words(r["text"])] for r in old["responses"]}
        return {premise[p]: answer[r] for p, r in response.items()}
    if type_name in ("gap_select", "text_entry"):
        mapping = dict(zip(_gap_order(old), _gap_order(new)))
        return {mapping[g]: value for g, value in response.items()}
    return response


def sample_responses(type_name: str, defn: dict) -> list:
    """Right, wrong and partly right responses to ``defn`` (for checking two items mark alike)."""
    if type_name == "single_choice":
        return [o["id"] for o in _options(defn)]
    if type_name == "multiple_response":
        ids = [o["id"] for o in defn["options"]]
        return [[i] for i in ids] + [sorted({ids[0], ids[-1]}), sorted(defn["keys"]), sorted(defn["keys"] + [
            i for i in ids if i not in defn["keys"]][:1])]
    if type_name == "ordering":
        ids = [e["id"] for e in defn["items"]]
        return [ids, ids[::-1], ids[1:] + ids[:1], [ids[0], ids[2], ids[1]] + ids[3:]]
    if type_name == "matching":
        pairs = dict(defn["pairs"])
        first = next(iter(pairs))
        wrong = next(r["id"] for r in defn["responses"] if r["id"] != pairs[first])
        return [pairs, {**pairs, first: wrong}, {first: pairs[first]}]
    if type_name == "gap_select":
        gaps = {g["id"]: g for g in defn["gaps"]}
        right = {g: gaps[g]["key"] for g in gaps}
        wrong = {g: next(o for o in gaps[g]["options"] if o != gaps[g]["key"]) for g in gaps}
        first = next(iter(gaps))
        return [right, wrong, {**right, first: wrong[first]}]
    if type_name == "text_entry":
        right = {g["id"]: g["answers"][0] for g in defn["gaps"]}
        first = next(iter(right))
        return [right, {**right, first: "zzz"}, {g: right[g].upper() for g in right}]
    if type_name == "short_text":
        return [defn["answers"][0], defn["answers"][0].upper(), "zzz"]
    if type_name == "numeric":
        answer = Decimal(defn["answer"])
        return [{"raw": str(answer + delta)} for delta in (Decimal(0), Decimal("0.01"), Decimal("-0.05"), Decimal(1))]
    return ["An answer."]
