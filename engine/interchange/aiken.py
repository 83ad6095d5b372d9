"""Aiken: single-answer multiple choice only (docs.moodle.org "Aiken format").

A question is its text on one line, then options ``A. text`` or ``A) text``, then
``ANSWER: B``. Aiken carries no marks, no ids and no formatting: imported questions are worth
1 mark, keyed ``<file>-<n>``; only plain-text items of 1 mark are exported.
"""
from __future__ import annotations

import re
from decimal import Decimal

from engine.interchange.model import CannotExport, ParsedItem, Skipped, text_to_html, tf_options
from engine.plain_text import plain_text

_OPTION = re.compile(r"^([A-Z])[.)]\s+(.*\S)\s*$")
_ANSWER = re.compile(r"^ANSWER:\s*([A-Z])\s*$")


def read(data: bytes, name: str) -> list[ParsedItem | Skipped]:
    try:
        lines = data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        return [Skipped(name, "the file is not UTF-8 text; save it as UTF-8 and import it again")]
    found, question, options, start = [], [], [], 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        option, answer = _OPTION.match(line), _ANSWER.match(line)
        if answer and question:
            where = f"{name}: line {start}"
            letters = [letter for letter, _ in options]
            if len(options) < 2:
                found.append(Skipped(where, "needs at least two options (A. ..., B. ...)"))
            elif answer.group(1) not in letters:
                found.append(Skipped(where, f"ANSWER: {answer.group(1)} is not one of the options {', '.join(letters)}"))
            else:
                found.append(ParsedItem(
                    where=where, type_name="single_choice",
                    definition={"stem": text_to_html(" ".join(question)), "marks": 1,
                                "options": [{"id": letter.lower(), "text": text} for letter, text in options],
                                "key": answer.group(1).lower()}))
            question, options = [], []
        elif option and question:
            options.append((option.group(1), option.group(2)))
        elif not options:
            start = start if question else number
            question.append(line)
        else:
            found.append(Skipped(f"{name}: line {number}", f"expected an option (B. ...) or ANSWER: X, not {line!r}"))
            question, options = [], []
    if question:
        found.append(Skipped(f"{name}: line {start}", "the question has no ANSWER: line"))
    return found


def write(items: list[dict]) -> tuple[bytes, list[tuple[str, str]], list[str]]:
    out, skipped, notes = [], [], []
    for item in items:
        try:
            out += _write_item(item, notes) + [""]
        except CannotExport as exc:
            skipped.append((item["id"], str(exc)))
    return "\n".join(out).encode("utf-8"), skipped, notes


def _write_item(item: dict, notes: list[str]) -> list[str]:
    if item["type"] != "single_choice":
        raise CannotExport(f"Aiken carries single-answer multiple choice only, not {item['type']}")
    if Decimal(str(item["marks"])) != 1:
        raise CannotExport(f"Aiken questions are worth 1 mark; this item is worth {item['marks']}")
    options, key = tf_options(item)
    if len(options) > 26:
        raise CannotExport("Aiken letters options A to Z; this item has more")
    texts = [item["stem"]] + [o["text"] for o in options]
    if any(re.search(r"<(img|table|ul|ol)\b", t, re.IGNORECASE) for t in texts):
        raise CannotExport("Aiken is plain text; this item has images, tables or lists")
    if any(re.search(r"<(?!/?p\b)[a-z]", t, re.IGNORECASE) for t in texts):
        notes.append(f"{item['id']}: formatting (bold, italics) is dropped: Aiken is plain text")
    lines = [plain_text(item["stem"])]
    letters = {}
    for index, option in enumerate(options):
        letters[option["id"]] = chr(ord("A") + index)
        lines.append(f"{letters[option['id']]}. {plain_text(option['text'])}")
    lines.append(f"ANSWER: {letters[key]}")
    return lines
