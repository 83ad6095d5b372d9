"""Write items as QTI 2.1 (or, through :mod:`qti3`, QTI 3.0) assessment items and packages.

Single-response items use the standard templates (match_correct, map_response); marks other
than 1 on a match_correct item, numeric tolerances and items with several gaps are written as
short explicit response processing that reads the same way (SCORE set to the marks, ``equal``
with a tolerance, the sum of each gap's ``mapResponse``, or a share per ordering position in place). MAXSCORE and SCORE's
normalMaximum carry the marks; ``label`` carries the criterion ("AC1.2") and topics.
"""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from engine.interchange import qti3
from engine.interchange.model import CannotExport, number_text, tf_options
from engine.interchange.packages import write_zip
from engine.interchange.qti_html import HTML_TAGS, html_into
from engine.plain_text import plain_text

NAMESPACE = "http://www.imsglobal.org/xsd/imsqti_v2p1"
SCHEMA = "http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_v2p1.xsd"
TEMPLATES = "http://www.imsglobal.org/question/qti_v2p1/rptemplates/"
_QTI_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")


def qti_id(value: str, prefix: str) -> str:
    """Our ids are QTI identifiers unless they start with a digit or '-'."""
    return value if _QTI_ID.match(value) else f"{prefix}_{value}"


def _el(parent, tag, text=None, **attrs):
    element = ET.SubElement(parent, tag, {k: str(v) for k, v in attrs.items() if v is not None})
    if text is not None:
        element.text = str(text)
    return element


class _Item:
    def __init__(self, item: dict):
        self.item = item
        marks = Decimal(str(item["marks"]))
        self.marks = marks
        topics = " ".join([f"AC{item['criterion']}"] + list(item.get("topics", []))) if item.get("criterion") else None
        self.root = ET.Element("assessmentItem", {
            "identifier": item["id"], "title": plain_text(item["stem"])[:80] or item["id"],
            "adaptive": "false", "timeDependent": "false"})
        if topics:
            self.root.set("label", topics[:256])
        self.declarations = ET.SubElement(self.root, "_declarations")
        self.body = ET.Element("itemBody")
        self.processing: ET.Element | None = None

    def declare(self, identifier, cardinality, base_type, correct=(), mapping=None, mapping_attrs=None,
                case_sensitive=None):
        declaration = ET.Element("responseDeclaration", identifier=identifier, cardinality=cardinality,
                                 baseType=base_type)
        if correct:
            box = _el(declaration, "correctResponse")
            for value in correct:
                _el(box, "value", value)
        if mapping is not None:
            box = _el(declaration, "mapping", **(mapping_attrs or {"defaultValue": "0"}))
            for key, value in mapping:
                attrs = {"mapKey": key, "mappedValue": number_text(value)}
                if case_sensitive is not None:
                    attrs["caseSensitive"] = "true" if case_sensitive else "false"
                _el(box, "mapEntry", **attrs)
        self.declarations.append(declaration)

    def template(self, name: str) -> None:
        self.processing = ET.Element("responseProcessing", template=TEMPLATES + name)

    def score_if(self, condition: ET.Element) -> None:
        """SCORE = marks when ``condition`` holds (match_correct with our marks, or equal with a tolerance)."""
        self.processing = ET.Element("responseProcessing")
        branch = _el(_el(self.processing, "responseCondition"), "responseIf")
        branch.append(condition)
        _el(_el(branch, "setOutcomeValue", identifier="SCORE"), "baseValue", number_text(self.marks), baseType="float")

    def finish(self) -> ET.Element:
        declarations = list(self.declarations)
        self.root.remove(self.declarations)
        for declaration in declarations:
            self.root.append(declaration)
        _el(self.root, "outcomeDeclaration", identifier="SCORE", cardinality="single", baseType="float",
            normalMaximum=number_text(self.marks))
        maximum = _el(self.root, "outcomeDeclaration", identifier="MAXSCORE", cardinality="single", baseType="float")
        _el(_el(maximum, "defaultValue"), "value", number_text(self.marks))
        self.root.append(self.body)
        if self.processing is not None:
            self.root.append(self.processing)
        return self.root


def _match(identifier: str, operator: str = "match", **attrs) -> ET.Element:
    condition = ET.Element(operator, {k: v for k, v in attrs.items()})
    _el(condition, "variable", identifier=identifier)
    _el(condition, "correct", identifier=identifier)
    return condition


def build(item: dict) -> ET.Element:
    """The QTI 2.1 ``assessmentItem`` for one bank-shaped item; raises CannotExport."""
    out = _Item(item)
    kind = item["type"]
    builder = _BUILDERS.get(kind)
    if builder is None:
        raise CannotExport(f"QTI export has no interaction for {kind}")
    builder(out, item)
    return out.finish()


def _correct_template(out: _Item) -> None:
    if out.marks == 1:
        out.template("match_correct")
    else:
        out.score_if(_match("RESPONSE"))


def _choices(parent, entries, tag="simpleChoice", prefix="C", **extra):
    ids = {}
    for entry in entries:
        ids[entry["id"]] = qti_id(entry["id"], prefix)
        choice = _el(parent, tag, identifier=ids[entry["id"]], **extra)
        if entry.get("pinned"):
            choice.set("fixed", "true")
        if "<" in entry["text"]:
            html_into(choice, entry["text"])
        else:
            choice.text = _unescape(entry["text"])
    return ids


def _unescape(text: str) -> str:
    return html.unescape(text)


def _single_choice(out: _Item, item: dict) -> None:
    options, key = tf_options(item)
    html_into(out.body, item["stem"])
    interaction = _el(out.body, "choiceInteraction", responseIdentifier="RESPONSE",
                      shuffle="true" if item.get("shuffle", item.get("preset") != "true_false") else "false",
                      maxChoices="1")
    ids = _choices(interaction, options)
    out.declare("RESPONSE", "single", "identifier", [ids[key]])
    _correct_template(out)


def _multiple_response(out: _Item, item: dict) -> None:
    html_into(out.body, item["stem"])
    interaction = _el(out.body, "choiceInteraction", responseIdentifier="RESPONSE",
                      shuffle="true" if item.get("shuffle", True) else "false", maxChoices="0")
    ids = _choices(interaction, item["options"])
    correct = [ids[k] for k in item["keys"]]
    if item.get("scoring") == "per_option":
        share = out.marks / len(item["keys"])
        if share * len(item["keys"]) != out.marks or len(number_text(share)) > 12:
            share = share.quantize(Decimal("0.00001"))
        mapping = [(ids[o["id"]], share if o["id"] in item["keys"] else -share) for o in item["options"]]
        out.declare("RESPONSE", "multiple", "identifier", correct, mapping,
                    {"defaultValue": "0", "lowerBound": "0", "upperBound": number_text(out.marks)})
        out.template("map_response")
    else:
        out.declare("RESPONSE", "multiple", "identifier", correct)
        _correct_template(out)


def _ordering(out: _Item, item: dict) -> None:
    html_into(out.body, item["stem"])
    interaction = _el(out.body, "orderInteraction", responseIdentifier="RESPONSE", shuffle="true")
    ids = _choices(interaction, item["items"])
    out.declare("RESPONSE", "ordered", "identifier", [ids[e["id"]] for e in item["items"]])
    if item.get("scoring", "exact") == "exact":
        _correct_template(out)
        return
    # per_position: no template does it; one condition per position adds that position's share.
    share = out.marks / len(item["items"])
    if share * len(item["items"]) != out.marks:
        share = share.quantize(Decimal("0.00001"))
    out.processing = ET.Element("responseProcessing")
    _el(_el(out.processing, "setOutcomeValue", identifier="SCORE"), "baseValue", "0", baseType="float")
    for position in range(1, len(item["items"]) + 1):
        branch = _el(_el(out.processing, "responseCondition"), "responseIf")
        match = _el(branch, "match")
        _el(_el(match, "index", n=position), "variable", identifier="RESPONSE")
        _el(_el(match, "index", n=position), "correct", identifier="RESPONSE")
        total = _el(_el(branch, "setOutcomeValue", identifier="SCORE"), "sum")
        _el(total, "variable", identifier="SCORE")
        _el(total, "baseValue", number_text(share), baseType="float")


def _matching(out: _Item, item: dict) -> None:
    html_into(out.body, item["stem"])
    interaction = _el(out.body, "matchInteraction", responseIdentifier="RESPONSE",
                      shuffle="true" if item.get("shuffle", True) else "false",
                      maxAssociations=str(len(item["premises"])))
    premises = _choices(_el(interaction, "simpleMatchSet"), item["premises"], "simpleAssociableChoice", "P",
                        matchMax="1")
    responses = _choices(_el(interaction, "simpleMatchSet"), item["responses"], "simpleAssociableChoice", "R",
                         matchMax="0" if item.get("reuse_responses") else "1")
    correct = [f"{premises[p]} {responses[r]}" for p, r in item["pairs"].items()]
    if item.get("scoring", "per_pair") == "per_pair":
        share = out.marks / len(correct)
        if share * len(correct) != out.marks:
            share = share.quantize(Decimal("0.00001"))
        out.declare("RESPONSE", "multiple", "directedPair", correct, [(pair, share) for pair in correct],
                    {"defaultValue": "0", "lowerBound": "0", "upperBound": number_text(out.marks)})
        out.template("map_response")
    else:
        out.declare("RESPONSE", "multiple", "directedPair", correct)
        _correct_template(out)


def _gaps(out: _Item, item: dict, make_interaction, declare) -> None:
    html_into(out.body, item["stem"])
    gaps = {g["id"]: g for g in item["gaps"]}
    order = [g for g in dict.fromkeys(re.findall(r"\[\[([A-Za-z0-9_-]+)\]\]", item["text"])) if g in gaps]
    share = out.marks / len(order)
    if share * len(order) != out.marks:
        share = share.quantize(Decimal("0.00001"))
    names = {gap_id: qti_id(gap_id, "GAP") for gap_id in order}
    html_into(out.body, item["text"], lambda gap_id: make_interaction(names[gap_id], gaps[gap_id]))
    for gap_id in order:
        declare(names[gap_id], gaps[gap_id], share)
    out.processing = ET.Element("responseProcessing")
    total = _el(out.processing, "setOutcomeValue", identifier="SCORE")
    adder = _el(total, "sum") if len(order) > 1 else total
    for gap_id in order:
        _el(adder, "mapResponse", identifier=names[gap_id])


def _gap_select(out: _Item, item: dict) -> None:
    def interaction(name, gap):
        element = ET.Element("inlineChoiceInteraction", responseIdentifier=name,
                             shuffle="true" if item.get("shuffle", True) else "false")
        for index, option in enumerate(gap["options"]):
            _el(element, "inlineChoice", _unescape(plain_text(option)), identifier=f"{name}_{index + 1}")
        return element

    def declare(name, gap, share):
        right = f"{name}_{gap['options'].index(gap['key']) + 1}"
        out.declare(name, "single", "identifier", [right], [(right, share)])

    _gaps(out, item, interaction, declare)


def _text_entry(out: _Item, item: dict) -> None:
    if item.get("ignore_punctuation"):
        raise CannotExport("QTI string matching cannot ignore punctuation")

    def interaction(name, gap):
        return ET.Element("textEntryInteraction", responseIdentifier=name,
                          expectedLength=str(max(len(a) for a in gap["answers"])))

    def declare(name, gap, share):
        out.declare(name, "single", "string", [gap["answers"][0]], [(a, share) for a in gap["answers"]],
                    case_sensitive=bool(item.get("case_sensitive")))

    _gaps(out, item, interaction, declare)


def _short_text(out: _Item, item: dict) -> None:
    if item.get("ignore_punctuation"):
        raise CannotExport("QTI string matching cannot ignore punctuation")
    html_into(out.body, item["stem"])
    _el(_el(out.body, "p"), "textEntryInteraction", responseIdentifier="RESPONSE",
        expectedLength=str(max(len(a) for a in item["answers"])))
    out.declare("RESPONSE", "single", "string", [item["answers"][0]],
                [(a, out.marks) for a in item["answers"]],
                {"defaultValue": "0", "lowerBound": "0", "upperBound": number_text(out.marks)},
                case_sensitive=bool(item.get("case_sensitive")))
    out.template("map_response")


def _numeric(out: _Item, item: dict) -> None:
    html_into(out.body, item["stem"])
    box = _el(out.body, "p")
    entry = ET.Element("textEntryInteraction", responseIdentifier="RESPONSE", expectedLength="10")
    unit = item.get("unit")
    if unit and all(c in "£$€¥" for c in unit):
        box.text = unit
        box.append(entry)
    else:
        box.append(entry)
        if unit:
            entry.tail = f" {unit}"
    out.declare("RESPONSE", "single", "float", [item["answer"]])
    tolerance = item.get("tolerance")
    if not tolerance:
        _correct_template(out)
        return
    width = Decimal(tolerance["value"]) * (100 if tolerance["type"] == "relative" else 1)
    out.score_if(_match("RESPONSE", "equal", toleranceMode=tolerance["type"],
                        tolerance=f"{number_text(width)} {number_text(width)}", includeLowerBound="true",
                        includeUpperBound="true"))


def _extended(out: _Item, item: dict) -> None:
    html_into(out.body, item["stem"])
    rubric = _el(out.body, "rubricBlock", view="scorer")
    html_into(rubric, item["mark_scheme"])
    # expectedLength is a hint in characters; six per word keeps max_words on the way back.
    _el(out.body, "extendedTextInteraction", responseIdentifier="RESPONSE",
        expectedLength=str(item["max_words"] * 6) if item.get("max_words") else None)
    out.declare("RESPONSE", "single", "string")


_BUILDERS = {"single_choice": _single_choice, "multiple_response": _multiple_response, "ordering": _ordering,
             "matching": _matching, "gap_select": _gap_select, "text_entry": _text_entry,
             "short_text": _short_text, "numeric": _numeric, "extended_response": _extended}


def item_xml(item: dict, version: int = 2) -> bytes:
    root = build(item)
    if version == 3:
        qti3.from_qti2(root, HTML_TAGS)
        root.set("xmlns", qti3.NAMESPACE)
        root.set("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
        root.set("xsi:schemaLocation", f"{qti3.NAMESPACE} {qti3.SCHEMA}")
    else:
        root.set("xmlns", NAMESPACE)
        root.set("xmlns:xsi", "http://www.w3.org/2001/XMLSchema-instance")
        root.set("xsi:schemaLocation", f"{NAMESPACE} {SCHEMA}")
    # No indentation: it would add white space inside the items' HTML.
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="utf-8") + b"\n"


def package(items: list[dict], version: int = 2) -> tuple[bytes, list[tuple[str, str]]]:
    """A content package (zip): imsmanifest.xml and items/<key>.xml; returns (zip, skipped)."""
    files, skipped = {}, []
    for item in items:
        try:
            files[f"items/{item['id']}.xml"] = item_xml(item, version)
        except CannotExport as exc:
            skipped.append((item["id"], str(exc)))
    namespace = qti3.MANIFEST_NAMESPACE if version == 3 else "http://www.imsglobal.org/xsd/imscp_v1p1"
    kind = qti3.RESOURCE_TYPE if version == 3 else "imsqti_item_xmlv2p1"
    manifest = ET.Element("manifest", {"xmlns": namespace, "identifier": "MANIFEST-onscreen"})
    metadata = _el(manifest, "metadata")
    _el(metadata, "schema", "QTI Package" if version == 3 else "QTIv2.1 Package")
    _el(metadata, "schemaversion", "3.0.0" if version == 3 else "1.0.0")
    _el(manifest, "organizations")
    resources = _el(manifest, "resources")
    for path in files:
        identifier = path.removeprefix("items/").removesuffix(".xml")
        resource = _el(resources, "resource", identifier=qti_id(identifier, "I"), type=kind, href=path)
        _el(resource, "file", href=path)
    ET.indent(manifest)
    files = {"imsmanifest.xml": b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(manifest, encoding="utf-8"),
             **files}
    return write_zip(files), skipped
