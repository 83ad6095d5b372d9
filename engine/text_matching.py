"""The one place a typed answer is compared with the accepted answers (text entry, short text).

An item sets three rules; both the typed text and every accepted answer go through the same
steps, in this order, before they are compared for equality:

1. Unicode NFC, always: "café" typed as ``cafe`` + U+0301 (a combining accent, as some keyboards
   and phones send it) is the same answer as the precomposed "café". Typographic apostrophes and
   quotes (‘ ’ “ ”) become ' and ", always: a candidate cannot see the difference, and phones and
   word processors swap them in unasked.
2. ``ignore_punctuation`` (default false): remove . , ; : ! ? ' " (and nothing else).
3. ``case_sensitive`` (default false): unless set, compare case-folded text ("STRASSE" = "straße").
4. ``normalise_whitespace`` (default true): trim, and make every run of white space one space.

Punctuation goes before white space so that "Act , 2015" and "Act 2015" agree once both rules
are on; case folding is followed by NFC again because folding can decompose ("İ" -> "i̇").
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from engine.item_types import Problem

#: The rule names as they appear in a definition, with their defaults.
RULE_DEFAULTS = {"case_sensitive": False, "normalise_whitespace": True, "ignore_punctuation": False}

_TYPOGRAPHIC = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
_PUNCTUATION = str.maketrans("", "", ".,;:!?'\"")


@dataclass(frozen=True)
class MatchRules:
    case_sensitive: bool = False
    normalise_whitespace: bool = True
    ignore_punctuation: bool = False


def rules_from(defn: dict) -> MatchRules:
    """The item's rules; a value that is not a boolean counts as the default (the validator says so)."""
    values = {name: defn.get(name, default) for name, default in RULE_DEFAULTS.items()}
    return MatchRules(**{name: value if isinstance(value, bool) else RULE_DEFAULTS[name]
                         for name, value in values.items()})


def normalise(text: str, rules: MatchRules) -> str:
    """``text`` as it is compared under ``rules`` (see the module docstring for the order)."""
    text = unicodedata.normalize("NFC", text).translate(_TYPOGRAPHIC)
    if rules.ignore_punctuation:
        text = text.translate(_PUNCTUATION)
    if not rules.case_sensitive:
        text = unicodedata.normalize("NFC", text.casefold())
    if rules.normalise_whitespace:
        text = " ".join(text.split())
    return text


def matches(typed: object, accepted: object, rules: MatchRules) -> bool:
    """True if ``typed`` equals one of the ``accepted`` answers under ``rules``; never raises."""
    if not isinstance(typed, str) or not isinstance(accepted, list):
        return False
    wanted = normalise(typed, rules)
    if not wanted.strip():
        return False
    return any(isinstance(answer, str) and normalise(answer, rules) == wanted for answer in accepted)


def rule_problems(defn: dict) -> list[Problem]:
    return [Problem(name, "must be true or false") for name in RULE_DEFAULTS
            if name in defn and not isinstance(defn[name], bool)]


def answer_problems(answers: object, path: str, rules: MatchRules, max_length: int) -> list[Problem]:
    """Problems with a list of accepted answers at ``path`` (e.g. ``gaps[1].answers``)."""
    if not isinstance(answers, list) or not answers:
        return [Problem(path, "must list at least one accepted answer")]
    problems = []
    for index, answer in enumerate(answers):
        where = f"{path}[{index}]"
        if not isinstance(answer, str):
            # YAML reads 30 as a number and yes as a boolean: the writer must quote them.
            problems.append(Problem(where, f"must be text; put it in quotes (\"{answer}\")"))
        elif "\n" in answer or "\r" in answer:
            problems.append(Problem(where, "must be on one line: the answer box takes one line"))
        elif not normalise(answer, rules).strip():
            problems.append(Problem(where, "is empty once the item's matching rules are applied"))
        elif len(answer) > max_length:
            problems.append(Problem(where, f"is longer than the {max_length} characters the answer box takes"))
    return problems



def answers_from_lines(written: str) -> list[str]:
    """Accepted answers from an author form's textarea, one per line; blank lines are dropped."""
    return [line.strip() for line in written.splitlines() if line.strip()]


def answers_as_lines(answers: object) -> str:
    return "\n".join(str(a) for a in answers) if isinstance(answers, list) else ""
