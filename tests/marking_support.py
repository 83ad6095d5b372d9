"""Helpers for the marking, results, regrade and statistics tests: the marking demo sitting (four
candidates, an open response each but one, u9-1.1-03's key deliberately wrong) and quick reads."""
from __future__ import annotations

import re

from sqlalchemy import select

from engine import db, models
from engine.marking_demo import create_marking_demo

from centres_support import read, staff_browser

MARKER = ("marker", "mark-demo")
OFFICER = ("officer", "officer-demo")
ADMIN = ("admin", "admin-demo")


def marking_demo(app) -> int:
    """Make the marking demo (after the main demo) and return its sitting id."""
    lines = create_marking_demo(app)
    return int(re.search(r"sitting (\d+)", lines[0]).group(1))


def attempt_of(app, number: str):
    """The candidate's attempt with its result, form items and versions loaded."""
    def work(session):
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                 .where(models.Candidate.candidate_number == number).order_by(models.Attempt.id.desc()))
        for fi in attempt.form_items:
            fi.item_version.item, fi.item_version.criterion, fi.marked_version
        attempt.result
        return attempt
    return read(app, work)


def marks_by_key(attempt) -> dict:
    return {fi.item_version.item.key: fi.marks_awarded for fi in attempt.form_items}


def script_ids(app, sitting_id: int) -> dict[str, int]:
    """candidate number -> the form item id of their answered open response."""
    def work(session):
        rows = session.execute(
            select(models.Candidate.candidate_number, models.FormItem.id)
            .join(models.Entry, models.Entry.candidate_id == models.Candidate.id)
            .join(models.Attempt, models.Attempt.entry_id == models.Entry.id)
            .join(models.FormItem, models.FormItem.attempt_id == models.Attempt.id)
            .join(models.ItemVersion, models.FormItem.item_version_id == models.ItemVersion.id)
            .where(models.Entry.sitting_id == sitting_id, models.ItemVersion.type_name == "extended_response",
                   models.FormItem.current_response.is_not(None))).all()
        return dict(rows)
    return read(app, work)


def browser(app, who):
    return staff_browser(app, *who)


def mark(app, who, sitting_id, form_item_id, value, comment=""):
    staff = browser(app, who) if isinstance(who, tuple) else who
    return staff.post(f"/marking/sittings/{sitting_id}/scripts/{form_item_id}", mark=str(value), comment=comment)


def release_to_candidates(app, code: str) -> None:
    """The specification releases results to candidates (the read_only_after_submit lock's setting)."""
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == code))
            spec.locks = {**(spec.locks or {}), "read_only_after_submit": {"release_results": True}}
        session.close()


def set_settings(app, code: str, **values) -> None:
    from engine.models_marking import MarkingSettings
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == code))
            settings = session.get(MarkingSettings, spec.id) or MarkingSettings(
                specification_id=spec.id, second_marking=False, tolerance=0)
            for name, value in values.items():
                setattr(settings, name, value)
            session.add(settings)
        session.close()
