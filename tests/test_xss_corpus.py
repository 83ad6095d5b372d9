"""Stored XSS: hostile HTML in every authored field of every item type, after sanitising and
rendering, never leaves anything that runs or that htmx would act on."""
from __future__ import annotations

import copy
import random
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml

from engine import create_app
from engine.plugins import item_types
from engine.sanitize import sanitise_html

from conftest import TEST_SETTINGS
from xss_payloads import payloads

FIXTURES = Path(__file__).parent / "fixtures" / "items"
DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "style", "link", "meta", "base", "svg", "math",
                  "form", "template", "frame", "frameset", "applet", "isindex", "noscript", "video", "audio"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "background", "xlink:href", "data", "srcdoc"}


class DangerFinder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in DANGEROUS_TAGS:
            self.found.append(f"<{tag}>")
        for name, value in attrs:
            value = (value or "").strip().lower().replace("\t", "").replace("\n", "")
            if name.startswith("on") or name.startswith("hx-") or name.startswith("data-hx") or name == "style":
                self.found.append(f"{tag}[{name}]")
            if name.startswith("data-") and tag not in {"input", "div", "form", "span"}:
                # Only the engine's own templates use data-* (on its own elements); authored content never.
                self.found.append(f"{tag}[{name}]")
            if name in URL_ATTRIBUTES and (value.startswith(("javascript:", "vbscript:", "data:text")) or name == "srcdoc"):
                self.found.append(f"{tag}[{name}={value[:30]}]")


def dangers(html: str) -> list[str]:
    finder = DangerFinder()
    finder.feed(html)
    return finder.found


CORPUS = payloads()


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 100


@pytest.mark.parametrize("payload", CORPUS)
def test_sanitiser_neutralises_payload(payload):
    assert dangers(sanitise_html(payload)) == []


@pytest.fixture(scope="module")
def template_app(tmp_path_factory):
    app = create_app({**TEST_SETTINGS, "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('x')}/x.db"})
    return app


def string_leaves(value, path=()):
    if isinstance(value, str):
        yield path
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from string_leaves(child, path + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from string_leaves(child, path + (index,))


def set_leaf(defn, path, new):
    target = defn
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new


def good_examples():
    for folder in sorted(FIXTURES.iterdir()) if FIXTURES.is_dir() else []:
        for file in sorted(folder.glob("*.yaml")):
            for example in yaml.safe_load(file.read_text())["good"]:
                yield folder.name, example["name"], example["definition"]


@pytest.mark.parametrize("type_name,name,definition", list(good_examples()))
def test_every_authored_field_is_safe_when_rendered(template_app, type_name, name, definition):
    plugin = item_types(template_app).get(type_name)
    if plugin is None:
        pytest.fail(f"fixtures exist for {type_name} but no plugin registers it")
    rng = random.Random(0)
    with template_app.test_request_context():
        from flask import render_template
        for path in string_leaves(definition):
            if path[-1] in {"id", "key", "scoring", "type", "preset"} or (len(path) > 1 and path[-2] in {"keys", "pairs"}):
                continue  # identifiers: validated, never rendered as HTML
            for payload in rng.sample(CORPUS, 6):
                hostile = copy.deepcopy(definition)
                set_leaf(hostile, path, payload)
                cleaned = plugin.sanitise_definition(hostile)
                try:
                    state = plugin.start_attempt(cleaned, random.Random(1))
                    ctx = plugin.candidate_context(cleaned, state, None)
                except Exception:  # a payload in a structural field may make it invalid: not rendered
                    continue
                html = render_template(f"itemtype-{type_name}/candidate.html", ctx=ctx, prefix="r-", number=1,
                                       marks=cleaned.get("marks", 1), readonly=False)
                found = [d for d in dangers(html) if not d.startswith(("input[data-", "div[data-", "form[data-", "span[data-"))]
                assert found == [], (type_name, name, path, payload, found)
