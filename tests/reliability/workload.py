"""Candidates saving answers over HTTP while faults are injected, and the log of what the
server acknowledged. Each candidate sends one save at a time (as one browser tab does) and
sends a save that got no answer again with the same key and the same answer, until it is
acknowledged or refused, as engine/static/js/onscreen.js does."""
from __future__ import annotations

import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

from reliability.http_candidate import TRANSIENT, HttpCandidate, new_key

#: Every item type reads its own field names and ignores the rest, so one bag fits any item.
def fields_for(rng: random.Random, serial: int) -> dict:
    return {"answer": f"answer {serial}", "number": str(serial), "choice": str(rng.randrange(4)),
            "gap-0": str(rng.randrange(3)), "match-0": str(rng.randrange(3)), "position-0": "1"}


@dataclass
class Sent:
    number: str
    position: int
    key: str
    acked: bool = False
    refused: bool = False
    tries: int = 0


@dataclass
class Log:
    sent: list[Sent] = field(default_factory=list)
    outcomes: Counter = field(default_factory=Counter)
    tracebacks: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, sent: Sent) -> None:
        with self.lock:
            self.sent.append(sent)

    def count(self, outcome: str) -> None:
        with self.lock:
            self.outcomes[outcome] += 1


class Candidate(threading.Thread):
    def __init__(self, candidate: HttpCandidate, positions: int, log: Log, stop: threading.Event,
                 seed: int, pause: float = 0.05, retry_for: float = 90):
        super().__init__(daemon=True, name=f"candidate-{candidate.number}")
        self.http, self.positions, self.log, self.stop = candidate, positions, log, stop
        self.rng, self.pause, self.retry_for = random.Random(seed), pause, retry_for
        self.serial = 0

    def run(self) -> None:
        while not self.stop.is_set():
            self.serial += 1
            self.save(self.rng.randint(1, self.positions), fields_for(self.rng, self.serial))
            time.sleep(self.pause * self.rng.random() * 2)

    def save(self, position: int, fields: dict) -> Sent:
        sent = Sent(self.http.number, position, new_key())
        self.log.add(sent)
        give_up = time.monotonic() + self.retry_for
        while time.monotonic() < give_up:
            sent.tries += 1
            try:
                reply = self.http.save_once(position, fields, sent.key)
            except TRANSIENT:
                self.log.count("no answer")
                time.sleep(0.2)
                continue
            if "Traceback" in reply.body:
                self.log.tracebacks += 1
            if reply.status == 200:
                sent.acked = True
                self.log.count("acknowledged" if sent.tries == 1 else "acknowledged on retry")
                return sent
            if reply.status == 409:
                sent.refused = True
                self.log.count("refused")
                return sent
            self.log.count(f"http {reply.status}")
            time.sleep(0.2)
        self.log.count("gave up")
        return sent


def run_candidates(base_url: str, room, log: Log, stop: threading.Event, positions: int,
                   pause: float = 0.05, seed: int = 1) -> list[Candidate]:
    threads = []
    for index, number in enumerate(room.numbers):
        http = HttpCandidate(base_url, room.centre, number, room.keycode)
        http.sign_in()
        threads.append(Candidate(http, positions, log, stop, seed * 1000 + index, pause))
    return threads
