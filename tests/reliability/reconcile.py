"""Compare what the server acknowledged with what the database holds.

The counts (each must be 0):
  lost           an acknowledged save with no event
  wrong_item     an event stored under another question than the one it was sent for
  duplicates     more than one event for one idempotency key
  phantom        an event whose key no candidate sent
  out_of_order   a candidate's saves stored in another order than they were sent
  stale_current  an item whose current answer is not its latest event
  unsaved        a save never acknowledged though it was retried (and not refused)
"""
from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import select

from engine import models
from engine.db import make_engine


def reconcile(url: str, sitting_id: int, sent: list) -> dict:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            attempt_of = dict(connection.execute(
                select(models.Candidate.candidate_number, models.Attempt.id)
                .join(models.Entry, models.Entry.candidate_id == models.Candidate.id)
                .join(models.Attempt, models.Attempt.entry_id == models.Entry.id)
                .where(models.Entry.sitting_id == sitting_id)).all())
            ids = list(attempt_of.values())
            events = connection.execute(
                select(models.ResponseEvent.attempt_id, models.ResponseEvent.idempotency_key,
                       models.ResponseEvent.position, models.ResponseEvent.seq, models.ResponseEvent.response)
                .where(models.ResponseEvent.attempt_id.in_(ids))).all()
            items = connection.execute(
                select(models.FormItem.attempt_id, models.FormItem.position, models.FormItem.current_seq,
                       models.FormItem.current_response)
                .where(models.FormItem.attempt_id.in_(ids))).all()
    finally:
        engine.dispose()
    by_key = defaultdict(list)
    for event in events:
        by_key[(event.attempt_id, event.idempotency_key)].append(event)
    sent_keys = {(attempt_of[s.number], s.key) for s in sent}
    counts = Counter(lost=0, wrong_item=0, duplicates=0, phantom=0, out_of_order=0, stale_current=0, unsaved=0)
    order = defaultdict(list)
    for s in sent:  # in the order each candidate sent them
        stored = by_key.get((attempt_of[s.number], s.key), [])
        if s.acked and not stored:
            counts["lost"] += 1
        if not s.acked and not s.refused:
            counts["unsaved"] += 1
        if any(event.position != s.position for event in stored):
            counts["wrong_item"] += 1
        if stored:
            order[s.number].append(stored[0].seq)
    counts["duplicates"] = sum(len(found) - 1 for found in by_key.values())
    counts["phantom"] = sum(1 for key in by_key if key not in sent_keys)
    counts["out_of_order"] = sum(1 for seqs in order.values() if seqs != sorted(seqs))
    latest = {}
    for event in events:
        slot = (event.attempt_id, event.position)
        if slot not in latest or event.seq > latest[slot].seq:
            latest[slot] = event
    for item in items:
        event = latest.get((item.attempt_id, item.position))
        if event is None:
            counts["stale_current"] += item.current_seq != 0
        elif item.current_seq != event.seq or item.current_response != event.response:
            counts["stale_current"] += 1
    counts["events"] = len(events)
    counts["acknowledged"] = sum(1 for s in sent if s.acked)
    counts["sent"] = len(sent)
    return dict(counts)


LOSS_COUNTS = ("lost", "wrong_item", "duplicates", "phantom", "out_of_order", "stale_current", "unsaved")
