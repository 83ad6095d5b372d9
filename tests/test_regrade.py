"""Regrade: a key fix makes a new item version; a regrade re-marks only the chosen attempts, changes
only what the new key changes, shows before/after first, and is audited."""
from __future__ import annotations

import shutil
from decimal import Decimal

from sqlalchemy import select

from engine import banks, clock, db, models
from engine.marking_demo import BANK
from engine.plugins import item_types

from centres_support import read
from marking_support import OFFICER, attempt_of, browser, marks_by_key, marking_demo

ITEM = "u9-1.1-03"


def fix_the_key(app, tmp_path) -> None:
    """Correct u9-1.1-03's key (c -> b) in a copy of the demo bank and load it: a new version."""
    copy = tmp_path / "bank"
    shutil.copytree(BANK, copy)
    items = next(copy.glob("*/items/items.yaml"))
    text = items.read_text()
    marker = "      - {id: c, text: A long wait}\n    key: c\n"
    assert marker in text
    items.write_text(text.replace(marker, "      - {id: c, text: A long wait}\n    key: b\n"))
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            summary = banks.load(session, copy, item_types(app), clock.now(session))
        session.close()
    assert summary.versions_added == 1


def _item_id(app) -> int:
    return read(app, lambda s: s.scalar(select(models.Item.id).where(models.Item.key == ITEM)))


def _everything(app):
    """Every form item's marks and every result, to prove what changed and what did not."""
    def work(session):
        items = session.execute(select(models.FormItem.id, models.FormItem.marks_awarded,
                                       models.FormItem.marked_version_id).order_by(models.FormItem.id)).all()
        results = session.execute(select(models.Result.attempt_id, models.Result.total, models.Result.passed)
                                  .order_by(models.Result.attempt_id)).all()
        return [tuple(r) for r in items], [tuple(r) for r in results]
    return read(app, work)


def test_a_regrade_changes_only_what_the_new_key_changes_and_is_audited(app, demo, tmp_path):
    sitting_id = marking_demo(app)
    before = {n: attempt_of(app, n) for n in ("0101", "0102", "0103", "0104")}
    fix_the_key(app, tmp_path)
    versions = read(app, lambda s: s.scalars(select(models.ItemVersion.version).join(models.Item)
                                             .where(models.Item.key == ITEM)).all())
    assert sorted(versions) == [1, 2], "the key fix made a new version; the old one is kept"
    officer = browser(app, OFFICER)
    listing = officer.client.get(f"/results/sittings/{sitting_id}/regrade").get_data(as_text=True)
    assert ITEM in listing and "4 attempt(s)" in listing

    # The preview shows before and after and writes nothing.
    snapshot = _everything(app)
    preview = officer.client.get(f"/results/sittings/{sitting_id}/regrade?item={_item_id(app)}")
    assert preview.status_code == 200 and "Apply the regrade" in preview.get_data(as_text=True)
    assert _everything(app) == snapshot

    # A reason is required; then only the chosen attempts (0101 chose b, 0102 chose the old key c).
    chosen = [before["0101"].id, before["0102"].id]
    refused = officer.post(f"/results/sittings/{sitting_id}/regrade", item=str(_item_id(app)), attempts=chosen)
    assert refused.status_code == 400 and "reason" in refused.get_data(as_text=True)
    assert _everything(app) == snapshot
    done = officer.post(f"/results/sittings/{sitting_id}/regrade", item=str(_item_id(app)), attempts=chosen,
                        reason="key of u9-1.1-03 was c; the right answer is b")
    assert done.status_code == 200 and "regrade-report" in done.get_data(as_text=True)

    after = {n: attempt_of(app, n) for n in before}
    assert marks_by_key(after["0101"])[ITEM] == 1 and marks_by_key(before["0101"])[ITEM] == 0
    assert marks_by_key(after["0102"])[ITEM] == 0 and marks_by_key(before["0102"])[ITEM] == 1
    assert after["0101"].result.total == before["0101"].result.total + 1
    assert after["0102"].result.total == before["0102"].result.total - 1
    for number in ("0101", "0102"):
        # Every other item keeps its marks; the form (what the candidate saw) is unchanged.
        others = lambda a: {k: v for k, v in marks_by_key(a).items() if k != ITEM}  # noqa: E731
        assert others(after[number]) == others(before[number])
        regraded = next(fi for fi in after[number].form_items if fi.item_version.item.key == ITEM)
        assert regraded.marked_version.version == 2 and regraded.item_version.version == 1
    for number in ("0103", "0104"):  # not chosen: untouched
        assert marks_by_key(after[number]) == marks_by_key(before[number])
        assert after[number].result.total == before[number].result.total

    audit = read(app, lambda s: s.scalars(select(models.AuditEvent).where(
        models.AuditEvent.action == "results.regrade").order_by(models.AuditEvent.id)).all())
    assert [a.subject for a in audit] == [f"attempt:{before['0101'].id}", f"attempt:{before['0102'].id}"]
    assert all(a.actor == "staff:officer" and "right answer is b" in a.reason for a in audit)
    detail = audit[0].detail
    assert (detail["before_total"], detail["after_total"]) == (str(before["0101"].result.total),
                                                               str(after["0101"].result.total))
    assert detail["items"] == [{"position": detail["items"][0]["position"], "from_version": 1, "to_version": 2,
                                "before": "0.00", "after": "1.00"}]


def test_the_command_line_previews_then_applies(app, demo, tmp_path, runner):
    sitting_id = marking_demo(app)
    fix_the_key(app, tmp_path)
    snapshot = _everything(app)
    preview = runner.invoke(args=["results", "regrade", str(sitting_id), ITEM])
    assert preview.exit_code == 0, preview.output
    assert "Would regrade 4 attempt(s)" in preview.output and "(no change)" in preview.output
    assert _everything(app) == snapshot
    refused = runner.invoke(args=["results", "regrade", str(sitting_id), ITEM, "--apply"])
    assert refused.exit_code == 1 and "reason" in refused.output
    applied = runner.invoke(args=["results", "regrade", str(sitting_id), ITEM, "--apply", "--reason", "key fixed"])
    assert applied.exit_code == 0 and "Regraded 4 attempt(s)" in applied.output
    assert marks_by_key(attempt_of(app, "0103"))[ITEM] == Decimal(1)
    again = runner.invoke(args=["results", "regrade", str(sitting_id), ITEM])
    assert "Would regrade 0 attempt(s)" in again.output, "a regrade is not repeated"
