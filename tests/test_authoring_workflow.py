"""The review workflow: draft -> in review -> approved (live) -> retired, with every forbidden
transition refused, a writer never approving their own version, and live content never changed
under candidates."""
from __future__ import annotations

import itertools

import pytest
from sqlalchemy import select

from engine import db, models
from engine import authoring_workflow as workflow
from engine.attempts import live_pool
from engine.models_authoring import ItemVersionReview

from authoring_support import add_staff, create_item, item_id, staff

USERS = {
    "writer": "item_writer",
    "reviewer": "reviewer",
    "writer_and_reviewer": "item_writer,reviewer",
    "invigilator": "invigilator",
    "exams_officer": "exams_officer",
    "admin": "admin",
}
ITEM_STATUSES = ("draft", "in_review", "live", "retired")


def expected_allowed(action: str, roles: set[str], state: str, item_status: str, wrote_it: bool) -> bool:
    """The rules of issue 10, written out here independently of the engine's table."""
    writer = "item_writer" in roles or "admin" in roles
    reviewer = "reviewer" in roles or "admin" in roles
    if action == "submit":
        return writer and state in ("draft", "returned")
    if action == "withdraw":
        return writer and state == "in_review"
    if action == "approve":
        return reviewer and state == "in_review" and not wrote_it
    if action == "return":
        return reviewer and state == "in_review"
    if action == "retire":
        return reviewer and item_status == "live"
    return False


@pytest.mark.parametrize("action", [*workflow.TRANSITIONS, "publish", "delete"])
def test_every_forbidden_transition_is_refused(action):
    checked = refused = 0
    for (name, roles), state, item_status, wrote_it in itertools.product(
            USERS.items(), workflow.VERSION_STATES, ITEM_STATUSES, (False, True)):
        user = models.StaffUser(username=name, display_name=name, roles=roles, password_hash="x")
        author = f"staff:{name}" if wrote_it else "staff:someone-else"
        review = ItemVersionReview(version_id=1, state=state, written_by=author, updated_at=None)
        reason = workflow.refusal(action, models.Item(key="k", status=item_status), state, review, user)
        allowed = expected_allowed(action, set(roles.split(",")), state, item_status, wrote_it)
        assert (reason is None) == allowed, (action, name, state, item_status, wrote_it, reason)
        checked += 1
        refused += reason is not None
    assert checked == len(USERS) * len(workflow.VERSION_STATES) * len(ITEM_STATUSES) * 2
    assert refused > 0


def test_a_writer_who_submitted_cannot_approve_even_as_reviewer():
    user = models.StaffUser(username="both", display_name="both", roles="item_writer,reviewer", password_hash="x")
    review = ItemVersionReview(version_id=1, state="in_review", written_by="staff:other", submitted_by="staff:both",
                               updated_at=None)
    assert "another reviewer" in workflow.refusal("approve", models.Item(status="in_review"), "in_review", review, user)


def _state(app, key):
    with app.app_context():
        session = db.new_session(app)
        item = session.scalar(select(models.Item).where(models.Item.key == key))
        latest = item.versions[-1]
        state = workflow.version_state(item, latest, session.get(ItemVersionReview, latest.id))
        result = item.status, latest.version, state
        session.close()
    return result


def test_forbidden_transitions_are_refused_over_http_and_change_nothing(app, demo):
    add_staff(app, "both", "item_writer,reviewer")
    writer, reviewer, both = staff(app, "writer", "write-demo"), staff(app, "reviewer", "review-demo"), staff(app, "both")
    invigilator = staff(app, "invigilator", "invigilate-demo")
    assert create_item(both, app, "single_choice", "u2-wf-01").status_code == 303
    item = item_id(app, "u2-wf-01")
    url = f"/author/items/{item}/workflow"
    assert _state(app, "u2-wf-01") == ("draft", 1, "draft")
    # A draft cannot be approved, returned or retired, by anyone.
    for who, action in [(reviewer, "approve"), (reviewer, "return"), (reviewer, "retire"), (writer, "withdraw")]:
        response = who.post(url, action=action, comment="why")
        assert response.status_code == 403, action
        assert "Not done" in response.get_data(as_text=True)
    assert invigilator.post(url, action="submit").status_code == 403
    assert reviewer.post(url, action="submit").status_code == 403  # a reviewer does not submit
    assert both.post(url, action="submit").status_code == 303
    assert _state(app, "u2-wf-01") == ("in_review", 1, "in_review")
    # In review: no second submit, no editing, and the writer who submitted it cannot approve it.
    assert writer.post(url, action="submit").status_code == 403
    assert writer.post(url, action="approve").status_code == 403
    refused = both.post(url, action="approve")
    assert refused.status_code == 403 and "another reviewer must approve" in refused.get_data(as_text=True)
    page = both.client.get(f"/author/items/{item}/edit").get_data(as_text=True)
    edit = both.client.post(f"/author/items/{item}/edit", data={**_form_fields(page), "csrf_token": both.csrf,
                                                                  "action": "save"})
    assert edit.status_code == 409 and "withdraw it" in edit.get_data(as_text=True)  # no edits under review
    assert create_item(both, app, "single_choice", "u2-wf-01").status_code == 422  # the id is taken
    assert reviewer.post(url, action="return").status_code == 403  # a return needs a comment
    assert _state(app, "u2-wf-01") == ("in_review", 1, "in_review")
    assert reviewer.post(url, action="approve").status_code == 303
    assert _state(app, "u2-wf-01") == ("live", 1, "approved")
    assert reviewer.post(url, action="approve").status_code == 403  # already approved
    assert writer.post(url, action="retire", comment="old").status_code == 403  # writers do not retire
    assert reviewer.post(url, action="retire", comment="superseded by 1.1-02").status_code == 303
    assert _state(app, "u2-wf-01") == ("retired", 1, "approved")
    assert reviewer.post(url, action="retire", comment="again").status_code == 403


def test_editing_a_live_item_makes_a_new_version_and_candidates_keep_the_approved_one(app, demo):
    writer, reviewer = staff(app, "writer", "write-demo"), staff(app, "reviewer", "review-demo")
    with app.app_context():
        session = db.new_session(app)
        form_item = session.scalars(select(models.FormItem)).first()
        used = session.get(models.ItemVersion, form_item.item_version_id)
        target, used_id, used_hash, used_defn = used.item, used.id, used.content_hash, dict(used.definition)
        key, target_id, spec = target.key, target.id, session.scalars(select(models.TestSpecification)).first()
        spec_id = spec.id
        session.close()
    page = writer.client.get(f"/author/items/{target_id}/edit").get_data(as_text=True)
    assert "Edit " + key in page
    from html import unescape
    import re
    stem = unescape(re.search(r'<textarea id="[^"]*" name="a-stem"[^>]*>\n(.*?)</textarea>', page, re.S).group(1))
    data = _form_fields(page)
    data.update({"csrf_token": writer.csrf, "action": "save", "a-stem": stem + "<p>Edited.</p>"})
    assert writer.client.post(f"/author/items/{target_id}/edit", data=data).status_code == 303
    status, version, state = _state(app, key)
    assert (status, state) == ("live", "draft") and version == 2

    def pool_version():
        with app.app_context():
            session = db.new_session(app)
            pool = live_pool(session, session.get(models.TestSpecification, spec_id))
            session.close()
        return {p.key: p.version_id for p in pool}[key]

    assert pool_version() == used_id  # the draft is not in front of candidates
    url = f"/author/items/{target_id}/workflow"
    assert writer.post(url, action="submit").status_code == 303
    assert pool_version() == used_id
    assert reviewer.post(url, action="approve").status_code == 303
    assert pool_version() != used_id  # new sittings get the approved edit
    with app.app_context():
        session = db.new_session(app)
        kept = session.get(models.ItemVersion, used_id)
        assert (kept.content_hash, kept.definition) == (used_hash, used_defn)
        assert session.get(models.FormItem, form_item.id).item_version_id == used_id
        session.close()
    diff = writer.client.get(f"/author/items/{target_id}/diff").get_data(as_text=True)
    assert "<code>stem</code>" in diff and "Edited." in diff


def test_comments_and_history_are_kept(app, demo):
    writer, reviewer = staff(app, "writer", "write-demo"), staff(app, "reviewer", "review-demo")
    create_item(writer, app, "numeric", "u2-wf-02")
    item = item_id(app, "u2-wf-02")
    writer.post(f"/author/items/{item}/workflow", action="submit")
    assert reviewer.post(f"/author/items/{item}/comments", comment="").status_code == 422
    assert reviewer.post(f"/author/items/{item}/comments", comment="Is 12 right?").status_code == 303
    assert reviewer.post(f"/author/items/{item}/workflow", action="return", comment="Check the key").status_code == 303
    assert _state(app, "u2-wf-02")[2] == "returned"
    page = writer.client.get(f"/author/items/{item}").get_data(as_text=True)
    for text in ("staff:writer", "edit", "submit", "Is 12 right?", "return", "Check the key"):
        assert text in page
    assert 'value="submit"' in page  # the writer can send it back once fixed


def _form_fields(html: str) -> dict:
    """The fields a browser would post from the page's first POST form (text, selects, ticks)."""
    import re
    from html import unescape
    form = re.search(r'<form method="post" class="stack".*?</form>', html, re.S).group(0)
    data: dict[str, list[str]] = {}
    for tag in re.findall(r"<input\b[^>]*>", form):
        name = re.search(r'name="([^"]+)"', tag)
        kind = (re.search(r'type="([^"]+)"', tag) or [None, "text"])[1]
        value = re.search(r'value="([^"]*)"', tag)
        if not name or (kind in ("checkbox", "radio") and " checked" not in tag):
            continue
        data.setdefault(name[1], []).append(unescape(value[1]) if value else "")
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body)
        data.setdefault(name, []).append(unescape(chosen[1]) if chosen else "")
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>\n?(.*?)</textarea>', form, re.S):
        data.setdefault(name, []).append(unescape(body))
    return data


def test_a_version_that_did_not_come_through_review_or_the_files_is_never_live(app, demo):
    """An imported new version of a live item (engine/interchange adds one without a review row)
    waits for a reviewer; candidates keep the approved one."""
    reviewer = staff(app, "reviewer", "review-demo")
    with app.app_context():
        session = db.new_session(app)
        spec = session.scalars(select(models.TestSpecification)).first()
        pool = {p.key: p.version_id for p in live_pool(session, spec)}
        key = sorted(pool)[0]
        item = session.scalar(select(models.Item).where(models.Item.key == key))
        old = item.versions[-1]
        with db.writing(session):
            session.add(models.ItemVersion(
                item=item, version=old.version + 1, type_name=old.type_name, marks=old.marks,
                criterion_id=old.criterion_id, topics=old.topics, difficulty=None, enemies=[],
                definition={**old.definition, "stem": "<p>Imported</p>"}, content_hash="imported",
                provenance={"imported_from": "q.gift", "format": "gift"}, created_at=old.created_at))
        assert {p.key: p.version_id for p in live_pool(session, spec)}[key] == pool[key]
        item_number, spec_id = item.id, spec.id
        session.close()
    assert _state(app, key) == ("live", old.version + 1, "draft")
    # It goes through review like any draft (a writer submits; here the reviewer cannot).
    assert reviewer.post(f"/author/items/{item_number}/workflow", action="approve").status_code == 403


def test_a_save_over_a_version_the_writer_never_saw_is_refused(app, demo):
    add_staff(app, "writer2", "item_writer")
    first, second = staff(app, "writer", "write-demo"), staff(app, "writer2")
    number = item_id(app, "u2-1.1-02")
    page_one = first.client.get(f"/author/items/{number}/edit").get_data(as_text=True)
    page_two = second.client.get(f"/author/items/{number}/edit").get_data(as_text=True)
    saved = first.client.post(f"/author/items/{number}/edit", data={
        **_form_fields(page_one), "csrf_token": first.csrf, "action": "save", "a-stem": "<p>First writer</p>"})
    assert saved.status_code == 303
    stale = second.client.post(f"/author/items/{number}/edit", data={
        **_form_fields(page_two), "csrf_token": second.csrf, "action": "save", "a-stem": "<p>Second writer</p>"})
    assert stale.status_code == 409 and "was saved after you opened this page" in stale.get_data(as_text=True)
    with app.app_context():
        session = db.new_session(app)
        item = session.get(models.Item, number)
        assert item.versions[-1].definition["stem"] == "<p>First writer</p>"
        session.close()
