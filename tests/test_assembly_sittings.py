"""Assembly in sittings: forms made at opening and frozen, resits, exposure, late entries, refusals.

Each test loads its own bank (the shipped Unit 2 bank, or a temporary copy of it enlarged with
plain one-mark items so a resit can be kept fresh), so the tests do not depend on the other
units' banks.
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select

from engine import attempts, banks, blueprint, create_app, db, forms, models
from engine import clock as engine_clock
from engine.attempt_states import SUBMITTED
from engine.plugins import item_types

from conftest import BANKS, TEST_SETTINGS, CandidateBrowser

UNIT2 = BANKS / "unit-2-Y-506-2152"


# --- helpers --------------------------------------------------------------------------------------


def enlarged_unit2(tmp_path: Path, per_criterion: int = 3, rules: dict | None = None, keep_shipped: bool = True) -> Path:
    """A copy of the Unit 2 bank with ``per_criterion`` extra items for every AC: one-mark single
    choice and two-mark multiple response in turn, so the item-type rule can be met twice over.
    Without ``keep_shipped`` the bank holds only those items, so its size is known exactly."""
    folder = tmp_path / "unit-2-Y-506-2152"
    shutil.copytree(UNIT2, folder)
    if not keep_shipped:
        for shipped in (folder / "items").glob("*.yaml"):
            shipped.unlink()
    unit = yaml.safe_load((folder / "unit.yaml").read_text())
    items = []
    for outcome in unit["learning_outcomes"]:
        for criterion in outcome["criteria"]:
            for n in range(per_criterion):
                item = {
                    "id": f"x{criterion['number']}-{n}", "type": "single_choice", "criterion": criterion["number"],
                    "topics": [criterion["amplification"][0]["id"]], "marks": 1, "difficulty": 0.4,
                    "stem": f"<p>Extra question {n} on {criterion['number']}</p>",
                    "options": [{"id": c, "text": f"Option {c}"} for c in "abcde"], "key": "a",
                }
                if n % 2:
                    del item["key"]
                    item.update(type="multiple_response", marks=2, keys=["a", "c"], scoring="per_option")
                items.append(item)
    (folder / "items" / "extra.yaml").write_text(yaml.safe_dump({"items": items}, sort_keys=False))
    if rules is not None:
        spec = yaml.safe_load((folder / "test.yaml").read_text())
        spec["rules"] = rules
        (folder / "test.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return folder


def load(app, path: Path) -> None:
    session = db.new_session(app)
    try:
        with app.app_context(), db.writing(session):
            banks.load(session, path, item_types(app), engine_clock.now(session))
    finally:
        session.close()


def people(app, count: int, centre_number: str = "99001", prefix: str = "", uln: str | None = None) -> list[int]:
    """A centre and ``count`` candidates; returns their ids."""
    session = db.new_session(app)
    try:
        with app.app_context(), db.writing(session):
            centre = session.scalar(select(models.Centre).where(models.Centre.number == centre_number))
            if centre is None:
                centre = models.Centre(number=centre_number, name=f"Centre {centre_number}")
                session.add(centre)
                session.flush()
            made = []
            for n in range(count):
                candidate = models.Candidate(centre_id=centre.id, candidate_number=f"{prefix}{n + 1:04d}",
                                             first_name="Test", last_name=f"Candidate {n + 1}", uln=uln)
                session.add(candidate)
                made.append(candidate)
            session.flush()
            return [c.id for c in made]
    finally:
        session.close()


def open_sitting(app, candidate_ids: list[int], code: str = "unit-2") -> int:
    session = db.new_session(app)
    try:
        with app.app_context(), db.writing(session):
            spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == code))
            candidates = [session.get(models.Candidate, i) for i in candidate_ids]
            sitting = attempts.open_sitting(session, centre=candidates[0].centre, specification=spec,
                                            candidates=candidates, title="Test sitting", actor="test",
                                            staff_id=None, now=engine_clock.now(session))
            return sitting.id
    finally:
        session.close()


def sit_and_submit(app, sitting_id: int) -> None:
    """Every candidate confirms, the room starts, everyone submits."""
    session = db.new_session(app)
    try:
        with app.app_context(), db.writing(session):
            sitting = session.get(models.Sitting, sitting_id)
            now = engine_clock.now(session)
            for entry in sitting.entries:
                attempts.confirm_details(session, entry.attempt, now)
            attempts.start_sitting(session, sitting, "test", now)
            for entry in sitting.entries:
                attempts.submit(session, entry.attempt, now)
    finally:
        session.close()


def form_keys(app, sitting_id: int) -> dict[int, list[str]]:
    """candidate id -> item keys of their form in this sitting."""
    session = db.new_session(app)
    try:
        rows = session.execute(
            select(models.Entry.candidate_id, models.Item.key)
            .join(models.Attempt, models.Attempt.entry_id == models.Entry.id)
            .join(models.FormItem, models.FormItem.attempt_id == models.Attempt.id)
            .join(models.ItemVersion, models.FormItem.item_version_id == models.ItemVersion.id)
            .join(models.Item, models.ItemVersion.item_id == models.Item.id)
            .where(models.Entry.sitting_id == sitting_id).order_by(models.FormItem.position)
        ).all()
    finally:
        session.close()
    keys: dict[int, list[str]] = {}
    for candidate_id, key in rows:
        keys.setdefault(candidate_id, []).append(key)
    return keys


def assembly_records(app, sitting_id: int) -> dict[int, dict]:
    """candidate id -> the detail of their attempt's ``attempt.assemble`` audit event."""
    session = db.new_session(app)
    try:
        sitting = session.get(models.Sitting, sitting_id)
        subjects = {f"attempt:{e.attempt.id}": e.candidate_id for e in sitting.entries}
        events = session.scalars(select(models.AuditEvent).where(
            models.AuditEvent.action == forms.ASSEMBLE_ACTION, models.AuditEvent.subject.in_(subjects))).all()
        return {subjects[e.subject]: e.detail for e in events}
    finally:
        session.close()


def form_state(app, sitting_id: int) -> list[tuple]:
    """Everything that makes up the sitting's forms, to compare before and after."""
    session = db.new_session(app)
    try:
        rows = session.execute(
            select(models.Attempt.id, models.Attempt.assembly_seed, models.FormItem.id, models.FormItem.position,
                   models.FormItem.item_version_id, models.FormItem.start_state)
            .join(models.Entry, models.Attempt.entry_id == models.Entry.id)
            .join(models.FormItem, models.FormItem.attempt_id == models.Attempt.id)
            .where(models.Entry.sitting_id == sitting_id).order_by(models.FormItem.id)
        ).all()
        return [tuple(r) for r in rows]
    finally:
        session.close()


def count_assemblies(app) -> int:
    session = db.new_session(app)
    try:
        return session.scalar(select(func.count(models.AuditEvent.id)).where(
            models.AuditEvent.action == forms.ASSEMBLE_ACTION))
    finally:
        session.close()


# --- tests ----------------------------------------------------------------------------------------


def test_opening_a_sitting_makes_every_form_to_the_blueprint_and_records_how(app):
    load(app, UNIT2)
    ids = people(app, 6)
    sitting_id = open_sitting(app, ids)
    records = assembly_records(app, sitting_id)
    session = db.new_session(app)
    try:
        with app.app_context():
            spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == "unit-2"))
            bp = blueprint.for_specification(spec)
            sitting = session.get(models.Sitting, sitting_id)
            for number, entry in enumerate(sitting.entries):
                attempt = entry.attempt
                pool_items = [forms.pool_item(fi.item_version.item, fi.item_version) for fi in attempt.form_items]
                assert blueprint.check_form(bp, pool_items) == []
                detail = records[entry.candidate_id]
                assert detail["seed"] == attempt.assembly_seed
                assert detail["overlap"] == 0
                # Each form counts towards the exposure of the next one in the register.
                assert detail["forms_in_window"] == number
                assert forms.reproduce(session, attempt) == [fi.item_version_id for fi in attempt.form_items]
    finally:
        session.close()


def test_resume_device_change_and_restart_never_remake_a_form(app, clock):
    load(app, UNIT2)
    ids = people(app, 2)
    sitting_id = open_sitting(app, ids)
    before, assembled = form_state(app, sitting_id), count_assemblies(app)
    session = db.new_session(app)
    keycode = session.get(models.Sitting, sitting_id).keycode
    session.close()

    first = CandidateBrowser(app, "99001", "0001", keycode)
    first.sign_in()
    first.confirm()
    session = db.new_session(app)
    with app.app_context(), db.writing(session):
        attempts.start_sitting(session, session.get(models.Sitting, sitting_id), "test", engine_clock.now(session))
    session.close()
    page = first.item_page(1).get_data(as_text=True)
    assert first.answer(1, {"choice": ["1"]}).status_code == 200
    clock.advance(minutes=3)
    assert first.item_page(2).status_code == 200  # carrying on: a resume within the same browser

    second = CandidateBrowser(app, "99001", "0001", keycode)  # the workstation fails; a spare one
    second.sign_in()
    assert _stem(second.item_page(1).get_data(as_text=True)) == _stem(page)

    restarted = create_app({**TEST_SETTINGS, "DATABASE_URL": app.config["DATABASE_URL"], "CLOCK": clock})
    try:
        third = CandidateBrowser(restarted, "99001", "0001", keycode)  # the server restarts
        third.sign_in()
        assert _stem(third.item_page(1).get_data(as_text=True)) == _stem(page)
        assert form_state(restarted, sitting_id) == before
        assert count_assemblies(restarted) == assembled
    finally:
        db.engine_for(restarted).dispose()
    assert form_state(app, sitting_id) == before


def _stem(html: str) -> str:
    found = re.search(r'<div class="stem"[^>]*>(.*?)</div>', html, re.S) or re.search(r"<legend[^>]*>(.*?)</legend>", html, re.S)
    assert found, "no stem on the item page"
    return found.group(1)


def test_a_candidate_who_sits_unit_2_twice_gets_no_repeated_item(app, tmp_path, clock):
    load(app, enlarged_unit2(tmp_path))
    (learner,) = people(app, 1)
    first = open_sitting(app, [learner])
    sit_and_submit(app, first)
    clock.advance(days=14)
    second = open_sitting(app, [learner])
    seen, now_given = form_keys(app, first)[learner], form_keys(app, second)[learner]
    assert not set(seen) & set(now_given)
    detail = assembly_records(app, second)[learner]
    assert detail["overlap"] == 0 and sorted(detail["seen"]) == sorted(seen)


def test_when_a_fresh_form_is_impossible_the_overlap_is_the_least_possible_and_recorded(app, tmp_path, clock):
    # 16 criteria x (1 + 2 marks) = 48 marks: after one 30-mark form only 18 unseen marks are
    # left, so the second form must repeat items; it repeats as few as possible and says how many.
    rules = {"every_learning_outcome": True, "outcome_marks": {"tolerance": 3}}
    load(app, enlarged_unit2(tmp_path, per_criterion=2, rules=rules, keep_shipped=False))
    (learner,) = people(app, 1)
    first = open_sitting(app, [learner])
    sit_and_submit(app, first)
    clock.advance(days=7)
    second = open_sitting(app, [learner])
    seen, given = set(form_keys(app, first)[learner]), set(form_keys(app, second)[learner])
    detail = assembly_records(app, second)[learner]
    assert detail["overlap"] == len(seen & given) > 0
    assert detail["resit_overlap_forced"] is True
    # Every unseen item is used before any seen one is repeated (no rule here stops that)...
    session = db.new_session(app)
    live = set(session.scalars(select(models.Item.key).where(models.Item.status == "live")))
    marks = dict(session.execute(select(models.Item.key, models.ItemVersion.marks).join(models.ItemVersion)).all())
    session.close()
    assert live - seen <= given
    # ...and the 12 marks still needed come from as few seen items as the outcome ranges allow.
    repeated_marks = sum(marks[k] for k in seen & given)
    assert repeated_marks == 12 and len(seen & given) <= 8


def test_a_resit_at_another_centre_is_recognised_by_the_uln(app, tmp_path):
    load(app, enlarged_unit2(tmp_path))
    (here,) = people(app, 1, centre_number="99001", uln="1234567890")
    first = open_sitting(app, [here])
    sit_and_submit(app, first)
    (there,) = people(app, 1, centre_number="99002", uln="1234567890")
    second = open_sitting(app, [there])
    assert not set(form_keys(app, first)[here]) & set(form_keys(app, second)[there])


def test_a_candidate_absent_from_the_first_sitting_has_seen_nothing(app, tmp_path):
    load(app, UNIT2)
    (learner,) = people(app, 1)
    first = open_sitting(app, [learner])
    session = db.new_session(app)
    with app.app_context(), db.writing(session):
        attempts.end_sitting(session, session.get(models.Sitting, first), "test", engine_clock.now(session))
    session.close()
    second = open_sitting(app, [learner])
    assert assembly_records(app, second)[learner]["seen"] == []


def test_exposure_is_capped_across_a_sitting_and_counted_within_the_window(app, tmp_path, clock):
    rules = {"every_learning_outcome": True, "outcome_marks": {"tolerance": 3},
             "exposure": {"max_rate": 0.5, "window_days": 30}}
    load(app, enlarged_unit2(tmp_path, per_criterion=3, rules=rules))
    first = open_sitting(app, people(app, 10))
    uses: dict[str, int] = {}
    for keys in form_keys(app, first).values():
        for key in keys:
            uses[key] = uses.get(key, 0) + 1
    assert max(uses.values()) <= 5  # ceil(0.5 x 10)
    assert all(not d["exposure_relaxed"] for d in assembly_records(app, first).values())

    clock.advance(days=1)
    second = open_sitting(app, people(app, 4, prefix="b"))
    assert sorted(d["forms_in_window"] for d in assembly_records(app, second).values()) == [10, 11, 12, 13]
    clock.advance(days=45)  # both sittings are now outside the 30-day window
    third = open_sitting(app, people(app, 1, prefix="c"))
    assert [d["forms_in_window"] for d in assembly_records(app, third).values()] == [0]


def test_a_late_entry_gets_its_form_on_entry(app, clock):
    load(app, UNIT2)
    ids = people(app, 3)
    sitting_id = open_sitting(app, ids[:2])
    session = db.new_session(app)
    try:
        with app.app_context(), db.writing(session):
            sitting = session.get(models.Sitting, sitting_id)
            attempts.start_sitting(session, sitting, "test", engine_clock.now(session))
        with app.app_context(), db.writing(session):
            late = attempts.enter_late(session, session.get(models.Sitting, sitting_id),
                                       session.get(models.Candidate, ids[2]), "invigilator:1", engine_clock.now(session))
            assert late.form_items
        with app.app_context(), pytest.raises(attempts.NotAccepted, match="already entered"), db.writing(session):
            attempts.enter_late(session, session.get(models.Sitting, sitting_id),
                                session.get(models.Candidate, ids[2]), "invigilator:1", engine_clock.now(session))
    finally:
        session.close()
    records = assembly_records(app, sitting_id)
    assert records[ids[2]]["forms_in_window"] == 2  # the sitting's first two forms count
    session = db.new_session(app)
    entered = session.scalar(select(models.AuditEvent).where(models.AuditEvent.action == "sitting.enter"))
    session.close()
    assert entered.detail["candidate"] == ids[2]


def test_a_sitting_the_bank_cannot_serve_is_refused_at_opening_with_the_reason(app):
    load(app, UNIT2)
    ids = people(app, 2)
    session = db.new_session(app)
    with app.app_context(), db.writing(session):
        for item in session.scalars(select(models.Item).where(models.Item.key.like("u2-3.%"))):
            item.status = "retired"
    session.close()
    with pytest.raises(attempts.NotAccepted) as refusal:
        open_sitting(app, ids)
    assert "rules.every_learning_outcome" in str(refusal.value) and "learning outcome 3" in str(refusal.value)
    session = db.new_session(app)
    assert session.scalar(select(func.count(models.Sitting.id))) == 0  # nothing half-made
    session.close()


def test_open_sitting_still_refuses_with_a_reason_through_the_web_transaction(app):
    load(app, UNIT2)
    ids = people(app, 1)
    session = db.new_session(app)
    with app.app_context(), db.writing(session):
        spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == "unit-2"))
        spec.rules = {**spec.rules, "difficulty": {"min": 0.9, "max": 1}}
    session.close()
    with pytest.raises(attempts.NotAccepted, match=r"rules\.difficulty.*0\.90"):
        open_sitting(app, ids)


def test_forms_from_a_finished_sitting_are_not_changed_by_a_later_bank_load(app, tmp_path):
    load(app, UNIT2)
    ids = people(app, 1)
    sitting_id = open_sitting(app, ids)
    sit_and_submit(app, sitting_id)
    before = form_state(app, sitting_id)
    changed = tmp_path / "unit-2-Y-506-2152"
    shutil.copytree(UNIT2, changed)
    text = (changed / "items" / "lo1.yaml").read_text()
    (changed / "items" / "lo1.yaml").write_text(text.replace("difficulty: 0.3", "difficulty: 0.35", 1))
    load(app, changed)
    assert form_state(app, sitting_id) == before
    session = db.new_session(app)
    attempt = session.scalar(select(models.Attempt))
    assert attempt.finish_reason == SUBMITTED
    # The recorded inputs still make the same form: they name item versions, not items.
    assert forms.reproduce(session, attempt) == [fi.item_version_id for fi in attempt.form_items]
    session.close()
