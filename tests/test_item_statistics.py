"""Item statistics against values computed by hand on small fixed data sets, and from the database
after the marking demo is marked."""
from __future__ import annotations

import math
from decimal import Decimal

import pytest
from sqlalchemy import select

from engine import item_statistics as stats
from engine import db, models
from engine.item_statistics import Bounds, Observation

from centres_support import read
from marking_support import MARKER, browser, mark, marking_demo, script_ids

#: Four candidates, three 1-mark items: a perfect Guttman pattern.
#:            item1 item2 item3  total
#:   P1         1     1     1      3
#:   P2         1     1     0      2
#:   P3         1     0     0      1
#:   P4         0     0     0      0
MATRIX = [[1, 1, 1], [1, 1, 0], [1, 0, 0], [0, 0, 0]]


def _observations(column: int, responses=None, seconds=None) -> list[Observation]:
    return [Observation(i, Decimal(sum(row)), Decimal(row[column]), Decimal(1),
                        responses[i] if responses else None, seconds[i] if seconds else None)
            for i, row in enumerate(MATRIX)]


def test_facility_and_discrimination_by_hand():
    first = stats.item_figures(1, "i1", _observations(0), None)
    # Facility 3/4. Corrected point-biserial: item [1,1,1,0] against the rest [2,1,0,0]:
    # sxy = .75, sxx = .75, syy = 2.75, so r = .75 / sqrt(.75 * 2.75) = 0.5222.
    assert first.facility == pytest.approx(0.75)
    assert first.discrimination == pytest.approx(0.75 / math.sqrt(0.75 * 2.75))
    assert first.discrimination == pytest.approx(0.5222, abs=1e-4)
    second = stats.item_figures(2, "i2", _observations(1), None)
    # Item [1,1,0,0] against the rest [2,1,1,0]: r = 1 / sqrt(1 * 2) = 0.7071.
    assert (second.facility, second.discrimination) == (pytest.approx(0.5), pytest.approx(1 / math.sqrt(2)))


def test_kr20_and_cronbachs_alpha_by_hand():
    # KR-20: k = 3; totals 3, 2, 1, 0 have variance 1.25; sum of pq = .1875 + .25 + .1875 = .625;
    # 3/2 * (1 - .625 / 1.25) = 0.75.
    assert stats.reliability(MATRIX) == ("KR-20", pytest.approx(0.75))
    # Alpha on partial marks: items [1, .5, 0] and [.5, .5, 0]; totals 1.5, 1, 0 (variance 7/18);
    # item variances 1/6 and 1/18; 2 * (1 - (4/18) / (7/18)) = 6/7.
    assert stats.reliability([[1, 0.5], [0.5, 0.5], [0, 0]]) == ("Cronbach's alpha", pytest.approx(6 / 7))
    assert stats.reliability([[1, 1], [1, 1]]) is None, "totals that do not vary: undefined"
    assert stats.reliability([[1], [0]]) is None, "one item: undefined"


def test_choices_mean_time_and_flags():
    responses = ["a", "b", "b", None]
    found = stats.item_figures(1, "i1", _observations(0, responses, [10.0, 20.0, None, 30.0]), ["a", "b", "c"],
                               Bounds(min_attempts=4))
    assert found.choices == {"a": 1, "b": 2, "c": 0, "(blank)": 1}
    assert found.mean_seconds == pytest.approx(20.0)
    assert found.flags == ["option(s) never chosen: c"]
    # Too easy and a negative discrimination: the key may be wrong.
    backwards = [Observation(i, Decimal(t), Decimal(a), Decimal(1)) for i, (t, a) in
                 enumerate([(1, 1), (1, 1), (1, 1), (1, 1), (5, 0)])]
    flagged = stats.item_figures(9, "i9", backwards, None, Bounds(min_attempts=5))
    assert flagged.facility == pytest.approx(0.8)
    assert any(f.startswith("negative discrimination") for f in flagged.flags)
    assert stats.item_figures(9, "i9", backwards, None, Bounds(min_attempts=6)).flags == [], "too few attempts"
    easy = stats.item_figures(8, "i8", [Observation(i, Decimal(i), Decimal(1), Decimal(1)) for i in range(10)], None)
    assert easy.flags[0].startswith("easy: facility 1.00") and easy.discrimination is None


def test_statistics_from_the_database_after_marking(app, demo):
    sitting_id = marking_demo(app)
    keys = read(app, lambda s: dict(s.execute(select(models.Item.key, models.Item.id)
                                              .where(models.Item.key.like("u9-%"))).all()))
    # Provisional results do not count: only 0104 (blank open response) is confirmed so far.
    early = read(app, lambda s: stats.statistics_for_items(s, keys.values()))
    assert early[keys["u9-1.1-01"]].n == 1
    scripts = script_ids(app, sitting_id)
    marker = browser(app, MARKER)
    for number, value in (("0101", 4), ("0102", 1), ("0103", 2)):
        assert mark(app, marker, sitting_id, scripts[number], value).status_code == 303
    figures = read(app, lambda s: stats.statistics_for_items(s, keys.values()))
    first = figures[keys["u9-1.1-01"]]
    # Answers b, b, a, b with key b: facility 3/4; choices as given.
    assert (first.n, first.facility) == (4, pytest.approx(0.75))
    assert first.choices == {"a": 1, "b": 3, "c": 0}
    # The open response: 4, 1, 2 of 4 and a blank: (1 + .25 + .5 + 0) / 4.
    assert figures[keys["u9-2.1-01"]].facility == pytest.approx(1.75 / 4)
    assert figures[keys["u9-1.1-02"]].choices == {"true": 2, "false": 2}
    # Saves are two minutes apart in the demo, from the start: 120 s for each item.
    assert first.mean_seconds == pytest.approx(120.0)
    spec = read(app, lambda s: s.scalar(select(models.TestSpecification).where(
        models.TestSpecification.code == "demo-marking")))
    name, value, attempts, common = read(app, lambda s: stats.test_reliability(s, spec))
    assert (name, attempts, common) == ("Cronbach's alpha", 4, 4) and -5 < value <= 1
    page = browser(app, ("reviewer", "review-demo")).client.get(f"/results/statistics/{spec.id}")
    assert page.status_code == 200 and "u9-1.1-01" in page.get_data(as_text=True)
    assert "Cronbach" in page.get_data(as_text=True)
    # The figures feed the assembler only with enough attempts.
    assert read(app, lambda s: stats.measured_difficulty(s, keys.values(), minimum=5)) == {}
    measured = read(app, lambda s: stats.measured_difficulty(s, keys.values(), minimum=4))
    assert measured[keys["u9-1.1-01"]] == Decimal("0.25")
    # A load test's scripted answers are no evidence: the same attempts at a load-test centre
    # count for nothing (thousands of them once made every item look hard).
    session = db.new_session(app)
    with db.writing(session):
        session.get(models.Sitting, sitting_id).centre.load_test = True
    session.close()
    assert read(app, lambda s: stats.measured_difficulty(s, keys.values(), minimum=1)) == {}
    assert read(app, lambda s: stats.statistics_for_items(s, keys.values()))[keys["u9-1.1-01"]].n == 0


def test_measured_difficulty_feeds_assembly_and_the_form_can_still_be_made_again(app, demo):
    from engine import attempts, clock, db, forms
    sitting_id = marking_demo(app)
    scripts = script_ids(app, sitting_id)
    marker = browser(app, MARKER)
    for number in ("0101", "0102", "0103"):
        mark(app, marker, sitting_id, scripts[number], 2)
    app.config["STATISTICS_MIN_ATTEMPTS"] = 4
    with app.app_context():
        session = db.new_session(app)
        spec = session.scalar(select(models.TestSpecification).where(models.TestSpecification.code == "demo-marking"))
        pool = attempts.live_pool(session, spec)
        measured = {p.key: p.difficulty for p in pool if p.measured}
        # u9-1.1-01: three of four right, so difficulty 0.25 (the bank's estimate was 0.3).
        assert measured["u9-1.1-01"] == Decimal("0.25") and len(measured) == 4
        with db.writing(session):
            centre = session.scalar(select(models.Centre).where(models.Centre.number == "99001"))
            candidate = session.scalar(select(models.Candidate).where(models.Candidate.candidate_number == "0101"))
            sitting = attempts.open_sitting(session, centre=centre, specification=spec, candidates=[candidate],
                                            title="resit", actor="test", staff_id=None, now=clock.now(session))
        attempt = sitting.entries[0].attempt
        record = session.scalar(select(models.AuditEvent).where(
            models.AuditEvent.action == "attempt.assemble", models.AuditEvent.subject == f"attempt:{attempt.id}"))
        assert "0.25" in record.detail["measured_difficulty"].values()
        assert forms.reproduce(session, attempt) == [fi.item_version_id for fi in attempt.form_items]
        session.close()
    app.config["STATISTICS_MIN_ATTEMPTS"] = 5
    with app.app_context():
        session = db.new_session(app)
        assert not [p for p in attempts.live_pool(session, spec) if p.measured], "too few attempts: the estimate stays"
        session.close()
