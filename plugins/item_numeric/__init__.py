"""Numeric: the candidate types a number, marked exactly or within a tolerance.

A definition::

    stem: <p>A customer pays £80 ... What is the refund in pounds?</p>
    marks: 1
    answer: "12.5"                               # a decimal string, quoted
    tolerance: {type: absolute, value: "0.05"}   # optional: absolute | relative; omitted = exact
    unit: "£"                                    # optional, shown beside the box

Decimal arithmetic only, never float. A relative tolerance is a fraction of the answer ("0.01" is
1 %). Both ends of a tolerance are accepted: 12.45 and 12.55 for 12.5 ± 0.05.

What a candidate may type: "12.5", " 12.50 ", "1,234.5" (commas between groups of three digits),
"-3", "+3", ".5", with the item's unit before or after it ("£12.50", "12.5 kg"). Anything else
("twelve", "12,5", "1e3") is not a number.

The response keeps what was typed: ``{"raw": "1,234.5", "valid": true, "value": "1234.5"}``, or
``{"raw": "twelve", "valid": false}``; the candidate then sees a message beside the box saying
how to write a number. ``mark`` reads ``raw`` again rather than trusting ``value`` or ``valid``.
Invalid or blank scores 0.

Author form (see ``engine.author_forms`` for the conventions): ``stem``, ``marks``, ``answer``,
``tolerance_type`` ("" for exact, "absolute" or "relative"), ``tolerance_value``, ``unit`` (""
for none).
"""
from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, localcontext
from pathlib import Path

from engine import author_forms as af
from engine.hookspecs import hookimpl
from engine.item_types import ItemType, Mark, Problem, common_problems, marks_of

TOLERANCE_TYPES = ("absolute", "relative")
#: The longest text read as a number; the box takes this many characters.
MAX_CHARS = 40
#: What is stored of longer input (pasted text, say): enough to show it back, never a number.
MAX_STORED_CHARS = 100
MAX_UNIT_CHARS = 20
#: A plain decimal as a definition writes it: no commas, no exponent, no sign but minus.
DEFINITION_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
#: A typed number: optional sign, digits with or without thousands commas, optional fraction.
TYPED_NUMBER = re.compile(r"([+-]?)((?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]*)?|\.[0-9]+)")
#: "12,5" and "0,75": a decimal comma, which deserves its own message.
DECIMAL_COMMA = re.compile(r"[+-]?[0-9]+,[0-9]{1,2}|[+-]?[0-9]+,[0-9]{4,}")
#: Candidate examples for the "how to write a number" message; one is picked that is not a
#: right answer to the item, so the message can never give the answer away.
EXAMPLES = ("12.5", "3.75", "0.2", "-40", "2,500,000")

NOT_A_NUMBER = "Enter a number, for example {example}."
DECIMAL_COMMA_MESSAGE = "Use a full stop for the decimal point, for example {example}."
TOO_LONG = "Enter a number of no more than {limit} characters, for example {example}."
#: When every example would be a right answer (a vast tolerance), say how without an example.
NO_EXAMPLE = "Enter a number using the digits 0 to 9, with a full stop for the decimal point."


def definition_decimal(value: object) -> Decimal | None:
    """A decimal string from a definition, or None if it is not one."""
    if isinstance(value, str) and DEFINITION_NUMBER.fullmatch(value.strip()):
        return Decimal(value.strip())
    return None


def _strip_unit(text: str, unit: str | None) -> str:
    """Remove the item's own unit typed before or after the number ("£12.50", "-£3", "12.5 kg")."""
    if not unit:
        return text
    unit = unicodedata.normalize("NFKC", unit)
    folded_unit = unit.casefold()
    sign = ""
    if text[:1] in "+-" and text[1:].lstrip().casefold().startswith(folded_unit):
        sign, text = text[0], text[1:].lstrip()
    if text.casefold().startswith(folded_unit):
        text = text[len(unit):].lstrip()
    elif text.casefold().endswith(folded_unit):
        text = text[:-len(unit)].rstrip()
    return sign + text


def parse_number(raw: object, unit: str | None = None) -> Decimal | None:
    """The number a candidate typed, or None if it is not a number as this module describes."""
    if not isinstance(raw, str):
        return None
    # NFKC turns full-width digits and the like into ASCII; U+2212 is the typographic minus.
    text = unicodedata.normalize("NFKC", raw).replace("\u2212", "-").strip()
    if len(text) > MAX_CHARS:
        return None
    text = _strip_unit(text, unit)
    match = TYPED_NUMBER.fullmatch(text)
    if match is None:
        return None
    return Decimal(match.group(1).replace("+", "") + match.group(2).replace(",", ""))


def _unit(defn: dict) -> str | None:
    unit = defn.get("unit")
    return unit.strip() if isinstance(unit, str) and unit.strip() else None


class Numeric(ItemType):
    type_name = "numeric"
    label = "Numeric answer"
    template_folder = Path(__file__).parent / "templates"

    # --- definition ---------------------------------------------------------------------------

    def validate_definition(self, defn):
        problems = common_problems(defn)
        answer = definition_decimal(defn.get("answer"))
        if answer is None:
            problems.append(Problem("answer", "must be a decimal number in quotes, such as \"12.5\" or \"-3\" "
                                              f"(no commas, units or exponents), not {defn.get('answer')!r}"))
        if "tolerance" in defn:
            tolerance = defn["tolerance"]
            if not isinstance(tolerance, dict):
                problems.append(Problem("tolerance", "must be a mapping with type (absolute or relative) and value; "
                                                     "leave it out for an exact answer"))
            else:
                kind = tolerance.get("type")
                if kind not in TOLERANCE_TYPES:
                    problems.append(Problem("tolerance.type", f"must be absolute or relative, not {kind!r}"))
                value = definition_decimal(tolerance.get("value"))
                if value is None or value <= 0:
                    problems.append(Problem("tolerance.value", "must be a positive decimal in quotes, such as "
                                                               "\"0.05\"; leave tolerance out for an exact answer"))
                elif kind == "relative" and value >= 1:
                    problems.append(Problem("tolerance.value", "a relative tolerance is a fraction of the answer "
                                                               "(\"0.01\" is 1 %) and must be less than 1"))
                if kind == "relative" and answer == 0:
                    problems.append(Problem("tolerance.type", "a relative tolerance of an answer of 0 accepts only 0; "
                                                              "use an absolute tolerance"))
        if "unit" in defn:
            unit = defn["unit"]
            if not isinstance(unit, str) or not unit.strip():
                problems.append(Problem("unit", "must be text such as \"£\" or \"kg\"; leave it out for no unit"))
            elif len(unit) > MAX_UNIT_CHARS or any(c in "0123456789" for c in unit):
                problems.append(Problem("unit", f"must be plain text of up to {MAX_UNIT_CHARS} characters "
                                                "with no digits"))
        return problems

    # --- marking -------------------------------------------------------------------------------

    def _accepts(self, defn: dict, value: Decimal) -> bool:
        answer = definition_decimal(defn.get("answer"))
        if answer is None:
            return False
        tolerance = defn.get("tolerance")
        if not isinstance(tolerance, dict):
            return value == answer
        width = definition_decimal(tolerance.get("value"))
        if width is None or width < 0 or tolerance.get("type") not in TOLERANCE_TYPES:
            return value == answer
        # Enough precision that no subtraction or product here is ever rounded.
        digits = sum(len(d.as_tuple().digits) + abs(d.as_tuple().exponent) for d in (value, answer, width))
        with localcontext() as context:
            context.prec = 2 * digits + 10
            if tolerance["type"] == "relative":
                width = width * abs(answer)
            return abs(value - answer) <= width

    def mark(self, defn, response):
        available = marks_of(defn)
        if response is None:
            return Mark(Decimal(0), available, "blank")
        raw = response.get("raw") if isinstance(response, dict) else None
        if isinstance(raw, str) and not raw.strip():
            return Mark(Decimal(0), available, "blank")
        value = parse_number(raw, _unit(defn))
        if value is not None and self._accepts(defn, value):
            return Mark(available, available, "correct")
        return Mark(Decimal(0), available, "incorrect")

    def correct_response(self, defn):
        return {"raw": defn["answer"], "valid": True, "value": defn["answer"]}

    def summarise_response(self, defn, response):
        if not isinstance(response, dict) or not isinstance(response.get("raw"), str):
            return ""
        raw = response["raw"].strip()
        if parse_number(raw, _unit(defn)) is None:
            return f"{raw} (not a number)" if raw else ""
        return raw

    # --- attempt -------------------------------------------------------------------------------

    def _example(self, defn: dict, commas: bool = True) -> str | None:
        """A well-written number that is not a right answer, so a message never gives one away."""
        for example in EXAMPLES:
            if (commas or "," not in example) and not self._accepts(defn, parse_number(example)):
                return example
        return None

    def message_for(self, defn: dict, raw: str) -> str | None:
        """What to tell a candidate whose typed text is not a number (None if it is one, or blank)."""
        text = unicodedata.normalize("NFKC", raw).strip()
        if not text or parse_number(raw, _unit(defn)) is not None:
            return None
        if len(text) > MAX_CHARS:
            template, example = TOO_LONG, self._example(defn)
        elif DECIMAL_COMMA.fullmatch(_strip_unit(text, _unit(defn))):
            template, example = DECIMAL_COMMA_MESSAGE, self._example(defn, commas=False)
        else:
            template, example = NOT_A_NUMBER, self._example(defn)
        return template.format(limit=MAX_CHARS, example=example) if example else NO_EXAMPLE

    def candidate_context(self, defn, state, response):
        raw = response.get("raw") if isinstance(response, dict) else None
        raw = raw if isinstance(raw, str) else ""
        unit = _unit(defn)
        # A currency sign goes before the box (£ [  ]); other units after it ([  ] kg).
        before = unit is not None and all(unicodedata.category(c) == "Sc" for c in unit)
        return {
            "stem": defn["stem"],
            "typed": raw,
            "unit": unit,
            "unit_before": before,
            "message": self.message_for(defn, raw),
            "max_chars": MAX_CHARS,
        }

    def parse_response(self, defn, state, fields):
        values = fields.get("number") or [""]
        raw = values[0] if isinstance(values, list) and values and isinstance(values[0], str) else ""
        if not raw.strip():
            return None
        raw = raw[:MAX_STORED_CHARS]
        value = parse_number(raw, _unit(defn))
        if value is None:
            return {"raw": raw, "valid": False}
        return {"raw": raw, "valid": True, "value": f"{value:f}"}

    def fields_for_response(self, defn, state, response):
        raw = response.get("raw") if isinstance(response, dict) else None
        return {"number": [raw]} if isinstance(raw, str) else {}

    # --- authoring -----------------------------------------------------------------------------

    def parse_author_form(self, form):
        defn: dict = {}
        af.put_if(defn, "stem", af.text(form, "stem"))
        af.put_if(defn, "marks", af.number(form, "marks"))
        for name in ("answer", "unit"):
            af.put_if(defn, name, (af.text(form, name) or "").strip() or None)
        tolerance: dict = {}
        af.put_if(tolerance, "type", af.text(form, "tolerance_type"))
        af.put_if(tolerance, "value", (af.text(form, "tolerance_value") or "").strip() or None)
        if tolerance:
            # A value without a type (or the reverse) is kept, so the validator names what is missing.
            defn["tolerance"] = tolerance
        return defn

    def author_form_data(self, defn):
        tolerance = defn.get("tolerance") if isinstance(defn.get("tolerance"), dict) else {}
        return {
            "stem": [af.text_of(defn, "stem")], "marks": [af.number_text(defn.get("marks"))],
            "answer": [af.text_of(defn, "answer")], "unit": [af.text_of(defn, "unit")],
            "tolerance_type": [af.text_of(tolerance, "type")], "tolerance_value": [af.text_of(tolerance, "value")],
        }


@hookimpl
def register_item_types():
    return [Numeric]
