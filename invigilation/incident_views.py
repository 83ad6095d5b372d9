"""The incident log of a sitting (record, list, CSV export) and the printable sitting report."""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from flask import Response, flash, redirect, request, url_for
from sqlalchemy import select

from engine import auth, clock, db, incidents, models
from engine.attempt_states import FINISHED
from engine.web import local_time, render
from invigilation import register as live_register
from invigilation.controls import EVENT_LABELS
from invigilation.views import actor, bp, load_sitting


def _local_clock_time(text: str, timezone: str, now: dt.datetime) -> dt.datetime:
    """"hh:mm" (or hh:mm:ss) today in the centre's time zone, as naive UTC."""
    try:
        parts = [int(p) for p in text.split(":")]
        if len(parts) not in (2, 3):
            raise ValueError
        local_now = now.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone))
        moment = local_now.replace(hour=parts[0], minute=parts[1], second=parts[2] if len(parts) == 3 else 0,
                                   microsecond=0)
    except ValueError:
        raise incidents.IncidentProblem("happened_at", f"{text!r} is not a time of day written as hh:mm, e.g. 10:45.") from None
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _incidents_page(sitting: models.Sitting, *, status: int = 200, error: str | None = None,
                    field: str | None = None, form=None):
    session_db = db.session()
    timezone = sitting.centre.timezone
    return render("invigilation/incidents.html", status=status, sitting=sitting,
                  incidents=incidents.for_sitting(session_db, sitting.id),
                  entries=live_register.load_entries(session_db, sitting), categories=incidents.CATEGORIES,
                  local=lambda moment: local_time(moment, timezone, "%H:%M:%S"), error=error, field=field,
                  form=form or {}, now_local=local_time(clock.now(session_db), timezone, "%H:%M"))


@bp.get("/sittings/<int:sitting_id>/incidents")
@auth.staff_required("invigilator")
def incident_log(sitting_id: int):
    return _incidents_page(load_sitting(sitting_id))


@bp.post("/sittings/<int:sitting_id>/incidents")
@auth.staff_required("invigilator")
def record_incident(sitting_id: int):
    session_db = db.session()
    try:
        with db.writing(session_db):
            sitting = load_sitting(sitting_id)
            now = clock.now(session_db)
            when = (request.form.get("happened_at") or "").strip()
            happened_at = _local_clock_time(when, sitting.centre.timezone, now) if when else now
            ids = [int(i) for i in request.form.getlist("attempt") if i.isdigit()]
            linked = list(session_db.scalars(select(models.Attempt).join(models.Entry).where(
                models.Attempt.id.in_(ids), models.Entry.sitting_id == sitting.id))) if ids else []
            if len(linked) != len(set(ids)):
                raise incidents.IncidentProblem("candidates", "Only candidates in this sitting can be linked.")
            incidents.add(session_db, sitting, category=request.form.get("category", ""),
                          description=request.form.get("description", ""), actor=actor(), now=now,
                          happened_at=happened_at, attempts=linked)
    except incidents.IncidentProblem as problem:
        return _incidents_page(load_sitting(sitting_id), status=400, error=str(problem), field=problem.field,
                               form=request.form)
    flash("Incident recorded.", "success")
    return redirect(url_for("invigilation.incident_log", sitting_id=sitting_id), code=303)


@bp.get("/sittings/<int:sitting_id>/incidents.csv")
@auth.staff_required("invigilator")
def incidents_csv(sitting_id: int):
    sitting = load_sitting(sitting_id)
    timezone = sitting.centre.timezone
    def iso(moment: dt.datetime | None) -> str:
        if moment is None:
            return ""
        return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")

    text = incidents.to_csv(incidents.for_sitting(db.session(), sitting.id), iso)
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="sitting-{sitting.id}-incidents.csv"'})


@bp.get("/sittings/<int:sitting_id>/report")
@auth.staff_required("invigilator")
def report(sitting_id: int):
    """The per-sitting report to print and sign: register with time accounting, incidents and
    every invigilator action."""
    sitting = load_sitting(sitting_id)
    session_db = db.session()
    now = clock.now(session_db)
    timezone = sitting.centre.timezone
    entries = live_register.load_entries(session_db, sitting)
    ids = [e.attempt.id for e in entries]
    events = live_register.time_events(session_db, ids)
    ledgers = {e.attempt.id: live_register.ledger_of(e.attempt, events[e.attempt.id], now) for e in entries}
    subjects = [f"sitting:{sitting.id}", *(f"attempt:{i}" for i in ids)]
    audit = session_db.scalars(select(models.AuditEvent).where(models.AuditEvent.subject.in_(subjects))
                               .order_by(models.AuditEvent.at, models.AuditEvent.id)).all()
    by_attempt = {f"attempt:{e.attempt.id}": e.candidate for e in entries}
    staff = sorted({a.actor for a in audit if a.actor.startswith("staff:")})
    return render("invigilation/report.html", sitting=sitting, entries=entries, ledgers=ledgers, audit=audit,
                  by_attempt=by_attempt, staff=staff, incidents=incidents.for_sitting(session_db, sitting.id),
                  categories=incidents.CATEGORIES, labels=EVENT_LABELS, FINISHED=FINISHED,
                  local=lambda moment, fmt="%H:%M:%S": local_time(moment, timezone, fmt),
                  printed=local_time(now, timezone, "%Y-%m-%d %H:%M"), timezone=timezone)
