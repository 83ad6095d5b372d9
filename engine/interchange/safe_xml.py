"""Hardened XML reading for imports: the one place untrusted XML is parsed.

defusedxml refuses entity declarations (billion laughs, XXE) and external references; nothing
is ever fetched from the network. Files over ``MAX_XML_BYTES`` are refused before parsing.
Namespaces are dropped from element names after parsing, so QTI 2.1, 2.2 and 3.0 documents (and
Moodle XML, which has none) are read with plain local names.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

#: One XML document (an item, a manifest, a Moodle export) may be at most this big.
MAX_XML_BYTES = 5 * 1024 * 1024


class InterchangeError(ValueError):
    """A file that cannot be read at all (not one item that cannot be represented)."""


def local(name: str) -> str:
    return name.rsplit("}", 1)[-1] if isinstance(name, str) else name


def parse_xml(data: bytes, where: str) -> ET.Element:
    """Parse ``data`` safely and return its root with namespaces stripped from tag and attribute names."""
    if len(data) > MAX_XML_BYTES:
        raise InterchangeError(f"{where}: the XML file is larger than {MAX_XML_BYTES // (1024 * 1024)} MiB; refused")
    try:
        root = fromstring(data, forbid_dtd=False, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise InterchangeError(f"{where}: refused: the XML declares entities or external references "
                               f"({type(exc).__name__}); onscreen never expands them") from None
    except ET.ParseError as exc:
        raise InterchangeError(f"{where}: not well-formed XML ({exc})") from None
    for element in root.iter():
        if isinstance(element.tag, str):
            element.tag = local(element.tag)
        for name in [n for n in element.attrib if "}" in n]:
            value = element.attrib.pop(name)
            # xml:lang and xsi:schemaLocation keep their local names; nothing here reads them.
            element.attrib.setdefault(local(name), value)
    return root


def inner_xml(element: ET.Element) -> str:
    """The element's content (text and children) as markup, without the element's own tag."""
    parts = [_escape(element.text or "")]
    for child in element:
        parts.append(ET.tostring(child, encoding="unicode", short_empty_elements=False))
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def text_of(element: ET.Element | None) -> str:
    return "".join(element.itertext()).strip() if element is not None else ""
