"""What a candidate's browser sends, as plain functions over a Locust client: the pages of the
real journey, the item form's fields filled in the way a person would, and the checks that
decide whether a request counts as a failure.

Kept apart from the locustfile so the same steps drive the exam-day and the common scenario,
and so the ceiling app only has to look the same to these functions.
"""
from __future__ import annotations

import html as html_text
import random
import re
import uuid
from urllib.parse import urlencode

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
FORM = re.compile(r'id="item-form"(.*?)</form>', re.S)
INPUT = re.compile(r"<input\b([^>]*)>")
SELECT = re.compile(r'<select\b[^>]*name="(r-[^"]+)"[^>]*>(.*?)</select>', re.S)
TEXTAREA = re.compile(r'<textarea\b[^>]*name="(r-[^"]+)"')
ATTR = re.compile(r'([\w-]+)="([^"]*)"')
OPTION_VALUE = re.compile(r'<option\b[^>]*value="([^"]+)"')
QUESTION_OF = re.compile(r"Question \d+ of (\d+)")
TIMER_POLL = re.compile(r'<div id="timer"[^>]*?\bhx-get="([^"]+)"')
HTMX = {"HX-Request": "true"}
FORM_TYPE = {"Content-Type": "application/x-www-form-urlencoded"}
WORDS = "the of and to in is that data record customer secure system check process answer".split()


class JourneyError(RuntimeError):
    """The server answered in a way a browser could not go on from."""


def csrf_from(html: str) -> str:
    found = CSRF.search(html or "")
    if not found:
        raise JourneyError("no CSRF token on the page")
    return found.group(1)


def answer_fields(html: str, rng: random.Random) -> list[tuple[str, str]]:
    """A plausible answer for whatever item type the page shows, read from its form fields."""
    form = FORM.search(html or "")
    if not form:
        raise JourneyError("no item form on the page")
    body = form.group(1)
    radios: dict[str, list[str]] = {}
    checks: dict[str, list[str]] = {}
    fields: list[tuple[str, str]] = []
    for raw in INPUT.findall(body):
        attrs = dict(ATTR.findall(raw))
        name, kind = attrs.get("name", ""), attrs.get("type", "text")
        if not name.startswith("r-"):
            continue
        if kind == "radio":
            radios.setdefault(name, []).append(attrs.get("value", ""))
        elif kind == "checkbox":
            checks.setdefault(name, []).append(attrs.get("value", ""))
        elif kind == "hidden":
            fields.append((name, attrs.get("value", "")))
        elif attrs.get("inputmode") in ("numeric", "decimal") or kind == "number":
            fields.append((name, str(rng.randint(0, 500))))
        else:
            fields.append((name, rng.choice(WORDS)))
    for name, values in radios.items():
        fields.append((name, rng.choice(values)))
    for name, values in checks.items():
        fields.extend((name, value) for value in rng.sample(values, rng.randint(1, len(values))))
    for name, options in SELECT.findall(body):
        values = OPTION_VALUE.findall(options)
        if values:
            fields.append((name, rng.choice(values)))
    for name in TEXTAREA.findall(body):
        fields.append((name, " ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 40)))))
    return fields


def form_length(html: str) -> int | None:
    """How many items this candidate's form has (forms differ in length)."""
    found = QUESTION_OF.search(html or "")
    return int(found.group(1)) if found else None


def timer_poll_path(html: str) -> str | None:
    """Where the page's timer polls, with what it was drawn with (``shown``), as the browser
    sends it; None when the page has no timer."""
    found = TIMER_POLL.search(html or "")
    return html_text.unescape(found.group(1)) if found else None


def encode(fields: list[tuple[str, str]] | dict) -> str:
    return urlencode(fields, doseq=True)


def new_key() -> str:
    return uuid.uuid4().hex


def location(response) -> str:
    return (response.headers or {}).get("Location") or (response.headers or {}).get("HX-Redirect") or ""


def path_of(url: str) -> str:
    """The path of a Location header, whether the server sent it absolute or relative."""
    if "://" in url:
        url = "/" + url.split("://", 1)[1].split("/", 1)[1] if "/" in url.split("://", 1)[1] else "/"
    return url


def saved(response) -> bool:
    """A save counts only when the server says so (the receipt is rendered after the commit)."""
    text = response.text or ""
    return response.status_code == 200 and "Saved " in text and "Not saved" not in text
