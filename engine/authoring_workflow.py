"""The review workflow for items: draft -> in review -> approved (live) -> retired.

One rule, one place: :data:`TRANSITIONS` says which action moves a version from which state, and
who may take it; :func:`refusal` is the only check, used by the pages and the tests alike. A writer
never approves their own version. Every save is a new, immutable item version, so a version
already in front of candidates never changes; an item's *live version* is its latest approved
one, so editing a live item leaves candidates on the approved text until the edit is approved.

Comments and history are audit events on ``item:<id>``.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import audit, auth, models
from engine.models_authoring import ItemVersionReview

VERSION_STATES = ("draft", "in_review", "approved", "returned")


@dataclass(frozen=True)
class Transition:
    label: str
    from_states: tuple[str, ...]
    role: str
    to_state: str | None
    needs_comment: bool = False


#: action -> the rule. States are of the item's working (latest) version, except for retire,
#: which acts on the item: only a live item can be retired.
TRANSITIONS = {
    "submit": Transition("Send to review", ("draft", "returned"), "item_writer", "in_review"),
    "withdraw": Transition("Withdraw from review", ("in_review",), "item_writer", "draft"),
    "approve": Transition("Approve and make live", ("in_review",), "reviewer", "approved"),
    "return": Transition("Return to the writer", ("in_review",), "reviewer", "returned", needs_comment=True),
    "retire": Transition("Retire", ("live",), "reviewer", None, needs_comment=True),
}


class WorkflowError(ValueError):
    """A refused action; the message says why."""


def reviews_for(session: Session, versions: list[models.ItemVersion]) -> dict[int, ItemVersionReview]:
    ids = [v.id for v in versions]
    if not ids:
        return {}
    return {r.version_id: r for r in session.scalars(select(ItemVersionReview).where(ItemVersionReview.version_id.in_(ids)))}


def version_state(item: models.Item, version: models.ItemVersion, review: ItemVersionReview | None) -> str:
    """Where a version stands. A version from the bank files has no review row: the latest one
    is what the files say the item is; earlier ones were live in their day. Any other version
    without a row (an import, say) is a draft until a reviewer approves it."""
    if review is not None:
        return review.state
    if not (version.provenance or {}).get("file"):
        return "draft"
    if version is not item.versions[-1]:
        return "approved"
    return {"live": "approved", "retired": "approved", "in_review": "in_review"}.get(item.status, "draft")


def live_version(item: models.Item, reviews: dict[int, ItemVersionReview]) -> models.ItemVersion | None:
    """The version candidates get: the latest approved one, if the item is live."""
    if item.status != "live":
        return None
    for version in reversed(item.versions):
        if version_state(item, version, reviews.get(version.id)) == "approved":
            return version
    return None


def live_versions(session: Session, items: list[models.Item]) -> list[tuple[models.Item, models.ItemVersion]]:
    """``(item, live version)`` for every live item that has one, in two queries in all."""
    reviews = reviews_for(session, [v for item in items for v in item.versions])
    pairs = [(item, live_version(item, reviews)) for item in items]
    return [(item, version) for item, version in pairs if version is not None]


def refusal(action: str, item: models.Item, state: str, review: ItemVersionReview | None,
            user: models.StaffUser) -> str | None:
    """Why ``user`` may not take ``action`` now, or ``None`` if they may."""
    rule = TRANSITIONS.get(action)
    if rule is None:
        return f"{action!r} is not a workflow action"
    if not user.has_role(rule.role):
        return f"only a {rule.role.replace('_', ' ')} can {rule.label.lower()}"
    current = item.status if action == "retire" else state
    if current not in rule.from_states:
        return f"cannot {rule.label.lower()} an item that is {current.replace('_', ' ')}"
    if action == "approve" and review is not None and auth.staff_actor(user) in (review.written_by, review.submitted_by):
        return "you wrote or submitted this version: another reviewer must approve it"
    return None


def take(session: Session, item: models.Item, action: str, user: models.StaffUser, now: dt.datetime,
         comment: str = "") -> str:
    """Take ``action`` on the item's working version (in the caller's write transaction).

    :return: the new state. Raises :class:`WorkflowError` if refused.
    """
    version = item.versions[-1]
    review = session.get(ItemVersionReview, version.id)
    state = version_state(item, version, review)
    reason = refusal(action, item, state, review, user)
    rule = TRANSITIONS.get(action)
    if reason is None and rule.needs_comment and not comment.strip():
        reason = "say why in the comment"
    if reason:
        raise WorkflowError(reason)
    actor = auth.staff_actor(user)
    if action == "retire":
        before, item.status, after = item.status, "retired", "retired"
    else:
        if review is None:  # a version from the files enters the workflow now
            provenance = version.provenance or {}
            written = ((provenance.get("review") or {}).get("written_by")
                       or (f"import: {provenance['imported_from']}" if provenance.get("imported_from") else "bank files"))
            review = ItemVersionReview(version_id=version.id, state=state, written_by=str(written), updated_at=now)
            session.add(review)
        before, review.state, review.updated_at, after = state, rule.to_state, now, rule.to_state
        if action == "submit":
            review.submitted_by = actor
        if action == "approve":
            review.approved_by, review.approved_at = actor, now
            item.status = "live"
        elif item.status in ("draft", "in_review"):
            item.status = "in_review" if after == "in_review" else "draft"
    audit.record(session, actor, f"item.{action}", f"item:{item.id}", now, reason=comment.strip() or None,
                 detail={"version": version.version, "from": before, "to": after})
    return after


def add_version(session: Session, item: models.Item, fields: dict, user: models.StaffUser,
                now: dt.datetime, content_hash: str) -> models.ItemVersion:
    """A new draft version of ``item`` (the caller checked ``fields``). Refused while in review,
    so a reviewer approves exactly what they read."""
    if not user.has_role("item_writer"):
        raise WorkflowError("only an item writer can write or edit items")
    if item.versions:
        latest = item.versions[-1]
        if version_state(item, latest, session.get(ItemVersionReview, latest.id)) == "in_review":
            raise WorkflowError("this item is in review: withdraw it (or have it returned) before editing")
    version = models.ItemVersion(item=item, version=item.versions[-1].version + 1 if item.versions else 1,
                                 content_hash=content_hash, created_at=now,
                                 provenance={"authored_by": auth.staff_actor(user)}, **fields)
    session.add(version)
    session.flush()
    session.add(ItemVersionReview(version_id=version.id, state="draft", written_by=auth.staff_actor(user), updated_at=now))
    if item.status in ("draft", "in_review"):
        item.status = "draft"
    audit.record(session, auth.staff_actor(user), "item.edit", f"item:{item.id}", now,
                 detail={"version": version.version})
    return version


def comment(session: Session, item: models.Item, user: models.StaffUser, now: dt.datetime, text: str) -> None:
    if not text.strip():
        raise WorkflowError("write a comment first")
    audit.record(session, auth.staff_actor(user), "item.comment", f"item:{item.id}", now, reason=text.strip()[:4000],
                 detail={"version": item.versions[-1].version})


def history(session: Session, item: models.Item) -> list[models.AuditEvent]:
    return list(session.scalars(select(models.AuditEvent).where(models.AuditEvent.subject == f"item:{item.id}")
                                .order_by(models.AuditEvent.id)))


def unchanged_under_draft(session: Session, item: models.Item, digest: str) -> bool:
    """True if the files hold the item's live version while a newer draft waits in the database:
    loading the files again must not bury the draft under a copy of the live text."""
    if not item.versions:
        return False
    live = live_version(item, reviews_for(session, list(item.versions)))
    return live is not None and live is not item.versions[-1] and live.content_hash == digest
