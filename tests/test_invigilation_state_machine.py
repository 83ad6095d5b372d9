"""A state machine over the real service layer and database: start, pause, resume, rest breaks,
extra time, credit, submit and the sweeper, with a controlled clock. After every step the
attempt's state, its time left, its cached deadline and (once finished) the moment it finished
must match a plain model of the rules."""
from __future__ import annotations

import contextlib
import datetime as dt

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import select

from engine import attempts, clock as engine_clock, db, models, sweeper
from engine import invigilation_actions as actions
from engine.attempt_states import FINISHED, IN_PROGRESS, ON_BREAK, PAUSED, WAITING

GRACE = 10


def test_service_state_machine(app, demo, clock):
    with app.app_context():
        session = db.new_session(app)
        spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == "unit-2"))
        centre = session.scalar(select(models.Centre))
        ids = {c.candidate_number: c.id for c in session.scalars(select(models.Candidate))}
        spec_id, centre_id = spec.id, centre.id
        session.close()

    class ServiceMachine(RuleBasedStateMachine):
        @initialize(number=st.sampled_from(["0001", "0002"]))
        def open_a_sitting(self, number):
            with self.tx() as session:
                now = engine_clock.now(session)
                sitting = attempts.open_sitting(
                    session, centre=session.get(models.Centre, centre_id),
                    specification=session.get(models.TestSpecification, spec_id),
                    candidates=[session.get(models.Candidate, ids[number])], title="machine", actor="test",
                    staff_id=None, now=now)
                session.flush()
                attempt = sitting.entries[0].attempt
                attempts.confirm_details(session, attempt, now)
                self.sitting_id, self.attempt_id = sitting.id, attempt.id
            self.state = WAITING
            self.total = 45 * 60 * (125 if number == "0002" else 100) // 100
            self.used = 0
            self.finished_at = None
            self.deadline = None

        @contextlib.contextmanager
        def tx(self):
            with app.app_context():
                session = db.new_session(app)
                try:
                    with db.writing(session):
                        yield session
                finally:
                    session.close()

        def attempt(self, session):
            return session.get(models.Attempt, self.attempt_id, with_for_update=True, populate_existing=True)

        def time_up(self):
            return self.state == IN_PROGRESS and self.used >= self.total

        def act(self, call, allowed: bool):
            """Run ``call(session, attempt, now)``: it must succeed exactly when the model allows it."""
            try:
                with self.tx() as session:
                    call(session, self.attempt(session), engine_clock.now(session))
            except actions.Refused:
                assert not allowed, "refused an allowed action"
                return False
            assert allowed, "allowed a refused action"
            return True

        @precondition(lambda self: self.state == WAITING)
        @rule()
        def start(self):
            with self.tx() as session:
                attempts.start_sitting(session, session.get(models.Sitting, self.sitting_id), "test",
                                       engine_clock.now(session))
            self.state = IN_PROGRESS
            self.deadline = clock.now + dt.timedelta(seconds=self.total)

        @rule(seconds=st.integers(0, 1800))
        def time_passes(self, seconds):
            clock.advance(seconds=seconds)
            if self.state == IN_PROGRESS:
                self.used += seconds  # real time; what is shown is never more than the total
                if clock.now > self.deadline + dt.timedelta(seconds=GRACE):
                    self.state, self.finished_at, self.used = FINISHED, self.deadline, self.total
            elif self.state in (PAUSED, ON_BREAK) and self.deadline is not None:
                self.deadline += dt.timedelta(seconds=seconds)  # a stopped clock moves the deadline on
            sweeper.sweep(app)

        @precondition(lambda self: self.state not in (WAITING, FINISHED))
        @rule()
        def pause(self):
            ok = self.state in (IN_PROGRESS, ON_BREAK) and not self.time_up()
            if self.act(lambda s, a, now: actions.pause(s, a, now, "test", "noise"), ok):
                self.state = PAUSED

        @precondition(lambda self: self.state not in (WAITING, FINISHED))
        @rule()
        def resume(self):
            if self.act(lambda s, a, now: actions.resume(s, a, now, "test"), self.state == PAUSED):
                self.state = IN_PROGRESS

        @precondition(lambda self: self.state not in (WAITING, FINISHED))
        @rule()
        def break_start(self):
            ok = self.state == IN_PROGRESS and not self.time_up()
            if self.act(lambda s, a, now: actions.start_break(s, a, now, "test", "unwell"), ok):
                self.state = ON_BREAK

        @precondition(lambda self: self.state not in (WAITING, FINISHED))
        @rule()
        def break_end(self):
            if self.act(lambda s, a, now: actions.end_break(s, a, now, "test"), self.state == ON_BREAK):
                self.state = IN_PROGRESS

        @precondition(lambda self: self.state not in (WAITING, FINISHED))
        @rule(kind=st.sampled_from([actions.EXTRA_TIME, actions.CREDIT]), minutes=st.integers(1, 20))
        def add_time(self, kind, minutes):
            def call(s, a, now):
                actions.add_time(s, a, now, "test", kind=kind, minutes=minutes, reason="r", grace_seconds=GRACE)
            self.act(call, True)
            self.total += minutes * 60
            self.deadline += dt.timedelta(seconds=minutes * 60)

        @precondition(lambda self: self.state == IN_PROGRESS)
        @rule()
        def submit(self):
            with self.tx() as session:
                attempt = self.attempt(session)
                now = engine_clock.now(session)
                attempts.finish_if_expired(session, attempt, now, GRACE)
                if attempt.state == IN_PROGRESS:
                    attempts.submit(session, attempt, now)
            self.state, self.finished_at = FINISHED, min(clock.now, self.deadline)
            self.used = min(self.total, self.used)

        @invariant()
        def matches_the_model(self):
            if not hasattr(self, "attempt_id"):
                return
            with app.app_context():
                session = db.new_session(app)
                attempt = session.get(models.Attempt, self.attempt_id)
                ledger = attempts.ledger(session, attempt, engine_clock.now(session))
                session.close()
            assert attempt.state == self.state
            assert ledger.remaining_seconds >= 0
            if self.state == WAITING:
                assert ledger.remaining_seconds == self.total
                return
            assert ledger.remaining_seconds == max(0, self.total - self.used)
            if self.state == IN_PROGRESS:
                assert attempt.deadline_at == self.deadline
            else:
                assert attempt.deadline_at is None
            if self.state == FINISHED:
                assert attempt.finished_at == self.finished_at

    run_state_machine_as_test(ServiceMachine, settings=settings(
        max_examples=25, stateful_step_count=15, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]))
