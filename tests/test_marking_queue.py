"""Manual marking through the pages: an anonymous queue, marks and comments, blind second marking
and moderation, results provisional until marked, release by a permitted user, the result slip."""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from engine import models

from centres_support import add_staff, read
from marking_support import (ADMIN, MARKER, OFFICER, attempt_of, browser, mark, marking_demo, release_to_candidates,
                             script_ids, set_settings)
from test_sitting_end_to_end import correct_fields, form_of

NAMES = ("Hana", "Sato", "Idris", "Bello", "Jonas", "Berg", "0101", "0102", "0103")


def test_the_marker_marks_an_anonymous_script_and_the_result_is_confirmed(app, demo):
    sitting_id = marking_demo(app)
    scripts = script_ids(app, sitting_id)
    assert set(scripts) == {"0101", "0102", "0103"}, "0104 left the open response blank: nothing to mark"
    marker = browser(app, MARKER)
    assert "Marking demo" in marker.client.get("/marking/").get_data(as_text=True)
    queue = marker.client.get(f"/marking/sittings/{sitting_id}").get_data(as_text=True)
    assert queue.count("Script ") >= 3 and "u9-2.1-01" in queue
    page = marker.client.get(f"/marking/sittings/{sitting_id}/scripts/{scripts['0101']}").get_data(as_text=True)
    assert "listen to the customer without interrupting" in page and "Award 1 mark for each" in page
    assert not [name for name in NAMES if name in queue + page], "markers see scripts by number only"

    before = attempt_of(app, "0101").result
    assert before.status == "provisional"
    for bad in ("5", "-1", "lots", "1.234"):
        refused = mark(app, marker, sitting_id, scripts["0101"], bad)
        assert refused.status_code == 400 and "mark: " in refused.get_data(as_text=True), bad
    assert mark(app, marker, sitting_id, scripts["0101"], "3", "Listens, apologises, solution").status_code == 303
    after = attempt_of(app, "0101")
    assert after.result.status == "confirmed" and after.result.total == before.total + 3
    essay = next(fi for fi in after.form_items if fi.item_version.type_name == "extended_response")
    assert (essay.marks_awarded, essay.mark_outcome) == (Decimal(3), "partial")
    # Marked: the same response cannot be marked again by anyone at the first stage.
    assert mark(app, browser(app, ADMIN), sitting_id, scripts["0101"], "4").status_code == 400
    audit = read(app, lambda s: s.scalars(select(models.AuditEvent).where(
        models.AuditEvent.action == "marking.mark")).all())
    assert [(a.actor, a.detail["awarded"], a.detail["status"]) for a in audit] == [("staff:marker", "3.00", "confirmed")]


def test_second_marking_is_blind_and_apart_marks_go_to_a_moderator(app, demo):
    sitting_id = marking_demo(app)
    set_settings(app, "demo-marking", second_marking=True, tolerance=Decimal(1))
    scripts = script_ids(app, sitting_id)
    add_staff(app, read(app, lambda s: s.scalar(select(models.Centre.id))), "moderator", "moderate-pass", "marker")
    marker, admin = browser(app, MARKER), browser(app, ADMIN)
    moderator = browser(app, ("moderator", "moderate-pass"))

    assert mark(app, marker, sitting_id, scripts["0102"], "4", "generous").status_code == 303
    assert attempt_of(app, "0102").result.status == "provisional", "second marking still to do"
    refused = mark(app, marker, sitting_id, scripts["0102"], "4")
    assert refused.status_code == 400 and "another marker" in refused.get_data(as_text=True)
    second_page = admin.client.get(f"/marking/sittings/{sitting_id}/scripts/{scripts['0102']}").get_data(as_text=True)
    assert "second marking" in second_page and "generous" not in second_page, "second marking is blind"
    assert mark(app, admin, sitting_id, scripts["0102"], "1").status_code == 303
    assert attempt_of(app, "0102").result.status == "provisional", "4 and 1 are more than 1 apart"
    moderation = moderator.client.get(f"/marking/sittings/{sitting_id}/scripts/{scripts['0102']}").get_data(as_text=True)
    assert "moderation marking" in moderation and "generous" in moderation
    assert mark(app, moderator, sitting_id, scripts["0102"], "2", "agreed 2").status_code == 303
    essay = next(fi for fi in attempt_of(app, "0102").form_items if fi.item_version.type_name == "extended_response")
    assert essay.marks_awarded == Decimal(2)
    assert attempt_of(app, "0102").result.status == "confirmed"

    # Within tolerance, the first mark stands after the second.
    mark(app, marker, sitting_id, scripts["0103"], "3")
    mark(app, admin, sitting_id, scripts["0103"], "2")
    essay = next(fi for fi in attempt_of(app, "0103").form_items if fi.item_version.type_name == "extended_response")
    assert essay.marks_awarded == Decimal(3) and attempt_of(app, "0103").result.status == "confirmed"


def test_results_are_released_only_when_every_response_is_marked_and_by_a_permitted_user(app, demo):
    sitting_id = marking_demo(app)
    scripts = script_ids(app, sitting_id)
    officer, marker = browser(app, OFFICER), browser(app, MARKER)
    assert marker.post(f"/results/sittings/{sitting_id}/release").status_code == 403
    refused = officer.post(f"/results/sittings/{sitting_id}/release")
    assert refused.status_code == 409 and "provisional" in refused.get_data(as_text=True)
    assert attempt_of(app, "0104").result.released_at is None, "nothing is released while any is provisional"
    for number, value in (("0101", 4), ("0102", 1), ("0103", "2.5")):
        assert mark(app, marker, sitting_id, scripts[number], value).status_code == 303
    assert officer.post(f"/results/sittings/{sitting_id}/release").status_code == 303
    assert all(attempt_of(app, n).result.released_at is not None for n in ("0101", "0102", "0103", "0104"))
    page = officer.client.get(f"/results/sittings/{sitting_id}").get_data(as_text=True)
    assert "4 of 4 result(s) released" in page
    # After release a mark can no longer be changed by marking: that goes through a regrade.
    assert read(app, lambda s: s.scalar(select(models.AuditEvent.detail).where(
        models.AuditEvent.action == "results.release"))) == {"released": 4}


def test_the_candidate_sees_a_result_slip_only_when_released_and_allowed(app, demo, invigilator, candidate_factory):
    aisha = candidate_factory("0001")
    aisha.sign_in()
    aisha.confirm()
    invigilator.start(demo["sitting_id"])
    for position, version, state in form_of(app, "0001"):
        aisha.answer(position, correct_fields(app, version, state))
    aisha.submit()
    assert "result-slip" not in aisha.client.get("/test/done").get_data(as_text=True)
    invigilator.end(demo["sitting_id"])
    officer = browser(app, OFFICER)
    assert officer.post(f"/results/sittings/{demo['sitting_id']}/release").status_code == 303
    done = aisha.client.get("/test/done").get_data(as_text=True)
    assert "result-slip" not in done, "the specification does not release results to candidates by default"
    release_to_candidates(app, "unit-2")
    done = aisha.client.get("/test/done").get_data(as_text=True)
    assert "result-slip" in done and "30 out of 30" in done and "Pass" in done
    # The slip shows marks only: no item keys or answers.
    assert not [fi.item_version.item.key for fi in attempt_of(app, "0001").form_items
                if fi.item_version.item.key in done]


def test_marking_settings_from_the_command_line(app, demo, runner):
    sitting_id = marking_demo(app)
    shown = runner.invoke(args=["results", "settings", "demo-marking"])
    assert shown.exit_code == 0 and "second marking off, tolerance 0." in shown.output
    changed = runner.invoke(args=["results", "settings", "demo-marking", "--second-marking", "--tolerance", "1.5"])
    assert changed.exit_code == 0 and "second marking on, tolerance 1.5." in changed.output
    bad = runner.invoke(args=["results", "settings", "demo-marking", "--tolerance", "-1"])
    assert bad.exit_code == 1 and "--tolerance" in bad.output
    assert runner.invoke(args=["results", "settings", "nope"]).exit_code == 1
    scripts = script_ids(app, sitting_id)
    assert mark(app, MARKER, sitting_id, scripts["0101"], 3).status_code == 303
    assert attempt_of(app, "0101").result.status == "provisional", "second marking is now on"
