"""How a QTI item scores its responses: the declarations and the response processing.

The standard templates (match_correct, map_response; map_response_point has no equivalent and
is reported) and explicit processing of the common shapes are read: SCORE set to a value when
``match``/``equal`` of the response and its correct value holds, SCORE set to a (sum of)
``mapResponse``, or a share added per position of an ordered response in its place (``match`` of
``index n``). Anything else is reported as unreadable.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from decimal import Decimal

from engine.interchange.model import clean_html, decimal
from engine.interchange.safe_xml import inner_xml, text_of

#: Our ids: letters, digits, - and _ (QTI identifiers may also hold '.').
OUR_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class Unrepresentable(ValueError):
    pass


@dataclass
class Declaration:
    cardinality: str
    base_type: str
    correct: list[str]
    mapping: dict[str, Decimal] | None
    upper: Decimal | None = None
    case_sensitive: set[bool] = field(default_factory=set)


def declarations_of(root) -> dict[str, Declaration]:
    found = {}
    for declaration in root.findall("responseDeclaration"):
        mapping = declaration.find("mapping")
        entries, sensitive = None, set()
        if mapping is not None:
            entries = {}
            for entry in mapping.findall("mapEntry"):
                entries[entry.get("mapKey", "")] = decimal(entry.get("mappedValue", "0")) or Decimal(0)
                sensitive.add(entry.get("caseSensitive", "true").lower() == "true")
        found[declaration.get("identifier")] = Declaration(
            declaration.get("cardinality", "single"), declaration.get("baseType", "identifier"),
            [text_of(v) for v in declaration.findall("correctResponse/value")], entries,
            decimal(mapping.get("upperBound")) if mapping is not None and mapping.get("upperBound") else None,
            sensitive)
    return found


def scoring(root, identifiers: list[str], approx: list[str], where: str) -> dict[str, tuple]:
    """Response id -> ("correct", value) | ("map",) | ("equal", mode, tolerance, value) | ("positions", total)."""
    processing = root.find("responseProcessing")
    if processing is None:
        approx.append(f"{where}: no response processing; scored as 1 mark for the correct response")
        return {i: ("correct", Decimal(1)) for i in identifiers}
    template = processing.get("template") or processing.get("templateLocation") or ""
    if template:
        name = template.rstrip("/").rsplit("/", 1)[-1].removesuffix(".xml")
        if name == "match_correct":
            return {i: ("correct", Decimal(1)) for i in identifiers}
        if name == "map_response":
            return {i: ("map",) for i in identifiers}
        if name == "map_response_point":
            raise Unrepresentable("map_response_point scores points on an image; onscreen has no such item type")
        raise Unrepresentable(f"the response processing template {name!r} is not one onscreen can read")
    parents = {child: parent for parent in processing.iter() for child in parent}
    found: dict[str, tuple] = {}
    for setter in processing.iter("setOutcomeValue"):
        if setter.get("identifier") != "SCORE":
            continue
        for mapped in setter.iter("mapResponse"):
            found[mapped.get("identifier")] = ("map",)
        if setter.find(".//mapResponsePoint") is not None:
            raise Unrepresentable("mapResponsePoint scores points on an image; onscreen has no such item type")
        values = [decimal(v.text) for v in setter.iter("baseValue")]
        branch = parents.get(setter)
        if not values or values[-1] is None or branch is None or branch.tag not in ("responseIf", "responseElseIf"):
            continue
        condition = branch[0]
        if condition.tag == "match" and len(condition) == 2 and [c.tag for c in condition] == ["index", "index"] \
                and len(condition[1]) == 1 and condition[1][0].tag == "correct":
            # One condition per position of an ordered response: a share of the marks per item in place.
            response = condition[1][0].get("identifier")
            earlier = found.get(response, ("positions", Decimal(0)))
            found[response] = ("positions", earlier[1] + values[-1])
            continue
        if condition.tag in ("match", "equal") and len(condition) == 2 and condition[1].tag == "correct":
            response = condition[1].get("identifier")
            if condition.tag == "match" or condition.get("toleranceMode", "exact") == "exact":
                found.setdefault(response, ("correct", values[-1]))
            else:
                found.setdefault(response, ("equal", condition.get("toleranceMode"), condition.get("tolerance", "0"),
                                            values[-1]))
    missing = [i for i in identifiers if i not in found]
    if missing:
        raise Unrepresentable(f"the response processing does not score {', '.join(missing)} in a way onscreen can "
                               "read (a template, match/equal with the correct response, or mapResponse)")
    return found


def maximum(declaration: Declaration, rule: tuple) -> Decimal:
    if rule[0] != "map":
        return rule[-1]
    values = list((declaration.mapping or {}).values())
    if declaration.cardinality == "single":
        best = max(values, default=Decimal(0))
    else:
        best = sum((v for v in values if v > 0), Decimal(0))
    return min(best, declaration.upper) if declaration.upper is not None else best


def tidy(marks: Decimal) -> Decimal:
    """Marks to the half when shares written to five places (1/3 as 0.33333) add up to just under it."""
    nearest = (marks * 2).to_integral_value() / 2
    return nearest if abs(marks - nearest) < Decimal("0.001") else marks


def body_html(element: ET.Element, where: str, notes: list[str]) -> str:
    return clean_html(inner_xml(element), where, notes)
