"""Moodle GIFT: read and write.

Reads what Moodle's own GIFT import reads (docs.moodle.org "GIFT format"): ``//`` comments
(``// [id:...]`` and ``// [tag:...]`` give the key and tags, as Moodle 3.6+ does), ``$CATEGORY:``,
``::title::``, ``[html]``/``[moodle]``/``[plain]``/``[markdown]`` formats, questions over several
lines separated by a blank line, the escapes ``\\~ \\= \\# \\{ \\} \\: \\\\`` and ``\\n``, feedback
after ``#`` (dropped), and every answer block: multiple choice ``{=a ~b}``, weights ``~%50%``,
true/false ``{T}``, short answer ``{=a =b}``, matching ``{=a -> b}``, numeric ``{#3.5:0.1}``,
``{#1..5}`` and ``{#=3.5:0.1}``, essay ``{}``, and missing-word questions with text after the block.

GIFT has no marks: a question is worth 1 mark unless our own comment ``// [marks:N]`` says
otherwise (Moodle ignores it, as it ignores any comment).
"""
from __future__ import annotations

import html
import re
from decimal import Decimal

from engine.interchange.model import (CannotExport, ParsedItem, Skipped, clean_html, decimal, marks_value,
                                      number_text, text_to_html, tf_options)
from engine.plain_text import plain_text

_ESCAPES = {"\\\\": "\ue000", "\\~": "\ue001", "\\=": "\ue002", "\\#": "\ue003", "\\{": "\ue004",
            "\\}": "\ue005", "\\:": "\ue006"}
_RESTORE = {v: k[1] for k, v in _ESCAPES.items()}
_COMMENT_META = re.compile(r"\[(id|tag|marks):([^\]]+)\]")
_WEIGHT = re.compile(r"^%(-?\d+(?:\.\d+)?)%")
#: Moodle's placeholder for the blank in a missing-word question.
BLANK = "_____"


def _protect(text: str) -> str:
    for escape, mark in _ESCAPES.items():
        text = text.replace(escape, mark)
    return text.replace("\\n", "\n")


def _restore(text: str) -> str:
    for mark, char in _RESTORE.items():
        text = text.replace(mark, char)
    return text


def _blocks(source: str):
    """(first line number, lines, comment metadata, category) for each question in the file."""
    category, meta, lines, start = "", [], [], 0
    opened = answered = False
    for number, raw in enumerate(source.splitlines(), start=1):
        line = raw.rstrip()
        stripped = line.strip()
        if stripped.startswith("//"):
            meta += _COMMENT_META.findall(stripped)
            continue
        if not stripped:
            if lines:
                yield start, lines, meta, category
                lines, meta = [], []
            continue
        if stripped.startswith("$CATEGORY:") and not lines:
            category = stripped[len("$CATEGORY:"):].strip()
            meta = []
            continue
        if lines and stripped.startswith("::") and answered:
            # A new titled question straight after a finished one, without the blank line between.
            yield start, lines, meta, category
            lines, meta = [], []
        if not lines:
            start, opened, answered = number, False, False
        lines.append(line)
        protected = _protect(line)
        opened = opened or "{" in protected
        answered = answered or (opened and "}" in protected[protected.find("{") + 1:] if "{" in protected
                                else opened and "}" in protected)
    if lines:
        yield start, lines, meta, category


def read(data: bytes, name: str) -> list[ParsedItem | Skipped]:
    try:
        source = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [Skipped(name, "the file is not UTF-8 text; save it as UTF-8 and import it again")]
    found = []
    for start, lines, meta, category in _blocks(source):
        where = f"{name}: line {start}"
        try:
            found.append(_question(_protect("\n".join(lines)), where, meta, category))
        except _Unrepresentable as exc:
            found.append(Skipped(where, str(exc), exc.key))
    return found


class _Unrepresentable(ValueError):
    def __init__(self, message: str, key: str | None = None):
        super().__init__(message)
        self.key = key


def _question(text: str, where: str, meta: list, category: str) -> ParsedItem:
    key = None
    title = re.match(r"^\s*::(.*?)::", text, re.DOTALL)
    if title:
        key = _restore(title.group(1)).strip()
        text = text[title.end():]
    tags = [v.strip() for k, v in meta if k == "tag"] + [p for p in category.split("/") if p and not p.startswith("$")]
    ids = [v.strip() for k, v in meta if k == "id"]
    key = ids[0] if ids else key
    marks = next((decimal(v) for k, v in meta if k == "marks" and decimal(v)), None) or Decimal(1)
    fmt = re.match(r"^\s*\[(html|moodle|plain|markdown)\]", text)
    text_format = fmt.group(1) if fmt else "moodle"
    if fmt:
        text = text[fmt.end():]
    open_at = text.find("{")
    close_at = text.find("}", open_at + 1)
    if open_at < 0 or close_at < 0:
        raise _Unrepresentable("no answer block {...}: a description, not a question", key)
    before, answers, after = text[:open_at], text[open_at + 1:close_at], text[close_at + 1:]
    notes: list[str] = []
    approx: list[str] = []
    fmt_html = lambda t, at: _html(t, text_format, f"{where}: {at}", notes, inline=True)  # noqa: E731
    stem_text = before.strip() + (f" {BLANK} " + after.strip() if after.strip() else "")
    stem = _html(stem_text, text_format, f"{where}: question text", notes)
    defn, type_name = _answers(answers.strip(), stem, fmt_html, where, approx, key)
    defn = {"stem": stem, "marks": marks_value(marks), **defn}
    return ParsedItem(where=where, type_name=type_name, definition=defn, key_hint=key, tags=tags,
                      notes=notes, approximations=approx)


def _html(text: str, text_format: str, where: str, notes: list[str], inline: bool = False) -> str:
    text = _restore(text).strip()
    if text_format == "html" or (text_format == "moodle" and re.search(r"<[a-zA-Z][^>]*>", text)):
        return clean_html(text, where, notes)
    return html.escape(text, quote=False) if inline else text_to_html(text)


def _split_answers(block: str) -> list[tuple[str, str]]:
    """(sign, text) for each answer: '=' right, '~' wrong; feedback after '#' removed."""
    parts = re.findall(r"([=~])([^=~]*)", block)
    found = []
    for sign, body in parts:
        body = body.split("#", 1)[0].strip()
        found.append((sign, body))
    return found


def _answers(block: str, stem: str, fmt_html, where: str, approx: list[str], key):
    general = block.split("####", 1)[0]
    if not general.strip():
        return {"mark_scheme": "<p>No mark scheme came with this question: add one before it goes live.</p>"}, \
            "extended_response"
    if general.lstrip().startswith("#"):
        return _numeric(general.lstrip()[1:], approx, key), "numeric"
    word = general.split("#", 1)[0].strip().upper()
    if word in ("T", "TRUE", "F", "FALSE"):
        return {"preset": "true_false", "key": "true" if word.startswith("T") else "false"}, "single_choice"
    answers = _split_answers(general)
    if not answers:
        raise _Unrepresentable("the answer block has no answers", key)
    if any("->" in text for sign, text in answers if sign == "="):
        return _matching(answers, fmt_html, key), "matching"
    weights = []
    for sign, text in answers:
        weight = _WEIGHT.match(text)
        value = Decimal(weight.group(1)) if weight else (Decimal(100) if sign == "=" else Decimal(0))
        weights.append((value, _WEIGHT.sub("", text).strip()))
    if all(sign == "=" for sign, _ in answers):
        accepted = [text for value, text in weights if value == 100]
        if len(accepted) < len(weights):
            approx.append(f"{where}: answers worth less than 100% were left out (no partial credit for typed answers)")
        if not accepted:
            raise _Unrepresentable("no answer is worth 100%", key)
        return {"answers": [_restore(a) for a in accepted]}, "short_text"
    options = [{"id": chr(ord("a") + i) if i < 26 else f"o{i}", "text": fmt_html(text, f"answer {i + 1}")}
               for i, (_, text) in enumerate(weights)]
    full = [opt["id"] for opt, (value, _) in zip(options, weights) if value == 100]
    positive = [opt["id"] for opt, (value, _) in zip(options, weights) if value > 0]
    weighted = all(sign == "~" for sign, _ in answers)
    if not weighted and len(full) == 1 and all(v <= 0 for v, _ in weights if v != 100):
        if any(v < 0 for v, _ in weights):
            approx.append(f"{where}: negative marks for wrong answers are not kept (a wrong answer scores 0)")
        return {"options": options, "key": full[0]}, "single_choice"
    if not positive:
        raise _Unrepresentable("no answer carries any credit", key)
    if len(positive) == 1 and not weighted:
        approx.append(f"{where}: partial credit for a single answer is not kept; only the best answer scores")
        best = max(zip(options, weights), key=lambda pair: pair[1][0])[0]["id"]
        return {"options": options, "key": best}, "single_choice"
    share = Decimal(100) / len(positive)
    exact = all(abs(v - share) < Decimal("0.01") if o["id"] in positive else abs(v + share) < Decimal("0.01")
                for o, (v, _) in zip(options, weights))
    if not exact:
        approx.append(f"{where}: weights {', '.join(number_text(v) + '%' for v, _ in weights)} become an equal share "
                      "per right answer, with the same taken off for each wrong one")
    if len(positive) == len(options):
        raise _Unrepresentable("every option carries credit, so nothing is wrong to choose", key)
    return {"options": options, "keys": positive, "scoring": "per_option"}, "multiple_response"


def _numeric(body: str, approx: list[str], key) -> dict:
    answers = [a.split("#", 1)[0].strip() for a in re.split(r"=", body) if a.split("#", 1)[0].strip()] \
        if "=" in body else [body.split("#", 1)[0].strip()]
    full = [a for a in answers if not _WEIGHT.match(a) or _WEIGHT.match(a).group(1) in ("100", "100.0")]
    if len(full) < len(answers):
        approx.append("numeric answers worth less than 100% were left out")
    if len(full) != 1:
        raise _Unrepresentable(f"{len(full)} numeric answers are fully right; onscreen keeps one answer "
                               "with a tolerance", key)
    answer = _WEIGHT.sub("", full[0]).strip()
    if ".." in answer:
        low, high = (decimal(part) for part in answer.split("..", 1))
        if low is None or high is None or high < low:
            raise _Unrepresentable(f"{answer!r} is not a numeric range", key)
        middle, width = (low + high) / 2, (high - low) / 2
        defn = {"answer": number_text(middle)}
        if width:
            defn["tolerance"] = {"type": "absolute", "value": number_text(width)}
        return defn
    value, _, tolerance = answer.partition(":")
    number, width = decimal(value), decimal(tolerance) if tolerance else Decimal(0)
    if number is None or width is None or width < 0:
        raise _Unrepresentable(f"{answer!r} is not a number with an optional :tolerance", key)
    defn = {"answer": number_text(number)}
    if width:
        defn["tolerance"] = {"type": "absolute", "value": number_text(width)}
    return defn


def _matching(answers, fmt_html, key) -> dict:
    premises, responses, pairs = [], [], {}
    by_text: dict[str, str] = {}
    for index, (sign, text) in enumerate(answers, start=1):
        left, arrow, right = text.partition("->")
        if sign != "=" or not arrow:
            raise _Unrepresentable("every matching answer must be written =premise -> response", key)
        right = _restore(right).strip()
        if right not in by_text:
            by_text[right] = f"r{len(by_text) + 1}"
            responses.append({"id": by_text[right], "text": html.escape(right, quote=False)})
        if not left.strip():
            continue  # "= -> extra": a response that answers no premise (a distractor)
        premises.append({"id": f"p{len(premises) + 1}", "text": fmt_html(left, f"premise {index}")})
        pairs[premises[-1]["id"]] = by_text[right]
    defn = {"premises": premises, "responses": responses, "pairs": pairs, "scoring": "per_pair"}
    if len(set(pairs.values())) < len(pairs):
        defn["reuse_responses"] = True
    return defn


# --- writing ----------------------------------------------------------------------------------------


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\")
    for char in "~=#{}:":
        text = text.replace(char, "\\" + char)
    return " ".join(text.split())


def write(items: list[dict]) -> tuple[bytes, list[tuple[str, str]], list[str]]:
    """The GIFT file for ``items``; (text, skipped as (key, reason), notes on what was dropped)."""
    out, skipped, notes = ["// Exported from onscreen. Marks are in the comment before each question; Moodle ignores comments.", ""], [], []
    for item in items:
        try:
            body = _write_item(item, notes)
        except CannotExport as exc:
            skipped.append((item["id"], str(exc)))
            continue
        tags = "".join(f" [tag:{t}]" for t in [f"AC{item['criterion']}"] + list(item.get("topics", [])))
        out += [f"// [id:{item['id']}]{tags} [marks:{item['marks']}]", f"::{_escape(item['id'])}::{body}", ""]
    return "\n".join(out).encode("utf-8"), skipped, notes


def _write_item(item: dict, notes: list[str]) -> str:
    kind, key = item["type"], item["id"]
    stem = "[html]" + _escape(item["stem"])
    if kind == "single_choice":
        options, answer = tf_options(item)
        if item.get("preset") == "true_false" and "options" not in item:
            return f"{stem}{{{'TRUE' if answer == 'true' else 'FALSE'}}}"
        lines = [("=" if o["id"] == answer else "~") + _escape(o["text"]) for o in options]
        return stem + "{\n  " + "\n  ".join(lines) + "\n}"
    if kind == "multiple_response":
        if item.get("scoring", "all_or_nothing") != "per_option":
            raise CannotExport("GIFT weights give credit per option; all-or-nothing scoring cannot be carried")
        share = Decimal(100) / len(item["keys"])
        weight = f"{share.quantize(Decimal('0.00001')).normalize():f}"
        lines = [f"~%{'' if o['id'] in item['keys'] else '-'}{weight}%{_escape(o['text'])}" for o in item["options"]]
        return stem + "{\n  " + "\n  ".join(lines) + "\n}"
    if kind == "matching":
        if item.get("scoring", "per_pair") != "per_pair":
            raise CannotExport("Moodle matching gives credit per pair; all-or-nothing scoring cannot be carried")
        texts = {r["id"]: plain_text(r["text"]) for r in item["responses"]}
        lines = [f"={_escape(p['text'])} -> {_escape(texts[item['pairs'][p['id']]])}" for p in item["premises"]]
        lines += [f"= -> {_escape(texts[r])}" for r in texts if r not in item["pairs"].values()]
        return stem + "{\n  " + "\n  ".join(lines) + "\n}"
    if kind == "short_text":
        if item.get("case_sensitive") or item.get("ignore_punctuation"):
            raise CannotExport("GIFT short answers are matched ignoring case and exactly otherwise; "
                               "case_sensitive or ignore_punctuation cannot be carried")
        return stem + "{" + " ".join("=" + _escape(a) for a in item["answers"]) + "}"
    if kind == "numeric":
        answer, tolerance = Decimal(item["answer"]), item.get("tolerance")
        width = Decimal(0)
        if tolerance:
            width = Decimal(tolerance["value"]) * (abs(answer) if tolerance["type"] == "relative" else 1)
        if item.get("unit"):
            notes.append(f"{key}: the unit {item['unit']!r} is not carried by GIFT")
        return stem + "{#" + _escape(number_text(answer)) + (":" + number_text(width) if width else "") + "}"
    if kind == "extended_response":
        notes.append(f"{key}: the mark scheme is not carried by GIFT (essay questions have none)")
        return stem + "{}"
    raise CannotExport(f"GIFT has no question type for {kind}")
