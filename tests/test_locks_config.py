"""Locks are configured in the test specification file (checked by file:line like every bank
problem), may be replaced per sitting, and are shown read-only to the invigilator."""
from __future__ import annotations

import shutil

from sqlalchemy import select

from engine import db, models

from conftest import BANKS
from locks_support import attempt_of, set_locks


def _bank_copy(tmp_path, locks_yaml: str):
    folder = tmp_path / "unit-2"
    shutil.copytree(BANKS / "unit-2-Y-506-2152", folder)
    spec = folder / "test.yaml"
    spec.write_text(spec.read_text() + locks_yaml)
    return folder, spec


def test_the_bank_checker_names_the_file_line_and_field_of_a_bad_lock_setting(runner, tmp_path):
    folder, spec = _bank_copy(tmp_path, "locks:\n  centre_network:\n    extra_ranges: [10.0.0.0/8, nonsense]\n"
                                        "  browser_signals:\n    policy: shout\n  no_such_lock: {}\n")
    lines = spec.read_text().splitlines()
    result = runner.invoke(args=["bank", "check", str(folder)])
    assert result.exit_code != 0
    ranges_line = next(i for i, text in enumerate(lines, 1) if "extra_ranges" in text)
    policy_line = next(i for i, text in enumerate(lines, 1) if "policy: shout" in text)
    assert f"test.yaml:{ranges_line}: locks.centre_network.extra_ranges[1]: 'nonsense' is not an IP range" in result.output
    assert f"test.yaml:{policy_line}: locks.browser_signals.policy: must be one of record, lock, not 'shout'" in result.output
    assert "locks.no_such_lock: no lock called 'no_such_lock'" in result.output


def test_a_good_locks_section_loads_onto_the_specification(app, runner, tmp_path):
    folder, _spec = _bank_copy(tmp_path, "locks:\n  one_device:\n  browser_signals: {policy: lock, clock: keep_running}\n")
    assert runner.invoke(args=["bank", "check", str(folder)]).exit_code == 0
    result = runner.invoke(args=["bank", "load", str(folder)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = db.new_session(app)
        spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == "unit-2"))
        assert spec.locks == {"one_device": None, "browser_signals": {"policy": "lock", "clock": "keep_running"}}
        session.close()


def test_a_sitting_replaces_the_specification_lock_by_lock(app, demo, invigilator, runner, tmp_path):
    sitting_id = demo["sitting_id"]
    set_locks(app, sitting_id, spec_locks={"browser_signals": {"policy": "record"}, "one_device": {}})
    override = tmp_path / "sitting.yaml"
    override.write_text("browser_signals:\n  policy: lock\none_device: false\n")
    result = runner.invoke(args=["locks", "set", str(sitting_id), str(override)])
    assert result.exit_code == 0, result.output
    shown = runner.invoke(args=["locks", "show", str(sitting_id)]).output
    assert "browser_signals (this sitting): Reports" in shown and "lock until the invigilator unlocks" in shown
    assert "one_device" not in shown and "start_gate (always on)" in shown
    page = invigilator.client.get(f"/invigilate/sittings/{sitting_id}").get_data(as_text=True)
    assert "Exam conditions" in page and "this sitting" in page and "One device" not in page
    # A bad override changes nothing, and says where.
    bad = tmp_path / "bad.yaml"
    bad.write_text("start_gate: false\nsitting_window:\n  minutes_after_end: -5\n")
    refused = runner.invoke(args=["locks", "set", str(sitting_id), str(bad)])
    assert refused.exit_code != 0
    assert "bad.yaml:1: start_gate: is always on and cannot be switched off" in refused.output
    assert "bad.yaml:3: sitting_window.minutes_after_end: must be a whole number from 0 to 240" in refused.output
    assert runner.invoke(args=["locks", "clear", str(sitting_id)]).exit_code == 0
    assert "one_device (the test specification)" in runner.invoke(args=["locks", "show", str(sitting_id)]).output
    with app.app_context():
        session = db.new_session(app)
        audit = session.scalars(select(models.AuditEvent.action).where(
            models.AuditEvent.subject == f"sitting:{sitting_id}")).all()
        assert audit.count("sitting.locks") == 2
        session.close()


def test_locks_list_names_every_lock_and_its_settings(runner):
    output = runner.invoke(args=["locks", "list"]).output
    assert "start_gate: Start gate (always on)" in output
    assert "browser_signals: Browser signals; policy='record', clock='stop'" in output


def test_the_demo_sitting_keeps_working_without_a_locks_section(app, demo, candidate_factory):
    browser = candidate_factory("0001")
    browser.sign_in()
    assert attempt_of(app, "0001").state == "ready"
