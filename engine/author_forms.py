"""Flat author-form fields <-> item definitions: the conventions every built-in type follows.

An item type's ``parse_author_form(form)`` turns posted fields (``{name: [values]}``, the
authoring UI's prefix already removed) into a definition for ``validate_definition``, and
``author_form_data(defn)`` is its inverse, so ``parse_author_form(author_form_data(d)) == d`` for
every valid ``d``. The shared conventions:

* A text field is the first value under its name (``stem``). A blank one is left out of the
  definition, so the validator names the missing field ("stem: is required").
* ``marks``: whole numbers become ``int``, others ``float``; text that is not a number is kept
  as written so the validator can say what is wrong with it.
* A setting with a default (``shuffle``, ``scoring``, ``show_count``) is a ``<select>`` whose
  first choice, ``""``, means "not set: use the default" and leaves the key out; ``"true"`` and
  ``"false"`` become booleans. An author who writes ``shuffle: true`` keeps it written.
* A per-row flag that is off by default (``pinned``) is a checkbox: ticked is ``true``, unticked
  leaves the key out (so ``pinned: false`` is read back as no ``pinned`` at all).
* Repeated rows are ``<kind>-<n>-<field>`` (``option-0-text``, ``option-0-id``), read in the
  order of ``n``. A row whose fields are all blank is a spare row and is skipped; a row with a
  blank id gets a generated one (``<kind letter><number>``, e.g. ``p3``) not used by another row.
* A reference to a row (the key option, the response a premise pairs with) is ``#<n>``, the row's
  number in the form, because a row being added has no id yet; anything else is an id as written.
"""
from __future__ import annotations

import re
from decimal import Decimal

ROW_FIELD = re.compile(r"(?P<kind>[a-z_]+)-(?P<index>[0-9]{1,4})-(?P<field>[a-z_]+)\Z")
ROW_REF = re.compile(r"#([0-9]{1,4})\Z")
WHOLE = re.compile(r"[+-]?[0-9]{1,9}\Z")
DECIMAL = re.compile(r"[+-]?[0-9]{0,9}\.[0-9]{1,9}\Z")


def value(form: dict, name: str) -> str:
    """The first value posted under ``name`` ('' if none), with browser newlines made ``\\n``."""
    values = form.get(name)
    if not isinstance(values, list) or not values or not isinstance(values[0], str):
        return ""
    # Browsers post a textarea's lines with CRLF; the definition keeps the author's LF.
    return values[0].replace("\r\n", "\n").replace("\r", "\n")


def text(form: dict, name: str) -> str | None:
    """A text field, or ``None`` if blank (the caller leaves the key out)."""
    written = value(form, name)
    return written if written.strip() else None


def number(form: dict, name: str) -> int | float | str | None:
    written = value(form, name).strip()
    if not written:
        return None
    if WHOLE.match(written):
        return int(written)
    if DECIMAL.match(written):
        return float(written)
    return written


def flag(form: dict, name: str) -> bool | str | None:
    """A setting with a default: '' is not set, 'true'/'false' are booleans, else as written."""
    written = value(form, name).strip()
    return {"": None, "true": True, "false": False}.get(written, written)


def rows(form: dict, kind: str) -> list[tuple[int, dict[str, str]]]:
    """``(n, {field: value})`` for each non-blank ``<kind>-<n>-<field>`` row, in the order of n."""
    found: dict[int, dict[str, str]] = {}
    for name in form:
        match = ROW_FIELD.match(name) if isinstance(name, str) else None
        if match and match["kind"] == kind:
            found.setdefault(int(match["index"]), {})[match["field"]] = value(form, name)
    return [(index, fields) for index, fields in sorted(found.items()) if any(v.strip() for v in fields.values())]


def row_ids(written_rows: list[tuple[int, dict[str, str]]], letter: str) -> dict[int, str]:
    """The id of each row: as written, or a generated ``<letter><k>`` that no other row uses."""
    taken = {fields.get("id", "").strip() for _, fields in written_rows}
    ids, k = {}, 0
    for index, fields in written_rows:
        written = fields.get("id", "").strip()
        if not written:
            k += 1
            while f"{letter}{k}" in taken:
                k += 1
            written = f"{letter}{k}"
            taken.add(written)
        ids[index] = written
    return ids


def resolve(reference: str, ids_by_row: dict[int, str]) -> str | None:
    """``#n`` -> the id of row n; '' -> None; anything else is an id as written."""
    reference = reference.strip()
    if not reference:
        return None
    match = ROW_REF.match(reference)
    if match and int(match[1]) in ids_by_row:
        return ids_by_row[int(match[1])]
    return reference


# --- the inverse: definition -> fields -------------------------------------------------------------


def number_text(written) -> str:
    if written is None:
        return ""
    if isinstance(written, Decimal):
        return f"{written:f}"
    return str(written)


def flag_text(defn: dict, name: str) -> str:
    if name not in defn:
        return ""
    written = defn[name]
    if isinstance(written, bool):
        return "true" if written else "false"
    return str(written)


def text_of(defn: dict, name: str) -> str:
    written = defn.get(name)
    return written if isinstance(written, str) else number_text(written)


def reference_to(target, ids: list) -> str:
    """``#n`` if ``target`` is the id of row n, else the target as written."""
    if isinstance(target, str) and target in ids:
        return f"#{ids.index(target)}"
    return "" if target is None else str(target)


def put_if(defn: dict, key: str, written) -> None:
    if written is not None:
        defn[key] = written


# --- choice options (single choice, multiple response) ----------------------------------------------


def parse_options(form: dict) -> tuple[list[dict] | None, dict[int, str]]:
    """Rows ``option-<n>-id``/``-text``/``-pinned`` -> (the options, or None if there are no rows;
    the id of each form row, for resolving ``#n`` key references)."""
    written = rows(form, "option")
    ids = row_ids(written, "o")
    if not written:
        return None, ids
    parsed = []
    for n, row in written:
        option = {"id": ids[n], "text": row.get("text", "")}
        if row.get("pinned", "").strip() == "true":
            option["pinned"] = True
        parsed.append(option)
    return parsed, ids


def put_options(defn: dict, form: dict) -> list:
    """Write ``defn``'s options into ``form`` as rows; return their ids in row order."""
    written = defn.get("options") if isinstance(defn.get("options"), list) else []
    ids = []
    for n, option in enumerate(written):
        option = option if isinstance(option, dict) else {}
        form[f"option-{n}-id"] = [text_of(option, "id")]
        form[f"option-{n}-text"] = [text_of(option, "text")]
        if option.get("pinned") is True:
            form[f"option-{n}-pinned"] = ["true"]
        ids.append(option.get("id"))
    return ids
