"""The incident log: recording, checks with the field named, CSV export (formula-safe), and the
printable sitting report."""
from __future__ import annotations

import csv
import io

import pytest

from engine import incidents
from invigilation_support import attempt_of


@pytest.mark.parametrize("value, expected", [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tx", "'\tx"), ("\rx", "'\rx"), ("fire alarm", "fire alarm"), ("", ""), (None, ""), (12, "12"),
])
def test_csv_cells_never_start_a_formula(value, expected):
    assert incidents.escape_cell(value) == expected


def _record(invigilator, sitting_id, **data):
    return invigilator.client.post(f"/invigilate/sittings/{sitting_id}/incidents",
                                   data={"csrf_token": invigilator.csrf, **data})


def test_record_an_incident_linked_to_candidates_and_export_it(app, demo, invigilator, candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    for number in ("0001", "0002"):
        browser = candidate_factory(number)
        browser.sign_in()
        browser.confirm()
    invigilator.start(sitting_id)
    clock.advance(minutes=20)  # 09:20 UTC = 09:20 in London in November
    ids = [attempt_of(app, n).id for n in ("0001", "0002")]

    for data, field_words in [
        ({"category": "", "description": "x"}, "Choose the kind of incident"),
        ({"category": "illness", "description": "  "}, "Describe what happened"),
        ({"category": "illness", "description": "x", "happened_at": "9.15"}, "not a time of day"),
        ({"category": "illness", "description": "x", "happened_at": "25:00"}, "not a time of day"),
        ({"category": "illness", "description": "x", "happened_at": "09:45"}, "cannot be in the future"),
        ({"category": "illness", "description": "x", "attempt": "999999"}, "Only candidates in this sitting"),
    ]:
        refused = _record(invigilator, sitting_id, **data)
        assert refused.status_code == 400 and field_words in refused.get_data(as_text=True), data
        assert 'aria-invalid="true"' in refused.get_data(as_text=True) or "candidates" in field_words.lower()

    assert _record(invigilator, sitting_id, category="disturbance", happened_at="09:12",
                   description='=HYPERLINK("http://evil.example","click")', attempt=ids).status_code == 303
    assert _record(invigilator, sitting_id, category="late_arrival", description="Candidate 0003 arrived at 09:18",
                   ).status_code == 303
    invigilator.post(f"/invigilate/sittings/{sitting_id}/emergency")

    log = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/incidents").get_data(as_text=True)
    assert "09:12:00" in log and "Disturbance" in log and "0001 Aisha Khan; 0002 Ben Okafor" in log
    assert "Emergency" in log and "Late arrival" in log

    exported = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/incidents.csv")
    assert exported.mimetype == "text/csv"
    assert "attachment" in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert list(rows[0]) == list(incidents.CSV_COLUMNS)
    assert [r["category"] for r in rows] == ["disturbance", "late_arrival", "emergency"]
    first = rows[0]
    assert first["description"].startswith("'=HYPERLINK")
    assert first["happened_at"] == "2026-11-23T09:12:00+00:00"
    assert first["candidates"] == "0001 Aisha Khan; 0002 Ben Okafor"
    assert first["recorded_by"] == "staff:invigilator" and first["sitting"] == str(sitting_id)
    assert rows[2]["candidates"] == "0001 Aisha Khan; 0002 Ben Okafor"  # who the emergency stopped


def test_the_printable_report_has_register_time_accounting_incidents_and_actions(
        app, demo, invigilator, candidate_factory, clock):
    sitting_id = demo["sitting_id"]
    browser = candidate_factory("0002")
    browser.sign_in()
    browser.confirm()
    invigilator.start(sitting_id)
    attempt = attempt_of(app, "0002")
    base = f"/invigilate/sittings/{sitting_id}/attempts/{attempt.id}"
    clock.advance(minutes=3)
    invigilator.post(f"{base}/pause", reason="unwell")
    clock.advance(minutes=4)
    invigilator.post(f"{base}/resume")
    invigilator.post(f"{base}/time", kind="credit", minutes="4", reason="illness")
    invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{attempt_of(app, '0005').id}/absent")
    invigilator.end(sitting_id)
    report = invigilator.client.get(f"/invigilate/sittings/{sitting_id}/report")
    body = report.get_data(as_text=True)
    assert report.status_code == 200
    assert "Sitting report" in body and "99001 Onscreen Demo Centre" in body and "Y/506/2152" in body
    assert "25% extra time" in body and "56 min 15 s" in body and "4 min 00 s given back" in body
    assert "Absent" in body and "Complete (ended by invigilator)" in body
    assert "unwell" in body and "illness" in body and "data-print" in body
    assert "Invigilator&#39;s signature" in body or "Invigilator's signature" in body


def test_a_sitting_from_another_centre_is_not_found(app, demo, invigilator):
    assert invigilator.client.get("/invigilate/sittings/999/incidents").status_code == 404
    assert invigilator.client.get("/invigilate/sittings/999/incidents.csv").status_code == 404
    assert invigilator.client.get("/invigilate/sittings/999/report").status_code == 404
