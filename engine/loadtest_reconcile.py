"""After a load run: every save the server acknowledged must be in the database, and (on the
exam day) every attempt must have finished with its latest saves.

The run records the idempotency key of each save the server answered "Saved" to; the key is
unique per attempt in ``response_events``, so an acknowledged save is present exactly when
its key is there for that candidate's attempt in that sitting.
"""
from __future__ import annotations

from flask import Flask
from sqlalchemy import and_, func, select

from engine import db, models
from engine.attempt_states import FINISHED


def reconcile(app: Flask, plan: dict, acks: list[dict]) -> dict:
    """Counts for the report: acknowledged, lost (with up to 20 examples), attempts finished."""
    sitting_ids = [room["sitting_id"] for room in plan["rooms"]]
    session = db.new_session(app)
    try:
        stored = set(session.execute(
            select(models.Entry.sitting_id, models.Candidate.candidate_number, models.ResponseEvent.idempotency_key)
            .join(models.Attempt, models.ResponseEvent.attempt_id == models.Attempt.id)
            .join(models.Entry, models.Attempt.entry_id == models.Entry.id)
            .join(models.Candidate, models.Entry.candidate_id == models.Candidate.id)
            .where(models.Entry.sitting_id.in_(sitting_ids))
        ).all())
        states = dict(session.execute(
            select(models.Attempt.state, func.count()).join(models.Entry, models.Attempt.entry_id == models.Entry.id)
            .where(models.Entry.sitting_id.in_(sitting_ids)).group_by(models.Attempt.state)
        ).all())
        results = session.scalar(
            select(func.count()).select_from(models.Result).join(models.Attempt, models.Result.attempt_id == models.Attempt.id)
            .join(models.Entry, models.Attempt.entry_id == models.Entry.id).where(models.Entry.sitting_id.in_(sitting_ids)))
        stale = _stale_current_answers(session, sitting_ids)
    finally:
        session.close()
    lost = [ack for ack in acks if (ack["sitting"], ack["candidate"], ack["key"]) not in stored]
    attempts = sum(states.values())
    finished = states.get(FINISHED, 0)
    return {"acknowledged": len(acks), "lost": len(lost), "lost_examples": lost[:20], "stored_saves": len(stored),
            "attempts": attempts, "finished": finished, "unfinished": attempts - finished, "results": results,
            "stale_current": stale}


def _stale_current_answers(session, sitting_ids: list[int]) -> int:
    """Form items whose cached current answer is not their latest save (the marker reads the cache)."""
    in_run = (select(models.Attempt.id).join(models.Entry, models.Attempt.entry_id == models.Entry.id)
              .where(models.Entry.sitting_id.in_(sitting_ids)))
    latest = (select(models.ResponseEvent.attempt_id, models.ResponseEvent.position,
                     func.max(models.ResponseEvent.seq).label("seq"))
              .where(models.ResponseEvent.attempt_id.in_(in_run))
              .group_by(models.ResponseEvent.attempt_id, models.ResponseEvent.position).subquery())
    return session.scalar(
        select(func.count()).select_from(models.FormItem)
        .join(latest, and_(latest.c.attempt_id == models.FormItem.attempt_id, latest.c.position == models.FormItem.position))
        .join(models.Attempt, models.FormItem.attempt_id == models.Attempt.id)
        .join(models.Entry, models.Attempt.entry_id == models.Entry.id)
        .where(models.Entry.sitting_id.in_(sitting_ids), models.FormItem.current_seq != latest.c.seq)) or 0
