"""Candidates from CSV: every row checked first, every problem reported with row and column,
nothing imported unless all rows are good (or only the good rows, when asked); exports back to CSV."""
from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from engine import access_arrangements as aa
from engine import candidate_import, db, models
from engine.candidate_import import check_csv, escape_cell, export_csv

from conftest import REPO_ROOT, Invigilator

FIXTURES = REPO_ROOT / "tests" / "fixtures" / "candidates"
TODAY = dt.date(2026, 11, 23)
HEADER = "candidate_number,first_name,last_name,date_of_birth,uci,uln,extra_time_percent"


def candidates_at(app, centre_number="99001") -> dict[str, models.Candidate]:
    with app.app_context():
        session = db.new_session(app)
        rows = session.scalars(select(models.Candidate).join(models.Centre)
                               .where(models.Centre.number == centre_number)).all()
        session.close()
        return {c.candidate_number: c for c in rows}


@pytest.fixture
def centre(app):
    """Centre 99001 with an exams officer, and no item banks (they are not needed here)."""
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            centre = models.Centre(number="99001", name="Import Test Centre", timezone="Europe/London")
            session.add(centre)
            session.flush()
            session.add(models.StaffUser(centre_id=centre.id, username="officer", display_name="Officer",
                                         roles="exams_officer", password_hash=generate_password_hash(
                                             "officer-demo", method=app.config["PASSWORD_HASH_METHOD"])))
        session.close()
    return centre


def officer(app):
    return Invigilator(app, "officer", "officer-demo")


def upload(browser, centre_id, path_or_bytes, valid_only=False, htmx=False):
    data = path_or_bytes if isinstance(path_or_bytes, bytes) else path_or_bytes.read_bytes()
    form = {"csrf_token": browser.csrf, "file": (io.BytesIO(data), "candidates.csv")}
    if valid_only:
        form["valid_only"] = "yes"
    return browser.client.post(f"/centre/{centre_id}/candidates/import", data=form,
                               content_type="multipart/form-data", headers={"HX-Request": "true"} if htmx else {})


def demo_centre_id(app) -> int:
    with app.app_context():
        session = db.new_session(app)
        centre_id = session.scalar(select(models.Centre.id).where(models.Centre.number == "99001"))
        session.close()
        return centre_id


# --- checking, without a database -----------------------------------------------------------------

def test_the_sample_file_is_clean():
    rows, problems = check_csv((FIXTURES / "sample.csv").read_bytes(), TODAY)
    assert problems == []
    assert [r.person["candidate_number"] for r in rows] == [f"01{n:02d}" for n in range(1, 9)]
    ada = rows[2]
    assert ada.arrangements["extra_time_percent"] == 50 and ada.arrangements["rest_breaks"] is True
    assert rows[4].person["first_name"] == "Siobhán"  # UTF-8 names survive


def test_the_bad_sample_has_exactly_one_problem_named_by_row_and_column():
    _, problems = check_csv((FIXTURES / "one_bad_row.csv").read_bytes(), TODAY)
    assert len(problems) == 1
    assert (problems[0].row, problems[0].column) == (5, "uci")
    assert str(problems[0]).startswith("Row 5, column uci: UCI 990010260104A fails its check letter")


def test_every_problem_in_every_row_is_reported_in_order():
    text = "\n".join([
        HEADER + ",rest_breaks,colour_scheme",
        "0001,Ann,Able,2008-01-01,990010260001V,1234567899,25,yes,cream",       # good
        "1,Bob,,2008-02-30,990010260002A,1234567898,abc,maybe,purple",         # everything wrong
        "0003,=HYPERLINK(1),Cole,2999-01-01,,,60,,",
        "0001,Dee,Dunn,,,,,,",                                                  # duplicate number
        ",,,,,,,,",                                                            # blank row: ignored
    ])
    _, problems = check_csv(text, TODAY)
    found = [(p.row, p.column) for p in problems]
    assert found == [
        (2, "candidate_number"),
        (3, "candidate_number"), (3, "last_name"), (3, "date_of_birth"), (3, "uci"), (3, "uln"),
        (3, "extra_time_percent"), (3, "rest_breaks"),
        (4, "first_name"), (4, "date_of_birth"),
        (5, "candidate_number"),
    ]
    messages = {(p.row, p.column): p.message for p in problems}
    assert "also on row 5" in messages[(2, "candidate_number")]
    assert "4 digits" in messages[(3, "candidate_number")]
    assert "is required" in messages[(3, "last_name")]
    assert "YYYY-MM-DD" in messages[(3, "date_of_birth")]
    assert "must start with a letter" in messages[(4, "first_name")]
    assert "in the future" in messages[(4, "date_of_birth")]


def test_arrangement_rules_are_checked_per_row(app, centre):
    text = "\n".join([
        "candidate_number,first_name,last_name,extra_time_percent,colour_scheme",
        "0201,Ann,Able,40,",
        "0202,Bob,Bell,60,",
        "0203,Cat,Cole,25,purple",
    ])
    with app.app_context():
        session = db.new_session(app)
        centre = session.scalar(select(models.Centre).where(models.Centre.number == "99001"))
        with db.writing(session):
            report = candidate_import.import_candidates(session, centre, text, valid_only=False, actor="test",
                                                        now=dt.datetime(2026, 11, 23, 9), today=TODAY)
        session.close()
    found = [(p.row, p.column) for p in report.problems]
    assert found == [(2, "extra_time_reason"), (2, "extra_time_evidence"), (2, "approved_by"), (2, "approved_on"),
                     (3, "extra_time_percent"), (4, "colour_scheme")]
    assert "40% extra time is above the standard 25%: record the reason" in report.problems[0].message
    assert report.imported == 0


def test_header_problems_stop_the_whole_file():
    _, problems = check_csv("candidate_number,first_name,surname,extra_time_pct\n0001,Ann,Able,25\n", TODAY)
    assert [(p.row, p.column) for p in problems] == [(1, "surname"), (1, "extra_time_pct"), (1, "last_name")]
    assert "is not a column this import knows" in problems[0].message
    assert "required and missing" in problems[2].message


def test_headers_written_by_people_are_understood():
    rows, problems = check_csv("Candidate Number,First Name,Last-Name\n0001,Ann,Able\n", TODAY)
    assert problems == [] and rows[0].person["last_name"] == "Able"


def test_a_file_that_is_not_utf8_is_refused_with_what_to_do():
    _, problems = check_csv("candidate_number,first_name,last_name\n0001,Zoë,Åberg\n".encode("cp1252"), TODAY)
    assert len(problems) == 1 and "CSV UTF-8" in str(problems[0]) and problems[0].row is None


def test_excel_byte_order_mark_is_accepted():
    rows, problems = check_csv("\ufeffcandidate_number,first_name,last_name\r\n0001,Ann,Able\r\n".encode("utf-8"), TODAY)
    assert problems == [] and len(rows) == 1


def test_a_row_with_too_many_cells_is_reported():
    _, problems = check_csv("candidate_number,first_name,last_name\n0001,Ann,Able,extra\n", TODAY)
    assert (problems[0].row, "unquoted comma" in problems[0].message) == (2, True)


# --- importing ----------------------------------------------------------------------------------------

def test_cli_imports_the_sample_then_exports_it(app, centre, runner, tmp_path):
    result = runner.invoke(args=["candidates", "import", "99001", str(FIXTURES / "sample.csv")])
    assert result.exit_code == 0, result.output
    assert "Imported 8 candidate(s) into centre 99001: 8 new, 0 updated." in result.output
    imported = candidates_at(app)
    ada = imported["0103"]
    assert ada.date_of_birth == dt.date(2008, 12, 10) and ada.uci == "990010260103V" and ada.uln == "8319167514"
    assert ada.access_arrangements == {
        "extra_time_percent": 50, "extra_time_reason": "Slow processing speed (assessed)",
        "extra_time_evidence": "Form 8 ref 2026/014", "approved_by": "J. Patel (SENCo)", "approved_on": "2026-09-15",
        "rest_breaks": True, "computer_reader": True}
    assert imported["0104"].access_arrangements == {"colour_scheme": "cream"}
    assert imported["0101"].access_arrangements == {}

    out = tmp_path / "out.csv"
    result = runner.invoke(args=["candidates", "export", "99001", "--output", str(out)])
    assert result.exit_code == 0, result.output
    exported = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    by_number = {row["candidate_number"]: row for row in exported}
    assert len(exported) == 8
    assert by_number["0103"]["extra_time_percent"] == "50" and by_number["0103"]["rest_breaks"] == "yes"
    assert by_number["0105"]["first_name"] == "Siobhán"


def test_cli_imports_nothing_from_a_file_with_one_bad_row(app, centre, runner):
    before = candidates_at(app)
    result = runner.invoke(args=["candidates", "import", "99001", str(FIXTURES / "one_bad_row.csv")])
    assert result.exit_code == 1
    assert "Row 5, column uci: UCI 990010260104A fails its check letter" in result.output
    assert "Nothing imported: 1 problem(s)" in result.output
    assert candidates_at(app).keys() == before.keys()


def test_cli_valid_only_imports_the_good_rows_and_reports_the_rest(app, centre, runner):
    result = runner.invoke(args=["candidates", "import", "99001", str(FIXTURES / "one_bad_row.csv"), "--valid-only"])
    assert result.exit_code == 1
    assert "Imported 7 candidate(s) into centre 99001: 7 new, 0 updated; rows left out: 5." in result.output
    assert "Row 5, column uci" in result.output
    imported = candidates_at(app)
    assert "0104" not in imported and {"0101", "0103", "0108"} <= imported.keys()


def test_cli_refuses_an_unknown_centre(app, centre, runner):
    result = runner.invoke(args=["candidates", "import", "12345", str(FIXTURES / "sample.csv")])
    assert result.exit_code == 1 and "There is no centre 12345." in result.output


def test_reimport_updates_only_the_columns_in_the_file(app, centre, runner, tmp_path):
    runner.invoke(args=["candidates", "import", "99001", str(FIXTURES / "sample.csv")])
    update = tmp_path / "update.csv"
    update.write_text("candidate_number,first_name,last_name\n0103,Augusta Ada,King\n", encoding="utf-8")
    result = runner.invoke(args=["candidates", "import", "99001", str(update)])
    assert "0 new, 1 updated" in result.output
    ada = candidates_at(app)["0103"]
    assert (ada.first_name, ada.last_name) == ("Augusta Ada", "King")
    assert ada.uci == "990010260103V" and ada.access_arrangements["extra_time_percent"] == 50

    # Raising extra time through a file still needs the approval: Grace has none recorded.
    raise_time = tmp_path / "raise.csv"
    raise_time.write_text("candidate_number,first_name,last_name,extra_time_percent\n0101,Grace,Hopper,40\n",
                          encoding="utf-8")
    result = runner.invoke(args=["candidates", "import", "99001", str(raise_time)])
    assert result.exit_code == 1 and "Row 2, column extra_time_reason" in result.output
    # ...while Ada's approval on record covers a change from 50 % to 40 %.
    lower = tmp_path / "lower.csv"
    lower.write_text("candidate_number,first_name,last_name,extra_time_percent\n0103,Ada,King,40\n", encoding="utf-8")
    assert runner.invoke(args=["candidates", "import", "99001", str(lower)]).exit_code == 0
    assert candidates_at(app)["0103"].access_arrangements["approved_by"] == "J. Patel (SENCo)"


def test_a_uln_already_held_by_another_candidate_is_refused(app, centre, runner, tmp_path):
    runner.invoke(args=["candidates", "import", "99001", str(FIXTURES / "sample.csv")])
    clash = tmp_path / "clash.csv"
    clash.write_text("candidate_number,first_name,last_name,uln\n0199,Someone,Else,8319167514\n", encoding="utf-8")
    result = runner.invoke(args=["candidates", "import", "99001", str(clash)])
    assert result.exit_code == 1
    assert "Row 2, column uln: ULN 8319167514 already belongs to candidate 0103 Ada Lovelace" in result.output


def test_web_import_reports_the_bad_row_precisely_and_imports_nothing(app, centre):
    browser = officer(app)
    centre_id = demo_centre_id(app)
    response = upload(browser, centre_id, FIXTURES / "one_bad_row.csv")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Nothing imported: 1 problem in 1 row" in page
    assert "<td>5</td><td>uci</td><td>UCI 990010260104A fails its check letter" in page
    assert "0101" not in candidates_at(app)

    # With the box ticked, the good rows go in and the bad one is reported (htmx: just the report).
    response = upload(browser, centre_id, FIXTURES / "one_bad_row.csv", valid_only=True, htmx=True)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and page.startswith('<div id="import-report"')
    assert "Imported 7 candidates" in page and "left out (row 5)" in page
    assert "<td>5</td><td>uci</td>" in page
    assert "0104" not in candidates_at(app) and "0108" in candidates_at(app)

    with app.app_context():
        session = db.new_session(app)
        event = session.scalar(select(models.AuditEvent).where(models.AuditEvent.action == "candidates.import"))
        session.close()
    assert event.actor == "staff:officer" and event.detail["skipped_rows"] == [5] and len(event.detail["created"]) == 7


def test_web_import_of_the_good_sample(app, centre):
    browser = officer(app)
    response = upload(browser, demo_centre_id(app), FIXTURES / "sample.csv")
    assert response.status_code == 200
    assert "Imported 8 candidates from candidates.csv" in response.get_data(as_text=True)


def test_web_import_without_a_file_says_so(app, centre):
    browser = officer(app)
    response = browser.client.post(f"/centre/{demo_centre_id(app)}/candidates/import",
                                   data={"csrf_token": browser.csrf}, content_type="multipart/form-data")
    assert response.status_code == 400 and "Choose a CSV file to import." in response.get_data(as_text=True)


# --- exporting -------------------------------------------------------------------------------------------

def test_cells_that_would_run_as_formulas_are_escaped():
    assert escape_cell("=HYPERLINK(\"http://x\")") == "'=HYPERLINK(\"http://x\")"
    for start in "+-@\t\r":
        assert escape_cell(start + "1") == "'" + start + "1"
    assert escape_cell("O'Neill") == "O'Neill" and escape_cell(None) == "" and escape_cell(25) == "25"


def test_export_escapes_free_text_and_reimports_to_the_same_record(app, centre):
    with app.app_context():
        session = db.new_session(app)
        centre = session.scalar(select(models.Centre).where(models.Centre.number == "99001"))
        with db.writing(session):
            session.add(models.Candidate(
                centre_id=centre.id, candidate_number="0300", first_name="Eve", last_name="Evans",
                date_of_birth=dt.date(2008, 5, 1), access_arrangements={
                    "extra_time_percent": 30, "extra_time_reason": "=cmd|' /C calc'!A0",
                    "extra_time_evidence": "-2+3", "approved_by": "@boss", "approved_on": "2026-10-01",
                    "enlarged_text": True}))
        candidate = session.scalar(select(models.Candidate).where(models.Candidate.candidate_number == "0300"))
        text = export_csv([candidate])
        assert "'=cmd|' /C calc'!A0" in text and "'-2+3" in text and "'@boss" in text
        other = models.Centre(number="99002", name="Other", timezone="Europe/London")
        with db.writing(session):
            session.add(other)
            session.flush()
            report = candidate_import.import_candidates(session, other, text, valid_only=False, actor="test",
                                                        now=dt.datetime(2026, 11, 23, 9), today=TODAY)
        assert report.problems == [] and report.created == ["0300"]
        copy = session.scalar(select(models.Candidate).where(models.Candidate.centre_id == other.id))
        assert copy.access_arrangements == candidate.access_arrangements
        assert (copy.first_name, copy.last_name, copy.date_of_birth) == ("Eve", "Evans", dt.date(2008, 5, 1))
        session.close()


def test_web_export_is_a_csv_download_of_this_centre_only(app, centre, runner):
    runner.invoke(args=["candidates", "import", "99001", str(FIXTURES / "sample.csv")])
    browser = officer(app)
    response = browser.client.get(f"/centre/{demo_centre_id(app)}/candidates/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="candidates-99001.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == candidate_import.COLUMNS and len(rows) == 1 + 8


# --- the arrangement rules on their own ------------------------------------------------------------------

def test_validate_access_arrangements():
    assert aa.validate_access_arrangements({}) == []
    assert aa.validate_access_arrangements({"extra_time_percent": 25, "rest_breaks": True}) == []
    approved = {"extra_time_percent": 50, "extra_time_reason": "r", "extra_time_evidence": "e",
                "approved_by": "p", "approved_on": "2026-09-01"}
    assert aa.validate_access_arrangements(approved, today=TODAY) == []
    fields = [p.field for p in aa.validate_access_arrangements({"extra_time_percent": 26})]
    assert fields == ["extra_time_reason", "extra_time_evidence", "approved_by", "approved_on"]
    assert [p.field for p in aa.validate_access_arrangements({**approved, "extra_time_percent": 51})] == ["extra_time_percent"]
    assert [p.field for p in aa.validate_access_arrangements({"extra_time_percent": True})] == ["extra_time_percent"]
    assert [p.field for p in aa.validate_access_arrangements({**approved, "approved_on": "2027-01-01"}, today=TODAY)] \
        == ["approved_on"]
    assert [p.field for p in aa.validate_access_arrangements({"approved_on": "01/09/2026"})] == ["approved_on"]
    assert [p.field for p in aa.validate_access_arrangements({"rest_breaks": "yes"})] == ["rest_breaks"]
    assert [p.field for p in aa.validate_access_arrangements({"colour_scheme": "tartan"})] == ["colour_scheme"]
    # Keys other features keep in the same object are left alone.
    assert aa.validate_access_arrangements({"line_spacing": 2}) == []
    assert aa.cleaned({"extra_time_percent": 0, "rest_breaks": False, "colour_scheme": ""},
                      keep={"line_spacing": 2, "rest_breaks": True}) == {"line_spacing": 2}
