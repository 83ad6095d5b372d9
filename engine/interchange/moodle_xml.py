"""Moodle XML: reading (docs.moodle.org "Moodle XML format"); writing is moodle_xml_write.py.

Question types read and written: multichoice (single and multiple), multichoiceset (the
all-or-nothing plugin), truefalse, shortanswer, numerical, essay, match, ordering (qtype_ordering),
gapselect and multianswer (Cloze, with SHORTANSWER gaps as typed gap fill or MULTICHOICE gaps as
drop-downs). Anything else (calculated, ddwtos, description...) is reported and left out.
Marks are ``<defaultgrade>``; the key is ``<idnumber>`` (else ``<name>``); ``<tags>`` and the
category path may name the criterion ("AC1.2") and topics.
"""
from __future__ import annotations

import base64
import binascii
import html
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from engine.interchange.model import (ParsedItem, Skipped, clean_html, decimal, marks_value, number_text, split_stem,
                                      text_to_html)
from engine.interchange.safe_xml import InterchangeError, parse_xml, text_of
from engine.plain_text import plain_text

_CLOZE = re.compile(r"\{(\d*):([A-Z_]+):((?:\\.|[^}\\])*)\}")
_SHORT = {"SHORTANSWER": False, "SA": False, "MW": False, "SHORTANSWER_C": True, "SAC": True, "MWC": True}
_DROPDOWN = {"MULTICHOICE", "MC", "MULTICHOICE_S", "MCS"}


class _Unrepresentable(ValueError):
    pass


def read(data: bytes, name: str) -> list[ParsedItem | Skipped]:
    root = parse_xml(data, name)
    if root.tag != "quiz":
        raise InterchangeError(f"{name}: not a Moodle XML file (the root element is <{root.tag}>, not <quiz>)")
    found, category = [], ""
    for number, question in enumerate(root.findall("question"), start=1):
        kind = question.get("type", "")
        if kind == "category":
            category = text_of(question.find("category/text"))
            continue
        title = text_of(question.find("name/text"))
        where = f"{name}: question {number}" + (f" ({title})" if title else "")
        key = text_of(question.find("idnumber")) or title or None
        try:
            found.append(_question(question, kind, where, key, category))
        except _Unrepresentable as exc:
            found.append(Skipped(where, str(exc), key))
    return found


def _html(element: ET.Element | None, where: str, notes: list[str]) -> str:
    if element is None:
        return ""
    raw = text_of(element.find("text")) if element.find("text") is not None else text_of(element)
    text_format = element.get("format", "html")
    if text_format == "html" or (text_format == "moodle_auto_format" and re.search(r"<[a-zA-Z][^>]*>", raw)):
        return clean_html(raw, where, notes)
    return text_to_html(raw)


def _question(q: ET.Element, kind: str, where: str, key, category: str) -> ParsedItem:
    notes, approx = [], []
    tags = [text_of(t) for t in q.findall("tags/tag/text")] + [p for p in category.split("/") if p and "$" not in p]
    marks = decimal(text_of(q.find("defaultgrade")) or "1") or Decimal(1)
    stem = _html(q.find("questiontext"), f"{where}: question text", notes)
    shuffle = text_of(q.find("shuffleanswers")).lower() in ("1", "true", "")
    answers = [(decimal(a.get("fraction", "0")) or Decimal(0), a) for a in q.findall("answer")]
    if kind in ("multichoice", "multichoiceset"):
        defn, type_name = _choice(q, kind, answers, where, notes, approx)
        defn["shuffle"] = shuffle
    elif kind == "truefalse":
        right = [text_of(a.find("text")).lower() for f, a in answers if f == 100]
        if right not in (["true"], ["false"]):
            raise _Unrepresentable("a true/false question needs exactly one answer worth 100%")
        defn, type_name = {"preset": "true_false", "key": right[0]}, "single_choice"
    elif kind == "shortanswer":
        accepted = [text_of(a.find("text")) for f, a in answers if f == 100]
        if len(accepted) < len(answers):
            approx.append(f"{where}: answers worth less than 100% were left out")
        if not accepted:
            raise _Unrepresentable("no answer is worth 100%")
        defn, type_name = {"answers": accepted, "case_sensitive": text_of(q.find("usecase")) == "1"}, "short_text"
    elif kind == "numerical":
        defn, type_name = _numerical(q, answers, where, approx), "numeric"
    elif kind == "essay":
        scheme = _html(q.find("graderinfo"), f"{where}: grader information", notes)
        if not plain_text(scheme):
            scheme = "<p>No mark scheme came with this question: add one before it goes live.</p>"
            notes.append(f"{where}: no grader information: a placeholder mark scheme was written")
        defn, type_name = {"mark_scheme": scheme}, "extended_response"
        limit = text_of(q.find("maxwordlimit"))
        if text_of(q.find("maxwordenabled")) == "1" and limit.isdigit() and int(limit) > 0:
            defn["max_words"] = int(limit)
    elif kind == "match":
        defn, type_name = _match(q, where, notes), "matching"
        defn["shuffle"] = shuffle
    elif kind == "ordering":
        defn, type_name = _ordering(q, answers, where, notes, approx), "ordering"
    elif kind == "gapselect":
        defn, type_name = _gapselect(q, stem, where, notes), "gap_select"
        stem, defn["text"] = _stem_and_text(defn.pop("passage"), "<p>Choose the right word for each gap.</p>", notes, where)
        defn["shuffle"] = shuffle
    elif kind == "multianswer":
        defn, type_name, stem, weights = _cloze(stem, marks, where, notes, approx)
        if q.find("defaultgrade") is None:  # Moodle's own export leaves it out: the gaps' weights add up
            marks = sum(weights, Decimal(0))
    else:
        raise _Unrepresentable(f"Moodle question type {kind!r} has no onscreen item type")
    return ParsedItem(where=where, type_name=type_name, key_hint=key, tags=tags, notes=notes, approximations=approx,
                      definition={"stem": stem, "marks": marks_value(marks), **defn},
                      files=_embedded_files(q, where, notes))


def _embedded_files(q: ET.Element, where: str, notes: list[str]) -> dict[str, bytes]:
    """The question's ``<file name= path= encoding="base64">`` elements by path (as
    ``@@PLUGINFILE@@/path/name`` names them); the import stores the images among them."""
    files: dict[str, bytes] = {}
    for element in q.iter("file"):
        name = f"{(element.get('path') or '/').strip('/')}/{element.get('name', '')}".lstrip("/")
        if element.get("encoding", "base64") != "base64" or not element.get("name"):
            notes.append(f"{where}: embedded file {name!r} is not named or not base64; it was left out")
            continue
        try:
            files.setdefault(name, base64.b64decode("".join((element.text or "").split()), validate=True))
        except (binascii.Error, ValueError):
            notes.append(f"{where}: embedded file {name!r} is not valid base64; it was left out")
    return files


def _stem_and_text(passage: str, default: str, notes: list[str], where: str) -> tuple[str, str]:
    stem, text = split_stem(passage)
    if not plain_text(stem):
        notes.append(f"{where}: the question has no instruction before the gaps; {plain_text(default)!r} was used")
        stem = default
    return stem, text


def _choice(q, kind, answers, where, notes, approx):
    options = [{"id": chr(ord("a") + i) if i < 26 else f"o{i}", "text": _html(a, f"{where}: answer {i + 1}", notes)}
               for i, (_, a) in enumerate(answers)]
    fractions = [f for f, _ in answers]
    single = text_of(q.find("single")).lower() in ("true", "1") and kind == "multichoice"
    positive = [o["id"] for o, f in zip(options, fractions) if f > 0]
    if not positive:
        raise _Unrepresentable("no answer carries any credit")
    if single:
        full = [o["id"] for o, f in zip(options, fractions) if f == 100]
        if len(full) != 1 or len(positive) != 1:
            approx.append(f"{where}: partial credit for other answers is not kept; only the 100% answer scores")
        best = full[0] if full else max(zip(options, fractions), key=lambda pair: pair[1])[0]["id"]
        # True/False written as multichoice keeps its options: the file's own order and wording.
        return {"options": options, "key": best}, "single_choice"
    if len(positive) == len(options):
        raise _Unrepresentable("every option carries credit, so nothing is wrong to choose")
    if kind == "multichoiceset":
        return {"options": options, "keys": positive, "scoring": "all_or_nothing"}, "multiple_response"
    share = Decimal(100) / len(positive)
    exact = all(abs(f - share) < Decimal("0.01") if o["id"] in positive else abs(f + share) < Decimal("0.01")
                for o, f in zip(options, fractions))
    if not exact:
        approx.append(f"{where}: fractions {', '.join(number_text(f) + '%' for f in fractions)} become an equal share "
                      "per right answer, with the same taken off for each wrong one")
    return {"options": options, "keys": positive, "scoring": "per_option"}, "multiple_response"


def _numerical(q, answers, where, approx) -> dict:
    full = [a for f, a in answers if f == 100]
    if len(full) < len(answers):
        approx.append(f"{where}: answers worth less than 100% were left out")
    if len(full) != 1:
        raise _Unrepresentable(f"{len(full)} answers are worth 100%; onscreen keeps one answer with a tolerance")
    value, width = decimal(text_of(full[0].find("text"))), decimal(text_of(full[0].find("tolerance")) or "0")
    if value is None or width is None:
        raise _Unrepresentable("the answer or its tolerance is not a number")
    defn = {"answer": number_text(value)}
    if width:
        defn["tolerance"] = {"type": "absolute", "value": number_text(abs(width))}
    for unit in q.findall("units/unit"):
        if decimal(text_of(unit.find("multiplier"))) == 1 and text_of(unit.find("unit_name")):
            defn["unit"] = text_of(unit.find("unit_name"))
            break
    return defn


def _match(q, where, notes) -> dict:
    premises, responses, pairs, by_text = [], [], {}, {}
    for index, sub in enumerate(q.findall("subquestion"), start=1):
        answer = text_of(sub.find("answer/text"))
        if answer not in by_text:
            by_text[answer] = f"r{len(by_text) + 1}"
            responses.append({"id": by_text[answer], "text": html.escape(answer, quote=False)})
        premise = _html(sub, f"{where}: subquestion {index}", notes)
        if plain_text(premise) or "<img" in premise:
            premises.append({"id": f"p{len(premises) + 1}", "text": premise})
            pairs[premises[-1]["id"]] = by_text[answer]
    defn = {"premises": premises, "responses": responses, "pairs": pairs, "scoring": "per_pair"}
    if len(set(pairs.values())) < len(pairs):
        defn["reuse_responses"] = True
    return defn


def _ordering(q, answers, where, notes, approx) -> dict:
    if text_of(q.find("selecttype")) not in ("", "ALL", "0") and text_of(q.find("selectcount")) not in ("", "0"):
        raise _Unrepresentable("only some of the items are shown (selecttype); onscreen shows them all")
    items = [{"id": f"s{i + 1}", "text": _html(a, f"{where}: item {i + 1}", notes)} for i, (_, a) in enumerate(answers)]
    grading = text_of(q.find("gradingtype")) or "ABSOLUTE_POSITION"
    if grading not in ("ALL_OR_NOTHING", "ABSOLUTE_POSITION", "-1", "0"):
        approx.append(f"{where}: grading {grading} becomes a share of the marks per item in its place")
    return {"items": items, "scoring": "exact" if grading in ("ALL_OR_NOTHING", "-1") else "per_position"}


def _gapselect(q, stem, where, notes) -> dict:
    choices = [(text_of(o.find("text")), text_of(o.find("group")) or "1") for o in q.findall("selectoption")]
    gaps, seen = [], {}

    def place(match: re.Match) -> str:
        number = int(match.group(1))
        if not 1 <= number <= len(choices):
            raise _Unrepresentable(f"[[{number}]] names no choice")
        right, group = choices[number - 1]
        gap_id = f"g{len(gaps) + 1}"
        gaps.append({"id": gap_id, "options": [html.escape(c, quote=False) for c, g in choices if g == group],
                     "key": html.escape(right, quote=False)})
        seen[gap_id] = number
        return f"[[{gap_id}]]"

    passage = re.sub(r"\[\[(\d+)\]\]", place, stem)
    if not gaps:
        raise _Unrepresentable("the question text has no [[n]] gaps")
    return {"passage": passage, "gaps": gaps}


def _cloze_answers(body: str) -> list[tuple[Decimal, str]]:
    found = []
    for part in re.split(r"(?<!\\)~", body):
        part = re.split(r"(?<!\\)#", part, maxsplit=1)[0]
        weight = Decimal(100) if part.startswith("=") else Decimal(0)
        part = part[1:] if part.startswith("=") else part
        match = re.match(r"^%(-?\d+(?:\.\d+)?)%", part)
        if match:
            weight, part = Decimal(match.group(1)), part[match.end():]
        found.append((weight, re.sub(r"\\(.)", r"\1", part).strip()))
    return found


def _cloze(stem, marks, where, notes, approx):
    gaps, kinds, weights = [], set(), []

    def place(match: re.Match) -> str:
        weight, kind, body = match.group(1) or "1", match.group(2), match.group(3)
        answers = _cloze_answers(body)
        gap_id = f"g{len(gaps) + 1}"
        if kind in _SHORT:
            kinds.add(("short", _SHORT[kind]))
            accepted = [text for value, text in answers if value == 100]
            if len(accepted) < len(answers):
                approx.append(f"{where}: gap {len(gaps) + 1}: answers worth less than 100% were left out")
            gaps.append({"id": gap_id, "answers": accepted})
        elif kind in _DROPDOWN:
            kinds.add(("select", False))
            right = [text for value, text in answers if value == 100]
            if len(right) != 1:
                raise _Unrepresentable(f"gap {len(gaps) + 1} needs exactly one answer worth 100%")
            gaps.append({"id": gap_id, "options": [html.escape(t, quote=False) for _, t in answers],
                         "key": html.escape(right[0], quote=False)})
        else:
            raise _Unrepresentable(f"Cloze {kind} gaps have no onscreen item type (typed or drop-down gaps only)")
        weights.append(weight)
        return f"[[{gap_id}]]"

    passage = _CLOZE.sub(place, stem)
    if not gaps:
        raise _Unrepresentable("the Cloze text has no {1:SHORTANSWER:...} or {1:MULTICHOICE:...} gaps")
    if len(kinds) != 1:
        raise _Unrepresentable("typed and drop-down gaps (or case-sensitive and not) are mixed in one question; "
                               "onscreen items have one kind")
    if len(set(weights)) > 1:
        approx.append(f"{where}: gap weights {', '.join(weights)} become an equal share per gap")
    kind, case_sensitive = kinds.pop()
    if kind == "short":
        new_stem, text = _stem_and_text(passage, "<p>Type the missing words.</p>", notes, where)
        defn = {"text": text, "gaps": gaps, "case_sensitive": case_sensitive}
        return defn, "text_entry", new_stem, [Decimal(w) for w in weights]
    new_stem, text = _stem_and_text(passage, "<p>Choose the right word for each gap.</p>", notes, where)
    return {"text": text, "gaps": gaps, "shuffle": False}, "gap_select", new_stem, [Decimal(w) for w in weights]
