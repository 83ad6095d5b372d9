"""QTI items whose interactions sit in the text: inline choices (gap_select), text entries
(text_entry, short_text) and a single number entry (numeric)."""
from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET

from engine.interchange.model import decimal, number_text, split_stem
from engine.interchange.qti_scoring import OUR_ID, Unrepresentable, body_html, maximum
from engine.interchange.safe_xml import text_of
from engine.plain_text import plain_text

INLINE = {"inlineChoiceInteraction", "textEntryInteraction"}


def read_inline(body, interactions, declarations, rules, marks, where, notes, approx):
    kind = interactions[0].tag
    gaps, names = [], {}
    for index, interaction in enumerate(interactions, start=1):
        identifier = interaction.get("responseIdentifier")
        names[identifier] = identifier if OUR_ID.match(identifier) and identifier not in names.values() \
            else f"g{index}"
    base = {declarations[i].base_type for i in names}
    numeric = kind == "textEntryInteraction" and base & {"float", "integer"}
    if numeric and len(interactions) > 1:
        raise Unrepresentable("several number gaps in one item; onscreen numeric items have one answer")
    shares = set()
    for interaction in interactions:
        identifier = interaction.get("responseIdentifier")
        declaration, rule = declarations[identifier], rules[identifier]
        shares.add(maximum(declaration, rule))
        if kind == "inlineChoiceInteraction":
            gaps.append(_select_gap(interaction, declaration, rule, names[identifier], approx, where))
        elif not numeric:
            gaps.append(_typed_gap(declaration, rule, names[identifier], approx, where))
    if len(shares) > 1:
        approx.append(f"{where}: gaps worth {', '.join(sorted(number_text(s) for s in shares))} become an equal share "
                      "of the marks each")
    # Put a marker where each interaction stood, then split the passage from the instruction.
    for parent in list(body.iter()):
        for child in list(parent):
            if child.tag in INLINE:
                marker = ET.Element("span")
                marker.text = f"[[{names[child.get('responseIdentifier')]}]]"
                marker.tail = child.tail
                parent.insert(list(parent).index(child), marker)
                parent.remove(child)
    passage = body_html(body, f"{where}: itemBody", notes)
    if numeric:
        return _numeric(passage, declarations[interactions[0].get("responseIdentifier")],
                        rules[interactions[0].get("responseIdentifier")], names, where, approx)
    if kind == "textEntryInteraction" and len(gaps) == 1:
        block = re.search(r"<(p|div)>\s*(?:<span>)?\s*\[\[[^\]]+\]\]\s*(?:</span>)?\s*</\1>", passage)
        if block:
            sensitive = gaps[0].pop("case_sensitive")
            return {"stem": (passage[:block.start()] + passage[block.end():]).strip() or "<p>Type your answer.</p>",
                    "answers": gaps[0]["answers"], "case_sensitive": sensitive}, "short_text"
    stem, text = split_stem(passage)
    if not plain_text(stem):
        notes.append(f"{where}: no instruction before the gaps; a standard one was used")
        stem = "<p>Choose the right word for each gap.</p>" if kind == "inlineChoiceInteraction" \
            else "<p>Type the missing words.</p>"
    defn = {"stem": stem, "text": re.sub(r"<span>(\[\[[^\]]+\]\])</span>", r"\1", text), "gaps": gaps}
    if kind == "inlineChoiceInteraction":
        defn["shuffle"] = any(i.get("shuffle", "false") == "true" for i in interactions)
        return defn, "gap_select"
    sensitivity = {gap.pop("case_sensitive") for gap in gaps}
    if len(sensitivity) > 1:
        approx.append(f"{where}: some gaps are case-sensitive and some not; none are")
    defn["case_sensitive"] = sensitivity == {True}
    return defn, "text_entry"


def _select_gap(interaction, declaration, rule, gap_id, approx, where):
    choices = {c.get("identifier"): html.escape(text_of(c), quote=False) for c in interaction.findall("inlineChoice")}
    if rule[0] == "map":
        ranked = sorted((v, k) for k, v in (declaration.mapping or {}).items() if k in choices)
        right = ranked[-1][1] if ranked and ranked[-1][0] > 0 else None
        if len([v for v, _ in ranked if v > 0]) > 1:
            approx.append(f"{where}: {gap_id}: only the best-scoring choice is kept as the key")
    else:
        right = next((v for v in declaration.correct if v in choices), None)
    if right is None:
        raise Unrepresentable(f"gap {gap_id} has no correct choice")
    return {"id": gap_id, "options": list(choices.values()), "key": choices[right]}


def _typed_gap(declaration, rule, gap_id, approx, where):
    if rule[0] == "map" and declaration.mapping:
        best = max(declaration.mapping.values())
        answers = [k for k, v in declaration.mapping.items() if v == best and k.strip()]
        if any(0 < v < best for v in declaration.mapping.values()):
            approx.append(f"{where}: {gap_id}: answers worth part of the marks were left out")
        sensitive = declaration.case_sensitive == {True} or not declaration.case_sensitive
    else:
        answers, sensitive = list(declaration.correct), True
    if not answers:
        raise Unrepresentable(f"gap {gap_id} has no accepted answer")
    return {"id": gap_id, "answers": answers, "case_sensitive": sensitive}


def _numeric(passage, declaration, rule, names, where, approx):
    marker = f"[[{next(iter(names.values()))}]]"
    block = re.search(r"<(p|div)>([^<]*)(?:<span>)?" + re.escape(marker) + r"(?:</span>)?([^<]*)</\1>", passage)
    unit = None
    if block:
        around = (block.group(2) + block.group(3)).strip()
        if around and len(around) <= 20 and not re.search(r"\d", around):
            unit = html.unescape(around)
        stem = (passage[:block.start()] + passage[block.end():]).strip()
    else:
        stem = passage.replace(f"<span>{marker}</span>", "_____").replace(marker, "_____")
    if rule[0] == "map":
        best = max((declaration.mapping or {}).items(), key=lambda kv: kv[1], default=(None, 0))
        answer = decimal(best[0]) if best[0] else None
        if len(declaration.mapping or {}) > 1:
            approx.append(f"{where}: several mapped numbers; only the best-scoring one is kept")
    else:
        answer = decimal(declaration.correct[0]) if declaration.correct else None
    if answer is None:
        raise Unrepresentable("the number's correct value is missing or not a number")
    defn = {"stem": stem or "<p>Type the number.</p>", "answer": number_text(answer)}
    if rule[0] == "equal":
        widths = {decimal(w) for w in rule[2].split()}
        if None in widths or len(widths) != 1:
            raise Unrepresentable(f"tolerance {rule[2]!r} is not one width either side; onscreen's is symmetric")
        width = widths.pop()
        mode = rule[1]
        if width:
            defn["tolerance"] = {"type": mode, "value": number_text(width / 100 if mode == "relative" else width)}
    if unit:
        defn["unit"] = unit
    return defn, "numeric"
