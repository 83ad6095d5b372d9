"""Practice mode: a sample test of every item type that anyone can try without invigilation.

It runs in the same player as a real test (navigator, flags, review, the save queue with its
receipts, the display tools) but nothing is written to the database: the practice lives in the
signed session, its items come from ``engine/practice_items.yaml`` (never from a live bank), and
at the end each answer is marked by its item type so the candidate sees how marking works.
"""
from __future__ import annotations

import functools
import json
import random
from dataclasses import dataclass
from pathlib import Path

import yaml
from flask import Blueprint, Flask, abort, redirect, request, session, url_for

from engine import clock, db
from engine.plugins import item_types
from engine.web import is_htmx, item_fields, local_time, render

bp = Blueprint("practice", __name__, url_prefix="/practice")

ITEMS_FILE = Path(__file__).parent / "practice_items.yaml"
FIELD_PREFIX = "r-"
_KEY = "practice"
#: The practice is kept in the session cookie, which browsers cap at about 4 kB.
MAX_ANSWER_CHARS = 1500
TIMEZONE = "Europe/London"


@dataclass
class PracticeItem:
    """What the navigator and review need of one item (the shape of ``FormItem``)."""

    position: int
    type_name: str
    definition: dict
    answered: bool = False
    flagged: bool = False


@functools.cache
def _sample_file(path: Path) -> tuple:
    return tuple(yaml.safe_load(path.read_text(encoding="utf-8")))


def samples(app: Flask | None = None) -> list[dict]:
    """The practice items whose type is registered here, sanitised by their type; in file order."""
    registered = item_types(app)
    result = []
    for sample in _sample_file(ITEMS_FILE):
        plugin = registered.get(sample["type"])
        if plugin is not None:
            result.append({"type": sample["type"], "definition": plugin.sanitise_definition(sample["definition"])})
    return result


def missing_types(app: Flask | None = None) -> list[str]:
    """Registered item types with no practice sample (a plugin added without one)."""
    covered = {sample["type"] for sample in _sample_file(ITEMS_FILE)}
    return sorted(set(item_types(app)) - covered)


def _state() -> dict:
    """This browser's practice: start states made once (options shuffled once), answers, flags."""
    state = session.get(_KEY)
    items = samples()
    if not isinstance(state, dict) or state.get("count") != len(items):
        rng = random.Random()
        state = {"count": len(items), "answers": {}, "flags": [],
                 "starts": {str(n): item_types()[s["type"]].start_attempt(s["definition"], rng)
                            for n, s in enumerate(items, start=1)}}
        session[_KEY] = state
    return state


def _items(state: dict) -> list[PracticeItem]:
    answers = state["answers"]
    return [PracticeItem(n, s["type"], s["definition"], answered=answers.get(str(n)) not in (None, "", [], {}),
                         flagged=n in state["flags"]) for n, s in enumerate(samples(), start=1)]


def _item(items: list[PracticeItem], position: int) -> PracticeItem:
    if not 1 <= position <= len(items):
        abort(404)
    return items[position - 1]


@bp.get("/")
def index():
    return render("practice/index.html", items=_items(_state()), missing=missing_types())


@bp.get("/item/<int:position>")
def item(position: int):
    state = _state()
    items = _items(state)
    current = _item(items, position)
    plugin = item_types()[current.type_name]
    saved = state.get("saved_at", {}).get(str(position))
    return render("practice/player.html", items=items, form_item=current, position=position,
                  item_template=f"itemtype-{current.type_name}/candidate.html", prefix=FIELD_PREFIX,
                  ctx=plugin.candidate_context(current.definition, state["starts"][str(position)],
                                               state["answers"].get(str(position))),
                  marks=current.definition.get("marks", 1), saved_at=saved,
                  nav_endpoint="practice.item", flag_endpoint="practice.flag")


@bp.post("/item/<int:position>")
def save(position: int):
    """Keep the answer in the session; htmx gets the same receipt a real test gives."""
    state = _state()
    current = _item(_items(state), position)
    plugin = item_types()[current.type_name]
    response = plugin.parse_response(current.definition, state["starts"][str(position)], item_fields(FIELD_PREFIX))
    if len(json.dumps(response)) > MAX_ANSWER_CHARS:
        message = f"practice answers are kept up to {MAX_ANSWER_CHARS} characters; a real test has no such limit."
        if is_htmx():
            return render("candidate/_save_status.html", status=409, error=message, saved_at=None)
        abort(400, description=f"Not saved: {message}")
    saved_at = local_time(clock.now(db.session()), TIMEZONE)
    state["answers"][str(position)] = response
    state.setdefault("saved_at", {})[str(position)] = saved_at
    session[_KEY] = state
    session.modified = True
    if is_htmx():
        current.answered = response not in (None, "", [], {})
        return render("candidate/_save_status.html", error=None, saved_at=saved_at, oob_item=current,
                      current=position, nav_endpoint="practice.item")
    go = request.form.get("go") or ""
    if go == "review":
        return redirect(url_for("practice.review"), code=303)
    return redirect(url_for("practice.item", position=int(go) if go.isdigit() else position), code=303)


@bp.post("/item/<int:position>/flag")
def flag(position: int):
    state = _state()
    current = _item(_items(state), position)
    flags = [n for n in state["flags"] if n != position]
    if request.form.get("flagged") == "1":
        flags.append(position)
    state["flags"] = sorted(flags)
    session[_KEY] = state
    session.modified = True
    current.flagged = position in flags
    if is_htmx():
        return render("candidate/_flag.html", form_item=current, position=position, oob_item=current,
                      current=position, nav_endpoint="practice.item", flag_endpoint="practice.flag")
    return redirect(url_for("practice.item", position=position), code=303)


@bp.get("/review")
def review():
    items = _items(_state())
    return render("practice/review.html", items=items, unanswered=[i for i in items if not i.answered],
                  flagged=[i for i in items if i.flagged], nav_endpoint="practice.item")


@bp.post("/finish")
def finish():
    """Mark every answer by its type (pure), show the outcome and start a fresh practice next time."""
    state = _state()
    results = []
    for current in _items(state):
        mark = item_types()[current.type_name].mark(current.definition, state["answers"].get(str(current.position)))
        results.append((current, mark))
    session.pop(_KEY, None)
    return render("practice/done.html", results=results)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
