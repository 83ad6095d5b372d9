"""The one place authored HTML is made safe: on bank load, on import and on save.

nh3 (Rust's ammonia) with an allow-list. Everything not listed goes, including ``<script>``,
``<style>``, every ``on*``, ``hx-*`` and ``data-*`` attribute (htmx acts on ``data-hx-*``
too) and any URL scheme but https; relative URLs to the bank's own assets are kept.
"""
from __future__ import annotations

import nh3

ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "u", "s", "sub", "sup", "small", "span",
    "ul", "ol", "li", "dl", "dt", "dd", "blockquote", "code", "pre", "hr",
    "h3", "h4", "h5", "h6",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "colgroup", "col",
    "img", "figure", "figcaption", "abbr",
}
ALLOWED_ATTRIBUTES = {
    "img": {"src", "alt", "width", "height"},
    "th": {"scope", "colspan", "rowspan"},
    "td": {"colspan", "rowspan"},
    "col": {"span"},
    "colgroup": {"span"},
    "abbr": {"title"},
    "ol": {"start", "type"},
    "*": {"lang", "dir"},
}
ALLOWED_URL_SCHEMES = {"https"}


def sanitise_html(html: str) -> str:
    """Return ``html`` with everything outside the allow-list removed."""
    attributes = {tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items() if tag != "*"}
    generic = ALLOWED_ATTRIBUTES["*"]
    for tag in ALLOWED_TAGS:
        attributes.setdefault(tag, set()).update(generic)
    return nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        clean_content_tags={"script", "style"},
        attributes=attributes,
        url_schemes=ALLOWED_URL_SCHEMES,
        strip_comments=True,
        link_rel=None,
    )
