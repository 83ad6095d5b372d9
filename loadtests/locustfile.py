"""The exam day, driven through the real candidate and invigilator pages.

Run it with ``onscreen loadtest run`` (which prepares nothing, checks the thresholds and
reconciles the saves afterwards); it reads the plan written by ``onscreen loadtest prepare``
from ``LOADTEST_PLAN``. Two scenarios:

* ``examday``: the invigilators sign in and open their registers first (within
  ``LOADTEST_STAFF_SECONDS``, 20; 0 sends them in with the candidates), then a login storm
  (every candidate signs in within ``LOADTEST_LOGIN_SECONDS``),
  a synchronised start (each room's invigilator starts the room at the same moment), a steady
  phase (items, autosave on change with random think times, flag, navigate, review, a timer
  sync every 30 s), an optional reconnect storm, and the deadline burst (every candidate saves
  in the last seconds, some submit, the server finishes the rest at the deadline).
* ``common``: sign in, start, then for each of 30 items: open the item page, think 5-15 s,
  save; then submit. The same script drives the ceiling app.

Request names carry the phase ("steady save"), so Locust's statistics are per endpoint and
phase. Every acknowledged save's idempotency key is written to ``LOADTEST_RESULTS`` with the
statistics, Locust's own CPU and the journey's counts.
"""
from __future__ import annotations

import itertools
import json
import os
import random
import resource
import time
from pathlib import Path

import gevent
from locust import LoadTestShape, events, task
from locust.contrib.fasthttp import FastHttpUser

from journey import (FORM_TYPE, HTMX, JourneyError, answer_fields, csrf_from, encode, form_length, location, new_key,
                     path_of, saved, timer_poll_path)
from timeline import Timeline, offered_rate
from windows import Windows

PLAN = json.loads(Path(os.environ["LOADTEST_PLAN"]).read_text(encoding="utf-8")) if os.environ.get("LOADTEST_PLAN") else {
    "scenario": "common", "rooms": [], "allowed_seconds": 3600, "centre": "", "items_per_form": 20}
SCENARIO = PLAN["scenario"]
TIMELINE = Timeline.from_env(PLAN)
ITEMS = int(os.environ.get("LOADTEST_ITEMS", "30"))
ROOMS = PLAN["rooms"]
IDENTITIES = [(room["keycode"], number, room) for room in ROOMS for number in room["candidates"]]
CANDIDATES = len(IDENTITIES)
_next_candidate = itertools.count()
_next_room = itertools.count()

#: What happened, for the summary and the reconciliation (single process: plain globals).
ACKS: list[dict] = []
COUNTS = {"signed_in": 0, "started": 0, "submitted": 0, "finished_seen": 0, "journeys_done": 0, "reconnected": 0}
CPU_SAMPLES: list[tuple[float, float]] = []
#: Every request's response time by when it was sent, for the report's view over time.
WINDOWS = Windows()


#: gunicorn closes a keep-alive connection after 5 s idle; a request sent on it just as it
#: closes fails with no response (and a POST is rightly never retried by the client). A
#: browser opens a new connection after a pause, so the journey does the same.
IDLE_RECONNECT_SECONDS = 4


def fresh_connection(user) -> None:
    if time.monotonic() - getattr(user, "last_sent", 0.0) > IDLE_RECONNECT_SECONDS:
        user.client.client.close()
    user.last_sent = time.monotonic()


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Candidate(FastHttpUser):
    """One candidate at one workstation."""

    weight = 30
    # Think times are slept inside the journey; the task runs once per user.
    wait_time = staticmethod(lambda: 3600)

    def on_start(self):
        index = next(_next_candidate)
        if index >= CANDIDATES:
            self.identity = None
            return
        self.identity = IDENTITIES[index]
        self.rng = random.Random(index)
        self.csrf = ""
        self.position = 1
        self.page = ""
        self.last_timer = time.monotonic()
        self.timer_path = "/test/time"
        self.items = PLAN.get("items_per_form") or 20

    # --- requests ------------------------------------------------------------------------------

    def name(self, endpoint: str) -> str:
        return endpoint if SCENARIO == "common" else f"{TIMELINE.phase()} {endpoint}"

    def get(self, path: str, endpoint: str, htmx: bool = False, expect=(200,)):
        fresh_connection(self)
        with self.client.get(path, name=self.name(endpoint), headers=HTMX if htmx else None,
                             allow_redirects=False, catch_response=True) as response:
            if response.status_code not in expect:
                response.failure(f"{endpoint}: status {response.status_code}")
        if response.status_code not in expect:
            raise JourneyError(f"{endpoint} answered {response.status_code}")
        return response

    def post(self, path: str, fields, endpoint: str, htmx: bool = False, expect=(303,), check=None):
        headers = {**FORM_TYPE, **(HTMX if htmx else {})}
        fresh_connection(self)
        with self.client.post(path, data=encode(fields), name=self.name(endpoint), headers=headers,
                              allow_redirects=False, catch_response=True) as response:
            ok = response.status_code in expect and (check is None or check(response))
            if not ok:
                response.failure(f"{endpoint}: status {response.status_code}")
        return response if ok else None

    # --- the journey ---------------------------------------------------------------------------

    @task
    def journey(self):
        if self.identity is None:
            self.idle()
        try:
            if SCENARIO == "common":
                self.common()
            else:
                self.exam_day()
            COUNTS["journeys_done"] += 1
        except JourneyError:
            pass  # already counted as a failed request; this candidate stops here
        self.idle()

    def idle(self):
        while True:
            gevent.sleep(60)

    def sign_in(self):
        keycode, number, _room = self.identity
        self.csrf = csrf_from(self.get("/start", "sign-in page").text)
        response = self.post("/start", {"csrf_token": self.csrf, "centre_number": PLAN["centre"],
                                        "candidate_number": number, "keycode": keycode}, "sign in")
        if response is None or path_of(location(response)) != "/details":
            raise JourneyError("sign in refused")
        COUNTS["signed_in"] += 1
        page = self.get("/details", "details", expect=(200, 302))
        if page.status_code == 302:  # already started (a reconnect): straight back to the test
            return path_of(location(page))
        self.csrf = csrf_from(page.text)
        response = self.post("/details", {"csrf_token": self.csrf, "confirm": "yes"}, "confirm")
        if response is None:
            raise JourneyError("confirm refused")
        return path_of(location(response))

    def open_item(self, position: int, endpoint: str = "item") -> None:
        response = self.get(f"/test/item/{position}", endpoint)
        self.position, self.page = position, response.text
        self.timer_path = timer_poll_path(self.page) or self.timer_path
        self.csrf = csrf_from(self.page)
        self.items = form_length(self.page) or self.items

    def save(self, endpoint: str = "save") -> bool:
        fields = answer_fields(self.page, self.rng)
        key = new_key()
        body = [("csrf_token", self.csrf), ("idem", key), *fields]
        path = f"/test/item/{self.position}"
        for attempt in range(2):  # the browser sends a failed save again with the same key
            phase = TIMELINE.phase()
            if self.post(path, body, endpoint if attempt == 0 else f"{endpoint} retry", htmx=True,
                         expect=(200,), check=saved) is not None:
                ACKS.append({"centre": PLAN["centre"], "candidate": self.identity[1], "sitting": self.identity[2]["sitting_id"],
                             "position": self.position, "key": key, "phase": phase})
                return True
            gevent.sleep(1)
        return False

    def common(self):
        target = self.sign_in()
        if target != "/test":
            raise JourneyError(f"confirm went to {target}, not the test")
        first = path_of(location(self.get("/test", "start", expect=(302,))))
        if not first.startswith("/test/item/"):
            raise JourneyError("the test did not open")
        self.open_item(1)
        for index in range(ITEMS):
            if index:
                self.open_item(index % self.items + 1)
            gevent.sleep(self.rng.uniform(5, 15))
            self.save()
        if self.post("/test/submit", {"csrf_token": self.csrf, "confirm": "yes"}, "submit") is None:
            raise JourneyError("submit refused")
        COUNTS["submitted"] += 1
        self.get("/test/done", "done")
        COUNTS["finished_seen"] += 1

    def exam_day(self):
        self.sign_in()
        while True:  # the waiting screen polls every 3 s until the room starts
            # 204: still waiting, nothing to swap (engine/quiet_polls.py answers most of these)
            response = self.get("/wait", "wait", htmx=True, expect=(200, 204))
            if response.headers.get("HX-Redirect"):
                break
            if TIMELINE.now() > TIMELINE.deadline:
                raise JourneyError("the room never started")
            gevent.sleep(self.rng.uniform(2.5, 3.5))
        COUNTS["started"] += 1
        # The poll that finds the room started sends the browser to its first open item.
        first = path_of(response.headers["HX-Redirect"])
        if not first.startswith("/test/item/"):
            first = path_of(location(self.get(first, "start", expect=(302,))))
        self.open_item(int(first.rsplit("/", 1)[1]) if first.startswith("/test/item/") else 1)
        # Each browser polls in its own phase: a page load restarts the timer's "every 5s", and
        # candidates move between pages at their own pace. Starting every poll clock at the
        # room's start made the whole sitting poll within the same few seconds of each interval,
        # a storm the player does not make (docs/performance.md, session 9).
        self.last_timer = time.monotonic() - self.rng.uniform(0, TIMELINE.timer_seconds)
        while TIMELINE.now() < TIMELINE.burst_start:
            self.think(min(self.rng.uniform(*TIMELINE.think), TIMELINE.burst_start - TIMELINE.now()))
            if TIMELINE.now() >= TIMELINE.burst_start:
                break
            self.save()
            if self.rng.random() < TIMELINE.resave:
                self.think(min(self.rng.uniform(3, 10), TIMELINE.burst_start - TIMELINE.now()))
                self.save()
            if self.rng.random() < TIMELINE.flag:
                self.post(f"/test/item/{self.position}/flag", {"csrf_token": self.csrf, "flagged": "1"}, "flag",
                          htmx=True, expect=(200,))
            if TIMELINE.reconnect_due():
                self.reconnect()
            self.next_item()
        self.deadline_burst()

    def next_item(self):
        if self.position >= self.items:
            self.get("/test/review", "review")
            self.open_item(1)
        else:
            self.open_item(self.position + 1)

    def think(self, seconds: float):
        """Think, keeping the timer in sync (and the heartbeat alive) as the page does."""
        until = time.monotonic() + seconds
        while (left := until - time.monotonic()) > 0:
            due = self.last_timer + TIMELINE.timer_seconds - time.monotonic()
            if due <= 0:
                self.last_timer = time.monotonic()
                # 204: no change, the timer counts on in the browser (engine/quiet_polls.py);
                # 200: the timer drawn again, with what its next poll sends back.
                response = self.get(self.timer_path, "heartbeat", htmx=True, expect=(200, 204))
                if response.headers.get("HX-Redirect"):
                    raise JourneyError("the test ended early")
                if response.status_code == 200:
                    self.timer_path = timer_poll_path(response.text) or self.timer_path
                continue
            gevent.sleep(min(left, due))

    def reconnect(self):
        """The network dropped and the session was lost: sign in again, back to the same form."""
        self.client.cookiejar.clear()
        target = self.sign_in()
        COUNTS["reconnected"] += 1
        if not target.startswith("/test"):
            raise JourneyError(f"reconnect went to {target}")
        self.open_item(self.position)

    def deadline_burst(self):
        gevent.sleep(max(0.0, self.rng.uniform(TIMELINE.burst_start, TIMELINE.deadline - 2) - TIMELINE.now()))
        self.save("save")
        if self.rng.random() < TIMELINE.submit_share:
            if self.post("/test/submit", {"csrf_token": self.csrf, "confirm": "yes"}, "submit") is None:
                raise JourneyError("submit refused")
            COUNTS["submitted"] += 1
            self.get("/test/done", "done")
            COUNTS["finished_seen"] += 1
            return
        # Time runs out: the next poll after the deadline (and the grace) finds the test finished.
        gevent.sleep(max(0.0, TIMELINE.finish_check + self.rng.uniform(0, 5) - TIMELINE.now()))
        for _try in range(6):
            response = self.get(self.timer_path, "heartbeat", htmx=True, expect=(200, 204))
            if path_of(response.headers.get("HX-Redirect") or "") == "/test/done":
                self.get("/test/done", "done")
                COUNTS["finished_seen"] += 1
                return
            gevent.sleep(2)
        raise JourneyError("the server did not finish the attempt after the deadline")


class Invigilator(FastHttpUser):
    """One invigilator per room: signs in, starts the room at the agreed moment, watches the register."""

    fixed_count = len(ROOMS) if SCENARIO == "examday" else 0
    weight = 1
    wait_time = staticmethod(lambda: 3600)

    @task
    def watch(self):
        index = next(_next_room)
        if SCENARIO != "examday" or index >= len(ROOMS):
            while True:
                gevent.sleep(60)
        room = ROOMS[index]
        sitting = f"/invigilate/sittings/{room['sitting_id']}"
        name = lambda endpoint: f"{TIMELINE.phase()} {endpoint}"  # noqa: E731
        page = self.client.get("/staff/login", name=name("staff sign-in page"))
        response = self.client.post("/staff/login", data=encode({
            "csrf_token": csrf_from(page.text), "username": room["invigilator"],
            "password": PLAN["invigilator_password"]}), headers=FORM_TYPE, name=name("staff sign in"), allow_redirects=False)
        if response.status_code != 303:
            return
        csrf = csrf_from(self.client.get(sitting, name=name("dashboard")).text)
        started = False
        while TIMELINE.now() < TIMELINE.end:
            fresh_connection(self)
            if not started and TIMELINE.now() >= TIMELINE.start_at:
                with self.client.post(f"{sitting}/start", data=encode({"csrf_token": csrf}), headers=FORM_TYPE,
                                      name=name("room start"), allow_redirects=False, catch_response=True) as response:
                    if response.status_code != 303:
                        response.failure(f"room start: status {response.status_code}")
                started = True
            self.client.get(f"{sitting}/register", name=name("register"), headers=HTMX)
            gevent.sleep(min(random.uniform(4.5, 5.5), max(0.05, TIMELINE.start_at - TIMELINE.now()))
                         if not started else random.uniform(4.5, 5.5))
        while True:
            gevent.sleep(60)


class ExamDayShape(LoadTestShape):
    """The invigilators arrive in the first half of the setup phase, the candidates within the
    login window after it; everyone stays to the end; then the run stops."""

    def tick(self):
        now = self.get_run_time()
        if SCENARIO == "common":
            if COUNTS["journeys_done"] >= CANDIDATES and now > 5 or now > TIMELINE.end:
                return None
            return CANDIDATES, max(1.0, CANDIDATES / TIMELINE.login_seconds), [Candidate]
        if now > TIMELINE.end:
            return None
        # Locust spawns a fixed_count class (Invigilator) before any weighted one, so a count of
        # the rooms alone is the invigilators alone.
        if now < TIMELINE.staff_seconds:
            return len(ROOMS), max(1.0, len(ROOMS) / (TIMELINE.staff_seconds / 2)), [Candidate, Invigilator]
        users = CANDIDATES + len(ROOMS)
        arriving = CANDIDATES if TIMELINE.staff_seconds else users
        return users, max(1.0, arriving / TIMELINE.login_seconds), [Candidate, Invigilator]


# --- the record of the run ----------------------------------------------------------------------


def _sample_cpu():
    while True:
        CPU_SAMPLES.append((TIMELINE.now(), cpu_seconds()))
        gevent.sleep(1)


@events.test_start.add_listener
def _started(environment, **_kw):
    TIMELINE.begin()
    gevent.spawn(_sample_cpu)


@events.request.add_listener
def _timed(response_time, **_kw):
    if response_time is not None:  # a request that failed before it was timed has none
        WINDOWS.add(TIMELINE.now() - response_time / 1000, response_time)


@events.quitting.add_listener
def _write_results(environment, **_kw):
    target = os.environ.get("LOADTEST_RESULTS")
    if not target:
        return
    stats = environment.stats
    entries = {}
    for (name, method), entry in stats.entries.items():
        entries[f"{name}"] = {
            "method": method, "requests": entry.num_requests, "failures": entry.num_failures,
            "p50": entry.get_response_time_percentile(0.5), "p95": entry.get_response_time_percentile(0.95),
            "p99": entry.get_response_time_percentile(0.99), "max": entry.max_response_time,
            "avg_bytes": round(entry.avg_content_length), "avg_ms": round(entry.avg_response_time, 1),
        }
    CPU_SAMPLES.append((TIMELINE.now(), cpu_seconds()))
    results = {
        "scenario": SCENARIO, "candidates": CANDIDATES, "rooms": len(ROOMS), "timeline": TIMELINE.describe(),
        "offered_per_candidate": offered_rate(TIMELINE) if SCENARIO == "examday" else None,
        "entries": entries, "total_requests": stats.total.num_requests, "total_failures": stats.total.num_failures,
        "errors": [{"name": e.name, "error": str(e.error), "occurrences": e.occurrences} for e in stats.errors.values()],
        "counts": COUNTS, "cpu_samples": CPU_SAMPLES, "acks": ACKS, "windows": WINDOWS.summary(),
    }
    Path(target).write_text(json.dumps(results), encoding="utf-8")
