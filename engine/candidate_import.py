"""Candidates in and out as CSV, and the one check of a candidate's fields (the web forms use it too).

An import checks every row before it writes anything and reports **all** the problems, each
with its row (as a spreadsheet numbers it: the header is row 1) and column. Nothing is imported
unless every row is good; asked for ``valid_only``, it imports the good rows and reports the
rest. A candidate number already at the centre updates that candidate; only the columns in the
file change (a file without arrangement columns leaves arrangements alone).

Exports use the same columns, so an export can be edited and imported again. Cells that a
spreadsheet would run as a formula (starting ``=``, ``+``, ``-``, ``@``, tab or carriage return)
are written with a leading apostrophe, which the import removes again.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import access_arrangements as aa
from engine import audit, identifiers, models
from engine.access_arrangements import Problem

PERSON_COLUMNS = ("candidate_number", "first_name", "last_name", "date_of_birth", "uci", "uln")
COLUMNS = PERSON_COLUMNS + aa.KEYS
REQUIRED = ("candidate_number", "first_name", "last_name")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_NAME = 100
OLDEST_BIRTH = dt.date(1900, 1, 1)


@dataclass(frozen=True)
class RowProblem:
    """A problem in a file: ``row`` as a spreadsheet numbers it (header = 1), None for the whole file."""

    row: int | None
    column: str
    message: str

    def __str__(self) -> str:
        if self.row is None:
            return f"File: {self.message}"
        return f"Row {self.row}, column {self.column}: {self.message}" if self.column else f"Row {self.row}: {self.message}"


@dataclass
class CheckedRow:
    row: int
    #: Typed values of the person columns present in the file.
    person: dict[str, Any]
    #: Typed arrangement values of the arrangement columns present in the file.
    arrangements: dict[str, Any]


@dataclass
class ImportReport:
    rows: int = 0
    problems: list[RowProblem] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    #: Rows left out because they had problems (only with ``valid_only``).
    skipped_rows: list[int] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return len(self.created) + len(self.updated)

    @property
    def problem_rows(self) -> list[int]:
        return sorted({p.row for p in self.problems if p.row is not None})


# --- one candidate's fields ----------------------------------------------------------------------


def name_problem(value: str) -> str | None:
    if not value:
        return "is required."
    if len(value) > MAX_NAME:
        return f"is too long ({len(value)} characters; at most {MAX_NAME})."
    if not value[0].isalpha():
        return f"{value!r} must start with a letter."
    for character in value:
        if not (character.isalpha() or character in " '’-." or unicodedata.category(character).startswith("M")):
            return f"{value!r} contains {character!r}: names may have letters, spaces, hyphens, apostrophes and full stops."
    return None


def parse_person(fields: Mapping[str, str | None], today: dt.date) -> tuple[dict[str, Any], list[Problem]]:
    """Typed person values for the columns present in ``fields``, and every problem found."""
    values: dict[str, Any] = {}
    problems: list[Problem] = []
    if "candidate_number" in fields:
        number = identifiers.normalise_number(fields["candidate_number"])
        message = "is required." if not number else identifiers.candidate_number_problem(number)
        problems += [Problem("candidate_number", message)] if message else []
        values["candidate_number"] = number
    for key in ("first_name", "last_name"):
        if key in fields:
            text = " ".join((fields[key] or "").split())
            message = name_problem(text)
            problems += [Problem(key, message)] if message else []
            values[key] = text
    if "date_of_birth" in fields:
        text = (fields["date_of_birth"] or "").strip()
        values["date_of_birth"] = None
        if text:
            try:
                born = dt.date.fromisoformat(text)
            except ValueError:
                problems.append(Problem("date_of_birth", f"{text!r} is not a date written as YYYY-MM-DD, e.g. 2008-03-14."))
            else:
                if born > today:
                    problems.append(Problem("date_of_birth", f"{text} is in the future."))
                elif born < OLDEST_BIRTH:
                    problems.append(Problem("date_of_birth", f"{text} is before 1900: check the year."))
                values["date_of_birth"] = born
    for key, normalise, check in (("uci", identifiers.normalise_uci, identifiers.uci_problem),
                                  ("uln", identifiers.normalise_uln, identifiers.uln_problem)):
        if key in fields:
            text = normalise(fields[key])
            message = check(text) if text else None
            problems += [Problem(key, message)] if message else []
            values[key] = text or None
    return values, problems


def check_fields(fields: Mapping[str, str | None], today: dt.date,
                 current_arrangements: Mapping[str, Any] | None = None) -> tuple[dict, dict, list[Problem]]:
    """Person values, arrangements (merged over ``current_arrangements``) and every problem."""
    person, problems = parse_person(fields, today)
    given, arrangement_problems = aa.from_text(fields)
    merged = {**{k: v for k, v in (current_arrangements or {}).items()}, **given}
    problems += arrangement_problems
    bad_fields = {p.field for p in arrangement_problems}
    problems += [p for p in aa.validate_access_arrangements(merged, today) if p.field not in bad_fields]
    return person, aa.cleaned(merged, keep=current_arrangements), problems


# --- CSV in -------------------------------------------------------------------------------------


def _header_name(text: str) -> str:
    return "_".join(text.strip().lower().replace("-", " ").split())


def _unescape(text: str) -> str:
    if len(text) > 1 and text[0] == "'" and text[1] in "=+-@":
        return text[1:]
    return text


def read_csv(data: bytes | str) -> tuple[list[str], list[tuple[int, dict[str, str]]], list[RowProblem]]:
    """The file's columns, its non-blank rows as (row number, cells) and the problems of its shape."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return [], [], [RowProblem(None, "", "the file is not UTF-8 text. Save it from your spreadsheet as "
                                                 "\"CSV UTF-8 (comma delimited)\" and try again.")]
    data = data.lstrip("\ufeff")
    if not data.strip():
        return [], [], [RowProblem(None, "", "the file is empty.")]
    reader = csv.reader(io.StringIO(data, newline=""))
    header = [_header_name(h) for h in next(reader)]
    problems: list[RowProblem] = []
    seen: set[str] = set()
    for position, name in enumerate(header, start=1):
        if not name:
            problems.append(RowProblem(1, f"column {position}", "the header cell is blank."))
        elif name not in COLUMNS:
            problems.append(RowProblem(1, name, f"{name!r} is not a column this import knows. Columns: "
                                                f"{', '.join(COLUMNS)}."))
        elif name in seen:
            problems.append(RowProblem(1, name, "this column appears twice."))
        seen.add(name)
    for required in REQUIRED:
        if required not in header:
            problems.append(RowProblem(1, required, "this column is required and missing from the header."))
    rows = []
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) > len(header):
            problems.append(RowProblem(number, "", f"the row has {len(cells)} cells but the header has "
                                                   f"{len(header)}: is there an unquoted comma?"))
            continue
        cells = cells + [""] * (len(header) - len(cells))
        rows.append((number, {name: _unescape(cell) for name, cell in zip(header, cells) if name in COLUMNS}))
    return header, rows, problems


def check_csv(data: bytes | str, today: dt.date) -> tuple[list[CheckedRow], list[RowProblem]]:
    """Parse and check every row on its own and against the other rows (no database)."""
    header, rows, problems = read_csv(data)
    if any(p.row in (None, 1) for p in problems):
        return [], problems
    checked = []
    for number, cells in rows:
        person, row_problems = parse_person(cells, today)
        arrangements, arrangement_problems = aa.from_text(cells)
        problems += [RowProblem(number, p.field, p.message) for p in row_problems + arrangement_problems]
        checked.append(CheckedRow(number, person, arrangements))
    for key, label in (("candidate_number", "candidate number"), ("uci", "UCI"), ("uln", "ULN")):
        rows_by_value: dict[str, list[int]] = {}
        for row in checked:
            if row.person.get(key):
                rows_by_value.setdefault(row.person[key], []).append(row.row)
        for value, numbers in rows_by_value.items():
            for number in numbers if len(numbers) > 1 else []:
                others = ", ".join(str(n) for n in numbers if n != number)
                problems.append(RowProblem(number, key, f"{label} {value} is also on row {others}."))
    return checked, sorted(problems, key=_problem_order)


def _problem_order(problem: RowProblem) -> tuple[int, int]:
    return problem.row or 0, COLUMNS.index(problem.column) if problem.column in COLUMNS else -1


def import_candidates(db: Session, centre: models.Centre, data: bytes | str, *, valid_only: bool,
                      actor: str, now: dt.datetime, today: dt.date) -> ImportReport:
    """Check the whole file, then import it (or, with ``valid_only``, its good rows) in the caller's
    transaction. Nothing is written when a problem stops the import."""
    checked, problems = check_csv(data, today)
    report = ImportReport(rows=len(checked))
    existing = {c.candidate_number: c for c in db.scalars(
        select(models.Candidate).where(models.Candidate.centre_id == centre.id))}
    merged_arrangements: dict[int, dict] = {}
    for row in checked:
        # The rules apply to what the candidate will have: the file's columns over their record.
        current = existing.get(row.person.get("candidate_number"))
        merged = {**(current.access_arrangements if current else {}), **row.arrangements}
        already = {p.column for p in problems if p.row == row.row}
        problems += [RowProblem(row.row, p.field, p.message)
                     for p in aa.validate_access_arrangements(merged, today) if p.field not in already]
        merged_arrangements[row.row] = aa.cleaned(merged, keep=current.access_arrangements if current else None)
        for key, label in (("uci", "UCI"), ("uln", "ULN")):
            value = row.person.get(key)
            holder = next((c for c in existing.values() if value and getattr(c, key) == value), None)
            if holder is not None and holder.candidate_number != row.person.get("candidate_number"):
                problems.append(RowProblem(row.row, key, f"{label} {value} already belongs to candidate "
                                                         f"{holder.candidate_number} {holder.full_name} at this centre."))
    report.problems = sorted(problems, key=_problem_order)
    file_level = any(p.row in (None, 1) for p in problems)
    if file_level or (problems and not valid_only):
        return report
    bad_rows = set(report.problem_rows)
    for row in checked:
        if row.row in bad_rows:
            report.skipped_rows.append(row.row)
            continue
        number = row.person["candidate_number"]
        candidate = existing.get(number)
        if candidate is None:
            candidate = models.Candidate(centre_id=centre.id, candidate_number=number, access_arrangements={})
            db.add(candidate)
            existing[number] = candidate
            report.created.append(number)
        else:
            report.updated.append(number)
        for key, value in row.person.items():
            setattr(candidate, key, value)
        candidate.access_arrangements = merged_arrangements[row.row]
    if report.imported:
        db.flush()
        audit.record(db, actor, "candidates.import", f"centre:{centre.id}", now, detail={
            "created": report.created, "updated": report.updated, "skipped_rows": report.skipped_rows,
            "rows": report.rows})
    return report


# --- CSV out ------------------------------------------------------------------------------------


def escape_cell(value: Any) -> str:
    """A cell a spreadsheet shows as text, never runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def export_csv(candidates: Iterable[models.Candidate]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for candidate in sorted(candidates, key=lambda c: c.candidate_number):
        arrangements = aa.as_text(candidate.access_arrangements or {})
        person = {
            "candidate_number": candidate.candidate_number, "first_name": candidate.first_name,
            "last_name": candidate.last_name,
            "date_of_birth": candidate.date_of_birth.isoformat() if candidate.date_of_birth else "",
            "uci": candidate.uci or "", "uln": candidate.uln or "",
        }
        writer.writerow([escape_cell({**person, **arrangements}[column]) for column in COLUMNS])
    return out.getvalue()
