"""Keycode brute force from many addresses: no guess succeeds, and real candidates still get in.

A keycode is 8 characters from a 25-letter alphabet (25^8 = 1.5 x 10^11 codes), checked in
constant time; what stops guessing is the failure limit (engine/ratelimit.py, in the database so
every app server shares it). ``make test`` sprays 1,000 guesses; ``make security-long`` 10,000.
"""
from __future__ import annotations

import random

from sqlalchemy import select

from engine import attempts, create_app, db, models

from centres_support import read
from conftest import TEST_SETTINGS, csrf_from
from security_support import record_figure, scale

EXAM_ROOM = "10.20.0.0/16"
BLOCKED = b"Too many attempts"
NO_MATCH = b"Those details do not match"


def _set_networks(app, ranges):
    def change(session):
        centre = session.scalar(select(models.Centre).where(models.Centre.number == "99001"))
        centre.network_ranges = ranges
        session.commit()
    read(app, change)


def _numbers(app) -> list[str]:
    return read(app, lambda s: s.scalars(select(models.Candidate.candidate_number).join(models.Centre)
                                         .where(models.Centre.number == "99001")).all())


class Door:
    """The sign-in form through one browser; each call may come from any address."""

    def __init__(self, app):
        self.client = app.test_client()
        self.csrf = csrf_from(self.client.get("/start").get_data(as_text=True))

    def try_keycode(self, number, keycode, address, forwarded=None):
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        return self.client.post("/start", data={"centre_number": "99001", "candidate_number": number,
                                                "keycode": keycode, "csrf_token": self.csrf},
                                environ_overrides={"REMOTE_ADDR": address}, headers=headers)


def _legitimate(app, number, keycode, address) -> bool:
    """A real candidate at their own workstation (their own browser)."""
    return Door(app).try_keycode(number, keycode, address).status_code == 303


def test_ten_thousand_guesses_from_many_addresses_get_nobody_in(app, demo):
    guesses = scale(1_000, 10_000)
    _set_networks(app, [EXAM_ROOM])
    numbers = _numbers(app)
    targets = numbers + [f"{n:04d}" for n in range(100, 120)]  # real candidates and made-up ones
    rng = random.Random(12)
    door = Door(app)
    successes, evaluated, blocked, legit_in, legit_tried = 0, 0, 0, 0, 0
    limit = app.config["SIGN_IN_MAX_FAILURES"]
    for guess in range(guesses):
        address = f"203.{guess // 5 // 250}.{guess // 5 % 250}.1"  # a new address every 5 guesses
        keycode = "".join(rng.choice(attempts.KEYCODE_ALPHABET) for _ in range(attempts.KEYCODE_LENGTH))
        if keycode == demo["keycode"]:
            continue  # 1 in 1.5 x 10^11: not a guess worth counting
        response = door.try_keycode(rng.choice(targets), keycode, address)
        successes += response.status_code != 400
        evaluated += NO_MATCH in response.data
        blocked += BLOCKED in response.data
        if guess % 250 == 0:
            # Meanwhile the attacked candidates sign in from the exam room, with the right keycode.
            legit_tried += 1
            legit_in += _legitimate(app, numbers[legit_tried % len(numbers)], demo["keycode"],
                                    f"10.20.{legit_tried // 250}.{legit_tried % 250 + 1}")
    record_figure("keycode_brute_force", guesses=guesses, successes=successes, checked_against_a_keycode=evaluated,
                  refused_by_the_limit=blocked, identities_attacked=len(targets),
                  legitimate_sign_ins=legit_tried, legitimate_refused=legit_tried - legit_in)
    assert successes == 0
    assert evaluated + blocked == guesses
    # Each identity gets at most ``limit`` guesses per window from outside, however many addresses.
    assert evaluated <= len(targets) * limit, evaluated
    assert legit_in == legit_tried >= guesses // 250


def test_from_inside_the_room_guessing_is_limited_per_candidate(app, demo):
    """An insider spraying one candidate's identity is stopped as well, from any room address."""
    _set_networks(app, [EXAM_ROOM])
    door = Door(app)
    limit = app.config["SIGN_IN_MAX_FAILURES"]
    answers = [door.try_keycode("0003", f"WRONG{n:03d}", f"10.20.1.{n + 1}").data for n in range(limit + 5)]
    assert sum(NO_MATCH in a for a in answers) == limit and sum(BLOCKED in a for a in answers) == 5
    # The outside counter is separate: the candidate's identity is locked inside the room only
    # by guesses from inside it; other candidates in the room are not affected.
    assert _legitimate(app, "0004", demo["keycode"], "10.20.1.1")


def test_without_recorded_networks_an_attacked_candidate_can_be_locked_out(app, demo):
    """The honest shortfall: with no exam-room network recorded, guesses at one candidate from
    many addresses lock that candidate out for the window (nobody guesses the keycode, and
    every other candidate still gets in). Recording the centre's networks removes it (above)."""
    door = Door(app)
    limit = app.config["SIGN_IN_MAX_FAILURES"]
    for n in range(limit):
        assert NO_MATCH in door.try_keycode("0005", f"WRONG{n:03d}", f"198.51.100.{n + 1}").data
    assert not _legitimate(app, "0005", demo["keycode"], "192.0.2.77")
    assert _legitimate(app, "0001", demo["keycode"], "192.0.2.78")


def test_a_forged_forwarded_for_header_does_not_buy_more_guesses(app, demo, database_url, clock):
    limit = app.config["SIGN_IN_MAX_FAILURES"]
    # No proxy of ours: the header is ignored, so every guess counts against the real address.
    door = Door(app)
    answers = [door.try_keycode(f"{n:04d}", "WRONGCODE", "198.51.100.9", forwarded=f"10.20.0.{n}").data
               for n in range(200, 200 + limit + 3)]
    assert sum(BLOCKED in a for a in answers) == 3
    # Behind one proxy (ONSCREEN_PROXY_HOPS=1), only the address our proxy appended is believed.
    proxied = create_app({**TEST_SETTINGS, "DATABASE_URL": database_url, "CLOCK": clock, "PROXY_HOPS": 1})
    try:
        door = Door(proxied)
        answers = [door.try_keycode(f"{n:04d}", "WRONGCODE", "10.0.0.1",
                                    forwarded=f"10.20.0.{n}, 198.51.100.10").data
                   for n in range(300, 300 + limit + 3)]
        assert sum(BLOCKED in a for a in answers) == 3
    finally:
        db.engine_for(proxied).dispose()
