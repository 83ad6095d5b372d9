"""Connection loss: the database connection fails at each point of a save (the first query,
the event's INSERT, the current-answer UPDATE, the COMMIT). The candidate gets a clean 503
"not saved, sent again" (no traceback, no 500), nothing half-written is stored, the same save
sent again is stored exactly once, and the app carries on with the next request."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from engine import db, models
from invigilation_support import attempt_of
from reliability.faults import DatabaseFaults

FAULT_POINTS = [("SELECT", "attempts"), ("INSERT", "response_events"), ("UPDATE", "form_items"), ("COMMIT", "")]


@pytest.fixture
def faults(app):
    injector = DatabaseFaults(app)
    yield injector
    injector.close()


@pytest.fixture
def candidate(started_candidate):
    return started_candidate


def events(app, attempt_id: int, key: str | None = None) -> int:
    with app.app_context():
        session = db.new_session(app)
        query = select(func.count()).select_from(models.ResponseEvent).where(models.ResponseEvent.attempt_id == attempt_id)
        if key is not None:
            query = query.where(models.ResponseEvent.idempotency_key == key)
        count = session.scalar(query)
        session.close()
        return count


@pytest.mark.parametrize("verb,table", FAULT_POINTS)
@pytest.mark.parametrize("htmx", [True, False])
def test_a_lost_connection_gives_a_clean_retryable_refusal(app, candidate, faults, verb, table, htmx):
    attempt_id = attempt_of(app, "0001").id
    first = candidate.answer(1, {"answer": "before", "number": "1", "choice": "0"})
    assert first.status_code == 200
    before = events(app, attempt_id)
    key = uuid.uuid4().hex
    faults.arm(verb, table)
    reply = candidate.answer(1, {"answer": "during", "number": "2", "choice": "1"}, htmx=htmx, key=key)
    html = reply.get_data(as_text=True)
    assert faults.fired == 1
    assert reply.status_code == 503, html[:300]
    assert "Traceback" not in html and "sqlalchemy" not in html.lower() and "injected" not in html
    assert "did not go through" in html and reply.headers["Retry-After"]
    assert events(app, attempt_id) == before, "a failed save left something behind"
    # The browser sends the same save again: stored once, and the current answer moves on.
    again = candidate.answer(1, {"answer": "during", "number": "2", "choice": "1"}, htmx=htmx, key=key)
    assert again.status_code in (200, 303), again.get_data(as_text=True)[:300]
    assert events(app, attempt_id, key) == 1
    assert events(app, attempt_id) == before + 1
    with app.app_context():
        session = db.new_session(app)
        current = session.scalar(select(models.FormItem).where(
            models.FormItem.attempt_id == attempt_id, models.FormItem.position == 1))
        last = session.scalar(select(models.ResponseEvent).where(models.ResponseEvent.idempotency_key == key))
        assert current.current_seq == last.seq and current.current_response == last.response
        session.close()


def test_pages_other_than_saves_also_fail_cleanly(app, candidate, faults):
    faults.arm("SELECT", "attempts")
    reply = candidate.item_page(1)
    assert reply.status_code == 503
    assert "Traceback" not in reply.get_data(as_text=True)
    assert candidate.item_page(1).status_code == 200  # the next request gets a healthy connection


def test_many_losses_in_a_row_lose_no_acknowledged_save(app, candidate, faults):
    """Every save of a sequence fails once at a rotating point and is then retried: each
    acknowledged save is stored once, and the last one is the current answer."""
    attempt_id = attempt_of(app, "0001").id
    start = events(app, attempt_id)
    acknowledged = []
    for serial in range(12):
        verb, table = FAULT_POINTS[serial % len(FAULT_POINTS)]
        key, fields = uuid.uuid4().hex, {"answer": f"answer {serial}", "number": str(serial)}
        faults.arm(verb, table)
        assert candidate.answer(1 + serial % 2, fields, key=key).status_code == 503
        assert candidate.answer(1 + serial % 2, fields, key=key).status_code == 200
        acknowledged.append(key)
    assert faults.fired == 12
    assert events(app, attempt_id) == start + 12
    for key in acknowledged:
        assert events(app, attempt_id, key) == 1


def test_a_connection_lost_after_the_answer_is_made_still_acknowledges_the_save(app, candidate, faults):
    """The save committed; the connection dies while the request's session is closed. The
    candidate must get the receipt, not a server error that makes them doubt a stored answer."""
    attempt_id = attempt_of(app, "0001").id
    key = uuid.uuid4().hex
    faults.arm_rollback()
    reply = candidate.answer(1, {"answer": "kept", "number": "3", "choice": "2"}, key=key)
    assert faults.fired == 1
    assert reply.status_code == 200 and "Saved" in reply.get_data(as_text=True)
    assert events(app, attempt_id, key) == 1
    assert candidate.item_page(1).status_code == 200
