"""Images in authored content must carry alt text, whatever the item type and field."""
from __future__ import annotations

import pytest

from engine import create_app
from engine.plugins import item_types

from conftest import TEST_SETTINGS


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    return item_types(create_app({**TEST_SETTINGS, "DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('i')}/i.db"}))


def choice(stem, option_text="Yes"):
    return {"stem": stem, "marks": 1, "key": "a",
            "options": [{"id": "a", "text": option_text}, {"id": "b", "text": "No"}]}


def test_an_image_without_alt_is_reported_with_its_field(registry):
    problems = registry["single_choice"].validate_definition(choice("<p>Look <img src=\"assets/till.png\"></p>"))
    assert [(p.path, "alt text" in p.message) for p in problems] == [("stem", True)]
    problems = registry["single_choice"].validate_definition(choice("<p>Which?</p>", "<img src='a.png' alt='  '>"))
    assert [p.path for p in problems] == ["options[0].text"]


def test_an_image_with_alt_is_accepted(registry):
    assert registry["single_choice"].validate_definition(
        choice("<p>The chart <img alt=\"Sales rose each month from January to June\" src=\"assets/chart.png\"></p>")) == []


def test_every_type_checks_images_in_its_stem(registry):
    for name, plugin in registry.items():
        problems = plugin.validate_definition({"stem": "<p><img src=x.png></p>", "marks": 1})
        assert any(p.path == "stem" and "alt text" in p.message for p in problems), name
