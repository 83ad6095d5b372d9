"""What every format reader returns and every writer takes, and the helpers they share.

A reader turns a file into :class:`ParsedItem` (an item definition in our own shape, plus
what the file said about its key and its place in the unit) or :class:`Skipped` (a question
we cannot represent, with the reason). A writer takes bank-shaped item dicts (``id``, ``type``,
``criterion``, ``topics`` and the type's definition) and raises :class:`CannotExport` for an
item its format cannot carry without changing how it is marked.
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from engine.sanitize import sanitise_html

#: Markup that sanitising removes on purpose, so the report can say it was neutralised.
_UNSAFE = re.compile(r"<\s*(script|style|iframe|object|embed|form|input|link|meta|base|svg|math)\b"
                     r"|\son[a-z]+\s*=|\s(?:data-)?hx-[a-z-]+\s*=|javascript\s*:|vbscript\s*:", re.IGNORECASE)
_KEY_BAD = re.compile(r"[^a-z0-9.\-_]+")
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*?(/?)>")
_VOID = {"br", "hr", "img", "col", "input", "wbr", "area", "source"}
CRITERION_TAG = re.compile(r"^(?:AC|ac)?\s*(\d{1,2}\.\d{1,2})$")
CRITERION_IN_TEXT = re.compile(r"(?:^|[^A-Za-z0-9])AC[-_ ]?(\d{1,2}\.\d{1,2})(?![0-9])", re.IGNORECASE)


@dataclass
class ParsedItem:
    """One question read from a file, in our definition shape (not yet checked by its type)."""

    where: str
    type_name: str
    definition: dict
    #: The file's own identifier for it (QTI identifier, GIFT title, Moodle idnumber/name).
    key_hint: str | None = None
    #: Labels from the file that may name a criterion ("AC1.2") or topics (their ids).
    tags: list[str] = field(default_factory=list)
    #: Neutralised content and lost niceties: reported, imported anyway.
    notes: list[str] = field(default_factory=list)
    #: Ways the imported marking differs from the file's own: imported only when not strict.
    approximations: list[str] = field(default_factory=list)
    #: The files its images may come from (a package's members by path, or Moodle's embedded files)
    #: and the folder its srcs are relative to; None when the file imported carries no images.
    files: dict[str, bytes] | None = field(default=None, repr=False, compare=False)
    base: str = ""


@dataclass
class Skipped:
    """A question in the file that cannot be represented, and why."""

    where: str
    reason: str
    key_hint: str | None = None


class CannotExport(ValueError):
    """This item cannot be written in this format without changing its marking."""


def clean_html(raw: str, where: str, notes: list[str]) -> str:
    """Sanitise imported HTML; say so in ``notes`` when something unsafe was removed."""
    if _UNSAFE.search(raw or ""):
        notes.append(f"{where}: unsafe HTML (script, style, event handlers, javascript: links or similar) "
                     "was removed")
    return sanitise_html(raw or "").strip()


def text_to_html(text: str) -> str:
    """Plain text as a paragraph of escaped HTML (blank lines start new paragraphs)."""
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join(f"<p>{html.escape(p, quote=False)}</p>" for p in paragraphs) or ""


def make_key(hint: str | None) -> str | None:
    """A bank item id from a file's identifier: lower case, other characters as '-'."""
    if not hint:
        return None
    key = _KEY_BAD.sub("-", hint.strip().lower()).strip("-._")[:80]
    return key or None


def decimal(value) -> Decimal | None:
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() else None


def number_text(value: Decimal) -> str:
    """A Decimal written plainly: "2", "0.5", "-3.25" (no exponent, no trailing zeros)."""
    text = f"{value.normalize():f}"
    return "0" if text in ("-0", "") else text


def marks_value(marks: Decimal) -> int | float | str:
    """Marks as the bank files write them: a whole number or a half."""
    return int(marks) if marks == marks.to_integral_value() else float(marks)


def true_false_options(options: list[dict]) -> bool:
    """Whether a two-option list is just True / False (then it becomes the true_false preset)."""
    texts = [re.sub(r"<[^>]+>", "", o.get("text", "")).strip().lower() for o in options]
    return texts == ["true", "false"]


def as_true_false(defn: dict) -> dict:
    """A single-choice definition whose options are True/False, as the preset."""
    options = defn["options"]
    key_text = next(o["text"] for o in options if o["id"] == defn["key"])
    preset = {k: v for k, v in defn.items() if k not in ("options", "shuffle", "key")}
    preset["preset"] = "true_false"
    preset["key"] = "true" if re.sub(r"<[^>]+>", "", key_text).strip().lower() == "true" else "false"
    return preset


def tf_options(defn: dict) -> tuple[list[dict], str]:
    """The options and key of a single-choice definition, with the true/false preset spelled out."""
    if defn.get("preset") == "true_false" and "options" not in defn:
        return [{"id": "true", "text": "True"}, {"id": "false", "text": "False"}], defn["key"]
    return defn["options"], defn["key"]


def split_stem(html_text: str, marker: str = "[[") -> tuple[str, str]:
    """Split HTML into (the top-level blocks before the one holding ``marker``, the rest).

    Imported gap items arrive as one passage; ours keep an instruction (stem) and the passage
    (text) apart. One pass over the tags (linear, whatever the input).
    """
    at = html_text.find(marker)
    if at < 0:
        return "", html_text.strip()
    depth, block_start = 0, 0
    for tag in _TAG.finditer(html_text, 0, at):
        closing, name, self_closing = tag.group(1), tag.group(2).lower(), tag.group(3)
        if closing:
            depth = max(0, depth - 1)
            if depth == 0:
                block_start = tag.end()
        elif name not in _VOID and not self_closing:
            if depth == 0:
                block_start = tag.start()
            depth += 1
        elif depth == 0:
            block_start = tag.end()
    return html_text[:block_start].strip(), html_text[block_start:].strip()
