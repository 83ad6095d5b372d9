"""Access arrangements: what a candidate is allowed, recorded once on the candidate and applied to
every test they sit. The one place the rules about them live.

They are stored as a JSON object on ``Candidate.access_arrangements`` with these keys (other
modules read them; keep the names):

=========================  ======  ==========================================================
key                        type    meaning
=========================  ======  ==========================================================
``extra_time_percent``     int     0 to 50; 25 is the usual award
``extra_time_reason``      str     why more than 25 % (required above 25 %)
``extra_time_evidence``    str     the evidence reference, e.g. a Form 8 (required above 25 %)
``approved_by``            str     who approved the arrangement (required above 25 %)
``approved_on``            str     ISO date of the approval (required above 25 %)
``rest_breaks``            bool    supervised rest breaks (the clock stops)
``computer_reader``        bool    a computer reader (read aloud)
``colour_scheme``          str     one of ``COLOUR_SCHEMES``, or absent
``enlarged_text``          bool    enlarged text
``separate_invigilation``  bool    sits in a separate room
=========================  ======  ==========================================================

Following JCQ, 25 % is the usual extra time; more, up to 50 %, only with a recorded reason, the
evidence behind it and who approved it. Keys this module does not know are left alone, so other
features may keep their own settings in the same object.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

STANDARD_EXTRA_TIME = 25
MAX_EXTRA_TIME = 50
COLOUR_SCHEMES = ("cream", "blue", "yellow", "pink", "high_contrast")
FLAGS = ("rest_breaks", "computer_reader", "enlarged_text", "separate_invigilation")
TEXTS = ("extra_time_reason", "extra_time_evidence", "approved_by")
KEYS = ("extra_time_percent", *TEXTS, "approved_on", *FLAGS, "colour_scheme")
LABELS = {
    "extra_time_percent": "extra time (%)",
    "extra_time_reason": "reason for extra time",
    "extra_time_evidence": "evidence reference",
    "approved_by": "approved by",
    "approved_on": "approved on",
    "rest_breaks": "supervised rest breaks",
    "computer_reader": "computer reader",
    "colour_scheme": "colour scheme",
    "enlarged_text": "enlarged text",
    "separate_invigilation": "separate invigilation",
}
MAX_TEXT = 200

_TRUE = {"yes", "y", "true", "t", "1", "on", "x"}
_FALSE = {"no", "n", "false", "f", "0", "off", ""}


@dataclass(frozen=True)
class Problem:
    """What is wrong with one field; ``field`` is the arrangement key (and the CSV column)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


def parse_flag(text: str | None) -> bool | None:
    """yes/no, true/false, 1/0, y/n, on/off, x or blank; None when it is none of them."""
    value = (text or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    return None


def from_text(fields: Mapping[str, str | None]) -> tuple[dict[str, Any], list[Problem]]:
    """Typed arrangements from text (a form or a CSV row); only the keys present are read.

    Returns what could be parsed and the problems of what could not; :func:`validate_access_arrangements`
    then applies the rules. Blank means "not awarded".
    """
    result: dict[str, Any] = {}
    problems: list[Problem] = []
    for key in KEYS:
        if key not in fields:
            continue
        text = (fields[key] or "").strip()
        if key == "extra_time_percent":
            number = text.rstrip("%").strip()
            if not number:
                result[key] = 0
            elif number.isdigit():
                result[key] = int(number)
            else:
                problems.append(Problem(key, f"{text!r} is not a whole number of percent, e.g. 25."))
        elif key in FLAGS:
            flag = parse_flag(text)
            if flag is None:
                problems.append(Problem(key, f"{text!r} is not yes or no."))
            else:
                result[key] = flag
        elif key == "colour_scheme":
            result[key] = text.lower().replace(" ", "_").replace("-", "_")
        else:
            result[key] = text
    return result, problems


def validate_access_arrangements(arrangements: Mapping[str, Any], today: dt.date | None = None) -> list[Problem]:
    """Every problem with ``arrangements`` (typed values, as stored); an empty list when they are good.

    :param today: the centre's date, when known: an approval cannot be dated in the future.
    """
    problems: list[Problem] = []
    percent = arrangements.get("extra_time_percent", 0)
    if percent is None:
        percent = 0
    if isinstance(percent, bool) or not isinstance(percent, int):
        problems.append(Problem("extra_time_percent", "must be a whole number of percent."))
        percent = 0
    elif not 0 <= percent <= MAX_EXTRA_TIME:
        problems.append(Problem("extra_time_percent",
                                f"{percent}% is outside 0 to {MAX_EXTRA_TIME}%: extra time above "
                                f"{MAX_EXTRA_TIME}% is not an arrangement this system can record."))
        percent = 0  # the approval rules below would only add noise until the figure is fixed
    for key in TEXTS:
        value = arrangements.get(key)
        if value is not None and not isinstance(value, str):
            problems.append(Problem(key, "must be text."))
        elif value and len(value) > MAX_TEXT:
            problems.append(Problem(key, f"is too long ({len(value)} characters; at most {MAX_TEXT})."))
    approved_on = arrangements.get("approved_on")
    if approved_on:
        try:
            approved = dt.date.fromisoformat(str(approved_on))
        except ValueError:
            problems.append(Problem("approved_on", f"{approved_on!r} is not a date written as YYYY-MM-DD."))
        else:
            if today is not None and approved > today:
                problems.append(Problem("approved_on", f"{approved.isoformat()} is in the future."))
    if percent > STANDARD_EXTRA_TIME:
        needed = {
            "extra_time_reason": "the reason",
            "extra_time_evidence": "the evidence reference",
            "approved_by": "who approved it",
            "approved_on": "the date it was approved",
        }
        for key, what in needed.items():
            if not str(arrangements.get(key) or "").strip():
                problems.append(Problem(key, f"{percent}% extra time is above the standard "
                                             f"{STANDARD_EXTRA_TIME}%: record {what}."))
    for key in FLAGS:
        value = arrangements.get(key)
        if value is not None and not isinstance(value, bool):
            problems.append(Problem(key, "must be yes or no."))
    scheme = arrangements.get("colour_scheme")
    if scheme and scheme not in COLOUR_SCHEMES:
        problems.append(Problem("colour_scheme", f"{scheme!r} is not a colour scheme; choose one of "
                                                 f"{', '.join(COLOUR_SCHEMES)} (or leave it blank)."))
    return problems


def cleaned(arrangements: Mapping[str, Any], keep: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The stored form: awarded arrangements only (no zero, false or blank values), with the keys
    this module does not know carried over from ``keep`` (the candidate's current record)."""
    result = {k: v for k, v in (keep or {}).items() if k not in KEYS}
    for key in KEYS:
        value = arrangements.get(key)
        if value in (None, "", False, 0):
            continue
        result[key] = value.strip() if isinstance(value, str) else value
    return result


def summary(arrangements: Mapping[str, Any]) -> list[str]:
    """Plain words for registers and lists, e.g. ["50% extra time", "supervised rest breaks"]."""
    words = []
    percent = arrangements.get("extra_time_percent") or 0
    if percent:
        words.append(f"{percent}% extra time")
    words += [LABELS[key] for key in FLAGS if arrangements.get(key)]
    if arrangements.get("colour_scheme"):
        words.append(f"{arrangements['colour_scheme'].replace('_', ' ')} colour scheme")
    return words


def as_text(arrangements: Mapping[str, Any]) -> dict[str, str]:
    """Each key as a person (or a CSV cell) writes it: the inverse of :func:`from_text`."""
    text = {}
    for key in KEYS:
        value = arrangements.get(key)
        if key in FLAGS:
            text[key] = "yes" if value else ""
        elif key == "extra_time_percent":
            text[key] = str(value) if value else ""
        else:
            text[key] = str(value or "")
    return text
