"""QTI 3.0 is QTI 2.x with new spellings: ``qti-`` prefixed, hyphenated element and attribute
names (``<qti-choice-interaction max-choices="1">`` for ``<choiceInteraction maxChoices="1">``),
a new namespace and new template URLs. We read and write QTI 3.0 by translating the tree, so
one reader and one writer serve both versions.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

NAMESPACE = "http://www.imsglobal.org/xsd/imsqtiasi_v3p0"
SCHEMA = "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd"
TEMPLATE_BASE = "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/"
MANIFEST_NAMESPACE = "http://www.imsglobal.org/xsd/qti/qtiv3p0/imscp_v1p1"
RESOURCE_TYPE = "imsqti_item_xmlv3p0"


def _camel(name: str) -> str:
    head, *rest = name.split("-")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", lambda m: "-" + m.group(1).lower(), name)


def to_qti2(root: ET.Element) -> ET.Element:
    """Rename a (namespace-stripped) QTI 3.0 tree in place to QTI 2.x names; returns the root."""
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag.startswith("qti-"):
            element.tag = _camel(element.tag[4:])
            for name in [n for n in element.attrib if "-" in n and not n.startswith(("data-", "aria-"))]:
                element.attrib[_camel(name)] = element.attrib.pop(name)
    processing = root.find("responseProcessing")
    if processing is not None and processing.get("template"):
        processing.set("template", processing.get("template").removesuffix(".xml"))
    return root


def from_qti2(root: ET.Element, html_tags: set[str]) -> ET.Element:
    """Rename a QTI 2.x tree we wrote (no namespaces) to QTI 3.0; HTML elements keep their names."""
    for element in root.iter():
        if element.tag in html_tags:
            continue
        element.tag = "qti-" + _kebab(element.tag)
        for name in [n for n in element.attrib if n not in ("xmlns",) and ":" not in n]:
            new = _kebab(name)
            if new != name:
                element.attrib[new] = element.attrib.pop(name)
    processing = root.find("qti-response-processing")
    if processing is not None and processing.get("template"):
        name = processing.get("template").rsplit("/", 1)[-1]
        processing.set("template", f"{TEMPLATE_BASE}{name}.xml")
    return root
