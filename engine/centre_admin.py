"""The exams officer's pages under /centre: candidates (one at a time or from a CSV file), their
access arrangements, staff accounts, scheduling sittings, and the audit of staff actions.

Every page is keyed by the centre in its address and every object is looked up *within* that
centre: staff see their own centre, and only an awarding-body administrator (the admin role and
no centre) sees every centre. Anything else is a 404, so nobody can even learn that another
centre's candidate exists. The rules live in the service modules (``candidate_import``,
``access_arrangements``, ``staff_accounts``, ``scheduling``); these views stay thin.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import zoneinfo

from flask import Blueprint, Response, abort, redirect, request, url_for
from sqlalchemy import func, or_, select
from sqlalchemy.orm import selectinload

from engine import access_arrangements as aa
from engine import attempts, audit, auth, candidate_import, clock, db, identifiers, models, scheduling, staff_accounts, timing
from engine import staff_centres
from engine.attempt_states import READY, WAITING
from engine.web import is_htmx, local_time, render

bp = Blueprint("centre_admin", __name__, url_prefix="/centre")

OFFICER = ("exams_officer",)
MAX_UPLOAD_BYTES = 5 * 1024 * 1024
CANDIDATE_FIELDS = candidate_import.COLUMNS


# --- who sees what ---------------------------------------------------------------------------------


def is_awarding_body_admin(user: models.StaffUser) -> bool:
    return staff_centres.is_awarding_body_admin(user)


def load_centre(centre_id: int) -> models.Centre:
    """A centre the signed-in member of staff may see; 404 for any other."""
    centre = db.session().get(models.Centre, centre_id)
    if centre is None or not auth.can_see_centre(auth.current_staff(), centre.id):
        abort(404)
    return centre


def _in_centre(model, object_id: int, centre: models.Centre):
    found = db.session().scalar(select(model).where(model.id == object_id, model.centre_id == centre.id))
    if found is None:
        abort(404)
    return found


def _today(session_db, centre: models.Centre) -> dt.date:
    return scheduling.to_local(clock.now(session_db), centre.timezone).date()


def _problems_by_field(problems) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for problem in problems:
        grouped.setdefault(problem.field, []).append(problem.message)
    return grouped


# --- centres -----------------------------------------------------------------------------------------


@bp.get("/")
@auth.staff_required(*OFFICER)
def index():
    user = auth.current_staff()
    working = auth.current_centre_id(user)
    if working is not None:
        return redirect(url_for("centre_admin.home", centre_id=working))
    if not is_awarding_body_admin(user):
        abort(403)
    centres = db.session().scalars(select(models.Centre).order_by(models.Centre.number)).all()
    return render("centre/index.html", centres=centres)


def _centre_form_values() -> dict[str, str]:
    return {k: request.form.get(k, "").strip() for k in ("number", "name", "timezone", "network_ranges")}


def _check_centre_form(form: dict[str, str], centre: models.Centre | None) -> tuple[list[str], dict[str, list[str]]]:
    problems: dict[str, list[str]] = {}
    if centre is None:
        message = identifiers.centre_number_problem(form["number"])
        if message:
            problems["number"] = [message]
        elif db.session().scalar(select(models.Centre.id).where(models.Centre.number == form["number"])):
            problems["number"] = [f"centre {form['number']} already exists."]
    if not form["name"] or len(form["name"]) > 200:
        problems["name"] = ["enter the centre's name (at most 200 characters)."]
    if form["timezone"] not in zoneinfo.available_timezones():
        problems["timezone"] = [f"{form['timezone']!r} is not a time zone name such as Europe/London."]
    ranges = []
    for text in form["network_ranges"].replace(",", " ").split():
        try:
            ranges.append(str(ipaddress.ip_network(text, strict=True)))
        except ValueError:
            hint = ""
            try:
                hint = f" (did you mean {ipaddress.ip_network(text, strict=False)}?)"
            except ValueError:
                pass
            problems.setdefault("network_ranges", []).append(f"{text!r} is not a network range like 10.20.0.0/16{hint}.")
    return ranges, problems


@bp.route("/new", methods=["GET", "POST"])
@auth.staff_required("admin")
def new_centre():
    user = auth.current_staff()
    if not is_awarding_body_admin(user):
        abort(403)
    if request.method == "GET":
        return render("centre/centre_form.html", centre=None, form={"timezone": "Europe/London"}, problems={})
    form = _centre_form_values()
    ranges, problems = _check_centre_form(form, None)
    if problems:
        return render("centre/centre_form.html", status=400, centre=None, form=form, problems=problems)
    session_db = db.session()
    with db.writing(session_db):
        centre = models.Centre(number=form["number"], name=" ".join(form["name"].split()), timezone=form["timezone"],
                               network_ranges=ranges)
        session_db.add(centre)
        session_db.flush()
        audit.record(session_db, auth.staff_actor(user), "centre.create", f"centre:{centre.id}", clock.now(session_db),
                     detail={"number": centre.number, "name": centre.name})
    return redirect(url_for("centre_admin.home", centre_id=centre.id), code=303)


@bp.get("/<int:centre_id>/")
@auth.staff_required(*OFFICER)
def home(centre_id: int):
    centre = load_centre(centre_id)
    session_db = db.session()
    counts = {
        "candidates": session_db.scalar(select(func.count()).select_from(models.Candidate)
                                        .where(models.Candidate.centre_id == centre.id)),
        "staff": session_db.scalar(select(func.count()).select_from(staff_centres.members_query(centre.id).subquery())),
        "upcoming": session_db.scalar(select(func.count()).select_from(models.Sitting).where(
            models.Sitting.centre_id == centre.id, models.Sitting.state != "ended",
            models.Sitting.scheduled_end > clock.now(session_db))),
    }
    return render("centre/home.html", centre=centre, counts=counts)


@bp.route("/<int:centre_id>/settings", methods=["GET", "POST"])
@auth.staff_required(*OFFICER)
def settings(centre_id: int):
    centre = load_centre(centre_id)
    if request.method == "GET":
        form = {"number": centre.number, "name": centre.name, "timezone": centre.timezone,
                "network_ranges": "\n".join(centre.network_ranges or [])}
        return render("centre/centre_form.html", centre=centre, form=form, problems={})
    form = _centre_form_values()
    ranges, problems = _check_centre_form(form, centre)
    if problems:
        return render("centre/centre_form.html", status=400, centre=centre, form=form, problems=problems)
    session_db = db.session()
    with db.writing(session_db):
        centre = session_db.get(models.Centre, centre.id, with_for_update=True, populate_existing=True)
        before = {"name": centre.name, "timezone": centre.timezone, "network_ranges": list(centre.network_ranges or [])}
        centre.name, centre.timezone, centre.network_ranges = " ".join(form["name"].split()), form["timezone"], ranges
        after = {"name": centre.name, "timezone": centre.timezone, "network_ranges": ranges}
        changed = {k: [before[k], after[k]] for k in before if before[k] != after[k]}
        if changed:
            audit.record(session_db, auth.staff_actor(auth.current_staff()), "centre.update", f"centre:{centre.id}",
                         clock.now(session_db), detail=changed)
    return redirect(url_for("centre_admin.home", centre_id=centre.id), code=303)


# --- candidates ----------------------------------------------------------------------------------------


def _candidate_query(centre: models.Centre, search: str):
    query = select(models.Candidate).where(models.Candidate.centre_id == centre.id)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(or_(models.Candidate.candidate_number.like(like),
                                func.lower(models.Candidate.first_name).like(like),
                                func.lower(models.Candidate.last_name).like(like),
                                func.lower(models.Candidate.uci).like(like), models.Candidate.uln.like(like)))
    return query.order_by(models.Candidate.candidate_number)


@bp.get("/<int:centre_id>/candidates")
@auth.staff_required(*OFFICER)
def candidates(centre_id: int):
    centre = load_centre(centre_id)
    search = request.args.get("q", "").strip()
    rows = db.session().scalars(_candidate_query(centre, search)).all()
    template = "centre/_candidate_rows.html" if is_htmx() else "centre/candidates.html"
    return render(template, centre=centre, candidates=rows, search=search, summary=aa.summary)


def _candidate_fields() -> dict[str, str]:
    return {key: request.form.get(key, "") for key in CANDIDATE_FIELDS}


def _identity_conflicts(centre: models.Centre, person: dict, candidate_id: int | None) -> list[aa.Problem]:
    session_db, problems = db.session(), []
    for key, label in (("candidate_number", "candidate number"), ("uci", "UCI"), ("uln", "ULN")):
        value = person.get(key)
        if not value:
            continue
        holder = session_db.scalar(select(models.Candidate).where(
            models.Candidate.centre_id == centre.id, getattr(models.Candidate, key) == value))
        if holder is not None and holder.id != candidate_id:
            problems.append(aa.Problem(key, f"{label} {value} already belongs to {holder.candidate_number} "
                                            f"{holder.full_name} at this centre."))
    return problems


def _render_candidate_form(centre, candidate, form, problems, status=200, saved=None):
    return render("centre/candidate_form.html", status=status, centre=centre, candidate=candidate, form=form,
                  problems=_problems_by_field(problems), problem_list=problems, saved=saved,
                  schemes=aa.COLOUR_SCHEMES, labels=aa.LABELS, standard=aa.STANDARD_EXTRA_TIME,
                  maximum=aa.MAX_EXTRA_TIME)


@bp.route("/<int:centre_id>/candidates/new", methods=["GET", "POST"])
@auth.staff_required(*OFFICER)
def new_candidate(centre_id: int):
    centre = load_centre(centre_id)
    if request.method == "GET":
        return _render_candidate_form(centre, None, {}, [])
    session_db = db.session()
    form = _candidate_fields()
    person, arrangements, problems = candidate_import.check_fields(form, _today(session_db, centre))
    problems += _identity_conflicts(centre, person, None)
    if problems:
        return _render_candidate_form(centre, None, form, problems, status=400)
    user = auth.current_staff()
    with db.writing(session_db):
        candidate = models.Candidate(centre_id=centre.id, access_arrangements=arrangements, **person)
        session_db.add(candidate)
        session_db.flush()
        audit.record(session_db, auth.staff_actor(user), "candidate.create", f"candidate:{candidate.id}",
                     clock.now(session_db), detail={"candidate_number": candidate.candidate_number,
                                                    "access_arrangements": arrangements})
    return redirect(url_for("centre_admin.candidate", centre_id=centre.id, candidate_id=candidate.id, saved=1), code=303)


@bp.route("/<int:centre_id>/candidates/<int:candidate_id>", methods=["GET", "POST"])
@auth.staff_required(*OFFICER)
def candidate(centre_id: int, candidate_id: int):
    centre = load_centre(centre_id)
    record = _in_centre(models.Candidate, candidate_id, centre)
    if request.method == "GET":
        form = {"candidate_number": record.candidate_number, "first_name": record.first_name,
                "last_name": record.last_name, "uci": record.uci or "", "uln": record.uln or "",
                "date_of_birth": record.date_of_birth.isoformat() if record.date_of_birth else "",
                **aa.as_text(record.access_arrangements or {})}
        saved = "Saved." if request.args.get("saved") else None
        return _render_candidate_form(centre, record, form, [], saved=saved)
    session_db = db.session()
    form = _candidate_fields()
    person, arrangements, problems = candidate_import.check_fields(form, _today(session_db, centre),
                                                                   record.access_arrangements or {})
    problems += _identity_conflicts(centre, person, record.id)
    if problems:
        return _render_candidate_form(centre, record, form, problems, status=400)
    user, now = auth.current_staff(), clock.now(session_db)
    with db.writing(session_db):
        record = session_db.get(models.Candidate, record.id, with_for_update=True, populate_existing=True)
        before = {key: getattr(record, key) for key in person}
        changed = {key: [_plain(before[key]), _plain(value)] for key, value in person.items() if before[key] != value}
        for key, value in person.items():
            setattr(record, key, value)
        if changed:
            audit.record(session_db, auth.staff_actor(user), "candidate.update", f"candidate:{record.id}", now,
                         detail=changed)
        if arrangements != (record.access_arrangements or {}):
            previous = dict(record.access_arrangements or {})
            record.access_arrangements = arrangements
            retimed = _retime_unstarted_attempts(session_db, record)
            audit.record(session_db, auth.staff_actor(user), "candidate.arrangements", f"candidate:{record.id}", now,
                         reason=arrangements.get("extra_time_reason"),
                         detail={"before": previous, "after": arrangements, "retimed_attempts": retimed})
    return redirect(url_for("centre_admin.candidate", centre_id=centre.id, candidate_id=record.id, saved=1), code=303)


def _plain(value):
    return value.isoformat() if isinstance(value, dt.date) else value


def _retime_unstarted_attempts(session_db, candidate: models.Candidate) -> list[int]:
    """Sittings already opened but not yet started give the candidate their new time allowance;
    once an attempt has started its time is the invigilator's to change."""
    waiting = session_db.scalars(
        select(models.Attempt).join(models.Entry).where(models.Entry.candidate_id == candidate.id,
                                                         models.Attempt.state.in_((READY, WAITING)))
        .options(selectinload(models.Attempt.entry).selectinload(models.Entry.sitting)
                 .selectinload(models.Sitting.specification))
    ).all()
    for attempt in waiting:
        attempt.allowed_seconds = timing.allowed_seconds(attempt.entry.sitting.specification.duration_minutes,
                                                         candidate.extra_time_percent)
    return [a.id for a in waiting]


@bp.route("/<int:centre_id>/candidates/import", methods=["GET", "POST"])
@auth.staff_required(*OFFICER)
def import_candidates(centre_id: int):
    centre = load_centre(centre_id)
    if request.method == "GET":
        return render("centre/import.html", centre=centre, report=None, error=None, columns=CANDIDATE_FIELDS)
    upload = request.files.get("file")
    valid_only = request.form.get("valid_only") == "yes"
    error = None
    data = upload.read(MAX_UPLOAD_BYTES + 1) if upload else b""
    if not upload or not upload.filename:
        error = "Choose a CSV file to import."
    elif len(data) > MAX_UPLOAD_BYTES:
        error = f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it into smaller files."
    report = None
    if error is None:
        session_db = db.session()
        with db.writing(session_db):
            now = clock.now(session_db)
            report = candidate_import.import_candidates(
                session_db, centre, data, valid_only=valid_only, actor=auth.staff_actor(auth.current_staff()),
                now=now, today=scheduling.to_local(now, centre.timezone).date())
    status = 400 if error or (report and report.problems and not report.imported) else 200
    template = "centre/_import_report.html" if is_htmx() else "centre/import.html"
    return render(template, status=200 if is_htmx() else status, centre=centre, report=report, error=error,
                  columns=CANDIDATE_FIELDS, filename=upload.filename if upload else "", valid_only=valid_only)


@bp.get("/<int:centre_id>/candidates/export.csv")
@auth.staff_required(*OFFICER)
def export_candidates(centre_id: int):
    centre = load_centre(centre_id)
    rows = db.session().scalars(select(models.Candidate).where(models.Candidate.centre_id == centre.id)).all()
    session_db = db.session()
    with db.writing(session_db):
        audit.record(session_db, auth.staff_actor(auth.current_staff()), "candidates.export", f"centre:{centre.id}",
                     clock.now(session_db), detail={"candidates": len(rows)})
    response = Response(candidate_import.export_csv(rows), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="candidates-{centre.number}.csv"'
    return response


# --- staff -----------------------------------------------------------------------------------------------


@bp.get("/<int:centre_id>/staff")
@auth.staff_required(*OFFICER)
def staff(centre_id: int):
    centre = load_centre(centre_id)
    people = db.session().scalars(staff_centres.members_query(centre.id).order_by(models.StaffUser.username)).all()
    return render("centre/staff.html", centre=centre, people=people, labels=staff_accounts.ROLE_LABELS,
                  can_manage=lambda person: staff_accounts.can_manage(auth.current_staff(), person),
                  centre_count=lambda person: len(staff_centres.centre_ids(person)))


def _staff_form() -> dict:
    return {"username": request.form.get("username", ""), "display_name": request.form.get("display_name", ""),
            "roles": request.form.getlist("roles"), "active": request.form.get("active") == "yes"}


def _render_staff_form(centre, person, form, problems, status=200):
    user = auth.current_staff()
    # Only the awarding body may attach an account to several centres: a centre's officer must
    # not be able to pull another centre's staff (or their access) into their own.
    all_centres = db.session().scalars(select(models.Centre).order_by(models.Centre.number)).all() \
        if is_awarding_body_admin(user) else None
    if person is not None and "centres" not in form:
        form["centres"] = [str(i) for i in staff_centres.centre_ids(person)]
    return render("centre/staff_form.html", status=status, centre=centre, person=person, form=form,
                  problems=_problems_by_field(problems), roles=staff_accounts.grantable_roles(user),
                  labels=staff_accounts.ROLE_LABELS, min_password=staff_accounts.MIN_PASSWORD,
                  all_centres=all_centres)


def _chosen_centres(centre: models.Centre) -> list[models.Centre] | None:
    """The centres ticked on the staff form (the awarding-body administrator's only); None when
    the form does not set them."""
    if not is_awarding_body_admin(auth.current_staff()) or request.form.get("set_centres") != "yes":
        return None
    ids = {int(c) for c in request.form.getlist("centres") if c.isdigit()}
    return db.session().scalars(select(models.Centre).where(models.Centre.id.in_(ids))
                                .order_by(models.Centre.number)).all()


@bp.route("/<int:centre_id>/staff/new", methods=["GET", "POST"])
@auth.staff_required(*OFFICER)
def new_staff(centre_id: int):
    centre = load_centre(centre_id)
    if request.method == "GET":
        return _render_staff_form(centre, None, {"roles": ["invigilator"], "active": True}, [])
    form = _staff_form()
    session_db = db.session()
    with db.writing(session_db):
        person, problems = staff_accounts.create(
            session_db, by=auth.current_staff(), centre=centre, username=form["username"],
            display_name=form["display_name"], roles=form["roles"], password=request.form.get("password", ""),
            now=clock.now(session_db))
    if problems:
        return _render_staff_form(centre, None, form, problems, status=400)
    return redirect(url_for("centre_admin.staff", centre_id=centre.id), code=303)


@bp.route("/<int:centre_id>/staff/<int:staff_id>", methods=["GET", "POST"])
@auth.staff_required(*OFFICER)
def staff_member(centre_id: int, staff_id: int):
    centre = load_centre(centre_id)
    person = db.session().scalar(staff_centres.members_query(centre.id).where(models.StaffUser.id == staff_id))
    if person is None:
        abort(404)
    user = auth.current_staff()
    if not staff_accounts.can_manage(user, person):
        abort(403)
    if request.method == "GET":
        form = {"username": person.username, "display_name": person.display_name, "roles": sorted(person.role_set),
                "active": person.active}
        return _render_staff_form(centre, person, form, [])
    form = _staff_form()
    chosen = _chosen_centres(centre)
    if chosen is not None:
        form["centres"] = request.form.getlist("centres")
    if chosen is not None and not chosen:
        return _render_staff_form(centre, person, form, [aa.Problem("centres", "choose at least one centre.")], 400)
    session_db = db.session()
    with db.writing(session_db):
        person = session_db.get(models.StaffUser, person.id, with_for_update=True, populate_existing=True)
        problems = staff_accounts.update(
            session_db, by=user, target=person, display_name=form["display_name"], roles=form["roles"],
            active=form["active"], new_password=request.form.get("password", ""), now=clock.now(session_db))
        if chosen is not None and not problems:
            staff_accounts.change_centres(session_db, by=user, target=person, centres=chosen,
                                          now=clock.now(session_db))
    if problems:
        form["username"] = person.username
        return _render_staff_form(centre, person, form, problems, status=400)
    return redirect(url_for("centre_admin.staff", centre_id=centre.id), code=303)


# --- scheduling ------------------------------------------------------------------------------------------


def _schedule_context(centre: models.Centre) -> dict:
    session_db = db.session()
    now = clock.now(session_db)
    sittings = session_db.scalars(
        select(models.Sitting).where(models.Sitting.centre_id == centre.id)
        .options(selectinload(models.Sitting.specification), selectinload(models.Sitting.entries)
                 .selectinload(models.Entry.candidate))
        .order_by(models.Sitting.scheduled_start.is_(None), models.Sitting.scheduled_start, models.Sitting.id)
    ).all()
    days: dict[str, list] = {}
    for sitting in sittings:
        if sitting.state == "ended":
            continue
        if sitting.scheduled_start is None:
            day = "Opened without a schedule"
        else:
            day = scheduling.to_local(sitting.scheduled_start, centre.timezone).strftime("%A %d %B %Y")
        days.setdefault(day, []).append(sitting)
    return {
        "days": days, "describe": scheduling.describe,
        "specifications": session_db.scalars(select(models.TestSpecification)
                                             .order_by(models.TestSpecification.code)).all(),
        "candidates": session_db.scalars(select(models.Candidate).where(models.Candidate.centre_id == centre.id)
                                         .order_by(models.Candidate.candidate_number)).all(),
        "today": scheduling.to_local(now, centre.timezone).date().isoformat(), "summary": aa.summary,
    }


@bp.route("/<int:centre_id>/sittings", methods=["GET", "POST"])
@auth.staff_required(*OFFICER)
def sittings(centre_id: int):
    centre = load_centre(centre_id)
    if request.method == "GET":
        return render("centre/sittings.html", centre=centre, form={}, problems={}, error=None,
                      created=request.args.get("created", type=int), **_schedule_context(centre))
    form = {"specification": request.form.get("specification", ""), "title": request.form.get("title", ""),
            "date": request.form.get("date", ""), "start_time": request.form.get("start_time", ""),
            "end_time": request.form.get("end_time", ""), "room": request.form.get("room", ""),
            "candidates": request.form.getlist("candidates")}
    session_db = db.session()
    specification = session_db.get(models.TestSpecification, int(form["specification"])) \
        if form["specification"].isdigit() else None
    window, problems = scheduling.parse_window(form["date"], form["start_time"], form["end_time"], centre.timezone)
    if specification is None:
        problems.append(aa.Problem("specification", "choose the test."))
    candidate_ids = [int(c) for c in form["candidates"] if c.isdigit()]
    error = None
    if not problems:
        user = auth.current_staff()
        try:
            with db.writing(session_db):
                sitting = scheduling.schedule_sitting(
                    session_db, centre=centre, specification=specification, candidate_ids=candidate_ids,
                    window=window, room=form["room"], title=form["title"], actor=auth.staff_actor(user),
                    staff_id=user.id, now=clock.now(session_db))
            return redirect(url_for("centre_admin.sittings", centre_id=centre.id, created=sitting.id), code=303)
        except attempts.NotAccepted as refusal:
            error = str(refusal)
    return render("centre/sittings.html", status=400, centre=centre, form=form,
                  problems=_problems_by_field(problems), error=error, created=None, **_schedule_context(centre))


@bp.post("/<int:centre_id>/sittings/<int:sitting_id>/cancel")
@auth.staff_required(*OFFICER)
def cancel_sitting(centre_id: int, sitting_id: int):
    centre = load_centre(centre_id)
    sitting = _in_centre(models.Sitting, sitting_id, centre)
    reason = " ".join(request.form.get("reason", "").split())
    error = None
    if sitting.state != "open":
        error = f"Sitting {sitting.id} has {'started' if sitting.state == 'started' else 'ended'}: only the invigilator can end it now."
    elif request.form.get("confirm") != "yes" or not reason:
        error = f"To cancel sitting {sitting.id}, give a reason and tick the box to confirm."
    if error is None:
        session_db = db.session()
        with db.writing(session_db):
            sitting = session_db.get(models.Sitting, sitting.id, with_for_update=True, populate_existing=True)
            attempts.end_sitting(session_db, sitting, auth.staff_actor(auth.current_staff()), clock.now(session_db),
                                 reason=f"cancelled: {reason}")
        return redirect(url_for("centre_admin.sittings", centre_id=centre.id), code=303)
    return render("centre/sittings.html", status=400, centre=centre, form={}, problems={}, error=error,
                  created=None, **_schedule_context(centre))


# --- audit -------------------------------------------------------------------------------------------------


@bp.get("/<int:centre_id>/audit")
@auth.staff_required(*OFFICER)
def audit_log(centre_id: int):
    centre = load_centre(centre_id)
    session_db = db.session()
    usernames = [person.username for person in session_db.scalars(staff_centres.members_query(centre.id))]
    events = session_db.scalars(
        select(models.AuditEvent).where(or_(models.AuditEvent.actor.in_([f"staff:{name}" for name in usernames]),
                                            models.AuditEvent.subject == f"centre:{centre.id}"))
        .order_by(models.AuditEvent.id.desc()).limit(300)
    ).all()
    return render("centre/audit.html", centre=centre, events=events,
                  when=lambda moment: local_time(moment, centre.timezone, "%Y-%m-%d %H:%M:%S"))
