"""The import and export page: a GIFT file's questions become draft items that go through review
like any other; a unit downloads in an interchange format."""
from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from engine import db, models
from engine.attempts import live_pool
from engine.authoring_assets import interchange_available

from authoring_support import staff

pytestmark = pytest.mark.skipif(not interchange_available(), reason="engine/interchange is not installed")

GIFT = b"""// two questions for criterion 1.1
::Edge:: Which of these best explains how service gives a competitive edge? {
=Customers stay loyal because of the quality of its service
~It lowers the shop's costs
~It gives customers extra legal rights
}

::Loyal:: Good service makes customers more loyal. {TRUE}
"""


def test_imported_questions_are_drafts_until_reviewed(app, demo):
    writer, reviewer = staff(app, "writer", "write-demo"), staff(app, "reviewer", "review-demo")
    page = writer.client.get("/author/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.get_data(as_text=True)
    response = writer.client.post("/author/import", content_type="multipart/form-data", data={
        "csrf_token": writer.csrf, "file": (io.BytesIO(GIFT), "edge.gift"), "format": "gift",
        "unit": "Y/506/2152", "criterion": "1.1"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200, html[:3000]
    assert "Imported 2 item(s)" in html
    with app.app_context():
        session = db.new_session(app)
        imported = session.scalars(select(models.Item).join(models.ItemVersion).where(
            models.ItemVersion.provenance["imported_from"].as_string() == "edge.gift")).unique().all()
        keys = {item.key: item.id for item in imported}
        spec = session.scalar(select(models.TestSpecification).join(models.Unit).where(models.Unit.urn == "Y/506/2152"))
        spec_id = spec.id
        assert not set(keys) & {p.key for p in live_pool(session, spec)}
        session.close()
    assert len(keys) == 2
    for number in keys.values():
        assert writer.post(f"/author/items/{number}/workflow", action="submit").status_code == 303
        assert reviewer.post(f"/author/items/{number}/workflow", action="approve").status_code == 303
    with app.app_context():
        session = db.new_session(app)
        assert set(keys) <= {p.key for p in live_pool(session, session.get(models.TestSpecification, spec_id))}
        session.close()


def test_a_bad_import_is_reported_and_stores_nothing(app, demo):
    writer = staff(app, "writer", "write-demo")
    response = writer.client.post("/author/import", content_type="multipart/form-data", data={
        "csrf_token": writer.csrf, "file": (io.BytesIO(b"<not gift at all"), "x.gift"), "format": "gift",
        "unit": "Y/506/2152", "criterion": "9.9"})
    assert response.status_code == 422
    assert 'role="alert"' in response.get_data(as_text=True)
    assert writer.client.post("/author/import", data={"csrf_token": writer.csrf}).status_code == 422


def test_a_unit_downloads_in_an_interchange_format(app, demo):
    reviewer = staff(app, "reviewer", "review-demo")
    response = reviewer.client.get("/author/export?unit=Y/506/2152&format=gift")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == 'attachment; filename="unit-Y-506-2152.gift.txt"'
    assert b"{" in response.data and b"=" in response.data
    assert reviewer.client.get("/author/export?unit=Y/506/2152&format=pdf").status_code == 422
