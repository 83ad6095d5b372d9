"""Helpers for the browser tests: the live server, staff and candidate actions, axe-core."""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Flask
from sqlalchemy import select

from engine import db, models

SETTINGS = {"TESTING": True, "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000", "SECRET_KEY": "browser-test-secret"}
#: axe-core 4.11.0 from the npm package ``axe-core`` (MPL-2.0; see vendor/README.md).
AXE = Path(__file__).parent / "vendor" / "axe-4.11.0.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
SCHEMES = ("default", "cream", "blue", "yellow", "pink", "high-contrast")


@dataclass
class LiveServer:
    url: str
    app: Flask
    info: dict

    def at(self, path: str) -> str:
        return self.url + path

    def query(self, fn):
        """Run ``fn(session)`` against the server's database and return its result."""
        session = db.new_session(self.app)
        try:
            with self.app.app_context():
                return fn(session)
        finally:
            session.close()

    def attempt(self, number: str) -> models.Attempt:
        def find(session):
            return session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                  .where(models.Candidate.candidate_number == number,
                                         models.Entry.sitting_id == self.info["sitting_id"]))
        return self.query(find)

    def item_types(self, number: str) -> dict[int, str]:
        """Position -> item type of the candidate's form."""
        attempt_id = self.attempt(number).id
        return dict(self.query(lambda s: s.execute(select(models.FormItem.position, models.ItemVersion.type_name)
                                                   .join(models.ItemVersion, models.FormItem.item_version_id == models.ItemVersion.id).where(models.FormItem.attempt_id == attempt_id)).all()))

    def form_items(self, number: str) -> list[models.FormItem]:
        attempt_id = self.attempt(number).id
        return self.query(lambda s: s.scalars(select(models.FormItem).where(models.FormItem.attempt_id == attempt_id)
                                               .order_by(models.FormItem.position)).all())

    def response_events(self, number: str, position: int) -> list[models.ResponseEvent]:
        attempt_id = self.attempt(number).id
        return self.query(lambda s: s.scalars(select(models.ResponseEvent).where(
            models.ResponseEvent.attempt_id == attempt_id, models.ResponseEvent.position == position)
            .order_by(models.ResponseEvent.seq)).all())

    def set_arrangements(self, number: str, arrangements: dict) -> None:
        def change(session):
            with db.writing(session):
                candidate = session.scalar(select(models.Candidate).where(models.Candidate.candidate_number == number))
                candidate.access_arrangements = arrangements
        self.query(change)


def receipt_time(moment: dt.datetime) -> str:
    """A server time as the receipt shows it (the demo centre is in Europe/London)."""
    return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Europe/London")).strftime("%H:%M:%S")


# --- staff ----------------------------------------------------------------------------------------

def staff_page(context, server: LiveServer, username="invigilator", password="invigilate-demo"):
    page = context.new_page()
    page.goto(server.at("/staff/login"))
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/?$"))
    return page


def start_sitting(staff, server: LiveServer) -> None:
    staff.goto(server.at(f"/invigilate/sittings/{server.info['sitting_id']}"))
    staff.get_by_role("button", name="Start the sitting").click()
    staff.wait_for_load_state()


# --- candidates -----------------------------------------------------------------------------------

def sign_in(page, server: LiveServer, number: str) -> None:
    """Sign in and confirm the details (mouse and typing; the keyboard test does it by keys)."""
    page.goto(server.at("/start"))
    page.fill("#centre_number", server.info["centre"])
    page.fill("#candidate_number", number)
    page.fill("#keycode", server.info["keycode"])
    page.get_by_role("button", name="Sign in").click()
    page.check("#confirm")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/wait$"))


def wait_for_item(page, position: int | None = None) -> None:
    pattern = rf"/test/item/{position}$" if position else r"/test/item/\d+$"
    page.wait_for_url(re.compile(pattern), timeout=15_000)


def answer_item(page, variant: int = 0) -> str:
    """Answer whatever item is on screen through its first field; ``variant`` picks a different
    answer. Returns a short description of what was entered."""
    field = page.locator("#item-form [name^='r-']").first
    kind = field.evaluate("e => e.tagName === 'INPUT' ? e.type : e.tagName.toLowerCase()")
    name = field.get_attribute("name")
    if kind in ("radio", "checkbox"):
        options = page.locator(f"#item-form [name='{name}']")
        target = options.nth(variant % options.count())
        if kind == "checkbox" and variant:
            page.locator(f"#item-form [name='{name}']").nth(0).uncheck()
        target.check()
        return f"{name}={target.get_attribute('value')}"
    if kind == "select":
        values = [v for v in field.evaluate("e => Array.from(e.options).map(o => o.value)") if v]
        value = values[variant % len(values)]
        field.select_option(value)
        return f"{name}={value}"
    text = str(3 + variant) if kind == "number" else f"answer {variant}"
    field.fill(text)
    field.dispatch_event("change")
    return f"{name}={text}"


def save_status(page) -> str:
    return page.locator("#save-status").inner_text().strip()


# --- axe-core -------------------------------------------------------------------------------------

#: The rules of those tags that depend on colour: all a colour scheme can change.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]


def axe_violations(page, rules: list[str] | None = None) -> list[dict]:
    """Run axe-core on the page at WCAG 2.2 AA (or only ``rules``); the script is injected
    (contexts that scan set ``bypass_csp=True``: the app's CSP rightly forbids injected script)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    run_only = {"type": "rule", "values": rules} if rules else {"type": "tag", "values": AXE_TAGS}
    result = page.evaluate("only => axe.run(document, {runOnly: only, resultTypes: ['violations']})", run_only)
    return [{"id": v["id"], "impact": v["impact"], "help": v["help"],
             "nodes": [n["target"] for n in v["nodes"]][:5]} for v in result["violations"]]


def set_scheme(page, scheme: str) -> None:
    """Apply a colour scheme the way onscreen.js does (the class the server renders)."""
    page.evaluate("""scheme => {
        const root = document.documentElement;
        [...root.classList].filter(c => c.startsWith('scheme-')).forEach(c => root.classList.remove(c));
        root.classList.add('scheme-' + scheme);
    }""", scheme)
