"""`onscreen db backup` / `onscreen db restore`: a backup taken in the middle of a sitting, while a
candidate keeps saving, restores into a fresh database with every answer acknowledged before the
backup began, and the restored installation carries on (the candidate signs in and finds them)."""
from __future__ import annotations

import os
import re
import shutil
import threading

import pytest
from sqlalchemy import create_engine, select, text
from sqlalchemy.engine import make_url

from engine import create_app, db, models

from conftest import PG_SCHEMA, POSTGRES_URL, TEST_SETTINGS
from test_sitting_end_to_end import correct_fields, form_of


@pytest.fixture
def fresh_database(database_url, tmp_path):
    """An empty database of the same kind as the test's: a new SQLite file, or a new PostgreSQL database."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path}/restored.db"
        return
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        pytest.skip("pg_dump/pg_restore are not installed, so the PostgreSQL backup cannot be tested here")
    name = f"onscreen_restore_{os.getpid()}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {name}"))
    url = make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    separator = "&" if "?" in url else "?"
    yield f"{url}{separator}options=-csearch_path%3D{PG_SCHEMA}"
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


def answer_fields(html: str) -> list[str]:
    """The answer controls on an item page as the candidate sees them (values, ticks, text)."""
    controls = re.findall(r'<input[^>]*name="r-[^"]*"[^>]*>', html)
    texts = re.findall(r'<textarea[^>]*name="r-[^"]*"[^>]*>(.*?)</textarea>', html, flags=re.S)
    selected = re.findall(r'<option[^>]*selected[^>]*>', html)
    return controls + texts + selected


def saved_answers(app):
    """Every acknowledged save, and the current answer of every form item."""
    with app.app_context():
        session = db.new_session(app)
        events = {(e.attempt_id, e.seq): (e.position, e.idempotency_key, e.response)
                  for e in session.scalars(select(models.ResponseEvent))}
        current = {(f.attempt_id, f.position): (f.current_seq, f.current_response)
                   for f in session.scalars(select(models.FormItem))}
        session.close()
    return events, current


def test_backup_mid_sitting_restores_every_acknowledged_answer(app, demo, invigilator, candidate_factory, runner,
                                                               clock, tmp_path, fresh_database):
    browsers = {number: candidate_factory(number) for number in ("0001", "0002", "0003")}
    for browser in browsers.values():
        browser.sign_in()
        browser.confirm()
    invigilator.start(demo["sitting_id"])
    forms = {number: form_of(app, number) for number in browsers}
    for number, browser in browsers.items():
        for position, version, state in forms[number][:5]:
            assert browser.answer(position, correct_fields(app, version, state)).status_code == 200

    # Ewa keeps saving while the backup runs: every save the server acknowledged before the
    # backup began must be in it.
    acknowledged: list[str] = []
    stop = threading.Event()
    ewa = candidate_factory("0005")
    ewa.sign_in()
    ewa.confirm()
    ewa_form = form_of(app, "0005")

    def keep_saving():
        turn = 0
        while not stop.is_set() and turn < 400:
            position, version, state = ewa_form[turn % len(ewa_form)]
            fields = correct_fields(app, version, state)
            key = f"ewa-{turn}"
            if ewa.answer(position, fields, key=key).status_code == 200:
                acknowledged.append(key)
            turn += 1

    writer = threading.Thread(target=keep_saving)
    writer.start()
    while len(acknowledged) < 5 and writer.is_alive():
        threading.Event().wait(0.01)
    assert len(acknowledged) >= 5, "the candidate's saves were refused"
    acknowledged_before = list(acknowledged)
    events_before, current_before = saved_answers(app)
    aisha_pages = [answer_fields(browsers["0001"].item_page(p).get_data(as_text=True)) for p, _v, _s in forms["0001"][:5]]
    backup_path = tmp_path / "backup"
    result = runner.invoke(args=["db", "backup", str(backup_path)])
    stop.set()
    writer.join()
    assert result.exit_code == 0, result.output
    assert f"Backup written to {backup_path}" in result.output

    # Work goes on after the backup: new answers, a submission.
    aisha = browsers["0001"]
    for position, version, state in forms["0001"][5:10]:
        assert aisha.answer(position, correct_fields(app, version, state)).status_code == 200
    assert aisha.submit().status_code == 303
    events_after, _ = saved_answers(app)
    assert len(events_after) > len(events_before)

    # Disaster: restore the backup into a fresh, empty database.
    restored = create_app({**TEST_SETTINGS, "DATABASE_URL": fresh_database, "CLOCK": clock})
    try:
        result = restored.test_cli_runner().invoke(args=["db", "restore", str(backup_path)])
        assert result.exit_code == 0, result.output
        assert "Restored" in result.output
        events_restored, current_restored = saved_answers(restored)
        for key, value in events_before.items():
            assert events_restored.get(key) == value, f"acknowledged save {key} lost"
        restored_keys = {key for _p, key, _r in events_restored.values()}
        assert set(acknowledged_before) <= restored_keys
        for key, (seq, response) in current_before.items():
            restored_seq, restored_response = current_restored[key]
            assert restored_seq >= seq
            if restored_seq == seq:
                assert restored_response == response
        # Nothing from after the backup: it is a true point in time.
        later = {key for (_a, _s), (_p, key, _r) in events_after.items()} - {key for _p, key, _r in events_before.values()}
        assert not (later - set(acknowledged)) & restored_keys

        # The restored installation carries on: Aisha (who had not submitted at the backup) signs in
        # again and finds her answers; the form is the same.
        from conftest import CandidateBrowser
        again = CandidateBrowser(restored, "99001", "0001", demo["keycode"])
        again.sign_in()
        for (position, _v, _s), before in zip(forms["0001"][:5], aisha_pages):
            assert before, "the item page shows no answer fields"
            assert answer_fields(again.item_page(position).get_data(as_text=True)) == before
        assert [(p, v.id, s) for p, v, s in form_of(restored, "0001")] == [(p, v.id, s) for p, v, s in forms["0001"]]
    finally:
        db.engine_for(restored).dispose()


def test_restore_refuses_a_database_that_holds_data_unless_told(app, demo, runner, tmp_path):
    backup_path = tmp_path / "b.backup"
    assert runner.invoke(args=["db", "backup", str(backup_path)]).exit_code == 0
    result = runner.invoke(args=["db", "restore", str(backup_path)])
    assert result.exit_code == 1
    assert "Restore failed: The database already holds" in result.output and "--yes" in result.output
    result = runner.invoke(args=["db", "restore", str(backup_path), "--yes"])
    assert result.exit_code == 0, result.output


def test_backup_into_a_folder_names_the_file_and_refuses_a_missing_folder(app, demo, runner, tmp_path):
    result = runner.invoke(args=["db", "backup", str(tmp_path)])
    assert result.exit_code == 0, result.output
    made = [p.name for p in tmp_path.iterdir() if p.name.startswith("onscreen-")]
    assert len(made) == 1 and made[0].endswith((".sqlite3", ".pgdump"))
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    result = runner.invoke(args=["db", "backup", str(tmp_path / "nowhere" / "b")])
    assert result.exit_code == 1 and "does not exist" in result.output


def test_restore_refuses_a_file_that_is_not_a_backup(app, runner, tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_text("candidate_number,first_name\n")
    result = runner.invoke(args=["db", "restore", str(junk), "--yes"])
    assert result.exit_code == 1 and "Restore failed" in result.output
    result = runner.invoke(args=["db", "restore", str(tmp_path / "missing"), "--yes"])
    assert result.exit_code == 1 and "There is no backup file" in result.output
