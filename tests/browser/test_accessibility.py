"""axe-core scans at WCAG 2.2 AA (wcag2a, wcag2aa, wcag21a, wcag21aa, wcag22aa) of every
candidate, practice, invigilator and staff page, in every colour scheme, at 1280 px and 320 px:
no violations. Candidate pages must also reflow at 320 px (no sideways scrolling).

To scan a new page, add its path to the right list below; ``{sitting_id}``, ``{attempt_id}``,
``{centre_id}``, ``{candidate_id}``, ``{staff_id}``, ``{version_id}``, ``{item_id}`` and
``{specification_id}`` are filled in from the
demo. Pages that need a state (paused, finished) are scanned where the test makes that state.
"""
from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from .browser_support import COLOUR_RULES, SCHEMES, axe_violations, set_scheme, sign_in, staff_page, start_sitting, wait_for_item
from engine import models

WIDTHS = (1280, 320)

#: Pages anyone can open (no sign-in).
PUBLIC_PAGES = ["/", "/start", "/staff/login", "/practice/", "/practice/review", "/no-such-page"]
#: Staff pages, as (who signs in, path). The authoring pages join this list.
STAFF_PAGES = [
    ("invigilator", "/staff/"),
    ("invigilator", "/invigilate/"),
    ("invigilator", "/invigilate/sittings/new"),
    ("invigilator", "/invigilate/sittings/{sitting_id}"),
    ("invigilator", "/invigilate/sittings/{sitting_id}/attempts/{attempt_id}"),
    ("invigilator", "/invigilate/sittings/{sitting_id}/incidents"),
    ("invigilator", "/invigilate/sittings/{sitting_id}/report"),
    ("admin", "/preview/"),
    ("admin", "/preview/versions/{version_id}"),
    ("admin", "/results/sittings/{sitting_id}"),
    ("officer", "/centre/"),
    ("officer", "/centre/{centre_id}/"),
    ("officer", "/centre/{centre_id}/settings"),
    ("officer", "/centre/{centre_id}/candidates"),
    ("officer", "/centre/{centre_id}/candidates/new"),
    ("officer", "/centre/{centre_id}/candidates/{candidate_id}"),
    ("officer", "/centre/{centre_id}/candidates/import"),
    ("officer", "/centre/{centre_id}/staff"),
    ("officer", "/centre/{centre_id}/staff/new"),
    ("officer", "/centre/{centre_id}/staff/{staff_id}"),
    ("officer", "/centre/{centre_id}/sittings"),
    ("officer", "/centre/{centre_id}/audit"),
    ("officer", "/results/"),
    ("officer", "/results/attempts/{attempt_id}"),
    ("writer", "/author/"),
    ("writer", "/author/new"),
    ("writer", "/author/items/{item_id}"),
    ("writer", "/author/items/{item_id}/edit"),
    ("writer", "/author/images"),
    ("writer", "/author/import"),
    ("writer", "/results/statistics"),
    ("writer", "/results/statistics/{specification_id}"),
    ("marker", "/marking/"),
    ("marker", "/marking/sittings/{sitting_id}"),
]
PASSWORDS = {"invigilator": "invigilate-demo", "admin": "admin-demo", "officer": "officer-demo",
             "writer": "write-demo", "marker": "mark-demo"}


#: What makes the page wider than the window, leaving out data tables (WCAG 1.4.10 excepts
#: content that needs two dimensions; a table may scroll on its own).
REFLOW_PROBE = """() => {
    if (document.documentElement.scrollWidth <= window.innerWidth) return [];
    return [...document.body.querySelectorAll('*')]
        .filter(e => !e.closest('table') && e.getBoundingClientRect().right > window.innerWidth + 1)
        .filter(e => ![...e.children].some(c => !c.closest('table') && c.getBoundingClientRect().right > window.innerWidth + 1))
        .slice(0, 3).map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + String(e.className).split(' ').join('.') : ''));
}"""


class Scanner:
    """Scans the page on screen at each width and in each scheme, and keeps every problem."""

    def __init__(self):
        self.problems: list[str] = []
        self.scanned = 0

    def scan(self, page, label: str, *, reflow: bool = False) -> None:
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})  # the layout reflows; no reload needed
            if reflow and width == 320:
                wide = page.evaluate(REFLOW_PROBE)
                if wide:
                    self.problems.append(f"{label} @320px: scrolls sideways (no reflow) because of {wide}")
            for scheme in SCHEMES:
                # Every rule in the standard scheme; a scheme changes only colours, so in the
                # others the colour rules (the whole of what a scheme can break) run again.
                set_scheme(page, scheme)
                for violation in axe_violations(page, None if scheme == "default" else COLOUR_RULES):
                    self.problems.append(f"{label} @{width}px {scheme}: {violation['id']} ({violation['impact']}): "
                                         f"{violation['help']} at {violation['nodes']}")
            self.scanned += 1
        set_scheme(page, "default")
        page.set_viewport_size({"width": 1280, "height": 900})

    def assert_clean(self) -> None:
        assert self.scanned, "nothing was scanned"
        assert not self.problems, f"{len(self.problems)} accessibility problem(s):\n" + "\n".join(self.problems)


def _scan_context(new_context):
    # The app's CSP forbids injected script, as it should: only the scanning browser bypasses it.
    return new_context(bypass_csp=True)


def test_the_scanner_finds_a_planted_violation_in_every_scheme(new_context, live_server):
    """The scan is only worth its green if it can go red: an unlabelled field and grey-on-grey text."""
    page = _scan_context(new_context).new_page()
    page.goto(live_server.at("/practice/"))
    page.evaluate("""() => {
        const main = document.getElementById('main');
        main.insertAdjacentHTML('beforeend', '<input id="planted"><p class="muted" id="faint">faint</p>');
        document.getElementById('faint').setAttribute('class', 'planted-faint');
        document.getElementById('faint').style.color = '#bbbbbb';
    }""")
    for scheme in ("default", "high-contrast"):
        set_scheme(page, scheme)
        found = {v["id"] for v in axe_violations(page)}
        assert "label" in found, (scheme, found)
    set_scheme(page, "default")
    assert "color-contrast" in {v["id"] for v in axe_violations(page)}


@pytest.mark.timeout(900)  # many pages x 2 widths x 6 schemes on a busy 2-core machine
def test_public_and_practice_pages(new_context, live_server):
    scanner = Scanner()
    page = _scan_context(new_context).new_page()
    for path in PUBLIC_PAGES:
        page.goto(live_server.at(path))
        scanner.scan(page, path, reflow=True)
    page.goto(live_server.at("/start"))
    page.fill("#centre_number", "99001")
    page.fill("#candidate_number", "0001")
    page.fill("#keycode", "WRONGCODE")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_selector("#sign-in-error")
    scanner.scan(page, "/start (refused)", reflow=True)
    count = page.goto(live_server.at("/practice/")) and page.locator("text=questions in all").count()
    assert count == 1
    for position in range(1, 10):
        page.goto(live_server.at(f"/practice/item/{position}"))
        scanner.scan(page, f"/practice/item/{position}", reflow=True)
    page.locator("summary", has_text="Display and reading tools").click()
    scanner.scan(page, "display tools open", reflow=True)
    page.goto(live_server.at("/practice/review"))
    page.get_by_role("button", name="Finish and see my marks").click()
    page.wait_for_selector("h1:has-text('Practice finished')")
    scanner.scan(page, "/practice/finish", reflow=True)
    scanner.assert_clean()


@pytest.mark.timeout(900)  # many pages x 2 widths x 6 schemes on a busy 2-core machine
def test_candidate_pages_in_every_state(new_context, live_server):
    scanner = Scanner()
    staff = staff_page(new_context(), live_server)
    page = _scan_context(new_context).new_page()
    page.goto(live_server.at("/start"))
    page.fill("#centre_number", live_server.info["centre"])
    page.fill("#candidate_number", "0002")
    page.fill("#keycode", live_server.info["keycode"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/details$"))
    scanner.scan(page, "/details", reflow=True)
    page.check("#confirm")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url(re.compile(r"/wait$"))
    scanner.scan(page, "/wait", reflow=True)

    start_sitting(staff, live_server)
    wait_for_item(page, 1)
    total = page.locator(".nav-grid li").count()
    scanner.scan(page, "/test/item/1", reflow=True)
    page.context.set_offline(True)
    page.locator("#item-form [name^='r-']").first.focus()
    page.keyboard.press("Space") if page.locator("#item-form [name^='r-']").first.get_attribute("type") in (
        "radio", "checkbox") else page.locator("#item-form [name^='r-']").first.dispatch_event("change")
    page.wait_for_function("() => document.getElementById('unsent-status').textContent.length > 0")
    scanner.scan(page, "/test/item/1 (not saved yet)", reflow=True)
    page.context.set_offline(False)
    page.wait_for_function("() => document.getElementById('unsent-status').textContent === ''", timeout=15_000)
    # One item of each type the form holds (each type's candidate template; the practice test
    # has one of every type), and every item for reflow, the part that depends on the content.
    first_of_type = {}
    for position, type_name in sorted(live_server.item_types("0002").items()):
        first_of_type.setdefault(type_name, position)
    page.set_viewport_size({"width": 320, "height": 900})
    for position in range(2, total + 1):
        page.goto(live_server.at(f"/test/item/{position}"))
        wide = page.evaluate(REFLOW_PROBE)
        if wide:
            scanner.problems.append(f"/test/item/{position} @320px: scrolls sideways (no reflow) because of {wide}")
    page.set_viewport_size({"width": 1280, "height": 900})
    for type_name, position in first_of_type.items():
        if position != 1:
            page.goto(live_server.at(f"/test/item/{position}"))
            scanner.scan(page, f"/test/item/{position} ({type_name})", reflow=True)
    page.goto(live_server.at("/test/item/2"))
    page.get_by_role("button", name="Flag for review").click()
    page.goto(live_server.at("/test/review"))
    scanner.scan(page, "/test/review", reflow=True)

    attempt = live_server.attempt("0002")
    staff.goto(live_server.at(f"/invigilate/sittings/{live_server.info['sitting_id']}/attempts/{attempt.id}"))
    staff.fill("#pause-reason", "Feeling unwell")
    staff.get_by_role("button", name="Pause", exact=True).click()
    staff.wait_for_load_state()
    page.goto(live_server.at("/test/item/1"))
    page.wait_for_url(re.compile(r"/paused$"))
    scanner.scan(page, "/paused", reflow=True)
    staff.get_by_role("button", name="Resume", exact=True).click()
    staff.wait_for_load_state()

    page.goto(live_server.at("/test/review"))
    page.check("#confirm-submit")
    page.get_by_role("button", name="Submit test").click()
    page.wait_for_url(re.compile(r"/test/done$"))
    scanner.scan(page, "/test/done", reflow=True)
    scanner.assert_clean()


def _ids(live_server) -> dict:
    def find(session):
        centre = session.scalar(select(models.Centre).where(models.Centre.number == live_server.info["centre"]))
        return {
            "sitting_id": live_server.info["sitting_id"],
            "centre_id": centre.id,
            "candidate_id": session.scalar(select(models.Candidate.id).where(models.Candidate.centre_id == centre.id)),
            "staff_id": session.scalar(select(models.StaffUser.id).where(models.StaffUser.username == "invigilator")),
            "version_id": session.scalar(select(models.ItemVersion.id).order_by(models.ItemVersion.id)),
            "item_id": session.scalar(select(models.Item.id).order_by(models.Item.id)),
            "specification_id": session.scalar(select(models.TestSpecification.id).order_by(models.TestSpecification.id)),
        }
    return live_server.query(find)


@pytest.mark.timeout(900)  # many pages x 2 widths x 6 schemes on a busy 2-core machine
def test_staff_and_invigilator_pages(new_context, live_server):
    scanner = Scanner()
    candidate = new_context().new_page()
    sign_in(candidate, live_server, "0003")
    ids = {**_ids(live_server), "attempt_id": live_server.attempt("0003").id}
    pages = {}
    for who in sorted({who for who, _path in STAFF_PAGES}):
        context = _scan_context(new_context)
        pages[who] = staff_page(context, live_server, who, PASSWORDS[who])
    start_sitting(pages["invigilator"], live_server)
    for who, path in STAFF_PAGES:
        page = pages[who]
        address = path.format(**ids)
        response = page.goto(live_server.at(address))
        assert response.status == 200, f"{address} as {who}: HTTP {response.status}"
        scanner.scan(page, f"{address} ({who})", reflow=True)
    scanner.assert_clean()
