"""The candidate pages read a form as rows (``engine.candidate.FormCell``), not ORM objects:
the same positions, flags, answers and "answered" rule as ``FormItem``, on either database."""
from __future__ import annotations

from sqlalchemy import update

from engine import candidate, db, models

from test_finish_cost import open_room, start_room

#: Stored answers, and whether each counts as answered (FormItem.answered's rule).
ANSWERS = [(None, False), ("", False), ([], False), ({}, False), (0, True), (False, True), ("a", True),
           (["x"], True), ({"gap-1": "b"}, True), ("a long answer with spaces", True), ([""], True)]


def test_form_cells_read_what_the_form_items_hold(app, demo, clock):
    ((attempt_id, _deadline),) = start_room(app, open_room(app, 1, clock.now, "9"), clock.now)
    with app.app_context():
        session = db.new_session(app)
        form = session.get(models.Attempt, attempt_id).form_items
        assert len(form) >= len(ANSWERS)
        with db.writing(session):
            for form_item, (answer, _answered) in zip(form, ANSWERS):
                # Through the column's own type, as a save stores it (JSON null as SQL NULL).
                session.execute(update(models.FormItem).where(models.FormItem.id == form_item.id)
                                .values(current_response=answer, flagged=form_item.position % 3 == 0))
        session.close()
        session = db.new_session(app)
        form = session.get(models.Attempt, attempt_id).form_items
        with app.test_request_context():
            cells = candidate._form_items(session.get(models.Attempt, attempt_id))
        assert [c.position for c in cells] == [fi.position for fi in form]
        for cell, form_item in zip(cells, form):
            assert (cell.flagged, cell.item_version_id, cell.current_seq) == \
                (form_item.flagged, form_item.item_version_id, form_item.current_seq)
            assert cell.current_response == form_item.current_response
            assert cell.start_state == form_item.start_state
            assert cell.answered == form_item.answered
        assert [c.answered for c in cells[:len(ANSWERS)]] == [answered for _answer, answered in ANSWERS]
        session.close()
