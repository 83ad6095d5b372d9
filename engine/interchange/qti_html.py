"""Between our authored HTML (sanitised, HTML5 serialisation) and QTI's XHTML content.

QTI item bodies are XML: ``<br>`` must become ``<br/>`` and entities characters. We rebuild the
HTML as ElementTree elements with :class:`html.parser.HTMLParser`, and can put an interaction
where a gap marker ``[[id]]`` stands in the text.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from html.parser import HTMLParser

from engine.sanitize import ALLOWED_TAGS

VOID = {"br", "hr", "img", "col"}
#: Element names that are HTML, not QTI (what a stem may hold, plus div).
HTML_TAGS = set(ALLOWED_TAGS) | {"div"}
MARKER = re.compile(r"\[\[([A-Za-z0-9_-]{1,32})\]\]")


class _Builder(HTMLParser):
    def __init__(self, root: ET.Element, marker: Callable[[str], ET.Element] | None):
        super().__init__(convert_charrefs=True)
        self.stack = [root]
        self.marker = marker

    def handle_starttag(self, tag, attrs):
        element = ET.SubElement(self.stack[-1], tag, {k: v or "" for k, v in attrs})
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        ET.SubElement(self.stack[-1], tag, {k: v or "" for k, v in attrs})

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        if self.marker is None:
            self._text(data)
            return
        last = 0
        for match in MARKER.finditer(data):
            self._text(data[last:match.start()])
            self.stack[-1].append(self.marker(match.group(1)))
            last = match.end()
        self._text(data[last:])

    def _text(self, data: str) -> None:
        parent = self.stack[-1]
        if len(parent):
            parent[-1].tail = (parent[-1].tail or "") + data
        else:
            parent.text = (parent.text or "") + data


def html_into(parent: ET.Element, html: str, marker: Callable[[str], ET.Element] | None = None) -> None:
    """Append ``html`` to ``parent`` as XML, wrapped in a div if it has text outside any block."""
    holder = ET.Element("div")
    builder = _Builder(holder, marker)
    builder.feed(html)
    builder.close()
    loose = (holder.text or "").strip() or any((child.tail or "").strip() for child in holder) \
        or any(child.tag not in {"p", "div", "ul", "ol", "dl", "table", "blockquote", "pre", "hr", "h3", "h4", "h5",
                                 "h6", "figure"} for child in holder)
    if loose:
        parent.append(holder)
        return
    for child in holder:
        child.tail = None
        parent.append(child)
