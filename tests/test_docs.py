"""Docs that must stay true: every hook has a heading in docs/plugin_hooks.md."""
from __future__ import annotations

import inspect
import re
from pathlib import Path

from engine import hookspecs

DOCS = Path(__file__).parent.parent / "docs"


def hook_names():
    return [name for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if hasattr(fn, "onscreen_spec")]


def test_every_hook_has_a_heading():
    headings = set(re.findall(r"^## (\w+)\s*$", (DOCS / "plugin_hooks.md").read_text(), flags=re.M))
    names = hook_names()
    assert names, "no hook specifications found"
    assert sorted(set(names) - headings) == []
    assert sorted(headings - set(names)) == [], "a heading names a hook that does not exist"


def test_every_hook_has_a_docstring_saying_who_calls_it():
    for name in hook_names():
        doc = inspect.getdoc(getattr(hookspecs, name)) or ""
        assert "Called" in doc or "Notification" in doc, name
