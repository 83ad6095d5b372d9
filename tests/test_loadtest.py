"""The load-test kit: what prepare makes, that the locust journey speaks the real pages, the
reconciliation of acknowledged saves, and the threshold verdict. The full run against a
server is tests/test_loadtest_smoke.py."""
from __future__ import annotations

import sys

import pytest
from sqlalchemy import delete, func, select
from werkzeug.test import Client

from engine import db, models
from engine.config import REPO_ROOT
from engine.loadtest import is_local
from engine import clock, forms
from engine.loadtest_prepare import PrepareError, PrepareOptions, prepare, read_plan, synthetic_plan, write_plan
from engine.loadtest_reconcile import reconcile
from engine.loadtest_report import evaluate, load_thresholds, render_text

sys.path.insert(0, str(REPO_ROOT / "loadtests"))
import journey  # noqa: E402
from timeline import Timeline, offered_rate  # noqa: E402
from windows import Windows, nearest_rank  # noqa: E402


def _sign_in_and_start(app, plan, number="0001"):
    room = next(r for r in plan["rooms"] if number in r["candidates"])
    browser = app.test_client()
    csrf = journey.csrf_from(browser.get("/start").text)
    response = browser.post("/start", data={"csrf_token": csrf, "centre_number": plan["centre"],
                                            "candidate_number": number, "keycode": room["keycode"]})
    assert response.status_code == 303 and response.location.endswith("/details")
    csrf = journey.csrf_from(browser.get("/details").text)
    response = browser.post("/details", data={"csrf_token": csrf, "confirm": "yes"})
    assert response.status_code == 303 and response.location.endswith("/test")
    return browser, room


def test_prepare_makes_rooms_with_forms_invigilators_and_the_run_time(app, tmp_path):
    plan = prepare(app, PrepareOptions(candidates=5, room_size=2, allowed_seconds=90))
    assert [len(room["candidates"]) for room in plan["rooms"]] == [2, 2, 1]
    assert plan["grace_seconds"] == app.config["SAVE_GRACE_SECONDS"]
    session = db.new_session(app)
    sitting_ids = [room["sitting_id"] for room in plan["rooms"]]
    attempts = session.scalars(select(models.Attempt).join(models.Entry).where(models.Entry.sitting_id.in_(sitting_ids))).all()
    assert len(attempts) == 5 and {a.allowed_seconds for a in attempts} == {90} and {a.state for a in attempts} == {"ready"}
    assert all(session.scalar(select(func.count()).select_from(models.FormItem).where(models.FormItem.attempt_id == a.id))
               for a in attempts)
    assert {u.username for u in session.scalars(select(models.StaffUser).where(models.StaffUser.username.like("loadtest-%")))} \
        == {room["invigilator"] for room in plan["rooms"]}
    session.close()
    # A second prepare reuses the candidates and opens fresh sittings (a run uses its sittings up).
    again = prepare(app, PrepareOptions(candidates=5, room_size=5))
    assert len(again["rooms"]) == 1 and again["rooms"][0]["sitting_id"] not in sitting_ids
    session = db.new_session(app)
    assert session.scalar(select(func.count()).select_from(models.Candidate)) == 5
    session.close()
    assert read_plan(write_plan(again, tmp_path / "plan.json")) == again


def test_prepare_never_adds_load_test_candidates_to_a_real_centre(app):
    session = db.new_session(app)
    with db.writing(session):
        session.add(models.Centre(number="12345", name="Real College", timezone="Europe/London"))
    session.close()
    with pytest.raises(PrepareError, match="--centre: 12345 is a real centre"):
        prepare(app, PrepareOptions(candidates=2, centre_number="12345"))
    plan = prepare(app, PrepareOptions(candidates=2))
    session = db.new_session(app)
    assert session.scalar(select(models.Centre.load_test).where(models.Centre.number == plan["centre"])) is True
    # Its forms showed items to no one: they count for nothing in the exposure rule.
    sitting = session.get(models.Sitting, plan["rooms"][0]["sitting_id"])
    with app.app_context():
        assert forms.usage(session, sitting.specification.unit_id, clock.now(session), 365).forms == 0
    session.close()


@pytest.mark.parametrize("options, field", [
    (PrepareOptions(candidates=5, scenario="rush"), "--scenario"),
    (PrepareOptions(candidates=0), "--candidates"),
    (PrepareOptions(candidates=5, specification="no-such"), "--specification"),
    (PrepareOptions(candidates=5, allowed_seconds=5), "--allowed-seconds"),
])
def test_prepare_names_the_bad_option(app, options, field):
    with pytest.raises(PrepareError, match=field):
        prepare(app, options)


def test_a_bad_plan_file_is_named(tmp_path):
    with pytest.raises(PrepareError, match="does not exist"):
        read_plan(tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(PrepareError, match="has no"):
        read_plan(tmp_path / "bad.json")


def test_the_journeys_answers_are_accepted_for_every_item_type_on_a_form(app):
    """The locustfile fills each item's real form fields; every save must be acknowledged and stored."""
    plan = prepare(app, PrepareOptions(candidates=2, scenario="common"))
    browser, room = _sign_in_and_start(app, plan)
    first = browser.get("/test")
    assert first.status_code == 302
    page = browser.get(first.location).text
    total = journey.form_length(page)
    assert total and total >= 10
    import random
    rng, acks = random.Random(7), []
    for position in range(1, total + 1):
        page = browser.get(f"/test/item/{position}").text
        fields = journey.answer_fields(page, rng)
        assert fields, f"no answer made for item {position}"
        key = journey.new_key()
        response = browser.post(f"/test/item/{position}", headers={**journey.HTMX, **journey.FORM_TYPE},
                                data=journey.encode([("csrf_token", journey.csrf_from(page)), ("idem", key), *fields]))
        assert journey.saved(response), (position, response.status_code, response.text)
        acks.append({"sitting": room["sitting_id"], "candidate": "0001", "key": key, "position": position})
    session = db.new_session(app)
    unanswered = session.scalar(select(func.count()).select_from(models.FormItem).join(models.Attempt).join(models.Entry)
                                .where(models.Entry.sitting_id == room["sitting_id"], models.FormItem.current_response.is_(None),
                                       models.Entry.candidate_id == select(models.Candidate.id).where(
                                           models.Candidate.candidate_number == "0001").scalar_subquery()))
    session.close()
    assert unanswered == 0

    report = reconcile(app, plan, acks)
    assert (report["acknowledged"], report["lost"], report["stale_current"]) == (total, 0, 0)
    # An acknowledged save missing from the database is reported as lost, by key.
    session = db.new_session(app)
    with db.writing(session):
        session.execute(delete(models.ResponseEvent).where(models.ResponseEvent.idempotency_key == acks[3]["key"]))
    session.close()
    report = reconcile(app, plan, acks)
    assert report["lost"] == 1 and report["lost_examples"][0]["key"] == acks[3]["key"]
    assert report["unfinished"] == 2  # nobody submitted


def _results(**entries):
    base = {"requests": 100, "failures": 0, "p50": 5, "p95": 20, "p99": 40, "max": 60, "avg_bytes": 300, "avg_ms": 6}
    return {"scenario": "common", "candidates": 10, "rooms": 1, "timeline": {}, "offered_per_candidate": None,
            "entries": {name: {**base, **values} for name, values in entries.items()},
            "total_requests": 100 * len(entries), "total_failures": sum(v.get("failures", 0) for v in entries.values()),
            "cpu_samples": [[0, 1.0], [10, 2.0]], "acks": []}


def test_the_verdict_names_every_breach():
    thresholds = load_thresholds()
    recon = {"acknowledged": 10, "lost": 0, "unfinished": 0, "finished": 10, "attempts": 10, "stale_current": 0}
    assert evaluate(_results(item={}, save={}), thresholds, recon).passed
    slow = evaluate(_results(item={"p95": 900}, save={}), thresholds, recon)
    assert not slow.passed and any(b.startswith("item: p95 900 ms > 500 ms") for b in slow.breaches)
    failing = evaluate(_results(item={"failures": 1}, save={}), thresholds, recon)
    assert any("error rate" in b for b in failing.breaches)
    lost = evaluate(_results(item={}, save={}), thresholds, {**recon, "lost": 2})
    assert any("2 acknowledged answer(s)" in b for b in lost.breaches)
    busy_locust = _results(item={}, save={})
    busy_locust["cpu_samples"] = [[0, 0.0], [10, 9.0]]
    assert any("Locust used 0.90 cores" in b for b in evaluate(busy_locust, thresholds, recon).breaches)


def test_exam_day_rules_apply_per_phase():
    thresholds = load_thresholds()
    results = _results(**{"steady save": {"p95": 150}, "login sign in": {"p95": 150}, "burst save": {"p95": 450},
                          "setup staff sign in": {"p95": 1200}})
    results["scenario"] = "examday"
    verdict = evaluate(results, thresholds, None)
    assert sorted(b.split(":")[0] for b in verdict.breaches) == ["setup staff sign in", "steady save"]


def test_the_profile_is_about_a_tenth_of_a_request_per_candidate_per_second():
    assert 0.1 <= offered_rate(Timeline(allowed_seconds=600)) <= 0.14


def test_phases_follow_the_exam_day():
    timeline = Timeline(allowed_seconds=120, login_seconds=60, reconnect=True)
    timeline.t0 = 0
    seen = []
    import time
    for second in range(0, int(timeline.end)):
        timeline.t0 = time.monotonic() - second
        if not seen or seen[-1] != timeline.phase():
            seen.append(timeline.phase())
    assert seen == ["login", "start", "steady", "reconnect", "steady", "burst"]


def test_the_invigilators_arrive_before_the_candidates_and_the_day_moves_on_by_as_much():
    plan = {"scenario": "examday", "allowed_seconds": 120}
    with_setup = Timeline.from_env(plan)  # the default: 20 s for the invigilators first
    assert with_setup.staff_seconds == 20
    without = Timeline(allowed_seconds=120, login_seconds=60)
    assert with_setup.start_at == without.start_at + 20 and with_setup.end == without.end + 20
    with_setup.t0 = __import__("time").monotonic() - 19
    assert with_setup.phase() == "setup"
    with_setup.t0 -= 2
    assert with_setup.phase() == "login"
    assert with_setup.describe()["setup"] == [0, 20] and with_setup.describe()["login"] == [20, with_setup.start_at]
    assert without.describe()["setup"] is None
    # The common scenario has no invigilators, so nothing to wait for.
    assert Timeline.from_env({"scenario": "common", "allowed_seconds": 3600}).staff_seconds == 0


def test_a_negative_setup_phase_is_refused_by_name(runner, tmp_path):
    write_plan(synthetic_plan(PrepareOptions(candidates=3)), tmp_path / "plan.json")
    result = runner.invoke(args=["loadtest", "run", "--plan", str(tmp_path / "plan.json"), "--host",
                                 "http://127.0.0.1:9", "--staff-seconds", "-5"])
    assert result.exit_code == 2 and "--staff-seconds" in result.output


def test_only_this_machine_without_the_flag(runner, tmp_path):
    assert is_local("http://127.0.0.1:8000") and is_local("http://localhost:8000") and is_local("http://[::1]:80")
    assert not is_local("http://10.0.0.5:8000") and not is_local("https://exams.example.org")
    write_plan(synthetic_plan(PrepareOptions(candidates=3)), tmp_path / "plan.json")
    result = runner.invoke(args=["loadtest", "run", "--plan", str(tmp_path / "plan.json"), "--host", "http://10.0.0.5:8000"])
    assert result.exit_code != 0 and "--allow-remote" in result.output


def test_the_ceiling_app_answers_the_same_journey():
    sys.path.insert(0, str(REPO_ROOT))
    from loadtests.ceiling_app import SIZES, app as ceiling
    client = Client(ceiling)
    page = client.get("/start")
    assert journey.csrf_from(page.text) and len(page.data) == SIZES["sign-in page"]
    assert client.post("/start", data={"csrf_token": "x"}).headers["Location"] == "/details"
    assert client.post("/details", data={"confirm": "yes"}).headers["Location"] == "/test"
    assert client.get("/test").headers["Location"] == "/test/item/1"
    item = client.get("/test/item/3")
    assert journey.answer_fields(item.text, __import__("random").Random(1)) and len(item.data) == SIZES["item"]
    assert journey.saved(client.post("/test/item/3", data={"r-choice": "1"}))
    assert client.post("/test/submit", data={"confirm": "yes"}).headers["Location"] == "/test/done"


def test_response_times_are_grouped_by_when_each_request_was_sent():
    windows = Windows(seconds=10)
    for ms in range(1, 101):  # 100 requests sent in the first 10 s: 1 ms to 100 ms
        windows.add(9.5, ms)
    windows.add(10.0, 7)  # sent at the start of the second window
    windows.add(-0.01, 3)  # a clock read just before the run's start counts in the first
    first, second = windows.summary()
    assert first == {"start": 0, "end": 10, "requests": 101, "p50": 50, "p95": 95, "max": 100}
    assert second == {"start": 10, "end": 20, "requests": 1, "p50": 7, "p95": 7, "max": 7}
    assert nearest_rank([5.0], 0.95) == 5 and nearest_rank([1, 2, 3, 4], 0.5) == 2


def test_the_summary_shows_when_requests_were_slow_with_the_phase_of_each_window():
    results = _results(item={}, save={})
    results["scenario"] = "examday"
    results["timeline"] = Timeline(allowed_seconds=120, login_seconds=60).describe()
    steady_from = results["timeline"]["steady"][0]
    results["windows"] = [{"start": 0, "end": 10, "requests": 40, "p50": 20, "p95": 90, "max": 120},
                          {"start": steady_from, "end": steady_from + 10, "requests": 300, "p50": 30, "p95": 4800,
                           "max": 5900}]
    text = render_text(results, evaluate(results, load_thresholds(), None))
    over_time = text.split("Over time, every request by when it was sent:")[1].splitlines()
    assert over_time[2].split() == ["0-10", "login", "40", "20", "90", "120"]
    assert over_time[3].split()[1:] == ["steady", "300", "30", "4800", "5900"]
    results["windows"] = []
    assert "Over time" not in render_text(results, evaluate(results, load_thresholds(), None))
