"""The candidate's journey: sign in, confirm details, wait, take the test, submit.

Every page works as a plain form post; htmx makes saving automatic (on change) and keeps the
timer and the waiting screen live by polling. The browser never decides time or marks.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from flask import Blueprint, abort, current_app, g, redirect, request, session, url_for
from sqlalchemy import Text, bindparam, cast, select

from engine import attempts, auth, clock, db, errors, item_versions, lock_web, marking, models, ratelimit, time_outs
from engine.attempt_states import FINISHED, IN_PROGRESS, ON_BREAK, PAUSED, READY, WAITING
from engine.plugins import item_type
from engine.security import secrets_match
from engine.web import client_address, hx_redirect, is_htmx, item_fields, local_time, render

bp = Blueprint("candidate", __name__)

#: Item fields are posted as ``r-<name>``; the item type sees ``<name>``.
FIELD_PREFIX = "r-"
#: How stale "last contact" may get before a timer poll refreshes it.
HEARTBEAT_SECONDS = 30


@bp.get("/")
def index():
    return render("index.html")


@bp.route("/start", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        return render("candidate/sign_in.html", form={}, error=None)
    form = {k: request.form.get(k, "").strip() for k in ("centre_number", "candidate_number", "keycode")}
    session_db = db.session()
    now = clock.now(session_db)
    # The candidate's attempts come with their centre (one statement), so the rate limit's
    # scopes need no query of their own; no keycode is compared before the limit is checked.
    found = auth.find_entry_for_sign_in(form["centre_number"], form["candidate_number"]) if all(form.values()) else []
    scopes = ratelimit.candidate_scopes(session_db, form["centre_number"], form["candidate_number"], client_address(),
                                        centre=found[0].entry.candidate.centre if found else None)
    error = None
    failures = ratelimit.recent_failures(session_db, scopes, now) if all(form.values()) else 0
    if not all(form.values()):
        error = "Enter your centre number, candidate number and the keycode your invigilator gives you."
    elif ratelimit.too_many(failures):
        error = "Too many attempts to sign in. Ask your invigilator for help."
    else:
        keycode = attempts.normalise_keycode(form["keycode"])
        matches = [attempt for attempt in found
                   if secrets_match(keycode, attempt.entry.sitting.keycode) and attempt.entry.sitting.keycode_active]
        # Exam-condition locks (network, device, window, SEB) may refuse this browser: every reason is shown.
        refused = lock_web.sign_in_refusals(matches[0]) if matches else []
        if refused:
            return render("candidate/sign_in.html", status=403, form=form, error=" ".join(refused))
        if matches:
            with db.writing(session_db):
                attempt = lock_web.fresh_attempt(matches[0].id)
                auth.sign_in_candidate(attempt)
                lock_web.signed_in(attempt)
                attempt.last_contact_at = now
                if failures:  # nearly always none: no statement in the write lock for nothing
                    ratelimit.clear(session_db, [s for s in scopes if s.startswith("candidate:")])
            return redirect(url_for("candidate.details"), code=303)
        error = "Those details do not match a test that is open now. Check them with your invigilator."
        with db.writing(session_db):
            ratelimit.record_failure(session_db, scopes, now)
    return render("candidate/sign_in.html", status=400, form=form, error=error)


def load_attempt(*, for_update: bool = False) -> models.Attempt:
    """The signed-in candidate's attempt, or a redirect to sign in."""
    claim = auth.current_attempt_id()
    if claim is None:
        abort(hx_redirect(url_for("candidate.sign_in")))
    attempt_id, generation = claim
    if for_update:
        attempt = lock_web.fresh_attempt(attempt_id)
    else:
        # A plain get finds the attempt the lock guard loaded, without a statement.
        attempt = db.session().get(models.Attempt, attempt_id)
    if attempt is None or attempt.session_generation != generation:
        # Signed in again elsewhere (a device move): this browser is cut off.
        session.pop("candidate", None)
        abort(hx_redirect(url_for("candidate.sign_in", moved=1)))
    return attempt


@bp.before_request
def _candidate_context():
    g.is_candidate_page = True
    # Every candidate request passes the exam-condition locks (engine/lock_web.py) first.
    return lock_web.guard()


def _sweep_if_expired(attempt: models.Attempt) -> models.Attempt:
    """Finish a timed-out attempt on the candidate's own poll (lazy finishing).

    Only once the grace for saves in flight has passed (until then there is nothing to do, and
    at a deadline every poll in the room would take the write lock for nothing). At a deadline a
    whole room's time runs out at once: the first poll finishes every timed-out attempt of the
    room together, their marks worked out before the write lock (engine/time_outs.py)."""
    session_db = db.session()
    now = clock.now(session_db)
    grace = current_app.config["SAVE_GRACE_SECONDS"]
    if attempts.is_expired(attempt, now, grace):
        time_outs.finish_room(session_db, attempt, now, grace)
        attempt = load_attempt()  # as it is now: the session's copy was read again
    return attempt


def _route_for_state(attempt: models.Attempt) -> str | None:
    """Where a candidate in this state belongs (None: stay on the test pages)."""
    if attempt.state == READY:
        return url_for("candidate.details")
    if attempt.state == WAITING:
        return url_for("candidate.waiting")
    if attempt.state in (PAUSED, ON_BREAK):
        return url_for("candidate.paused")
    if attempt.state == FINISHED:
        return url_for("candidate.done")
    return None


@bp.route("/details", methods=["GET", "POST"])
def details():
    attempt = load_attempt()
    if attempt.state != READY and request.method == "GET":
        return redirect(_route_for_state(attempt) or url_for("candidate.test"))
    if request.method == "POST":
        if request.form.get("confirm") != "yes":
            return render("candidate/details.html", status=400, attempt=attempt,
                          error="Tick the box to confirm these are your details, or ask your invigilator.")
        session_db = db.session()
        with db.writing(session_db):
            attempt = load_attempt(for_update=True)
            attempts.confirm_details(session_db, attempt, clock.now(session_db))
        return redirect(_route_for_state(attempt) or url_for("candidate.test"), code=303)
    return render("candidate/details.html", attempt=attempt, error=None)


@bp.get("/wait")
def waiting():
    attempt = load_attempt()
    candidate_tools.heartbeat(attempt)
    if attempt.state != WAITING:
        # Straight to the first open item, not through /test: when a room starts, every waiting
        # screen in it moves on within one poll, and one request fewer each is a third less load
        # in that herd (docs/performance.md).
        target = _route_for_state(attempt) or _first_open_item_url(attempt)
        return hx_redirect(target) if is_htmx() else redirect(target)
    if is_htmx():
        # Nothing has changed: the status on screen stays (and is not announced again). Most of
        # these polls are answered the same way before Flask (engine/quiet_polls.py).
        return "", 204
    return render("candidate/waiting.html", attempt=attempt)


@bp.get("/paused")
def paused():
    """The screen while paused or on a break: no item content. Its poll answers 204 while
    nothing changes (so nothing is re-announced) and moves the browser on when it does."""
    attempt = _sweep_if_expired(load_attempt())
    candidate_tools.heartbeat(attempt)
    if attempt.state not in (PAUSED, ON_BREAK):
        target = _route_for_state(attempt) or url_for("candidate.test")
        return hx_redirect(target) if is_htmx() else redirect(target)
    mode = candidate_tools.paused_mode(attempt)
    if is_htmx():
        return ("", 204) if request.args.get("shown") == mode else hx_redirect(url_for("candidate.paused"))
    return render("candidate/paused.html", attempt=attempt, mode=mode,
                  remaining=attempts.ledger(db.session(), attempt, clock.now(db.session())).remaining_seconds)


def _in_test_or_redirect():
    attempt = _sweep_if_expired(load_attempt())
    target = _route_for_state(attempt)
    if target is not None:
        abort(hx_redirect(target))
    return attempt


@dataclass(frozen=True)
class FormCell:
    """A form item as the candidate's pages read it: the navigator needs its position and
    states; the one item shown decodes its start state and answer (``start_state``,
    ``current_response``). Rows, not thirty ORM objects each decoding two JSON columns: those were
    nearly a third of the item page's CPU under load (docs/performance.md)."""

    position: int
    flagged: bool
    item_version_id: int
    current_seq: int
    start_state_json: str
    response_json: str | None

    @property
    def answered(self) -> bool:
        # ``FormItem.answered``'s rule; only a short text can be an empty answer ("", [], {}).
        text = self.response_json
        return text is not None and (len(text) > 8 or json.loads(text) not in (None, "", [], {}))

    @property
    def start_state(self):
        return json.loads(self.start_state_json)

    @property
    def current_response(self):
        return None if self.response_json is None else json.loads(self.response_json)


_fi = models.FormItem.__table__
#: Built once (its cache key is remembered). The JSON columns as text, decoded only when read.
_FORM_CELLS = (select(_fi.c.position, _fi.c.flagged, _fi.c.item_version_id, _fi.c.current_seq,
                      cast(_fi.c.start_state, Text), cast(_fi.c.current_response, Text))
               .where(_fi.c.attempt_id == bindparam("attempt_id")).order_by(_fi.c.position))


#: The hot paths' other statements, built once too: building a statement and its cache key anew
#: was about 0.24 ms a save (docs/performance.md, session 8).
_SAVED_AT = select(models.ResponseEvent.recorded_at).where(
    models.ResponseEvent.attempt_id == bindparam("attempt_id"), models.ResponseEvent.seq == bindparam("seq"))
_FORM_ITEM_AT = select(models.FormItem).where(
    models.FormItem.attempt_id == bindparam("attempt_id"), models.FormItem.position == bindparam("position"))


def _form_items(attempt: models.Attempt) -> list[FormCell]:
    return [FormCell(*row) for row in db.session().execute(_FORM_CELLS, {"attempt_id": attempt.id})]


@bp.get("/test")
def test():
    return redirect(_first_open_item_url(_in_test_or_redirect()))


def _first_open_item_url(attempt: models.Attempt) -> str:
    first_open = next((fi.position for fi in _form_items(attempt) if not fi.answered), 1)
    return url_for("candidate.item", position=first_open)


def _player_context(attempt: models.Attempt, items: list[FormCell], position: int) -> dict:
    form_item = next((fi for fi in items if fi.position == position), None)
    if form_item is None:
        abort(404)
    # A version never changes, so the app's cache answers without a statement (as for a save).
    version = item_versions.get(db.session(), form_item.item_version_id)
    plugin = item_type(version.type_name)
    centre = attempt.entry.candidate.centre
    return {
        "attempt": attempt,
        "items": items,
        "form_item": form_item,
        "position": position,
        "item_template": f"itemtype-{version.type_name}/candidate.html",
        "ctx": plugin.candidate_context(version.definition, form_item.start_state, form_item.current_response),
        "prefix": FIELD_PREFIX,
        "marks": version.marks,
        "saved_at": None,
        # The rule the timer poll uses: from the deadline cache while running, so the page
        # and the poll agree and the page reads no time events.
        "remaining": candidate_tools.remaining_now(attempt),
        "timezone": centre.timezone,
        "idempotency_key": uuid.uuid4().hex,
    }


@bp.get("/test/item/<int:position>")
def item(position: int):
    attempt = _in_test_or_redirect()
    session_db = db.session()
    context = _player_context(attempt, _form_items(attempt), position)
    # current_seq is the item's latest save, kept with it in the same transaction
    # (engine/attempts.py); 0 means never saved, so there is nothing to ask.
    seq = context["form_item"].current_seq
    last = session_db.scalar(_SAVED_AT, {"attempt_id": attempt.id, "seq": seq}) if seq else None
    context["saved_at"] = local_time(last, context["timezone"]) if last else None
    return render("candidate/player.html", **context)


@bp.post("/test/item/<int:position>")
def save(position: int):
    """Save the item's answer. htmx: a receipt and the navigator cell; plain: go on."""
    attempt = load_attempt()
    session_db = db.session()
    form_item = session_db.scalar(_FORM_ITEM_AT, {"attempt_id": attempt.id, "position": position})
    if form_item is None:
        abort(404)
    version = item_versions.get(session_db, form_item.item_version_id)
    response = item_type(version.type_name).parse_response(
        version.definition, form_item.start_state, item_fields(FIELD_PREFIX))
    key = (request.form.get("idem") or "").strip()[:64] or uuid.uuid4().hex
    grace = current_app.config["SAVE_GRACE_SECONDS"]
    timezone = attempt.entry.candidate.centre.timezone  # loaded by the lock guard, read before the write
    generation = attempt.session_generation
    expired = False
    try:
        with db.writing(session_db):
            now = clock.now(session_db)
            receipt = attempts.record_save(session_db, attempt.id, generation, form_item, response, key, now, grace)
            if receipt is None:
                # Not the usual save (a retry, time up, paused, another workstation): the full path.
                attempt = load_attempt(for_update=True)
                # The time-out finish must commit although this save is refused, so it is not
                # raised inside the transaction (that would roll the finish back).
                expired = attempts.finish_if_expired(session_db, attempt, now, grace)
                if not expired:
                    receipt = attempts.save_response(session_db, attempt, position, response, key, now, grace)
        if expired:
            raise attempts.NotAccepted("Time is up: answers can no longer be changed.")
    except attempts.NotAccepted as refusal:
        if is_htmx() and attempt.state in (PAUSED, ON_BREAK):
            return hx_redirect(url_for("candidate.paused"))  # the screen must hide the item now
        if is_htmx():
            return render("candidate/_save_status.html", status=409, error=str(refusal), saved_at=None)
        target = _route_for_state(attempt) or url_for("candidate.item", position=position)
        return redirect(target, code=303)
    if is_htmx():
        return render("candidate/_save_status.html", error=None, saved_at=local_time(receipt.recorded_at, timezone),
                      oob_item=form_item, current=position, receipt=receipt)
    return redirect(_next_url(request.form.get("go"), position), code=303)


def _next_url(go: str | None, position: int) -> str:
    if go == "review":
        return url_for("candidate.review")
    if go and go.isdigit():
        return url_for("candidate.item", position=int(go))
    return url_for("candidate.item", position=position)


@bp.post("/test/item/<int:position>/flag")
def flag(position: int):
    session_db = db.session()
    with db.writing(session_db):
        attempt = load_attempt(for_update=True)
        if attempt.state != IN_PROGRESS:
            abort(hx_redirect(_route_for_state(attempt) or url_for("candidate.test")))
        flagged = request.form.get("flagged") == "1"
        try:
            attempts.set_flag(attempt, position, flagged)
        except attempts.NotAccepted:
            abort(404)
        form_item = next(fi for fi in attempt.form_items if fi.position == position)
    if is_htmx():
        return render("candidate/_flag.html", form_item=form_item, position=position, oob_item=form_item, current=position)
    return redirect(url_for("candidate.item", position=position), code=303)


@bp.get("/test/time")
def time_left():
    """The timer, polled: it shows the server's time and sends the browser on when it changes state."""
    attempt = _sweep_if_expired(load_attempt())
    if attempt.state != IN_PROGRESS:
        return hx_redirect(_route_for_state(attempt) or url_for("candidate.test"))
    candidate_tools.heartbeat(attempt)
    return candidate_tools.timer_poll(attempt)


@bp.get("/test/review")
def review():
    attempt = _in_test_or_redirect()
    items = _form_items(attempt)
    now = clock.now(db.session())
    return render("candidate/review.html", attempt=attempt, items=items,
                  remaining=attempts.ledger(db.session(), attempt, now).remaining_seconds,
                  unanswered=[fi for fi in items if not fi.answered],
                  flagged=[fi for fi in items if fi.flagged], error=None)


@bp.post("/test/submit")
def submit():
    session_db = db.session()
    if request.form.get("confirm") != "yes":
        attempt = _in_test_or_redirect()
        items = _form_items(attempt)
        return render("candidate/review.html", status=400, attempt=attempt, items=items,
                      remaining=attempts.ledger(session_db, attempt, clock.now(session_db)).remaining_seconds,
                      unanswered=[fi for fi in items if not fi.answered], flagged=[fi for fi in items if fi.flagged],
                      error="Tick the box to confirm you want to submit. You cannot change answers afterwards.")
    # Marked before the write lock, as a time-out is: inside it the marks are used only if no save
    # has landed in between (the attempt's save counter), else it marks afresh (engine/marking.py).
    attempt = load_attempt()
    prepared = marking.prepare(session_db, attempt) if attempt.state == IN_PROGRESS else None
    with db.writing(session_db):
        attempt = load_attempt(for_update=True)
        now = clock.now(session_db)
        attempts.finish_if_expired(session_db, attempt, now, current_app.config["SAVE_GRACE_SECONDS"], prepared)
        if attempt.state == IN_PROGRESS:
            attempts.submit(session_db, attempt, now, prepared)
    return redirect(_route_for_state(attempt) or url_for("candidate.test"), code=303)


@bp.get("/test/done")
def done():
    attempt = load_attempt()
    try:
        # A timer whose time and grace are over is sent here to be finished (engine/quiet_polls.py).
        attempt = _sweep_if_expired(attempt)
    except Exception as error:
        if not errors.database_unavailable(error):
            raise
        # The finish could not be written just now (the database restarting, or busy past its
        # wait): "time is up" and its poll, which tries again, not an error page with a Back button.
        db.session().rollback()
        return render("candidate/time_up.html", status=503, attempt=attempt)
    if attempt.state != FINISHED:
        if attempt.state == IN_PROGRESS:
            # Time is up but the grace for saves in flight has not passed: wait, then finish.
            now = clock.now(db.session())
            if attempts.ledger(db.session(), attempt, now).remaining_seconds > 0:
                return redirect(url_for("candidate.test"))
            return render("candidate/time_up.html", attempt=attempt)
        return redirect(_route_for_state(attempt) or url_for("candidate.test"))
    items = _form_items(attempt)
    from engine.results import candidate_slip  # the result slip, only once released (issue 8)
    return render("candidate/done.html", attempt=attempt, answered=sum(1 for fi in items if fi.answered), total=len(items),
                  slip=candidate_slip(db.session(), attempt))


@bp.post("/signout")
def sign_out():
    session.pop("candidate", None)
    return redirect(url_for("candidate.sign_in"), code=303)


# The rest-break request, the hide-timer preference and the timer poll's warnings.
from engine import candidate_tools  # noqa: E402  (registers its routes on ``bp``)
