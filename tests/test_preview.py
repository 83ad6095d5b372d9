"""Staff preview: every registered type is listed; an item renders as the candidate sees it
and a posted answer is marked by its item type."""
from __future__ import annotations

import random
import re

from sqlalchemy import select

from engine import db, models
from engine.plugins import item_type, item_types

from conftest import Invigilator


def test_preview_lists_every_type_and_marks_an_answer(app, demo):
    writer = Invigilator(app, "writer", "write-demo")
    page = writer.client.get("/preview/").get_data(as_text=True)
    with app.app_context():
        for name in item_types(app):
            assert f"<code>{name}</code>" in page
    version_id = int(re.search(r'/preview/versions/(\d+)', page).group(1))
    html = writer.client.get(f"/preview/versions/{version_id}").get_data(as_text=True)
    assert 'name="r-' in html
    with app.app_context():
        session = db.new_session(app)
        version = session.scalar(select(models.ItemVersion).where(models.ItemVersion.id == version_id))
        plugin = item_type(version.type_name)
        state = plugin.start_attempt(version.definition, random.Random(version.id))
        fields = plugin.fields_for_response(version.definition, state, plugin.correct_response(version.definition))
        marks = version.marks
        session.close()
    data = {"csrf_token": writer.csrf, **{f"r-{k}": v for k, v in fields.items()}}
    marked = writer.client.post(f"/preview/versions/{version_id}", data=data).get_data(as_text=True)
    assert f"Marked: {marks.normalize():f} / {marks.normalize():f}" in marked


def test_candidates_and_invigilators_cannot_preview(app, demo, candidate_factory):
    candidate = candidate_factory("0001")
    candidate.sign_in()
    assert candidate.client.get("/preview/").status_code == 302
    invigilator = Invigilator(app)
    assert invigilator.client.get("/preview/").status_code == 403
