"""Automatic marking: idempotent and order-independent; totals are the sum of the item marks; a
fully correct attempt gets the specification's total; per-LO and per-AC breakdowns; open
responses keep a result provisional until marked; the mark-in-force rule."""
from __future__ import annotations

import itertools
from decimal import Decimal
from types import SimpleNamespace

from sqlalchemy import select

from engine import db, marking, models
from engine.marking import FIRST, MODERATION, SECOND, ItemRow, compute, mark_in_force

from centres_support import read
from marking_support import attempt_of, marking_demo
from test_sitting_end_to_end import correct_fields, form_of

OUTCOMES = [("1", "LO one", [("1.1", "AC 1.1"), ("1.2", "AC 1.2")]), ("2", "LO two", [("2.1", "AC 2.1")])]


def _choice(key, marks=1):
    return {"stem": "<p>?</p>", "marks": marks, "options": [{"id": "a", "text": "A"}, {"id": "b", "text": "B"},
                                                           {"id": "c", "text": "C"}], "key": key}


ROWS = [
    ItemRow("single_choice", _choice("a"), "1", "1.1", "a"),
    ItemRow("single_choice", _choice("b", 2), "1", "1.2", "c"),
    ItemRow("single_choice", _choice("c", 2), "2", "2.1", "c"),
    ItemRow("multiple_response", {"stem": "<p>?</p>", "marks": 2, "options": [{"id": "a", "text": "A"},
            {"id": "b", "text": "B"}, {"id": "c", "text": "C"}], "keys": ["a", "b"], "scoring": "per_option"},
            "1", "1.1", ["a"]),
]


def _plain(figures):
    return (figures.total, figures.available, figures.by_outcome, figures.by_criterion, figures.provisional)


def test_totals_are_the_sum_of_item_marks_with_lo_and_ac_breakdowns(app):
    with app.app_context():
        figures = compute(OUTCOMES, ROWS)
    assert figures.total == sum(m.awarded for m in figures.marks)
    assert figures.available == Decimal(7)
    assert sum(b["awarded"] for b in figures.by_outcome) == figures.total
    assert sum(b["awarded"] for b in figures.by_criterion) == figures.total
    assert {b["number"]: (b["awarded"], b["available"]) for b in figures.by_outcome} == \
        {"1": (figures.total - 2, Decimal(5)), "2": (Decimal(2), Decimal(2))}
    assert [b["number"] for b in figures.by_criterion] == ["1.1", "1.2", "2.1"]
    assert not figures.provisional


def test_marking_is_idempotent_and_order_independent(app):
    with app.app_context():
        expected = _plain(compute(OUTCOMES, ROWS))
        for rows in itertools.permutations(ROWS):  # every order of the items
            assert _plain(compute(OUTCOMES, list(rows))) == expected
        assert _plain(compute(OUTCOMES, ROWS)) == expected


def test_an_open_response_is_provisional_until_a_mark_is_in_force(app):
    essay = {"stem": "<p>Explain.</p>", "marks": 4, "mark_scheme": "<p>1 per point</p>"}
    waiting = mark_in_force([], second_marking=False, tolerance=Decimal(0))
    marked = mark_in_force([SimpleNamespace(stage=FIRST, awarded=Decimal(3))], False, Decimal(0))
    with app.app_context():
        before = compute(OUTCOMES, ROWS + [ItemRow("extended_response", essay, "2", "2.1", "text", waiting)])
        after = compute(OUTCOMES, ROWS + [ItemRow("extended_response", essay, "2", "2.1", "text", marked)])
        blank = compute(OUTCOMES, ROWS + [ItemRow("extended_response", essay, "2", "2.1", None, waiting)])
    assert before.provisional and before.marks[-1].outcome == "needs_marking"
    assert not after.provisional and after.total == before.total + 3 and after.marks[-1].outcome == "partial"
    assert not blank.provisional, "a blank open response needs no marker: it scores 0"


def test_the_mark_in_force_rule():
    m = lambda stage, value: SimpleNamespace(stage=stage, awarded=Decimal(value))  # noqa: E731
    assert mark_in_force([], True, Decimal(1)).waiting_for == FIRST
    assert mark_in_force([m(FIRST, 3)], False, Decimal(0)).awarded == 3
    assert mark_in_force([m(FIRST, 3)], True, Decimal(1)).waiting_for == SECOND
    agreed = mark_in_force([m(FIRST, 3), m(SECOND, 2)], True, Decimal(1))
    assert (agreed.awarded, agreed.waiting_for) == (3, None), "within tolerance the first mark stands"
    apart = mark_in_force([m(FIRST, 4), m(SECOND, 1)], True, Decimal(1))
    assert (apart.awarded, apart.waiting_for) == (None, MODERATION)
    assert mark_in_force([m(FIRST, 4), m(SECOND, 1), m(MODERATION, 2)], True, Decimal(1)).awarded == 2


def _finish_all_correct(app, demo, invigilator, candidate_factory, number="0001"):
    aisha = candidate_factory(number)
    aisha.sign_in()
    aisha.confirm()
    invigilator.start(demo["sitting_id"])
    for position, version, state in form_of(app, number):
        assert aisha.answer(position, correct_fields(app, version, state)).status_code == 200
    assert aisha.submit().status_code == 303


def test_a_fully_correct_attempt_gets_the_specifications_total(app, demo, invigilator, candidate_factory):
    _finish_all_correct(app, demo, invigilator, candidate_factory)
    attempt = attempt_of(app, "0001")
    spec_total = read(app, lambda s: s.scalar(select(models.TestSpecification.total_marks)
                                              .where(models.TestSpecification.code == "unit-2")))
    result = attempt.result
    assert result.total == result.available == spec_total == sum(fi.marks_awarded for fi in attempt.form_items)
    assert result.status == "confirmed" and result.passed
    assert sum(Decimal(b["awarded"]) for b in result.by_criterion) == result.total
    assert {b["number"] for b in result.by_criterion} == {fi.item_version.criterion.number for fi in attempt.form_items}
    # Every item is stored with the version its marks came from.
    assert all(fi.marked_version_id == fi.item_version_id and fi.mark_outcome == "correct" for fi in attempt.form_items)


def test_marking_an_attempt_again_changes_nothing(app, demo, invigilator, candidate_factory):
    _finish_all_correct(app, demo, invigilator, candidate_factory)
    with app.app_context():
        session = db.new_session(app)
        attempt = session.scalar(select(models.Attempt).join(models.Entry).join(models.Candidate)
                                 .where(models.Candidate.candidate_number == "0001"))
        before = (attempt.result.total, attempt.result.by_outcome, attempt.result.by_criterion,
                  [(fi.marks_awarded, fi.mark_outcome) for fi in attempt.form_items])
        with db.writing(session):
            marking.mark_attempt(session, attempt, attempt.result.marked_at)
        after = (attempt.result.total, attempt.result.by_outcome, attempt.result.by_criterion,
                 [(fi.marks_awarded, fi.mark_outcome) for fi in attempt.form_items])
        session.close()
    assert before == after


def test_outcome_states_show_in_results(app, demo, invigilator, candidate_factory):
    sitting_id = marking_demo(app)
    attempt = attempt_of(app, "0101")
    assert attempt.result.status == "provisional" and marking.outcome_label(attempt) == "Provisional"
    kira = attempt_of(app, "0104")  # left the open response blank: nothing to mark
    assert kira.result.status == "confirmed" and marking.outcome_label(kira) == "Fail"
    page = invigilator.client.get(f"/results/sittings/{sitting_id}").get_data(as_text=True)
    assert "Provisional" in page and "Fail" in page
