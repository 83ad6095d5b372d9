"""Helpers for the authoring tests: staff browsers and the named example item of each type."""
from __future__ import annotations

from pathlib import Path

import yaml
from werkzeug.security import generate_password_hash

from engine import db, models

from conftest import Invigilator

EXAMPLES = Path(__file__).parent / "fixtures" / "items"


def example_definition(type_name: str) -> dict:
    """The first good example of the type (tests/fixtures/items/<type>/examples.yaml)."""
    data = yaml.safe_load((EXAMPLES / type_name / "examples.yaml").read_text(encoding="utf-8"))
    return data["good"][0]["definition"]


def add_staff(app, username: str, roles: str, password: str = "pass-word-1") -> None:
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            session.add(models.StaffUser(username=username, display_name=username, roles=roles,
                                         password_hash=generate_password_hash(password, "pbkdf2:sha256:1000")))
        session.close()


def staff(app, username: str, password: str = "pass-word-1") -> Invigilator:
    """A signed-in member of staff (the conftest helper signs anyone in)."""
    return Invigilator(app, username, password)


def unit_and_criterion(app, urn: str = "Y/506/2152") -> tuple[int, str, list[str]]:
    with app.app_context():
        session = db.new_session(app)
        unit = session.query(models.Unit).filter_by(urn=urn).one()
        criterion = unit.learning_outcomes[0].criteria[0]
        result = unit.id, criterion.number, [t["id"] for t in criterion.amplification][:1]
        session.close()
    return result


def author_fields(app, type_name: str, definition: dict) -> dict:
    from engine.plugins import item_type
    with app.app_context():
        fields = item_type(type_name).author_form_data(definition)
    return {f"a-{name}": values for name, values in fields.items()}


def create_item(writer, app, type_name: str, key: str, definition: dict | None = None):
    """Post the new-item form as a browser would; returns the response."""
    unit_id, criterion, topics = unit_and_criterion(app)
    data = {"csrf_token": writer.csrf, "unit": str(unit_id), "type": type_name, "type_name": type_name,
            "key": key, "criterion": criterion, "topics": topics, "difficulty": "0.4", "enemies": "",
            "action": "save", **author_fields(app, type_name, definition or example_definition(type_name))}
    return writer.client.post("/author/new", data=data)


def item_id(app, key: str) -> int:
    with app.app_context():
        session = db.new_session(app)
        found = session.query(models.Item).filter_by(key=key).one().id
        session.close()
    return found
