"""Results exports a centre can import: a CSV per candidate, a long CSV per LO/AC, and QTI 2.1
Results Reporting (``assessmentResult``) XML.

Columns are stable; dates are ISO 8601 with the centre's offset; every CSV cell goes through the
one formula-injection escape (``candidate_import.escape_cell``). The XML carries the key
(``correctResponse``) only when asked for (``include_key``), which only staff routes and the
command line can do; nothing here is ever sent to a candidate.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import zipfile
from decimal import Decimal
from xml.etree import ElementTree as ET
from zoneinfo import ZoneInfo

from engine import marking, models
from engine.access_arrangements import as_text as arrangements_text
from engine.candidate_import import escape_cell
from engine.plugins import item_type

COLUMNS = ("centre_number", "candidate_number", "uci", "uln", "first_name", "last_name", "qualification",
           "unit_reference", "test_id", "form", "started_at", "submitted_at", "status", "raw_score",
           "maximum", "percentage", "outcome", "result_status", "access_arrangements")
LONG_COLUMNS = ("centre_number", "candidate_number", "test_id", "level", "number", "title", "awarded", "available")
QTI_NS = "http://www.imsglobal.org/xsd/imsqti_result_v2p1"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"


def iso(moment: dt.datetime | None, timezone: str) -> str:
    """A naive-UTC time as ISO 8601 in the centre's time zone, with its offset."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=dt.UTC).astimezone(ZoneInfo(timezone)).isoformat(timespec="seconds")


def form_id(attempt: models.Attempt) -> str:
    """A short, stable name for the attempt's form: the same items in the same order, the same name."""
    ids = ",".join(str(fi.item_version_id) for fi in attempt.form_items)
    return "F-" + hashlib.sha256(ids.encode()).hexdigest()[:10].upper()


def _marks(value) -> str:
    return "" if value is None else f"{Decimal(str(value)).normalize():f}"


def _arrangements(candidate: models.Candidate) -> str:
    text = arrangements_text(candidate.access_arrangements or {})
    return "; ".join(f"{key}={value}" if value != "yes" else key for key, value in text.items() if value)


def attempts_of(sitting: models.Sitting) -> list[models.Attempt]:
    return [e.attempt for e in sorted(sitting.entries, key=lambda e: e.candidate.candidate_number)
            if e.attempt is not None]


def row(attempt: models.Attempt) -> dict[str, str]:
    entry = attempt.entry
    sitting, candidate = entry.sitting, entry.candidate
    spec, timezone, result = sitting.specification, sitting.centre.timezone, attempt.result
    counts = result is not None and attempt.outcome == "complete"
    percentage = ""
    if counts and result.available:
        percentage = _marks((Decimal(result.total) * 100 / Decimal(result.available)).quantize(Decimal("0.1")))
    return {
        "centre_number": sitting.centre.number, "candidate_number": candidate.candidate_number,
        "uci": candidate.uci or "", "uln": candidate.uln or "", "first_name": candidate.first_name,
        "last_name": candidate.last_name, "qualification": "",  # units are shared across qualifications; the centre's MIS fills it
        "unit_reference": spec.unit.urn, "test_id": spec.code, "form": form_id(attempt) if attempt.form_items else "",
        "started_at": iso(attempt.started_at, timezone), "submitted_at": iso(attempt.finished_at, timezone),
        "status": attempt.outcome or attempt.state, "raw_score": _marks(result.total) if counts else "",
        "maximum": _marks(result.available if result is not None else spec.total_marks),
        "percentage": percentage, "outcome": marking.outcome_label(attempt),
        "result_status": "" if result is None else ("released" if result.released_at else result.status),
        "access_arrangements": _arrangements(candidate),
    }


def _csv(header, rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    for values in rows:
        writer.writerow([escape_cell(v) for v in values])
    return out.getvalue()


def results_csv(sitting: models.Sitting) -> str:
    return _csv(COLUMNS, ([row(a)[c] for c in COLUMNS] for a in attempts_of(sitting)))


def breakdown_csv(sitting: models.Sitting) -> str:
    """One row per candidate per learning outcome and per assessment criterion."""
    def rows():
        for attempt in attempts_of(sitting):
            if attempt.result is None or attempt.outcome != "complete":
                continue
            base = (sitting.centre.number, attempt.entry.candidate.candidate_number, sitting.specification.code)
            for level, buckets in (("LO", attempt.result.by_outcome), ("AC", attempt.result.by_criterion or [])):
                for b in buckets:
                    yield base + (level, b["number"], b["title"], _marks(b["awarded"]), _marks(b["available"]))
    return _csv(LONG_COLUMNS, rows())


# --- QTI 2.1 results reporting -------------------------------------------------------------------


def _variable(parent, tag, identifier, base_type, value, cardinality="single"):
    element = ET.SubElement(parent, tag, identifier=identifier, cardinality=cardinality, baseType=base_type)
    ET.SubElement(element, f"{{{QTI_NS}}}value").text = value
    return element


def _response_values(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    if isinstance(value, dict):
        return [f"{k}={v}" for k, v in sorted(value.items())]
    return [str(value)]


def assessment_result(attempt: models.Attempt, include_key: bool = False) -> bytes:
    """One candidate's ``assessmentResult`` document (UTF-8 bytes)."""
    ET.register_namespace("", QTI_NS)
    ET.register_namespace("xsi", XSI_NS)
    entry = attempt.entry
    sitting, candidate, result = entry.sitting, entry.candidate, attempt.result
    q = lambda tag: f"{{{QTI_NS}}}{tag}"  # noqa: E731
    root = ET.Element(q("assessmentResult"), {
        f"{{{XSI_NS}}}schemaLocation": f"{QTI_NS} http://www.imsglobal.org/xsd/qti/qtiv2p1/imsqti_result_v2p1.xsd"})
    context = ET.SubElement(root, q("context"), sourcedId=candidate.uci or candidate.candidate_number)
    ET.SubElement(context, q("sessionIdentifier"), sourceID="urn:onscreen:attempt", identifier=str(attempt.id))
    ET.SubElement(context, q("sessionIdentifier"), sourceID="urn:jcq:centre", identifier=sitting.centre.number)
    ET.SubElement(context, q("sessionIdentifier"), sourceID="urn:jcq:candidate", identifier=candidate.candidate_number)
    stamp = (attempt.finished_at or attempt.started_at or sitting.created_at).replace(tzinfo=dt.UTC)
    test = ET.SubElement(root, q("testResult"), identifier=f"{sitting.specification.code}-{form_id(attempt)}",
                         datestamp=stamp.isoformat(timespec="seconds").replace("+00:00", "Z"))
    if attempt.started_at and attempt.finished_at:
        duration = ET.SubElement(test, q("responseVariable"), identifier="duration", cardinality="single",
                                 baseType="duration")
        seconds = int((attempt.finished_at - attempt.started_at).total_seconds())
        ET.SubElement(ET.SubElement(duration, q("candidateResponse")), q("value")).text = f"PT{seconds}S"
    _qvar = lambda parent, ident, base, value: _variable(parent, q("outcomeVariable"), ident, base, value)  # noqa: E731
    if result is not None:
        _qvar(test, "SCORE", "float", _marks(result.total))
        _qvar(test, "MAXSCORE", "float", _marks(result.available))
        if result.status == marking.CONFIRMED:  # no pass/fail while open responses await a marker
            _qvar(test, "PASS", "boolean", "true" if result.passed else "false")
    _qvar(test, "OUTCOME", "string", marking.outcome_label(attempt))
    for form_item in attempt.form_items:
        version = marking.version_marked(form_item)
        status = "pendingResponseProcessing" if form_item.mark_outcome == "needs_marking" else "final"
        item = ET.SubElement(root, q("itemResult"), identifier=version.item.key, sequenceIndex=str(form_item.position),
                             datestamp=test.get("datestamp"), sessionStatus=status)
        response = ET.SubElement(item, q("responseVariable"), identifier="RESPONSE",
                                 cardinality="multiple" if isinstance(form_item.current_response, list) else "single",
                                 baseType="string")
        if include_key:
            plugin = item_type(version.type_name)
            correct = ET.SubElement(response, q("correctResponse"))
            for value in _response_values(plugin.correct_response(version.definition)):
                ET.SubElement(correct, q("value")).text = value
        given = ET.SubElement(response, q("candidateResponse"))
        for value in _response_values(form_item.current_response):
            ET.SubElement(given, q("value")).text = value
        if form_item.marks_awarded is not None:
            _qvar(item, "SCORE", "float", _marks(form_item.marks_awarded))
            _qvar(item, "MAXSCORE", "float", _marks(form_item.marks_available))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def qti_filename(attempt: models.Attempt) -> str:
    entry = attempt.entry
    return f"{entry.sitting.centre.number}-{entry.candidate.candidate_number}-attempt{attempt.id}.xml"


def qti_zip(sitting: models.Sitting, include_key: bool = False) -> bytes:
    """Every finished attempt's ``assessmentResult`` in one zip (QTI has one result per document)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for attempt in attempts_of(sitting):
            if attempt.state == "finished":
                archive.writestr(qti_filename(attempt), assessment_result(attempt, include_key))
    return out.getvalue()
