"""The deadline, second by second, with a controlled clock: saves up to the deadline are on
time, saves in flight within the grace are kept and flagged late, every save after the
deadline plus the grace is refused (and never as a server error), the automatic finish marks
the last save that was kept (MDL-43733), an empty attempt times out cleanly (TAO's 500), and
the candidate's own clock is never consulted: a browser an hour fast or slow changes nothing."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from engine import db, models, sweeper
from invigilation_support import attempt_of

GRACE = 10
SKEWED_HEADERS = {
    "fast": {"Date": "Mon, 23 Nov 2026 10:00:00 GMT", "X-Client-Time": "2026-11-23T10:00:00Z"},
    "slow": {"Date": "Mon, 23 Nov 2026 08:00:00 GMT", "X-Client-Time": "2026-11-23T08:00:00Z"},
}


@pytest.fixture
def started(app, demo, invigilator, candidate_factory, clock):
    app.config["SAVE_GRACE_SECONDS"] = GRACE
    browsers = {}
    for number in ("0001", "0003", "0004"):
        browsers[number] = candidate_factory(number)
        browsers[number].sign_in()
        browsers[number].confirm()
    invigilator.start(demo["sitting_id"])
    return browsers


def events_of(app, attempt_id):
    with app.app_context():
        session = db.new_session(app)
        found = session.scalars(select(models.ResponseEvent).where(models.ResponseEvent.attempt_id == attempt_id)
                                .order_by(models.ResponseEvent.seq)).all()
        session.close()
        return found


def save(browser, serial, headers=None, client_fields=None):
    data = {"csrf_token": browser.csrf, "idem": uuid.uuid4().hex, "r-answer": f"answer {serial}",
            "r-number": str(serial), "r-choice": str(serial % 3), **(client_fields or {})}
    return browser.client.post("/test/item/1", data=data, headers={"HX-Request": "true", **(headers or {})})


def test_second_by_second_around_the_deadline(app, started, clock):
    browser = started["0001"]
    attempt = attempt_of(app, "0001")
    deadline = attempt.deadline_at
    clock.now = deadline - dt.timedelta(seconds=3)
    accepted_after_grace, outcomes = 0, {}
    for offset in range(-3, GRACE + 6):
        clock.now = deadline + dt.timedelta(seconds=offset)
        reply = save(browser, offset + 100)
        html = reply.get_data(as_text=True)
        assert reply.status_code in (200, 409), (offset, reply.status_code)
        assert "Traceback" not in html
        accepted = reply.status_code == 200 and "Saved" in html
        outcomes[offset] = accepted
        if offset > GRACE and accepted:
            accepted_after_grace += 1
    assert accepted_after_grace == 0
    assert all(outcomes[offset] for offset in range(-3, GRACE + 1)), outcomes  # the grace is inclusive
    stored = events_of(app, attempt.id)
    assert [e.late for e in stored] == [e.recorded_at > deadline for e in stored]
    assert sum(e.late for e in stored) == GRACE  # offsets 1..GRACE
    assert max(e.recorded_at for e in stored) == deadline + dt.timedelta(seconds=GRACE)
    # The automatic finish marked the last save it kept, the one at the end of the grace.
    finished = attempt_of(app, "0001")
    assert finished.state == "finished" and finished.finish_reason == "timed_out"
    assert finished.finished_at == deadline
    item = next(fi for fi in finished.form_items if fi.position == 1)
    assert item.current_seq == stored[-1].seq and item.current_response == stored[-1].response


def test_the_sweeper_waits_for_the_grace_and_keeps_a_save_in_flight(app, started, clock):
    browser = started["0003"]
    attempt = attempt_of(app, "0003")
    clock.now = attempt.deadline_at + dt.timedelta(seconds=GRACE - 1)
    with app.app_context():
        assert sweeper.sweep(app) == 0  # saves may still be in flight
    assert save(browser, 7).status_code == 200
    clock.advance(seconds=2)
    with app.app_context():
        assert sweeper.sweep(app) >= 1  # everyone started together
    assert save(browser, 8).status_code == 409
    finished = attempt_of(app, "0003")
    last = events_of(app, attempt.id)[-1]
    assert last.late and finished.state == "finished"
    assert next(fi for fi in finished.form_items if fi.position == 1).current_seq == last.seq


def test_time_out_with_no_answer_at_all_is_clean(app, started, clock):
    """Nothing saved, time runs out: every page the browser can ask for answers cleanly."""
    browser = started["0004"]
    attempt = attempt_of(app, "0004")
    clock.now = attempt.deadline_at + dt.timedelta(seconds=GRACE + 1)
    replies = [save(browser, 1), browser.client.get("/test/time", headers={"HX-Request": "true"}),
               browser.client.get("/test/item/1"), browser.client.get("/test/done"), browser.submit()]
    for reply in replies:
        assert reply.status_code < 500, reply.status_code
        assert "Traceback" not in reply.get_data(as_text=True)
    finished = attempt_of(app, "0004")
    assert finished.state == "finished" and finished.finish_reason == "timed_out"
    assert events_of(app, attempt.id) == []
    assert finished.result is not None and finished.result.total == 0


@pytest.mark.parametrize("skew", ["fast", "slow"])
def test_the_candidates_clock_is_never_trusted(app, started, clock, skew):
    """A browser an hour fast or slow (its Date header, any time it posts) gets the same
    answers as an honest one: the same time left, the same receipts, the same refusal."""
    honest, skewed = started["0001"], started["0003"]
    attempt = attempt_of(app, "0003")
    lying = {"client_time": SKEWED_HEADERS[skew]["X-Client-Time"], "deadline": "2099-01-01T00:00:00",
             "now": SKEWED_HEADERS[skew]["X-Client-Time"]}
    clock.advance(minutes=10)
    timers = [b.client.get("/test/time", headers={"HX-Request": "true", **h}).get_data(as_text=True)
              for b, h in ((honest, {}), (skewed, SKEWED_HEADERS[skew]))]
    assert timers[0] == timers[1]
    assert save(skewed, 1, SKEWED_HEADERS[skew], lying).status_code == 200
    assert events_of(app, attempt.id)[-1].recorded_at == clock.now
    clock.now = attempt.deadline_at + dt.timedelta(seconds=GRACE + 1)
    assert save(skewed, 2, SKEWED_HEADERS[skew], lying).status_code == 409
    assert len(events_of(app, attempt.id)) == 1
    assert attempt_of(app, "0003").finished_at == attempt.deadline_at


def test_the_candidates_session_outlives_the_longest_sitting(app, started):
    """No session (or CSRF token) expires mid-test: the cookie lasts past 45 min + 50 % extra
    time + breaks, and the CSRF token carries no time of its own."""
    browser = started["0001"]
    cookie = browser.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    assert cookie is not None and cookie.expires is not None
    lasts = cookie.expires.replace(tzinfo=None) - dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert lasts > dt.timedelta(hours=4)
    assert save(browser, 1).status_code == 200
