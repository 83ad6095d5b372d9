"""``onscreen bank export DIR``: write the bank in the database back to its YAML files.

Reviewed content belongs in version control. For every unit whose folder is under DIR (found by
the URN in its ``unit.yaml``), each item is written to the file that holds it (or the file it was
loaded from; a new item goes to ``lo<N>.yaml`` of its outcome, else ``authored.yaml``). Files are
patched, not rewritten: an item whose entry already says what the database says keeps its lines,
comments and folding exactly, so a diff shows only real changes; a changed item's block is
replaced in place; a new item is added at the end. What an item's entry holds:

* a live or retired item: its live (latest approved) version; a newer draft stays in the database
  until it is approved, so the files only ever hold reviewed text;
* an item never approved: its latest version, with its status (draft or in_review).

Images the items use are written beside the files (``engine.assets.export_bank_images``). The files
are then what ``bank load`` would read back without a single new version (the test proves it).
Nothing is written if an item file holds an item the database does not (load the bank first).

``--format yaml`` is the default; any other format is the interchange exporters' (engine/interchange).
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import click
import yaml
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from engine import assets, banks, db, models
from engine.authoring_workflow import live_version, reviews_for, version_state
from engine.yaml_lines import YamlError, read_yaml

#: Where long lines fold: near where the writers of the bank files fold theirs.
WIDTH = 94
#: The order of an item's keys, as the bank files write them; the definition's keys follow.
LEADING = ("id", "type", "criterion", "topics", "marks", "difficulty", "status", "review", "stem")


@dataclass
class ExportSummary:
    units: int = 0
    items: int = 0
    files: list[Path] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    #: Image files to write beside the bank files (path -> bytes), gathered before anything is written.
    images: dict[Path, bytes] = field(default_factory=dict)


class _Dumper(yaml.SafeDumper):
    """The house style of the bank files, so an export shows only real changes in a diff: list
    items indented under their key, short lists of ids in flow style, long HTML folded (``>-``),
    text with line breaks as a literal block, and text that looks like a number quoted "so"."""

    def increase_indent(self, flow=False, indentless=False):
        return super().increase_indent(flow, False)


def _str(dumper, value: str):
    if "\n" in value:
        style = "|"
    elif value.startswith("<") and len(value) > 80 and value == value.strip():
        style = ">"  # authored HTML, folded as writers fold it
    elif dumper.resolve(yaml.ScalarNode, value, (True, False)) != "tag:yaml.org,2002:str":
        style = '"'  # "1.1", "2026-11-22", "true": kept as text, quoted as the files quote them
    else:
        style = None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _list(dumper, value: list):
    ids = value and all(isinstance(v, str) and v and len(v) < 60 and " " not in v for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=bool(ids))


def _decimal(dumper, value: Decimal):
    value = value.normalize()
    if value == value.to_integral_value():
        return dumper.represent_int(int(value))
    return dumper.represent_float(float(value))


_Dumper.add_representer(str, _str)
_Dumper.add_representer(Decimal, _decimal)
_Dumper.add_representer(list, _list)


def _entry(session: Session, item: models.Item, version: models.ItemVersion, status: str, review_row,
           unit_folder: Path, images: dict[Path, bytes]) -> dict:
    definition = assets.export_bank_images(session, dict(version.definition), unit_folder, images)
    if review_row is not None and review_row.state == "approved":
        review = {"written_by": review_row.written_by, "reviewed_by": review_row.approved_by,
                  "reviewed_on": review_row.approved_at.date().isoformat()}
    elif review_row is not None:
        review = {"written_by": review_row.written_by}
    else:
        review = dict((version.provenance or {}).get("review") or {})
    entry = {"id": item.key, "type": version.type_name, "criterion": version.criterion.number,
             "topics": list(version.topics), "marks": definition.pop("marks", None)}
    if version.difficulty is not None:
        entry["difficulty"] = version.difficulty
    entry["status"] = status
    if review:
        entry["review"] = review
    for key in LEADING[len(entry):]:
        if key in definition:
            entry[key] = definition.pop(key)
    entry.update(definition)
    if version.enemies:
        entry["enemies"] = list(version.enemies)
    return entry


def _file_of(item: models.Item) -> str | None:
    """The file the item's most recent file version came from."""
    for version in reversed(item.versions):
        if (version.provenance or {}).get("file"):
            return version.provenance["file"]
    return None


def _new_file(version: models.ItemVersion, items_folder: Path) -> str:
    by_outcome = f"lo{version.criterion.number.split('.')[0]}.yaml"
    return by_outcome if (items_folder / by_outcome).is_file() else "authored.yaml"


def _block(entry: dict) -> list[str]:
    """One item as the lines of a ``  - id: ...`` block under ``items:``."""
    text = yaml.dump([entry], Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=WIDTH)
    return [f"  {line}" for line in text.splitlines()]


def _same(entry: dict, written: dict) -> bool:
    """True if the file's entry already says what ``entry`` says (as YAML reads both)."""
    return yaml.safe_load(yaml.dump(entry, Dumper=_Dumper, sort_keys=False)) == written


@dataclass
class _ItemFile:
    """An item file as read: its lines and, per item, where its block starts and ends."""
    lines: list[str]
    keys: list[str]
    entries: list[dict]
    spans: list[tuple[int, int]]  # 0-based [start, end) of each item's own lines

    @classmethod
    def read(cls, file: Path) -> "_ItemFile":
        data, where = read_yaml(file)
        lines = file.read_text(encoding="utf-8").splitlines()
        entries = [e for e in ((data or {}).get("items") or []) if isinstance(e, dict)]
        starts = [where[("items", i)] - 1 for i in range(len(entries))]
        spans = []
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(lines)
            # Blank and comment lines just before the next item belong to it, not to this one.
            while end > start + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
                end -= 1
            spans.append((start, end))
        return cls(lines, [str(e.get("id")) for e in entries], entries, spans)


def _patched(original: _ItemFile | None, entries: dict[str, dict], order: list[str]) -> str:
    """The file's text with each changed item's block replaced and new items added at the end;
    unchanged items, comments and blank lines are kept exactly as written."""
    out: list[str] = []
    if original is None:
        out.append("items:")
    else:
        cursor = 0
        for key, written, (start, end) in zip(original.keys, original.entries, original.spans):
            out += original.lines[cursor:start]
            out += original.lines[start:end] if _same(entries[key], written) else _block(entries[key])
            cursor = end
        out += original.lines[cursor:]
        while out and not out[-1].strip():
            out.pop()
    known = set(original.keys) if original else set()
    for key in order:
        if key not in known:
            if out[-1] != "items:":
                out.append("")
            out += _block(entries[key])
    return "\n".join(out) + "\n"


def export_unit(session: Session, unit: models.Unit, folder: Path, summary: ExportSummary) -> dict[Path, str]:
    """The text of each item file of ``unit``; problems go into ``summary`` (and then nothing
    should be written)."""
    items = session.scalars(select(models.Item).where(models.Item.unit_id == unit.id).options(
        selectinload(models.Item.versions).selectinload(models.ItemVersion.criterion))).all()
    reviews = reviews_for(session, [v for item in items for v in item.versions])
    items_folder = folder / "items"
    files: dict[str, _ItemFile] = {}
    in_files: dict[str, str] = {}
    problems_before = len(summary.problems)
    for file in sorted(items_folder.glob("*.yaml")):
        try:
            files[file.name] = _ItemFile.read(file)
        except YamlError as exc:
            summary.problems.append(f"{file}:{exc.line}: {exc.message} (fix or load the files first)")
            continue
        for key in files[file.name].keys:
            in_files[key] = file.name
    for key in sorted(set(in_files) - {item.key for item in items}):
        summary.problems.append(f"{items_folder / in_files[key]}: item {key!r} is not in the database: load the bank first")
    if len(summary.problems) > problems_before:
        return {}
    placed: dict[str, dict[str, dict]] = {}
    for item in sorted(items, key=lambda i: i.key):
        if not item.versions:
            continue
        version = live_version(item, reviews) if item.status in ("live", "retired") else None
        if version is None and item.status == "retired":
            approved = [v for v in item.versions if version_state(item, v, reviews.get(v.id)) == "approved"]
            version = approved[-1] if approved else None
        status = item.status
        if version is None:  # never approved: the working version, as it stands
            version = item.versions[-1]
            status = "in_review" if version_state(item, version, reviews.get(version.id)) == "in_review" else "draft"
        name = in_files.get(item.key) or _file_of(item) or _new_file(version, items_folder)
        placed.setdefault(name, {})[item.key] = _entry(session, item, version, status, reviews.get(version.id),
                                                       folder, summary.images)
    texts = {}
    for name, entries in sorted(placed.items()):
        texts[items_folder / name] = _patched(files.get(name), entries, list(entries))
        summary.items += len(entries)
    summary.units += 1
    return texts


def export_banks(session: Session, root: Path) -> ExportSummary:
    """Write every unit of the database that has a folder under ``root`` (see the module doc)."""
    summary = ExportSummary()
    folders = {}
    for folder in banks.unit_folders(root):
        try:
            data, _ = read_yaml(folder / "unit.yaml")
        except YamlError as exc:
            summary.problems.append(f"{folder / 'unit.yaml'}:{exc.line}: {exc.message}")
            continue
        if isinstance(data, dict):
            folders[data.get("urn")] = folder
    texts: dict[Path, str] = {}
    for unit in session.scalars(select(models.Unit).order_by(models.Unit.urn)):
        if unit.urn in folders:
            texts.update(export_unit(session, unit, folders[unit.urn], summary))
    if not folders:
        summary.problems.append(f"{root}: no unit.yaml here or in any sub-folder")
    if summary.problems:  # all or nothing: a half-exported bank is worse than none
        summary.items = summary.units = 0
        return summary
    for file, data in summary.images.items():
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(data)
        summary.files.append(file)
    for file, text in texts.items():
        if file.is_file() and file.read_text(encoding="utf-8") == text:
            continue  # untouched, so version control sees no change at all
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(text, encoding="utf-8")
        summary.files.append(file)
    return summary


@click.command("export")
@click.argument("path", type=click.Path(file_okay=False, path_type=Path))
@click.option("--format", "fmt", default="yaml", show_default=True,
              help="yaml writes the bank back to its files; other formats are the interchange exporters'.")
@click.option("--unit", "unit_urn", default=None, help="Only this unit (interchange formats).")
@with_appcontext
def export_command(path: Path, fmt: str, unit_urn: str | None):
    """Write the bank in the database back to the YAML files under PATH (item_banks/)."""
    if fmt != "yaml":
        try:
            from engine.interchange.cli import run_export
        except ImportError:
            click.echo(f"--format {fmt}: the interchange exporters are not installed here", err=True)
            sys.exit(2)
        run_export(fmt=fmt, path=path, unit=unit_urn)
        return
    if not path.is_dir():
        click.echo(f"{path}: not a folder of item banks", err=True)
        sys.exit(1)
    session = db.new_session()
    try:
        summary = export_banks(session, path)  # reads only: the database is not changed
    finally:
        session.close()
    for problem in summary.problems:
        click.echo(problem, err=True)
    for file in summary.files:
        click.echo(f"wrote {file}")
    click.echo(f"Exported {summary.items} item(s) of {summary.units} unit(s); {len(summary.files)} file(s) changed.")
    if summary.problems:
        sys.exit(1)
