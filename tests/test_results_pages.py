"""The staff results pages: the list, one attempt with its LO/AC breakdown and markers' comments
(for appeals), who may see them, and the item-statistics list."""
from __future__ import annotations

from marking_support import MARKER, OFFICER, attempt_of, browser, mark, marking_demo, script_ids


def test_the_results_pages_show_breakdowns_and_marks_for_appeals(app, demo):
    sitting_id = marking_demo(app)
    scripts = script_ids(app, sitting_id)
    assert mark(app, MARKER, sitting_id, scripts["0101"], "3", "Missed the follow-up").status_code == 303
    officer = browser(app, OFFICER)
    listing = officer.client.get("/results/").get_data(as_text=True)
    assert f"/results/sittings/{sitting_id}" in listing and f"/results/sittings/{demo['sitting_id']}" in listing
    attempt = attempt_of(app, "0101")
    page = officer.client.get(f"/results/attempts/{attempt.id}").get_data(as_text=True)
    assert "By assessment criterion" in page and "AC 2.1" in page and "AC 1.1" in page
    assert "Missed the follow-up" in page and "Demo Marker" in page
    assert "Hana Sato" in page and "confirmed" in page
    # The open response's mark scheme is not printed as a "correct answer".
    assert "Award 1 mark for each" not in page
    # Markers see scripts, never the results with names.
    marker = browser(app, MARKER)
    assert marker.client.get(f"/results/sittings/{sitting_id}").status_code == 403
    assert marker.client.get(f"/results/attempts/{attempt.id}").status_code == 403
    stats = browser(app, ("writer", "write-demo")).client.get("/results/statistics").get_data(as_text=True)
    assert "marking demo" in stats
