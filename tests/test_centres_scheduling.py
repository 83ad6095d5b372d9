"""Scheduling on-demand sittings: windows in the centre's time zone, rooms, registers, clashes."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from engine import models, scheduling
from engine.attempt_states import FINISHED, IN_PROGRESS

from centres_support import read, staff_browser


def ids_of(app, *numbers):
    return read(app, lambda s: [s.scalar(select(models.Candidate.id).where(models.Candidate.candidate_number == n))
                                for n in numbers])


def spec_id(app, code="unit-2"):
    return read(app, lambda s: s.scalar(select(models.TestSpecification.id).where(models.TestSpecification.code == code)))


def centre_id(app):
    return read(app, lambda s: s.scalar(select(models.Centre.id).where(models.Centre.number == "99001")))


def schedule(officer, app, numbers, date="2026-11-24", start="09:00", end="11:00", room="Room 4", title="", code="unit-2"):
    return officer.post(f"/centre/{centre_id(app)}/sittings", specification=str(spec_id(app, code)), title=title,
                        date=date, start_time=start, end_time=end, room=room, candidates=[str(i) for i in ids_of(app, *numbers)])


def sitting_count(app):
    return read(app, lambda s: s.scalar(select(func.count()).select_from(models.Sitting)))


@pytest.fixture
def officer(app, demo):
    return staff_browser(app, "officer", "officer-demo")


# --- windows, without a database ----------------------------------------------------------------------

def test_windows_are_read_in_the_centres_time_zone():
    winter, problems = scheduling.parse_window("2026-11-24", "09:00", "10:30", "Europe/London")
    assert problems == [] and (winter.start, winter.end) == (dt.datetime(2026, 11, 24, 9), dt.datetime(2026, 11, 24, 10, 30))
    summer, _ = scheduling.parse_window("2027-06-01", "09:00", "10:30", "Europe/London")
    assert summer.start == dt.datetime(2027, 6, 1, 8, 0)  # BST is UTC+1
    auckland, _ = scheduling.parse_window("2026-11-24", "09:00", "10:00", "Pacific/Auckland")
    assert auckland.start == dt.datetime(2026, 11, 23, 20, 0)
    assert scheduling.describe(summer.start, summer.end, "Europe/London") == "Tue 01 Jun 2027, 09:00 to 10:30"


@pytest.mark.parametrize("date, start, end, field, words", [
    ("24/11/2026", "09:00", "10:00", "date", "YYYY-MM-DD"),
    ("2026-11-24", "25:00", "10:00", "start_time", "HH:MM"),
    ("2026-11-24", "10:00", "09:00", "end_time", "must end after it starts"),
    ("2027-03-28", "01:30", "03:00", "start_time", "does not exist in Europe/London"),
    ("2026-10-25", "01:30", "03:00", "start_time", "happens twice in Europe/London"),
])
def test_bad_windows_are_refused_with_the_field_and_reason(date, start, end, field, words):
    window, problems = scheduling.parse_window(date, start, end, "Europe/London")
    assert window is None and problems[0].field == field and words in problems[0].message


# --- scheduling through the pages ------------------------------------------------------------------------

def test_officer_schedules_a_sitting_that_the_invigilator_can_run(app, officer, clock):
    before = sitting_count(app)
    response = schedule(officer, app, ["0001", "0002", "0003"], title="Unit 2, Tuesday morning")
    assert response.status_code == 303
    created = int(re.search(r"created=(\d+)", response.headers["Location"]).group(1))
    assert sitting_count(app) == before + 1

    def check(session):
        sitting = session.get(models.Sitting, created)
        assert (sitting.scheduled_start, sitting.scheduled_end, sitting.room, sitting.state) == \
            (dt.datetime(2026, 11, 24, 9), dt.datetime(2026, 11, 24, 11), "Room 4", "open")
        assert sitting.title == "Unit 2, Tuesday morning" and sitting.created_by_id is not None
        assert [e.candidate.candidate_number for e in sitting.entries] == ["0001", "0002", "0003"]
        # Forms were made at opening, with each candidate's arrangement in the time allowed.
        for entry in sitting.entries:
            assert sum(fi.item_version.marks for fi in entry.attempt.form_items) == Decimal(30)
        assert [e.attempt.allowed_seconds for e in sitting.entries] == [2700, 3375, 2700]
        actions = {(e.action, e.actor) for e in session.scalars(
            select(models.AuditEvent).where(models.AuditEvent.subject == f"sitting:{created}"))}
        assert {("sitting.open", "staff:officer"), ("sitting.schedule", "staff:officer")} <= actions
    read(app, check)

    page = officer.client.get(f"/centre/{centre_id(app)}/sittings?created={created}").get_data(as_text=True)
    assert f"Sitting {created} is scheduled" in page
    assert "Tuesday 24 November 2026" in page and "Tue 24 Nov 2026, 09:00 to 11:00" in page
    assert "0002 (25% extra time)" in page

    # It is an ordinary sitting for the invigilator.
    invigilator = staff_browser(app, "invigilator", "invigilate-demo")
    assert "Unit 2, Tuesday morning" in invigilator.client.get("/invigilate/").get_data(as_text=True)
    clock.now = dt.datetime(2026, 11, 24, 9, 0)
    invigilator.start(created)
    state = read(app, lambda s: s.get(models.Sitting, created).state)
    assert state == "started"


def test_a_clash_is_refused_with_a_message_naming_both_sittings(app, officer):
    first = schedule(officer, app, ["0001", "0002"], start="09:00", end="11:00", room="Hall", title="Morning")
    first_id = int(re.search(r"created=(\d+)", first.headers["Location"]).group(1))
    count = sitting_count(app)
    clash = schedule(officer, app, ["0002", "0003"], start="10:30", end="12:00", room="Room 2", title="Late morning")
    assert clash.status_code == 400
    page = clash.get_data(as_text=True).replace("&#34;", '"')
    assert "The sitting was not scheduled" in page
    assert ("Clash: the new sitting \u201cLate morning\u201d (Tue 24 Nov 2026, 10:30 to 12:00, Room 2) overlaps: "
            f"0002 Ben Okafor is already in sitting {first_id} \u201cMorning\u201d (Tue 24 Nov 2026, 09:00 to 11:00, Hall).") in page
    assert sitting_count(app) == count
    # Back to back is not a clash.
    assert schedule(officer, app, ["0002", "0003"], start="11:00", end="12:30").status_code == 303
    # Once the first sitting is cancelled, its candidates are free again.
    cancel = officer.post(f"/centre/{centre_id(app)}/sittings/{first_id}/cancel", confirm="yes", reason="room flooded")
    assert cancel.status_code == 303
    assert schedule(officer, app, ["0001"], start="10:00", end="11:00").status_code == 303


def test_a_window_shorter_than_a_candidates_time_is_refused(app, officer):
    response = schedule(officer, app, ["0001", "0002"], start="09:00", end="09:50")
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "is 50 minutes, shorter than the 57 minutes 0002 Ben Okafor needs" in page and "with 25% extra time" in page


def test_scheduling_checks_the_form_and_the_calendar(app, officer):
    count = sitting_count(app)
    page = officer.post(f"/centre/{centre_id(app)}/sittings", specification="", date="soon", start_time="9",
                        end_time="10:00", room="", candidates=[]).get_data(as_text=True)
    assert "choose the test" in page and "is not a date written as YYYY-MM-DD" in page and "HH:MM" in page
    assert "Enter the room" in schedule(officer, app, ["0001"], room="  ").get_data(as_text=True)
    assert "Enter at least one candidate" in schedule(officer, app, []).get_data(as_text=True)
    assert "That window is already over" in schedule(officer, app, ["0001"], date="2026-11-22").get_data(as_text=True)
    assert sitting_count(app) == count


def test_a_bank_that_cannot_serve_the_test_is_refused_with_its_reason(app, officer):
    def impossible(session):
        unit2 = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == "unit-2"))
        session.add(models.TestSpecification(code="impossible", unit_id=unit2.unit_id, title="Impossible test",
                                             duration_minutes=45, total_marks=Decimal(9999), pass_mark=Decimal(1),
                                             rules={}))
        session.commit()
    read(app, impossible)
    count = sitting_count(app)
    response = schedule(officer, app, ["0001"], code="impossible")
    assert response.status_code == 400
    assert "The bank cannot serve Impossible test" in response.get_data(as_text=True)
    assert sitting_count(app) == count


def test_a_new_arrangement_applies_to_sittings_opened_but_not_started(app, officer, demo, clock):
    response = schedule(officer, app, ["0001"], start="09:00", end="11:00")
    scheduled = int(re.search(r"created=(\d+)", response.headers["Location"]).group(1))
    # 0003 is in the demo sitting, which starts now; their time is then the invigilator's to change.
    invigilator = staff_browser(app, "invigilator", "invigilate-demo")
    from conftest import CandidateBrowser
    chloe = CandidateBrowser(app, "99001", "0003", demo["keycode"])
    chloe.sign_in()
    chloe.confirm()
    invigilator.start(demo["sitting_id"])
    for number in ("0001", "0003"):
        candidate = read(app, lambda s: s.scalar(select(models.Candidate).where(models.Candidate.candidate_number == number)))
        response = officer.post(f"/centre/{centre_id(app)}/candidates/{candidate.id}", candidate_number=number,
                                first_name=candidate.first_name, last_name=candidate.last_name, extra_time_percent="25")
        assert response.status_code == 303

    def allowed(session):
        rows = session.execute(select(models.Candidate.candidate_number, models.Sitting.id, models.Attempt.allowed_seconds,
                                      models.Attempt.state)
                               .join(models.Entry, models.Entry.candidate_id == models.Candidate.id)
                               .join(models.Sitting, models.Entry.sitting_id == models.Sitting.id)
                               .join(models.Attempt, models.Attempt.entry_id == models.Entry.id)).all()
        return {(number, sitting): (seconds, state) for number, sitting, seconds, state in rows}
    times = read(app, allowed)
    assert times[("0001", scheduled)] == (3375, "ready")          # not started: 45 min + 25 %
    assert times[("0001", demo["sitting_id"])] == (3375, "ready")  # the demo sitting, not yet joined
    assert times[("0003", demo["sitting_id"])] == (2700, IN_PROGRESS)  # already running: unchanged
    assert FINISHED not in {state for _, state in times.values()}


def test_cancelling_needs_a_reason_and_records_candidates_absent(app, officer):
    response = schedule(officer, app, ["0001", "0002"])
    created = int(re.search(r"created=(\d+)", response.headers["Location"]).group(1))
    url = f"/centre/{centre_id(app)}/sittings/{created}/cancel"
    assert "give a reason and tick the box" in officer.post(url, confirm="yes").get_data(as_text=True)
    assert officer.post(url, confirm="yes", reason="teacher ill").status_code == 303

    def check(session):
        sitting = session.get(models.Sitting, created)
        assert sitting.state == "ended"
        assert {e.attempt.finish_reason for e in sitting.entries} == {"absent"}
        event = session.scalar(select(models.AuditEvent).where(models.AuditEvent.action == "sitting.end",
                                                               models.AuditEvent.subject == f"sitting:{created}"))
        assert event.reason == "cancelled: teacher ill" and event.actor == "staff:officer"
    read(app, check)
    assert "has ended" in officer.post(url, confirm="yes", reason="again").get_data(as_text=True)
