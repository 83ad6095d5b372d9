"""`onscreen bank export DIR`: the database's bank written back to its YAML files, so that a load
of the files finds nothing new; only reviewed text reaches the files; nothing is lost."""
from __future__ import annotations

import hashlib
import io
import shutil

import yaml
from sqlalchemy import select

from engine import banks, db, models
from engine.plugins import item_types

from authoring_support import create_item, example_definition, item_id, staff
from conftest import BANKS
from test_assets import png


def _load(app, path, clock):
    with app.app_context():
        session = db.new_session(app)
        with db.writing(session):
            summary = banks.load(session, path, item_types(app), clock.now)
        session.close()
    return summary


def _items(file):
    return {entry["id"]: entry for entry in yaml.safe_load(file.read_text(encoding="utf-8"))["items"]}


def test_export_then_load_changes_nothing(app, runner, clock, tmp_path):
    bank = tmp_path / "item_banks"
    shutil.copytree(BANKS, bank)
    first = _load(app, bank, clock)
    before = {f: f.read_bytes() for f in sorted(bank.rglob("*")) if f.is_file()}
    result = runner.invoke(args=["bank", "export", str(bank)])
    assert result.exit_code == 0, result.output
    assert f"Exported {first.items_added} item(s) of 3 unit(s); 0 file(s) changed." in result.output
    # Byte for byte: comments, folding and order kept, so version control sees nothing.
    assert {f: f.read_bytes() for f in sorted(bank.rglob("*")) if f.is_file()} == before
    with app.app_context():
        assert banks.check(bank, item_types(app)) == []
    again = _load(app, bank, clock)
    assert (again.versions_added, again.unchanged) == (0, first.items_added)


def test_reviewed_items_reach_their_files_and_drafts_wait(app, demo, runner, clock, tmp_path):
    bank = tmp_path / "item_banks"
    shutil.copytree(BANKS, bank)
    writer, reviewer = staff(app, "writer", "write-demo"), staff(app, "reviewer", "review-demo")
    # A new item with an uploaded image, approved.
    image = png(5, 5)
    writer.client.post("/author/images", data={"csrf_token": writer.csrf, "image": (io.BytesIO(image), "a.png")},
                       content_type="multipart/form-data")
    url = f"/assets/{hashlib.sha256(image).hexdigest()}.png"
    definition = {**example_definition("single_choice"), "stem": f'<p>Look: <img src="{url}" alt="A red square"></p>'}
    assert create_item(writer, app, "single_choice", "u2-1.1-90", definition).status_code == 303
    new_id = item_id(app, "u2-1.1-90")
    writer.post(f"/author/items/{new_id}/workflow", action="submit")
    reviewer.post(f"/author/items/{new_id}/workflow", action="approve")
    # A draft that never went to review, and an edit of a live item waiting for review.
    create_item(writer, app, "numeric", "u2-1.1-91")
    live_key = "u2-1.1-01"
    with app.app_context():
        session = db.new_session(app)
        live_item = session.scalar(select(models.Item).where(models.Item.key == live_key))
        live_stem, live_id = live_item.versions[-1].definition["stem"], live_item.id
        session.close()
    from test_authoring_workflow import _form_fields
    page = writer.client.get(f"/author/items/{live_id}/edit").get_data(as_text=True)
    data = {**_form_fields(page), "csrf_token": writer.csrf, "action": "save", "a-stem": "<p>A rewritten stem?</p>"}
    assert writer.client.post(f"/author/items/{live_id}/edit", data=data).status_code == 303

    result = runner.invoke(args=["bank", "export", str(bank)])
    assert result.exit_code == 0, result.output
    original = (BANKS / "unit-2-Y-506-2152/items/lo1.yaml").read_text(encoding="utf-8")
    exported = (bank / "unit-2-Y-506-2152/items/lo1.yaml").read_text(encoding="utf-8")
    assert exported.startswith(original.rstrip("\n"))  # every existing line kept; new items appended
    lo1 = _items(bank / "unit-2-Y-506-2152/items/lo1.yaml")
    assert lo1[live_key]["stem"] == live_stem and lo1[live_key]["status"] == "live"  # the approved text only
    written = lo1["u2-1.1-90"]
    assert written["status"] == "live"
    assert written["review"]["written_by"] == "staff:writer" and written["review"]["reviewed_by"] == "staff:reviewer"
    relative = f"assets/{hashlib.sha256(image).hexdigest()[:16]}.png"
    assert f'src="{relative}"' in written["stem"]
    assert (bank / "unit-2-Y-506-2152" / relative).read_bytes() == image
    assert lo1["u2-1.1-91"]["status"] == "draft"
    with app.app_context():
        assert banks.check(bank, item_types(app)) == []
    # Loading the exported files again adds nothing and leaves the waiting draft on top.
    again = _load(app, bank, clock)
    assert again.versions_added == 0
    with app.app_context():
        session = db.new_session(app)
        live_item = session.get(models.Item, live_id)
        assert live_item.versions[-1].definition["stem"] == "<p>A rewritten stem?</p>"
        assert url in session.scalar(select(models.Item).where(models.Item.key == "u2-1.1-90")).versions[-1].definition["stem"]
        session.close()


def test_export_refuses_to_drop_an_item_only_the_files_hold(app, runner, clock, tmp_path):
    bank = tmp_path / "item_banks"
    shutil.copytree(BANKS / "unit-5-J-506-2910", bank / "unit-5")
    _load(app, bank, clock)
    target = sorted((bank / "unit-5/items").glob("*.yaml"))[0]
    text = target.read_text(encoding="utf-8")
    entry = yaml.safe_load(text)["items"][0]
    extra = "".join(f"  {line}\n" for line in yaml.safe_dump([{**entry, "id": "u5-extra-01"}], sort_keys=False).splitlines())
    target.write_text(text.rstrip("\n") + "\n\n" + extra, encoding="utf-8")
    snapshot = {f: f.read_bytes() for f in bank.rglob("*.yaml")}
    result = runner.invoke(args=["bank", "export", str(bank)])
    assert result.exit_code == 1
    assert "'u5-extra-01' is not in the database: load the bank first" in result.output
    assert {f: f.read_bytes() for f in bank.rglob("*.yaml")} == snapshot
    (bank / "unit-5/items/lo2.yaml").write_text("items: [unclosed\n", encoding="utf-8")
    snapshot = {f: f.read_bytes() for f in bank.rglob("*.yaml")}
    broken = runner.invoke(args=["bank", "export", str(bank)])
    assert broken.exit_code == 1 and "lo2.yaml" in broken.output
    assert {f: f.read_bytes() for f in bank.rglob("*.yaml")} == snapshot  # a broken file is never overwritten


def test_other_formats_are_left_to_the_interchange_exporters(app, runner, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = runner.invoke(args=["bank", "export", str(out), "--format", "gift"])
    try:
        import engine.interchange.cli  # noqa: F401
    except ImportError:
        assert result.exit_code == 2 and "not installed" in result.output
    else:  # handed over: the interchange exporter asks for the unit it needs
        assert result.exit_code == 2 and "--format gift needs --unit" in result.output
    assert not list(out.iterdir())  # and the YAML export wrote nothing


def test_an_approved_edit_replaces_only_its_own_block(app, demo, runner, clock, tmp_path):
    from test_authoring_workflow import _form_fields
    bank = tmp_path / "item_banks"
    shutil.copytree(BANKS, bank)
    writer, reviewer = staff(app, "writer", "write-demo"), staff(app, "reviewer", "review-demo")
    live_id = item_id(app, "u2-1.2-01")
    page = writer.client.get(f"/author/items/{live_id}/edit").get_data(as_text=True)
    data = {**_form_fields(page), "csrf_token": writer.csrf, "action": "save", "a-stem": "<p>Which step comes first?</p>"}
    assert writer.client.post(f"/author/items/{live_id}/edit", data=data).status_code == 303
    writer.post(f"/author/items/{live_id}/workflow", action="submit")
    assert reviewer.post(f"/author/items/{live_id}/workflow", action="approve").status_code == 303
    result = runner.invoke(args=["bank", "export", str(bank)])
    assert result.exit_code == 0 and "1 file(s) changed" in result.output, result.output
    file = bank / "unit-2-Y-506-2152/items/lo1.yaml"
    before, after = (BANKS / file.relative_to(bank)).read_text().splitlines(), file.read_text().splitlines()
    import difflib
    changed = [line for line in difflib.unified_diff(before, after, lineterm="", n=0)
               if line[:1] in "+-" and not line.startswith(("+++", "---"))]
    assert "+    stem: <p>Which step comes first?</p>" in changed
    assert all("u2-1.2-01" in line or not line.lstrip("+- ").startswith("- id:") for line in changed)
    assert list(_items(file)) == list(_items(BANKS / file.relative_to(bank)))  # same order
    entry = _items(file)["u2-1.2-01"]
    assert entry["review"]["reviewed_by"] == "staff:reviewer"
    assert _load(app, bank, clock).versions_added == 0
