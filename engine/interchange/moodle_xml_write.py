"""Write items as Moodle XML (the reader, and which question types map to which, is moodle_xml.py).

Marks are ``<defaultgrade>``; the key is both ``<name>`` and ``<idnumber>``; the criterion
("AC1.2") and topics are ``<tags>``, so an export imports back to the same place in the unit.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from engine.interchange.model import CannotExport, number_text, tf_options
from engine.plain_text import plain_text


def _el(parent, tag, text=None, **attrs):
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items()})
    if text is not None:
        element.text = str(text)
    return element


def _text(parent, tag, content, fmt="html", **attrs):
    element = _el(parent, tag, format=fmt, **attrs)
    _el(element, "text", content)
    return element


def write(items: list[dict]) -> tuple[bytes, list[tuple[str, str]], list[str]]:
    quiz = ET.Element("quiz")
    skipped, notes = [], []
    for item in items:
        try:
            _write_item(quiz, item, notes)
        except CannotExport as exc:
            skipped.append((item["id"], str(exc)))
    ET.indent(quiz)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(quiz, encoding="utf-8", xml_declaration=False) \
        + b"\n", skipped, notes


def _cloze_escape(text: str) -> str:
    return re.sub(r'([}#~/"\\])', r"\\\1", text)


def _write_item(quiz, item: dict, notes: list[str]) -> None:
    kind = item["type"]
    q = ET.Element("question")
    body = _body(q, item, kind, notes)
    q.set("type", body["type"])
    head = [ET.Element("name"), ET.Element("questiontext", format="html")]
    _el(head[0], "text", item["id"])
    _el(head[1], "text", body.get("questiontext", item["stem"]))
    for index, element in enumerate(head):
        q.insert(index, element)
    _el(q, "defaultgrade", item["marks"])
    _el(q, "idnumber", item["id"])
    tags = _el(q, "tags")
    for tag in [f"AC{item['criterion']}"] + list(item.get("topics", [])):
        _el(_el(tags, "tag"), "text", tag)
    quiz.append(q)


def _body(q, item: dict, kind: str, notes: list[str]) -> dict:
    shuffle = "1" if item.get("shuffle", True) else "0"
    if kind == "single_choice":
        options, key = tf_options(item)
        if item.get("preset") == "true_false" and "options" not in item:
            for value in ("true", "false"):
                _text(q, "answer", value, fmt="moodle_auto_format", fraction=100 if value == key else 0)
            return {"type": "truefalse"}
        _el(q, "single", "true")
        _el(q, "shuffleanswers", shuffle)
        _el(q, "answernumbering", "abc")
        for option in options:
            _text(q, "answer", option["text"], fraction=100 if option["id"] == key else 0)
        return {"type": "multichoice"}
    if kind == "multiple_response":
        per_option = item.get("scoring", "all_or_nothing") == "per_option"
        share = f"{(Decimal(100) / len(item['keys'])).quantize(Decimal('0.00001')).normalize():f}"
        _el(q, "single", "false")
        _el(q, "shuffleanswers", shuffle)
        _el(q, "answernumbering", "abc")
        for option in item["options"]:
            right = option["id"] in item["keys"]
            fraction = (share if right else f"-{share}") if per_option else (100 if right else 0)
            _text(q, "answer", option["text"], fraction=fraction)
        return {"type": "multichoice" if per_option else "multichoiceset"}
    if kind == "matching":
        if item.get("scoring", "per_pair") != "per_pair":
            raise CannotExport("Moodle matching gives credit per pair; all-or-nothing scoring cannot be carried")
        _el(q, "shuffleanswers", "true" if item.get("shuffle", True) else "false")
        texts = {r["id"]: plain_text(r["text"]) for r in item["responses"]}
        for premise in item["premises"]:
            sub = _text(q, "subquestion", premise["text"])
            _el(_el(sub, "answer"), "text", texts[item["pairs"][premise["id"]]])
        for rid, text in texts.items():
            if rid not in item["pairs"].values():
                sub = _text(q, "subquestion", "")
                _el(_el(sub, "answer"), "text", text)
        return {"type": "match"}
    if kind == "ordering":
        _el(q, "layouttype", "VERTICAL")
        _el(q, "selecttype", "ALL")
        _el(q, "selectcount", "0")
        _el(q, "gradingtype", "ALL_OR_NOTHING" if item.get("scoring", "exact") == "exact" else "ABSOLUTE_POSITION")
        for index, entry in enumerate(item["items"], start=1):
            _text(q, "answer", entry["text"], fraction=index)
        return {"type": "ordering"}
    if kind == "gap_select":
        if len(item["gaps"]) > 20:
            raise CannotExport("Moodle gapselect has at most 20 groups of choices")
        gaps = {g["id"]: g for g in item["gaps"]}
        numbers, group = {}, 0
        for gap_id in re.findall(r"\[\[([A-Za-z0-9_-]+)\]\]", item["text"]):
            if gap_id not in gaps or gap_id in numbers:
                continue
            group += 1
            for option in gaps[gap_id]["options"]:
                choice = _el(q, "selectoption")
                _el(choice, "text", plain_text(option))
                _el(choice, "group", group)
                if option == gaps[gap_id]["key"]:
                    numbers[gap_id] = len(q.findall("selectoption"))
        _el(q, "shuffleanswers", shuffle)
        text = re.sub(r"\[\[([A-Za-z0-9_-]+)\]\]", lambda m: f"[[{numbers[m.group(1)]}]]" if m.group(1) in numbers
                      else m.group(0), item["text"])
        return {"type": "gapselect", "questiontext": item["stem"] + text}
    if kind == "text_entry":
        if item.get("ignore_punctuation"):
            raise CannotExport("Cloze short answers cannot ignore punctuation")
        code = "SHORTANSWER_C" if item.get("case_sensitive") else "SHORTANSWER"
        gaps = {g["id"]: g for g in item["gaps"]}
        text = re.sub(r"\[\[([A-Za-z0-9_-]+)\]\]", lambda m: "{1:" + code + ":" + "~".join(
            "=" + _cloze_escape(a) for a in gaps[m.group(1)]["answers"]) + "}" if m.group(1) in gaps else m.group(0),
            item["text"])
        return {"type": "multianswer", "questiontext": item["stem"] + text}
    if kind == "numeric":
        answer, tolerance = Decimal(item["answer"]), item.get("tolerance")
        width = Decimal(0)
        if tolerance:
            width = Decimal(tolerance["value"]) * (abs(answer) if tolerance["type"] == "relative" else 1)
        answer_el = _text(q, "answer", number_text(answer), fmt="moodle_auto_format", fraction=100)
        _el(answer_el, "tolerance", number_text(width))
        if item.get("unit"):
            unit = _el(_el(q, "units"), "unit")
            _el(unit, "multiplier", 1)
            _el(unit, "unit_name", item["unit"])
            _el(q, "unitgradingtype", 0)
            _el(q, "showunits", 3)
            _el(q, "unitsleft", 1 if all(c in "£$€¥" for c in item["unit"]) else 0)
        return {"type": "numerical"}
    if kind == "short_text":
        if item.get("ignore_punctuation"):
            raise CannotExport("Moodle short answers cannot ignore punctuation")
        _el(q, "usecase", 1 if item.get("case_sensitive") else 0)
        for answer in item["answers"]:
            _text(q, "answer", answer, fmt="moodle_auto_format", fraction=100)
        return {"type": "shortanswer"}
    if kind == "extended_response":
        _el(q, "responseformat", "editor")
        _el(q, "responserequired", 1)
        _el(q, "responsefieldlines", 15)
        if item.get("max_words"):
            _el(q, "maxwordenabled", 1)
            _el(q, "maxwordlimit", item["max_words"])
        _text(q, "graderinfo", item["mark_scheme"])
        return {"type": "essay"}
    raise CannotExport(f"Moodle XML has no question type for {kind}")
