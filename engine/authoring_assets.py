"""Authors' files: images into the content-hashed store (engine/assets.py), and, when the
interchange converters are installed (engine/interchange), item files in QTI, GIFT, Moodle XML
or Aiken into the bank as drafts, and a unit's items out in those formats."""
from __future__ import annotations

import importlib.util
import re

from flask import Blueprint, make_response, request
from sqlalchemy import select

from engine import assets, auth, clock, db, models
from engine.web import render

bp = Blueprint("authoring_assets", __name__, url_prefix="/author")


@bp.route("/images", methods=["GET", "POST"])
@auth.staff_required("item_writer")
def images():
    """Upload an image; the page gives the address and the markup to paste into an item."""
    if request.method == "GET":
        return render("authoring/images.html", asset=None, error=None)
    upload = request.files.get("image")
    limit = assets.max_upload_bytes()
    if upload is None or not upload.filename:
        return render("authoring/images.html", status=422, asset=None, error="Choose an image file to upload.")
    data = upload.stream.read(limit + 1)  # never read more than the limit, whatever the client says
    session = db.session()
    try:
        with db.writing(session):
            asset = assets.store(session, data, clock.now(session), max_bytes=limit)
            address = assets.url_of(asset)
    except assets.AssetError as error:
        return render("authoring/images.html", status=422, asset=None, error=f"{upload.filename}: {error}.")
    return render("authoring/images.html", status=201, asset={"url": address, "name": upload.filename}, error=None)


def interchange_available() -> bool:
    """True once the interchange package offers ``import_file`` (another part of issue 10)."""
    if importlib.util.find_spec("engine.interchange") is None:
        return False
    import engine.interchange as interchange
    return hasattr(interchange, "import_file") and hasattr(interchange, "export_items")


IMPORT_FORMATS = (("qti", "QTI 2.1, 2.2 or 3.0 (an item's XML or a zip content package)"), ("gift", "GIFT"),
                  ("moodlexml", "Moodle XML"), ("aiken", "Aiken"))
EXPORT_FORMATS = (("qti", "QTI 2.2 content package (zip)"), ("qti3", "QTI 3.0 content package (zip)"),
                  ("gift", "GIFT"), ("moodlexml", "Moodle XML"), ("aiken", "Aiken"))


def _interchange_page(status: int = 200, **values):
    units = db.session().scalars(select(models.Unit).order_by(models.Unit.urn)).all()
    return render("authoring/import.html", status=status, available=True, units=units, import_formats=IMPORT_FORMATS,
                  export_formats=EXPORT_FORMATS, **{"report": None, "error": None, **values})


@bp.route("/import", methods=["GET", "POST"])
@auth.staff_required("item_writer")
def import_items():
    """Import items from a file in an interchange format, as drafts for review; export a unit."""
    if not interchange_available():
        return render("authoring/import.html", status=404, available=False)
    from engine.interchange import import_file
    if request.method == "GET":
        return _interchange_page()
    upload, fmt, unit_urn = request.files.get("file"), request.form.get("format", ""), request.form.get("unit", "")
    criterion = request.form.get("criterion", "").strip() or None
    if upload is None or not upload.filename or fmt not in dict(IMPORT_FORMATS) or not unit_urn:
        return _interchange_page(422, error="Choose a file, its format and the unit to import into.")
    report = import_file(upload.stream.read(), fmt, unit_urn, request.form.get("strict") == "yes",
                         criterion=criterion, filename=upload.filename)
    return _interchange_page(200 if report.stored else 422, report=report)


@bp.get("/export")
@auth.staff_required("item_writer", "reviewer")
def export_items():
    """A unit's items as a file in an interchange format (a download)."""
    if not interchange_available():
        return render("authoring/import.html", status=404, available=False)
    from engine.interchange import InterchangeError, export_items as export, unit_items
    fmt, unit_urn = request.args.get("format", ""), request.args.get("unit", "")
    if fmt not in dict(EXPORT_FORMATS) or not unit_urn:
        return _interchange_page(422, error="Choose the unit and the format to export.")
    try:
        result = export(unit_items(db.session(), unit_urn), fmt)
    except InterchangeError as error:
        return _interchange_page(422, error=f"Nothing exported: {error}")
    response = make_response(result.data)
    response.headers["Content-Type"] = result.media_type
    name = re.sub(r"[^A-Za-z0-9]+", "-", unit_urn)
    response.headers["Content-Disposition"] = f'attachment; filename="unit-{name}{result.suffix}"'
    return response
