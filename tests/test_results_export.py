"""Results exports: the CSV escapes formula injection and round-trips through the csv module; the
long CSV adds up; the QTI results XML is well-formed and carries the key only to staff who ask and
may see items; the command line writes the same exports."""
from __future__ import annotations

import csv
import datetime as dt
import io
import zipfile
from decimal import Decimal
from xml.etree import ElementTree as ET

from sqlalchemy import select

from engine import db, models
from engine.results_export import COLUMNS, LONG_COLUMNS, QTI_NS

from marking_support import MARKER, OFFICER, attempt_of, browser, mark, marking_demo, script_ids

Q = f"{{{QTI_NS}}}"
EVIL = ("=HYPERLINK(\"http://evil.example\",\"x\")", "+SUM(1,2)", "@cmd", "-2+3")


def _set_names(app, number, first, last):
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            candidate = session.scalar(select(models.Candidate).where(models.Candidate.candidate_number == number))
            candidate.first_name, candidate.last_name = first, last
            candidate.access_arrangements = {"extra_time_percent": 25, "extra_time_reason": "=1+1"}
        session.close()


def test_the_csv_escapes_formulas_and_round_trips(app, demo):
    sitting_id = marking_demo(app)
    _set_names(app, "0101", EVIL[0], EVIL[1])
    _set_names(app, "0102", EVIL[2], EVIL[3])
    response = browser(app, OFFICER).client.get(f"/results/sittings/{sitting_id}/results.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert tuple(rows[0]) == COLUMNS and len(rows) == 4
    by_number = {r["candidate_number"]: r for r in rows}
    assert (by_number["0101"]["first_name"], by_number["0101"]["last_name"]) == ("'" + EVIL[0], "'" + EVIL[1])
    assert (by_number["0102"]["first_name"], by_number["0102"]["last_name"]) == ("'" + EVIL[2], "'" + EVIL[3])
    assert not [cell for r in rows for cell in r.values() if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    # Round trip: writing the parsed rows again gives the same bytes.
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    writer.writerows([r[c] for c in COLUMNS] for r in rows)
    assert out.getvalue() == text
    hana = by_number["0101"]
    started = dt.datetime.fromisoformat(hana["started_at"])
    assert started.tzinfo is not None and dt.datetime.fromisoformat(hana["submitted_at"]) > started
    assert (hana["unit_reference"], hana["test_id"], hana["status"], hana["maximum"]) == \
        ("Z/999/9001", "demo-marking", "complete", "7")
    assert hana["outcome"] == "Provisional" and hana["result_status"] == "provisional"
    assert Decimal(hana["percentage"]) == (Decimal(hana["raw_score"]) * 100 / 7).quantize(Decimal("0.1"))
    assert "extra_time_percent=25" in hana["access_arrangements"]
    assert by_number["0104"]["outcome"] == "Fail"


def test_the_long_csv_adds_up_per_lo_and_ac(app, demo):
    sitting_id = marking_demo(app)
    officer = browser(app, OFFICER)
    rows = list(csv.DictReader(io.StringIO(officer.client.get(
        f"/results/sittings/{sitting_id}/breakdown.csv").get_data(as_text=True), newline="")))
    assert tuple(rows[0]) == LONG_COLUMNS
    for number in ("0101", "0102", "0103", "0104"):
        total = attempt_of(app, number).result.total
        for level in ("LO", "AC"):
            mine = [r for r in rows if r["candidate_number"] == number and r["level"] == level]
            assert sum(Decimal(r["awarded"]) for r in mine) == total
            assert sum(Decimal(r["available"]) for r in mine) == 7


def _documents(zipped: bytes) -> dict[str, ET.Element]:
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        return {name: ET.fromstring(archive.read(name)) for name in archive.namelist()}


def test_the_qti_results_are_well_formed_and_carry_no_key_unless_staff_ask(app, demo):
    sitting_id = marking_demo(app)
    officer = browser(app, OFFICER)
    response = officer.client.get(f"/results/sittings/{sitting_id}/results-qti.zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    documents = _documents(response.get_data())
    assert len(documents) == 4
    for name, root in documents.items():
        assert root.tag == Q + "assessmentResult"
        assert root.find(f"{Q}context").get("sourcedId")
        assert root.find(f"{Q}correctResponse") is None and not list(root.iter(Q + "correctResponse")), name
    hana = next(root for name, root in documents.items() if "-0101-" in name)
    score = hana.find(f"{Q}testResult/{Q}outcomeVariable[@identifier='SCORE']/{Q}value").text
    assert Decimal(score) == attempt_of(app, "0101").result.total
    assert hana.find(f"{Q}testResult/{Q}outcomeVariable[@identifier='PASS']") is None, "provisional: no pass/fail"
    statuses = {i.get("identifier"): i.get("sessionStatus") for i in hana.iter(Q + "itemResult")}
    assert statuses["u9-2.1-01"] == "pendingResponseProcessing" and statuses["u9-1.1-01"] == "final"
    # An exams officer asking for the key does not get it; a reviewer does.
    asked = _documents(officer.client.get(f"/results/sittings/{sitting_id}/results-qti.zip?key=1").get_data())
    assert not [r for r in asked.values() if list(r.iter(Q + "correctResponse"))]
    reviewer = browser(app, ("reviewer", "review-demo"))
    one = reviewer.client.get(f"/results/attempts/{attempt_of(app, '0101').id}/result.xml?key=1")
    assert one.status_code == 200
    assert list(ET.fromstring(one.get_data()).iter(Q + "correctResponse"))
    assert b"correctResponse" not in reviewer.client.get(
        f"/results/attempts/{attempt_of(app, '0101').id}/result.xml").get_data()


def test_the_command_line_writes_the_same_exports(app, demo, runner, tmp_path):
    sitting_id = marking_demo(app)
    web = browser(app, OFFICER).client.get(f"/results/sittings/{sitting_id}/results.csv").get_data(as_text=True)
    result = runner.invoke(args=["results", "export", str(sitting_id), "--format", "csv"])
    assert result.exit_code == 0, result.output
    assert result.stdout.replace("\r\n", "\n") == web.replace("\r\n", "\n")  # the runner's text mode
    written = tmp_path / "results.csv"
    assert runner.invoke(args=["results", "export", str(sitting_id), "-o", str(written)]).exit_code == 0
    assert written.read_bytes() == web.encode()
    target = tmp_path / "results.zip"
    result = runner.invoke(args=["results", "export", str(sitting_id), "--format", "qti", "-o", str(target)])
    assert result.exit_code == 0, result.output
    assert len(_documents(target.read_bytes())) == 4
    missing = runner.invoke(args=["results", "export", str(sitting_id), "--format", "qti"])
    assert missing.exit_code == 1 and "--output" in missing.output
    nowhere = runner.invoke(args=["results", "export", "999", "--format", "csv"])
    assert nowhere.exit_code == 1 and "no sitting 999" in nowhere.output


def test_a_voided_attempt_is_exported_as_voided_and_does_not_hold_up_release(app, demo, invigilator):
    sitting_id = marking_demo(app)
    scripts = script_ids(app, sitting_id)
    hana = attempt_of(app, "0101")
    voided = invigilator.post(f"/invigilate/sittings/{sitting_id}/attempts/{hana.id}/void", reason="notes found")
    assert voided.status_code == 303, voided.get_data(as_text=True)
    assert f"/scripts/{scripts['0101']}" not in browser(app, MARKER).client.get(
            f"/marking/sittings/{sitting_id}").get_data(as_text=True), "a voided script is not marked"
    for number in ("0102", "0103"):
        assert mark(app, MARKER, sitting_id, scripts[number], 1).status_code == 303
    officer = browser(app, OFFICER)
    assert officer.post(f"/results/sittings/{sitting_id}/release").status_code == 303
    rows = {r["candidate_number"]: r for r in csv.DictReader(io.StringIO(officer.client.get(
        f"/results/sittings/{sitting_id}/results.csv").get_data(as_text=True), newline=""))}
    assert (rows["0101"]["status"], rows["0101"]["outcome"], rows["0101"]["raw_score"]) == ("voided", "Voided", "")
    assert rows["0102"]["result_status"] == "released"
