"""Import and export items in IMS QTI 2.1/2.2 and 3.0, Moodle GIFT, Moodle XML and Aiken.

The public functions (the CLI in ``engine/interchange_cli.py`` and the UI both call these):

* :func:`import_file` (never raises: a file it cannot read at all is ``report.error``) reads a file, maps every question to an item of the unit (key,
  criterion, topics), checks it with its item type's own validator and stores the good ones as
  new items (status ``draft``) or new versions of existing ones, all in one transaction; with
  ``strict`` it stores nothing unless every question can be represented exactly.
* :func:`read_items` only reads (no database): for a preview.
* :func:`unit_items` and :func:`export_items` write a unit's items in a format, listing every
  item the format cannot carry and why.

Readers never trust the file: XML is parsed with entities and network access refused
(:mod:`safe_xml`), packages are unpacked in memory with path and size limits (:mod:`packages`),
and all HTML goes through :func:`engine.sanitize.sanitise_html`.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import assets, banks, models
from engine.interchange import aiken, gift, moodle_xml, moodle_xml_write, qti_read, qti_write
from engine.interchange.images import FoundImage, find_images
from engine.interchange.model import CRITERION_IN_TEXT, CRITERION_TAG, ParsedItem, Skipped, make_key
from engine.interchange.packages import MAX_UPLOAD_BYTES
from engine.interchange.safe_xml import InterchangeError

__all__ = ["IMPORT_FORMATS", "EXPORT_FORMATS", "ImportReport", "ImportedItem", "ImportProblem", "ExportResult",
           "InterchangeError", "import_file", "read_items", "unit_items", "export_items"]

IMPORT_FORMATS = {"qti": qti_read.read, "gift": gift.read, "moodlexml": moodle_xml.read, "aiken": aiken.read}
#: format -> (file suffix, media type)
EXPORT_FORMATS = {"qti": (".zip", "application/zip"), "qti3": (".zip", "application/zip"),
                  "gift": (".gift.txt", "text/plain; charset=utf-8"), "moodlexml": (".xml", "application/xml"),
                  "aiken": (".aiken.txt", "text/plain; charset=utf-8")}


@dataclass
class ImportedItem:
    key: str
    type_name: str
    criterion: str
    topics: list[str]
    definition: dict
    where: str
    notes: list[str] = field(default_factory=list)
    approximations: list[str] = field(default_factory=list)
    #: src -> the image's bytes from the package, stored (and the src rewritten) when the import is.
    images: dict[str, FoundImage] = field(default_factory=dict, repr=False)

    def as_bank_item(self) -> dict:
        """The item as a bank file writes it (``id``, ``type``, ``criterion``, ``topics``, definition)."""
        return {"id": self.key, "type": self.type_name, "criterion": self.criterion, "topics": list(self.topics),
                **self.definition}


@dataclass(frozen=True)
class ImportProblem:
    where: str
    key: str | None
    reason: str

    def __str__(self) -> str:
        return f"{self.where}" + (f" [{self.key}]" if self.key else "") + f": {self.reason}"


@dataclass
class ImportReport:
    source: str
    fmt: str
    unit_urn: str
    strict: bool
    items: list[ImportedItem] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    stored: bool = False
    #: Why nothing could be read at all (an unreadable or hostile file, an unknown unit), else None.
    error: str | None = None
    items_added: int = 0
    versions_added: int = 0
    unchanged: int = 0

    @property
    def notes(self) -> list[str]:
        return [note for item in self.items for note in item.notes + item.approximations]

    def summary(self) -> str:
        if self.error:
            return f"Nothing imported: {self.error}"
        if not self.stored:
            why = f"{len(self.problems)} question(s) cannot be imported" if self.problems else "nothing to import"
            return f"Nothing imported from {self.source}: {why}" + (" (strict)" if self.strict and self.problems else "")
        return (f"Imported {len(self.items)} item(s) from {self.source} into {self.unit_urn}: {self.items_added} new, "
                f"{self.versions_added - self.items_added} new version(s), {self.unchanged} unchanged; "
                f"{len(self.problems)} question(s) left out.")

    def lines(self) -> list[str]:
        """The summary, then every question left out and every note, one per line."""
        return ([self.summary()] + [f"Not imported: {problem}" for problem in self.problems]
                + [f"Note: {note}" for note in self.notes])

    def __str__(self) -> str:
        return "\n".join(self.lines())


def read_items(data: bytes, fmt: str, filename: str = "upload") -> list[ParsedItem | Skipped]:
    """Read a file in ``fmt`` without touching the database; raises InterchangeError if it cannot be read."""
    if fmt not in IMPORT_FORMATS:
        raise InterchangeError(f"unknown import format {fmt!r}; use one of {', '.join(IMPORT_FORMATS)}")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InterchangeError(f"{filename}: refused: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    return IMPORT_FORMATS[fmt](data, filename)


def import_file(source: bytes | Path, fmt: str, unit_urn: str, strict: bool = False, *, db: Session | None = None,
                item_types: dict | None = None, now: dt.datetime | None = None, criterion: str | None = None,
                dry_run: bool = False, filename: str | None = None) -> ImportReport:
    """Import the questions in ``source`` into the unit ``unit_urn`` in one write transaction.

    Never raises for a bad file or an unknown unit: the report says what went wrong (``error``).

    :param source: the file's bytes, or a path to read.
    :param strict: store nothing unless every question is represented exactly.
    :param db: the session to write with (default: the request's, ``engine.db.session()``).
    :param item_types: the registry (default: the current app's); ``now``: default the database clock.
    :param criterion: the assessment criterion ("1.2") for questions whose file names none.
    :param dry_run: check and report only.
    """
    from engine import clock
    from engine import db as database
    from engine.plugins import item_types as registry
    db = db if db is not None else database.session()
    item_types = item_types if item_types is not None else registry()
    if isinstance(source, Path):
        filename = filename or source.name
    report = ImportReport(source=filename or "upload", fmt=fmt, unit_urn=unit_urn, strict=strict)
    try:
        if isinstance(source, Path):
            if source.stat().st_size > MAX_UPLOAD_BYTES:
                raise InterchangeError(f"{source.name}: refused: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
            source = source.read_bytes()
        parsed = read_items(source, fmt, report.source)
        with database.writing(db):
            unit = db.scalar(select(models.Unit).where(models.Unit.urn == unit_urn))
            if unit is None:
                raise InterchangeError(f"there is no unit {unit_urn}: load its bank first (onscreen bank load)")
            criteria = {c.number: c for lo in unit.learning_outcomes for c in lo.criteria}
            if criterion is not None and criterion not in criteria:
                raise InterchangeError(f"criterion {criterion} is not an assessment criterion of {unit_urn} "
                                       f"({', '.join(criteria)})")
            _resolve(parsed, report, criteria, criterion, item_types, Path(report.source).stem)
            if report.items and not dry_run and not (strict and report.problems):
                _store(db, unit, criteria, report, item_types, now or clock.now(db), report.source)
    except (InterchangeError, assets.AssetError) as exc:  # AssetError: checked before, so never expected
        report.error, report.items, report.stored = str(exc), [], False
    return report


def _criterion_from(tags: list[str], criteria: dict) -> str | None:
    for tag in tags:
        match = CRITERION_TAG.match(tag.strip())
        if match and match.group(1) in criteria:
            return match.group(1)
    for tag in tags:
        for number in CRITERION_IN_TEXT.findall(tag):
            if number in criteria:
                return number
    return None


def _resolve(parsed, report: ImportReport, criteria: dict, default: str | None, item_types: dict, stem: str) -> None:
    seen: set[str] = set()
    prefix = make_key(stem) or "imported"
    for number, entry in enumerate(parsed, start=1):
        key = make_key(entry.key_hint) if entry.key_hint else None
        if isinstance(entry, Skipped):
            report.problems.append(ImportProblem(entry.where, key, entry.reason))
            continue
        notes = list(entry.notes)
        key = key or f"{prefix}-{number:03d}"[:80]
        if key in seen:
            new = f"{key[:74]}-{number:03d}"
            notes.append(f"{entry.where}: the key {key} is used twice in the file; this one became {new}")
            key = new
        seen.add(key)
        criterion = _criterion_from(entry.tags, criteria) or default
        if criterion is None:
            report.problems.append(ImportProblem(entry.where, key, "no assessment criterion: tag the question with "
                                                 "one (e.g. AC1.2) or give a default criterion (--criterion)"))
            continue
        topic_ids = [t["id"] for t in criteria[criterion].amplification]
        topics = [t for t in dict.fromkeys(entry.tags) if t in topic_ids]
        if not topics:
            if not topic_ids:
                report.problems.append(ImportProblem(entry.where, key, f"criterion {criterion} has no topics"))
                continue
            topics = topic_ids[:1]
            notes.append(f"{entry.where}: no amplification topic named; filed under {topics[0]}")
        item_type = item_types.get(entry.type_name)
        if item_type is None:
            report.problems.append(ImportProblem(entry.where, key, f"the item type {entry.type_name} is not installed"))
            continue
        problems = item_type.validate_definition(entry.definition)
        if problems:
            report.problems.append(ImportProblem(entry.where, key, "; ".join(str(p) for p in problems)))
            continue
        images, image_problems = find_images(entry.definition, entry.files, entry.base, entry.where)
        notes.extend(image_problems)
        if report.strict and (entry.approximations or image_problems):
            report.problems.append(ImportProblem(entry.where, key, "cannot be represented exactly: "
                                                 + "; ".join(entry.approximations + image_problems)))
        report.items.append(ImportedItem(key, entry.type_name, criterion, topics, entry.definition, entry.where,
                                         notes, list(entry.approximations), images))


def _store(db, unit, criteria, report: ImportReport, item_types, now, filename) -> None:
    """Add each item, or a new version of an existing one, the way ``bank load`` does.

    Not through ``banks._upsert_item``: that reads images from the bank's folder on disk, and an
    imported file must never make the server read files of its choosing. Images come only from the
    file itself (``entry.images``) and are stored here, in the import's transaction.
    """
    existing = {item.key: item for item in db.scalars(select(models.Item).where(models.Item.unit_id == unit.id))}
    for index, entry in enumerate(report.items):
        if entry.images:
            def to_asset(src: str, _field: str, found=entry.images) -> str:
                image = found.get(src)
                return assets.url_of(assets.store(db, image.data, now, bank_path=image.path)) if image else src
            entry.definition = assets._map_srcs(entry.definition, to_asset)
        definition = item_types[entry.type_name].sanitise_definition(entry.definition)
        record = banks.ItemRecord(
            key=entry.key, type_name=entry.type_name, criterion=entry.criterion, topics=entry.topics,
            marks=banks.marks_of(definition), difficulty=None, status="draft", enemies=[], review={},
            definition=definition, file=Path(filename), line=0, index=index)
        digest = banks.content_hash(record, definition)
        item = existing.get(entry.key)
        if item is None:
            item = models.Item(unit_id=unit.id, key=entry.key, status="draft")
            db.add(item)
            report.items_added += 1
        latest = item.versions[-1] if item.versions else None
        if latest is not None and latest.content_hash == digest:
            report.unchanged += 1
            continue
        db.add(models.ItemVersion(
            item=item, version=(latest.version + 1) if latest else 1, type_name=entry.type_name,
            marks=record.marks, criterion_id=criteria[entry.criterion].id, topics=entry.topics, difficulty=None,
            enemies=[], definition=definition, content_hash=digest, created_at=now,
            provenance={"imported_from": filename, "format": report.fmt, "question": entry.where}))
        report.versions_added += 1
    db.flush()
    report.stored = True


# --- export -----------------------------------------------------------------------------------------


@dataclass
class ExportResult:
    data: bytes
    fmt: str
    exported: list[str]
    #: (item key, reason) for items this format cannot carry without changing their marking.
    skipped: list[tuple[str, str]]
    #: What was dropped from items that were exported (a unit GIFT cannot carry, say).
    notes: list[str]

    @property
    def suffix(self) -> str:
        return EXPORT_FORMATS[self.fmt][0]

    @property
    def media_type(self) -> str:
        return EXPORT_FORMATS[self.fmt][1]


def unit_items(db: Session, unit_urn: str, statuses: tuple[str, ...] | None = None) -> list[dict]:
    """The latest version of each item of the unit, bank-shaped (``id``, ``type``, ``criterion``, ...)."""
    unit = db.scalar(select(models.Unit).where(models.Unit.urn == unit_urn))
    if unit is None:
        raise InterchangeError(f"there is no unit {unit_urn}")
    found = []
    for item in db.scalars(select(models.Item).where(models.Item.unit_id == unit.id).order_by(models.Item.key)):
        if not item.versions or (statuses and item.status not in statuses):
            continue
        version = item.latest
        found.append({"id": item.key, "type": version.type_name, "criterion": version.criterion.number,
                      "topics": list(version.topics), "status": item.status, **version.definition})
    return found


def export_items(items: list[dict], fmt: str) -> ExportResult:
    """Write bank-shaped ``items`` in ``fmt`` (qti, qti3, gift, moodlexml, aiken)."""
    notes: list[str] = []
    if fmt in ("qti", "qti3"):
        data, skipped = qti_write.package(items, 3 if fmt == "qti3" else 2)
    elif fmt == "gift":
        data, skipped, notes = gift.write(items)
    elif fmt == "moodlexml":
        data, skipped, notes = moodle_xml_write.write(items)
    elif fmt == "aiken":
        data, skipped, notes = aiken.write(items)
    else:
        raise InterchangeError(f"unknown export format {fmt!r}; use one of {', '.join(EXPORT_FORMATS)}")
    left_out = {key for key, _ in skipped}
    return ExportResult(data, fmt, [i["id"] for i in items if i["id"] not in left_out], skipped, notes)

