"""Identifiers people type: centre and candidate numbers, UCI and ULN, checked on the way in.

Each check returns ``None`` when the value is good, or a sentence saying what is wrong, so
the CSV import and the web forms report the same words. ``normalise_*`` tidies what a person
or a spreadsheet typically does to a value (spaces, lower case) before it is checked.

- **Centre number**: 5 digits (JCQ centre numbers).
- **Candidate number**: 4 digits, 0001 to 9999, unique within a centre.
- **UCI** (JCQ Unique Candidate Identifier): 13 characters: centre number (5 digits), an
  awarding-body character (``0``, or a letter such as ``B`` for an international centre), the
  year of registration (2 digits), the candidate's serial number (4 digits) and a check letter.
  Check letter: the first 12 characters weighted 16, 15, ... 5, summed, taken modulo 17 and
  looked up in ``ABCDEFGHKLMRTVWXY``. A letter in the awarding-body position counts as its
  place in the alphabet (A = 1), as the public UCI calculators do.
- **ULN** (Unique Learner Number, Learning Records Service): 10 digits, the first not 0; the
  first nine weighted 10, 9, ... 2 and summed; the last digit is 10 minus (sum mod 11). A
  remainder of 0 would need a check "digit" of 10, so no valid ULN has one.
"""
from __future__ import annotations

import re

UCI_CHECK_LETTERS = "ABCDEFGHKLMRTVWXY"
UCI_WEIGHTS = tuple(range(16, 4, -1))
ULN_WEIGHTS = tuple(range(10, 1, -1))

_UCI_SHAPE = re.compile(r"\d{5}[0-9A-Z]\d{6}[A-Z]")


def _squash(value: str | None) -> str:
    return "".join((value or "").split())


def normalise_uci(value: str | None) -> str:
    return _squash(value).upper()


def normalise_uln(value: str | None) -> str:
    return _squash(value)


def normalise_number(value: str | None) -> str:
    return (value or "").strip()


def centre_number_problem(value: str) -> str | None:
    if not re.fullmatch(r"\d{5}", value):
        return f"{value!r} is not a centre number: it must be 5 digits, e.g. 99001."
    return None


def candidate_number_problem(value: str) -> str | None:
    if not re.fullmatch(r"\d{4}", value):
        return f"{value!r} is not a candidate number: it must be 4 digits, 0001 to 9999 (keep leading zeros)."
    if value == "0000":
        return "0000 is not a candidate number: they run from 0001 to 9999."
    return None


def _uci_value(character: str) -> int:
    return int(character) if character.isdigit() else ord(character) - ord("A") + 1


def uci_check_letter(first_twelve: str) -> str:
    """The check letter for the first 12 characters of a UCI (already normalised)."""
    total = sum(_uci_value(ch) * weight for ch, weight in zip(first_twelve, UCI_WEIGHTS, strict=True))
    return UCI_CHECK_LETTERS[total % 17]


def uci_problem(value: str) -> str | None:
    """``value`` normalised with :func:`normalise_uci`."""
    if len(value) != 13:
        return f"{value!r} is not a UCI: it must be 13 characters (it has {len(value)})."
    if not _UCI_SHAPE.fullmatch(value):
        return (f"{value!r} is not a UCI: it must be a 5-digit centre number, 0 or a letter, "
                "a 2-digit year, a 4-digit serial number and a check letter.")
    expected = uci_check_letter(value[:12])
    if value[12] != expected:
        return (f"UCI {value} fails its check letter (the first 12 characters give {expected}, "
                f"not {value[12]}): a character is probably mistyped.")
    return None


def uln_check_digit(first_nine: str) -> int | None:
    """The check digit for the first 9 digits of a ULN, or None when no digit can complete them."""
    remainder = sum(int(d) * weight for d, weight in zip(first_nine, ULN_WEIGHTS, strict=True)) % 11
    return None if remainder == 0 else 10 - remainder


def uln_problem(value: str) -> str | None:
    """``value`` normalised with :func:`normalise_uln`."""
    if not re.fullmatch(r"\d{10}", value):
        return f"{value!r} is not a ULN: it must be 10 digits."
    if value[0] == "0":
        return f"{value} is not a ULN: a ULN never starts with 0."
    expected = uln_check_digit(value[:9])
    if expected is None or int(value[9]) != expected:
        return f"ULN {value} fails its check digit: a digit is probably mistyped."
    return None
