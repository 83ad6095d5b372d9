"""Authored HTML as plain text, for the places markup cannot go.

An ``<option>`` in a ``<select>`` holds text only, and a marker's summary is read in a table or a
CSV. Both get the words of the (already sanitised) HTML with the tags dropped and the entities
decoded; Jinja's autoescape escapes them again on output, so nothing authored can become markup.
"""
from __future__ import annotations

import html
import re

import nh3

# Block ends become a space, so "<p>a</p><p>b</p>" reads "a b", not "ab"; inline tags join.
_BLOCK_END = re.compile(r"</(?:p|li|h[1-6]|td|th|dd|dt|blockquote|pre|caption|figcaption|tr|div)\s*>|<br\s*/?>",
                        re.IGNORECASE)


def plain_text(authored: object) -> str:
    """The words of ``authored`` HTML on one line: no tags, entities decoded, spaces collapsed."""
    if not isinstance(authored, str):
        return ""
    spaced = _BLOCK_END.sub(lambda match: match.group() + " ", authored)
    # tags=set() keeps the text of every element but script and style, whose content goes.
    return " ".join(html.unescape(nh3.clean(spaced, tags=set())).split())
