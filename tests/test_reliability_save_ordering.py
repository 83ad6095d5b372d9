"""Save ordering under the faults a network and a room produce: a hypothesis state machine
drives a candidate's browser through the Flask app (saves, retries with the same key, responses
that never arrive, duplicates delivered late, saves held up and delivered after newer ones,
reloads, a move to another workstation, pause and resume, and the clock running out). After
every step the database must equal a plain model: each item's current answer is the latest
accepted save for it, there is one event per idempotency key, every event sits on the
question it was sent for, and saves are refused exactly when the rules say (late ones
within the grace are kept and flagged).

Within one page the save queue (engine/static/js/onscreen.js) sends one save at a time, oldest
first, so the server keeps the last save to arrive; what the model holds is the last save accepted."""
from __future__ import annotations

import contextlib
import datetime as dt
import uuid

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import select

from conftest import CandidateBrowser
from engine import attempts, clock as engine_clock, db, models
from engine import invigilation_actions as actions
from engine.attempt_states import FINISHED, IN_PROGRESS, PAUSED
from engine.plugins import item_type
from invigilation_support import sign_in_anywhere

GRACE = 10
POSITIONS = st.integers(1, 3)
TEXTS = st.sampled_from(["alpha", "beta", "gamma", "42", "7.5", ""])


def fields(text: str) -> dict:
    # Every item type reads its own fields; a bag of all of them fits any question.
    return {"answer": text, "number": text, "choice": str(len(text) % 3), "gap-0": "0", "match-0": "1"}


def test_save_ordering_state_machine(app, demo, clock):
    app.config["SAVE_GRACE_SECONDS"] = GRACE

    class SaveMachine(RuleBasedStateMachine):
        @initialize()
        def sign_in_and_start(self):
            # Each example gets a sitting of its own, so none starts where another finished.
            with self.tx() as session:
                now = engine_clock.now(session)
                sitting = attempts.open_sitting(
                    session, centre=session.scalar(select(models.Centre)),
                    specification=session.scalar(select(models.TestSpecification).where(
                        models.TestSpecification.code == "unit-2")),
                    candidates=[session.scalar(select(models.Candidate).where(
                        models.Candidate.candidate_number == "0001"))],
                    title="save machine", actor="test", staff_id=None, now=now)
                session.flush()
                sitting_id, keycode = sitting.id, sitting.keycode
            self.browser = CandidateBrowser(app, demo["centre"], "0001", keycode)
            self.browser.sign_in()
            self.browser.confirm()
            self.old_browsers = []
            with self.tx() as session:
                sitting = session.get(models.Sitting, sitting_id)
                attempts.start_sitting(session, sitting, "test", engine_clock.now(session))
                attempt = sitting.entries[0].attempt
                self.attempt_id, self.deadline, self.state = attempt.id, attempt.deadline_at, attempt.state
            self.latest, self.keys = {}, {}
            self.delivered = []  # (position, text, key) of saves that reached the server
            self.held = []       # saves sent but not yet delivered

        # --- the model's rules ---------------------------------------------------------------
        def may_save(self) -> bool:
            return self.state == IN_PROGRESS and clock.now <= self.deadline + dt.timedelta(seconds=GRACE)

        def expire(self):
            if self.state == IN_PROGRESS and clock.now > self.deadline + dt.timedelta(seconds=GRACE):
                self.state = FINISHED

        def deliver(self, browser, position, text, key, *, new: bool):
            """Post a save; it must be accepted exactly when the model says so."""
            self.expire()
            allowed = self.may_save() and browser is self.browser
            reply = browser.answer(position, fields(text), key=key)
            accepted = reply.status_code == 200 and "HX-Redirect" not in reply.headers and \
                "Saved" in reply.get_data(as_text=True)
            assert accepted == allowed, (reply.status_code, reply.get_data(as_text=True)[:200], self.state)
            assert "Traceback" not in reply.get_data(as_text=True)
            if accepted and new:
                self.latest[position] = key
                self.keys[key] = (position, clock.now > self.deadline)
                self.delivered.append((position, text, key))
            return accepted

        def parsed(self, position, text):
            """The answer the item type makes of ``text``'s fields (what the server stores)."""
            with app.app_context():
                session = db.new_session(app)
                form_item = session.scalar(select(models.FormItem).where(
                    models.FormItem.attempt_id == self.attempt_id, models.FormItem.position == position))
                version = form_item.item_version
                fields_seen = {name: [value] for name, value in fields(text).items()}
                answer = item_type(version.type_name).parse_response(version.definition, form_item.start_state, fields_seen)
                session.close()
            return answer

        # --- saves -------------------------------------------------------------------------------
        @rule(position=POSITIONS, text=TEXTS)
        def save(self, position, text):
            self.deliver(self.browser, position, text, uuid.uuid4().hex, new=True)

        @precondition(lambda self: self.delivered)
        @rule(data=st.data())
        def duplicate_delivered_late(self, data):
            """A save that already arrived arrives again, maybe after newer ones (a retry whose
            first try got through but whose answer was lost, or a duplicate from the network):
            it must change nothing."""
            position, text, key = data.draw(st.sampled_from(self.delivered))
            if self.may_save():
                reply = self.browser.answer(position, fields(text), key=key)
                assert reply.status_code == 200 and "Saved" in reply.get_data(as_text=True)

        @precondition(lambda self: self.delivered)
        @rule(data=st.data(), text=TEXTS)
        def key_reused_for_another_answer(self, data, text):
            """A stale retry key carrying a newer answer must not be acknowledged as saved."""
            position, old_text, key = data.draw(st.sampled_from(self.delivered))
            if self.may_save():
                reply = self.browser.answer(position, fields(text), key=key)
                # Two texts can mean one answer (a choice item reads only its choice): a retry.
                same = self.parsed(position, text) == self.parsed(position, old_text)
                assert reply.status_code == (200 if same else 409), reply.status_code

        @precondition(lambda self: self.delivered)
        @rule(data=st.data(), other=POSITIONS)
        def key_replayed_on_another_question(self, data, other):
            """An offline queue replaying a save against the wrong question must be refused."""
            position, text, key = data.draw(st.sampled_from(self.delivered))
            if other != position and self.may_save():
                reply = self.browser.answer(other, fields(text), key=key)
                assert reply.status_code == 409, reply.status_code

        @rule(position=POSITIONS, text=TEXTS)
        def response_dropped_then_retried(self, position, text):
            """The save lands but its answer is lost; the browser sends it again, same key."""
            key = uuid.uuid4().hex
            if self.deliver(self.browser, position, text, key, new=True):
                reply = self.browser.answer(position, fields(text), key=key)
                assert reply.status_code == 200 and "Saved" in reply.get_data(as_text=True)

        @rule(position=POSITIONS, text=TEXTS)
        def hold_a_save(self, position, text):
            """A save leaves the browser but is held up on the way."""
            self.held.append((position, text, uuid.uuid4().hex, self.browser))

        @precondition(lambda self: self.held)
        @rule(data=st.data())
        def held_save_arrives(self, data):
            position, text, key, browser = self.held.pop(data.draw(st.integers(0, len(self.held) - 1)))
            self.deliver(browser, position, text, key, new=True)

        # --- the browser and the room ----------------------------------------------------------
        @precondition(lambda self: self.state == IN_PROGRESS)
        @rule(position=POSITIONS)
        def reload(self, position):
            """A reload shows an item as saved only if a save of it was acknowledged."""
            self.expire()
            page = self.browser.item_page(position)
            if self.state != IN_PROGRESS or page.status_code != 200:
                return
            html = page.get_data(as_text=True)
            assert ("Saved " in html) == (position in self.latest), position

        @rule()
        def move_to_another_workstation(self):
            """Signing in elsewhere cuts the old browser off: its late saves are refused."""
            if self.state == FINISHED:
                return
            self.old_browsers.append(self.browser)
            self.browser = CandidateBrowser(app, demo["centre"], "0001", self.browser.keycode)
            sign_in_anywhere(self.browser)

        @precondition(lambda self: self.old_browsers)
        @rule(position=POSITIONS, text=TEXTS)
        def old_workstation_saves(self, position, text):
            self.deliver(self.old_browsers[-1], position, text, uuid.uuid4().hex, new=True)

        @contextlib.contextmanager
        def tx(self):
            with app.app_context():
                session = db.new_session(app)
                try:
                    with db.writing(session):
                        yield session
                finally:
                    session.close()

        def room(self, call):
            with self.tx() as session:
                attempt = session.get(models.Attempt, self.attempt_id, with_for_update=True, populate_existing=True)
                call(session, attempt, engine_clock.now(session))

        @precondition(lambda self: self.state == IN_PROGRESS)
        @rule()
        def pause(self):
            self.expire()
            if self.state == IN_PROGRESS and clock.now < self.deadline:
                self.room(lambda s, a, now: actions.pause(s, a, now, "test", "noise"))
                self.state, self.paused_at = PAUSED, clock.now

        @precondition(lambda self: self.state == PAUSED)
        @rule()
        def resume(self):
            self.room(lambda s, a, now: actions.resume(s, a, now, "test"))
            self.deadline += clock.now - self.paused_at
            self.state = IN_PROGRESS

        @rule(seconds=st.sampled_from([1, 4, 9, 11, 120, 900, 1800]))
        def clock_advances(self, seconds):
            clock.advance(seconds=seconds)

        # --- the model holds ---------------------------------------------------------------------
        @invariant()
        def database_equals_model(self):
            if not hasattr(self, "attempt_id"):
                return
            with app.app_context():
                session = db.new_session(app)
                events = session.scalars(select(models.ResponseEvent).where(
                    models.ResponseEvent.attempt_id == self.attempt_id)).all()
                items = {fi.position: fi for fi in session.scalars(select(models.FormItem).where(
                    models.FormItem.attempt_id == self.attempt_id))}
                session.close()
            by_key = {}
            for event in events:
                assert event.idempotency_key not in by_key, "two events for one key"
                by_key[event.idempotency_key] = event
            assert set(by_key) == set(self.keys), "the stored saves are not the accepted ones"
            for key, (position, late) in self.keys.items():
                assert by_key[key].position == position, "an answer landed on the wrong question"
                assert by_key[key].late == late, "a save in the grace was not flagged late (or one on time was)"
            for position, key in self.latest.items():
                assert items[position].current_seq == by_key[key].seq, f"item {position} is not at its latest save"
                assert items[position].current_response == by_key[key].response

    run_state_machine_as_test(SaveMachine, settings=settings(
        max_examples=20, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
