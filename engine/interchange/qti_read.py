"""Read QTI 2.1/2.2 and 3.0 assessment items and content packages into our item definitions.

An item's marks are what the file's own scoring (:mod:`qti_scoring`) gives the correct response.
Items with one block interaction are read here; those whose interactions sit in the text, in
:mod:`qti_inline`.
"""
from __future__ import annotations

import copy
import posixpath
import re
import xml.etree.ElementTree as ET
from decimal import Decimal

from engine.interchange import qti3
from engine.interchange.model import ParsedItem, Skipped, as_true_false, decimal, marks_value, true_false_options
from engine.interchange.packages import is_zip, read_zip, safe_name
from engine.interchange.qti_inline import INLINE, read_inline
from engine.interchange.qti_scoring import (OUR_ID, Unrepresentable, body_html, declarations_of, maximum, scoring,
                                            tidy)
from engine.interchange.safe_xml import InterchangeError, parse_xml, text_of
from engine.plain_text import plain_text

_BLOCK_INTERACTIONS = {"choiceInteraction", "orderInteraction", "matchInteraction", "extendedTextInteraction"}


def read(data: bytes, name: str) -> list[ParsedItem | Skipped]:
    """Items from a package (zip with imsmanifest.xml) or from one item's XML."""
    if not is_zip(data):
        return [read_item(parse_xml(data, name), name)]
    files = read_zip(data, name)
    if "imsmanifest.xml" not in files:
        raise InterchangeError(f"{name}: the package has no imsmanifest.xml at its top level")
    manifest = parse_xml(files["imsmanifest.xml"], f"{name}: imsmanifest.xml")
    found = []
    for resource in manifest.iter("resource"):
        kind, href = resource.get("type", ""), resource.get("href", "")
        if not kind.startswith("imsqti_item_"):
            continue
        path = safe_name(posixpath.normpath(href)) if href else None
        where = f"{name}: {href or resource.get('identifier')}"
        if path is None:
            found.append(Skipped(where, "the resource's href is missing, absolute or leaves the package"))
        elif path not in files:
            found.append(Skipped(where, "the manifest names this file but the package does not hold it"))
        else:
            try:
                entry = read_item(parse_xml(files[path], where), where)
            except InterchangeError as exc:
                found.append(Skipped(where, str(exc)))
                continue
            if isinstance(entry, ParsedItem):  # its images are resolved from its own folder in the package
                entry.files, entry.base = files, posixpath.dirname(path)
            found.append(entry)
    if not found:
        raise InterchangeError(f"{name}: the manifest lists no QTI items (resources of type imsqti_item_...)")
    return found


def read_item(root: ET.Element, where: str) -> ParsedItem | Skipped:
    if root.tag == "qti-assessment-item":
        qti3.to_qti2(root)
    if root.tag != "assessmentItem":
        raise InterchangeError(f"{where}: not a QTI assessment item (the root element is <{root.tag}>)")
    key = root.get("identifier")
    try:
        return _item(root, where, key)
    except Unrepresentable as exc:
        return Skipped(where, str(exc), key)


def _ids(values: list[str]) -> dict[str, str]:
    """QTI identifiers -> ours (letters, digits, - and _ only; unique)."""
    found: dict[str, str] = {}
    for value in values:
        ours = value if OUR_ID.match(value) else (re.sub(r"[^A-Za-z0-9_-]", "_", value)[:28] or "x")
        while ours in found.values():
            ours = f"{ours}_{len(found)}"[-32:]
        found[value] = ours
    return found


def _item(root, where, key) -> ParsedItem:
    notes, approx = [], []
    body = root.find("itemBody")
    if body is None:
        raise Unrepresentable("the item has no itemBody")
    body = copy.deepcopy(body)
    declarations = declarations_of(root)
    interactions = [e for e in body.iter() if isinstance(e.tag, str) and e.tag.endswith("Interaction")]
    kinds = {e.tag for e in interactions}
    unknown = kinds - _BLOCK_INTERACTIONS - INLINE
    if not interactions:
        raise Unrepresentable("the item has no interaction (nothing to answer)")
    if unknown:
        raise Unrepresentable(f"{', '.join(sorted(unknown))} has no onscreen item type")
    if len(kinds) > 1 or (kinds & _BLOCK_INTERACTIONS and len(interactions) > 1):
        raise Unrepresentable("the item has several interactions of different kinds; onscreen items have one")
    for element in list(body.iter()):
        for child in list(element):
            if child.tag in ("modalFeedback", "feedbackBlock", "feedbackInline", "templateBlock", "templateInline"):
                _remove(element, child)
    scheme = None
    for parent in list(body.iter()):
        for child in list(parent):
            if child.tag == "rubricBlock":
                if "scorer" in child.get("view", ""):
                    scheme = body_html(child, f"{where}: rubricBlock", notes)
                _remove(parent, child)
    tags = [t for t in re.split(r"[\s,;]+", root.get("label", "")) if t] + [root.get("identifier", ""),
                                                                              root.get("title", "")]
    kind = interactions[0].tag
    identifiers = [e.get("responseIdentifier") for e in interactions]
    for identifier in identifiers:
        if identifier not in declarations:
            raise Unrepresentable(f"no responseDeclaration for {identifier}")
    if kind == "extendedTextInteraction":
        defn, type_name = _extended(root, body, interactions[0], scheme, where, notes)
    else:
        rules = scoring(root, identifiers, approx, where)
        marks = sum((maximum(declarations[i], rules[i]) for i in identifiers), Decimal(0))
        marks = tidy(marks)
        if marks <= 0:
            raise Unrepresentable("the correct response scores nothing")
        reader = {"choiceInteraction": _choice, "orderInteraction": _order, "matchInteraction": _match}.get(kind)
        if reader:
            stem = _stem_without(body, interactions[0], where, notes)
            declaration = declarations[identifiers[0]]
            defn, type_name = reader(interactions[0], declaration, rules[identifiers[0]], marks, where, notes, approx)
            defn = {"stem": stem, **defn}
        else:
            defn, type_name = read_inline(body, interactions, declarations, rules, marks, where, notes, approx)
        defn["marks"] = marks_value(marks)
    return ParsedItem(where=where, type_name=type_name, definition=defn, key_hint=key, tags=tags, notes=notes,
                      approximations=approx)


def _remove(parent: ET.Element, child: ET.Element) -> None:
    """Remove ``child`` but keep the text that followed it."""
    index = list(parent).index(child)
    if child.tail:
        if index:
            parent[index - 1].tail = (parent[index - 1].tail or "") + child.tail
        else:
            parent.text = (parent.text or "") + child.tail
    parent.remove(child)


def _stem_without(body, interaction, where, notes) -> str:
    prompt = interaction.find("prompt")
    prompt_html = body_html(prompt, f"{where}: prompt", notes) if prompt is not None else ""
    for parent in body.iter():
        if interaction in list(parent):
            _remove(parent, interaction)
            break
    stem = body_html(body, f"{where}: itemBody", notes)
    if prompt_html and not prompt_html.startswith("<"):
        prompt_html = f"<p>{prompt_html}</p>"
    return (stem + prompt_html).strip()


def _entries(elements, tag, where, notes, ids=None):
    ids = ids or _ids([e.get("identifier", "") for e in elements])
    return [{"id": ids[e.get("identifier", "")], "text": body_html(e, f"{where}: {tag} {e.get('identifier')}", notes),
             **({"pinned": True} if e.get("fixed") == "true" else {})} for e in elements], ids


def _choice(interaction, declaration, rule, marks, where, notes, approx):
    options, ids = _entries(interaction.findall("simpleChoice"), "simpleChoice", where, notes)
    shuffle = interaction.get("shuffle", "false") == "true"
    single = declaration.cardinality == "single" and interaction.get("maxChoices", "1") == "1"
    if rule[0] == "map":
        positive = [k for k, v in (declaration.mapping or {}).items() if v > 0]
        keys = [ids[k] for k in positive if k in ids]
    else:
        keys = [ids[v] for v in declaration.correct if v in ids]
    if not keys:
        raise Unrepresentable("no correct choice is given")
    if single:
        if len(keys) > 1:
            approx.append(f"{where}: several choices earn marks; only the best one is kept as the key")
            keys = [max(keys, key=lambda k: declaration.mapping.get(_qti(ids, k), 0))]
        defn = {"options": options, "key": keys[0], "shuffle": shuffle}
        if [o["id"] for o in options] == ["true", "false"] and true_false_options(options):
            defn = as_true_false(defn)
        return defn, "single_choice"
    if rule[0] != "map":
        return {"options": options, "keys": keys, "scoring": "all_or_nothing", "shuffle": shuffle}, "multiple_response"
    share = marks / len(keys)
    values = {ids[k]: v for k, v in declaration.mapping.items() if k in ids}
    exact = all(abs(values.get(o["id"], Decimal(0)) - (share if o["id"] in keys else -share)) < Decimal("0.001")
                for o in options)
    if not exact:
        approx.append(f"{where}: the mapping becomes an equal share per right choice with the same taken off "
                      "for each wrong one")
    return {"options": options, "keys": keys, "scoring": "per_option", "shuffle": shuffle}, "multiple_response"


def _qti(ids: dict[str, str], ours: str) -> str:
    return next(k for k, v in ids.items() if v == ours)


def _order(interaction, declaration, rule, marks, where, notes, approx):
    entries, ids = _entries(interaction.findall("simpleChoice"), "simpleChoice", where, notes)
    by_id = {e["id"]: e for e in entries}
    order = [ids[v] for v in declaration.correct if v in ids]
    if rule[0] not in ("correct", "positions") or sorted(order) != sorted(by_id):
        raise Unrepresentable("an order item needs its correct order (every choice once) scored by match_correct "
                               "or per position")
    return {"items": [{"id": i, "text": by_id[i]["text"]} for i in order],
            "scoring": "exact" if rule[0] == "correct" else "per_position"}, "ordering"


def _match(interaction, declaration, rule, marks, where, notes, approx):
    sets = interaction.findall("simpleMatchSet")
    if len(sets) != 2:
        raise Unrepresentable("a match interaction needs two simpleMatchSets")
    premises, premise_ids = _entries(sets[0].findall("simpleAssociableChoice"), "premise", where, notes)
    responses, response_ids = _entries(sets[1].findall("simpleAssociableChoice"), "response", where, notes)
    for entry in premises + responses:
        entry.pop("pinned", None)
    pairs_source = declaration.correct
    if rule[0] == "map" and not pairs_source:
        pairs_source = [k for k, v in (declaration.mapping or {}).items() if v > 0]
    pairs = {}
    for value in pairs_source:
        left, _, right = value.partition(" ")
        if left in premise_ids and right in response_ids:
            pairs[premise_ids[left]] = response_ids[right]
    missing = [p["id"] for p in premises if p["id"] not in pairs]
    if missing:
        raise Unrepresentable(f"premise(s) {', '.join(missing)} have no correct pair; every premise needs one")
    defn = {"premises": premises, "responses": responses, "pairs": pairs,
            "shuffle": interaction.get("shuffle", "false") == "true",
            "reuse_responses": any(e.get("matchMax", "1") != "1" for e in sets[1])}
    if rule[0] == "map":
        share = marks / len(pairs)
        values = {k: v for k, v in (declaration.mapping or {}).items()}
        exact = all(abs(values.get(f"{_qti(premise_ids, p)} {_qti(response_ids, r)}", Decimal(0)) - share)
                    < Decimal("0.001") for p, r in pairs.items())
        if not exact:
            approx.append(f"{where}: the mapping becomes an equal share of the marks per right pair")
        defn["scoring"] = "per_pair"
    else:
        defn["scoring"] = "all_or_nothing"
    return defn, "matching"


def _extended(root, body, interaction, scheme, where, notes):
    stem = _stem_without(body, interaction, where, notes)
    marks = None
    for outcome in root.findall("outcomeDeclaration"):
        if outcome.get("identifier") == "MAXSCORE":
            marks = decimal(text_of(outcome.find("defaultValue/value")))
        elif outcome.get("identifier") == "SCORE" and marks is None:
            marks = decimal(outcome.get("normalMaximum") or "") or None
    if not marks:
        notes.append(f"{where}: no MAXSCORE or SCORE normalMaximum: the essay is worth 1 mark")
        marks = Decimal(1)
    if not scheme or not plain_text(scheme):
        notes.append(f"{where}: no rubricBlock for scorers: a placeholder mark scheme was written")
        scheme = "<p>No mark scheme came with this question: add one before it goes live.</p>"
    defn = {"stem": stem, "marks": marks_value(marks), "mark_scheme": scheme}
    length = decimal(interaction.get("expectedLength") or "")
    if length and length >= 6:
        defn["max_words"] = int(length // 6)
    return defn, "extended_response"


