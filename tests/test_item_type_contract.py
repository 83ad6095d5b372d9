"""The item-type contract, run over every registered item type and its named example items.

A new plugin is tested the moment it registers: its type must ship example items under
``tests/fixtures/items/<type_name>/`` (good ones, and broken ones naming the field the
validator must report), and every rule below then runs over them.
"""
from __future__ import annotations

import copy
import json
import random
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from engine import create_app, options
from engine.item_types import Mark, Problem, marks_of
from engine.plugins import item_types
from conftest import TEST_SETTINGS

FIXTURES = Path(__file__).parent / "fixtures" / "items"
PROPERTY = settings(max_examples=200, deadline=None)

# Built once per module, at collection, because the parameters come from it. No database is touched.
REGISTRY = item_types(create_app({**TEST_SETTINGS, "DATABASE_URL": "sqlite://"}))

#: Responses no item could be keyed to: nonsense, unknown ids, wrong shapes and bulk. They score 0.
GARBAGE = [
    "zzz", "", ["nope"], {"a": 1}, {}, [], [None], [[1]], [{"a": 1}], [42, None, "nope"],
    ["nope"] * 10_000, "x" * 100_000, b"bytes", {"text": None}, {"nope": ["nope"]},
]
#: Responses of the wrong type that a lenient type might still read as a number: within bounds.
ODD = [42, -1, 0, 3.5, float("nan"), float("inf"), True, "0", list(range(10_000)), {"0": 0}]
#: Values a browser (or someone with curl) might post in any of an item's fields.
GARBAGE_VALUES = [
    [], [""], ["-1"], ["99"], ["x"], ["1.0"], [" 0"], ["0\n"], ["²"], ["١"], ["0" * 5000 + "1"],
    [str(n) for n in range(2000)], ["99999999999999999999999"], ["\x00"], ["<script>alert(1)</script>"],
    ["NaN"], ["Infinity"], ["1e999999"], ["-0"], ["x" * 50_000],
]


def field_names(plugin, defn: dict, state: dict) -> list[str]:
    """The fields an item posts: those of its correct answer (or a guess, for a person-marked type)."""
    try:
        names = list(plugin.fields_for_response(defn, state, plugin.correct_response(defn)))
    except NotImplementedError:
        names = []
    return names or ["choice", "answer"]


def garbage_fields(plugin, defn: dict, state: dict) -> list[dict]:
    names = field_names(plugin, defn, state)
    found = [{}, {"unrelated": ["0"]}]
    for values in GARBAGE_VALUES:
        found.append({name: list(values) for name in names})
        found.append({names[0]: list(values)})
    return found


def load_examples(type_name: str) -> dict[str, list[dict]]:
    """Every example of a type, from all the YAML files in its fixture folder."""
    examples = {"good": [], "broken": []}
    for file in sorted((FIXTURES / type_name).glob("*.yaml")):
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        for kind in examples:
            examples[kind] += data.get(kind) or []
    return examples


EXAMPLES = {type_name: load_examples(type_name) for type_name in REGISTRY}


def _params(kind: str) -> list:
    params = []
    for type_name in sorted(REGISTRY):
        for example in EXAMPLES[type_name][kind]:
            params.append(pytest.param(type_name, example, id=f"{type_name}:{example['name']}"))
    return params


GOOD = _params("good")
BROKEN = _params("broken")
#: Good examples of types that mark themselves (a person marks the others, e.g. extended response).
AUTO = [p for p in GOOD if REGISTRY[p.values[0]].auto_marked]
#: Good examples whose options are shuffled per attempt, or pinned in place by ``shuffle: false``.
SHUFFLED = [p for p in GOOD if isinstance(p.values[1]["definition"].get("options"), list)
            or p.values[1]["definition"].get("shuffle") is False]


def choice_ids(defn: dict) -> list[str]:
    """Option ids a response could name (after a preset fills the options in)."""
    if defn.get("preset") == "true_false" and "options" not in defn:
        return ["true", "false"]
    return options.option_ids(defn)


def string_leaves(value) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return set().union(*(string_leaves(v) for v in value.values())) if value else set()
    if isinstance(value, (list, tuple)):
        return set().union(*(string_leaves(v) for v in value)) if value else set()
    return set()


def assert_within_bounds(mark: Mark, defn: dict) -> None:
    assert isinstance(mark, Mark)
    assert isinstance(mark.awarded, Decimal) and isinstance(mark.available, Decimal)
    assert mark.available == marks_of(defn)
    assert Decimal(0) <= mark.awarded <= mark.available
    # The database stores marks to the hundredth; nothing finer may be awarded.
    assert mark.awarded == mark.awarded.quantize(Decimal("0.01"))
    assert mark.outcome in {"correct", "partial", "incorrect", "blank", "needs_marking"}


# --- the fixtures themselves ---------------------------------------------------------------------


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
def test_every_registered_type_ships_named_examples(type_name):
    folder = FIXTURES / type_name
    assert folder.is_dir(), f"item type {type_name!r} has no example items in {folder}"
    examples = load_examples(type_name)
    assert len(examples["good"]) >= 3 and len(examples["broken"]) >= 5
    names = [e["name"] for e in examples["good"] + examples["broken"]]
    assert len(names) == len(set(names)), "example names must be unique"
    for example in examples["broken"]:
        assert example.get("problem_path"), f"{example['name']} does not say which field is wrong"


def test_no_fixture_folder_for_a_type_nobody_registers():
    assert {p.name for p in FIXTURES.iterdir() if p.is_dir()} <= set(REGISTRY)


def test_both_built_in_types_are_registered():
    assert {"single_choice", "multiple_response"} <= set(REGISTRY)


# --- validate_definition -------------------------------------------------------------------------


@pytest.mark.parametrize("type_name, example", GOOD)
def test_good_definition_has_no_problems(type_name, example):
    assert REGISTRY[type_name].validate_definition(example["definition"]) == []


@pytest.mark.parametrize("type_name, example", BROKEN)
def test_broken_definition_names_the_field(type_name, example):
    problems = REGISTRY[type_name].validate_definition(example["definition"])
    assert all(isinstance(p, Problem) and p.message for p in problems)
    assert example["problem_path"] in [p.path for p in problems], problems


@pytest.mark.parametrize("type_name, example", GOOD)
def test_validate_does_not_mutate_the_definition(type_name, example):
    defn = example["definition"]
    before = copy.deepcopy(defn)
    REGISTRY[type_name].validate_definition(defn)
    REGISTRY[type_name].sanitise_definition(defn)
    assert defn == before


@pytest.mark.parametrize("type_name, example", AUTO)
def test_sanitised_good_definition_is_still_valid_and_equal(type_name, example):
    """The bank loader stores the sanitised definition: plain examples must come through unchanged."""
    plugin = REGISTRY[type_name]
    cleaned = plugin.sanitise_definition(example["definition"])
    assert plugin.validate_definition(cleaned) == []
    assert plugin.correct_response(cleaned) == plugin.correct_response(example["definition"])


# --- start_attempt ---------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name, example", GOOD)
def test_start_attempt_is_deterministic_and_json(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    for seed in (0, 1, 12345):
        state = plugin.start_attempt(defn, random.Random(seed))
        assert state == plugin.start_attempt(defn, random.Random(seed))
        assert json.loads(json.dumps(state)) == state  # stored in a JSON column as it is


@pytest.mark.parametrize("type_name, example", SHUFFLED)
def test_start_attempt_shuffles_unless_told_not_to(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    states = {json.dumps(plugin.start_attempt(defn, random.Random(seed)), sort_keys=True) for seed in range(20)}
    movable = [o for o in defn.get("options") or [] if not o.get("pinned")]
    if defn.get("shuffle", True) is False or defn.get("preset") == "true_false" or len(movable) < 2:
        assert len(states) == 1
    else:
        assert len(states) > 1


# --- the correct response ----------------------------------------------------------------------------


@pytest.mark.parametrize("type_name, example", AUTO)
def test_correct_response_through_the_form_gets_full_marks(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    marks = Decimal(str(defn["marks"]))
    for seed in range(20):
        state = plugin.start_attempt(defn, random.Random(seed))
        fields = plugin.fields_for_response(defn, state, plugin.correct_response(defn))
        assert all(isinstance(k, str) and isinstance(v, list) and all(isinstance(x, str) for x in v)
                   for k, v in fields.items())
        response = plugin.parse_response(defn, state, fields)
        stored = json.loads(json.dumps(response))  # what the database gives back
        mark = plugin.mark(defn, stored)
        assert mark.awarded == mark.available == marks, (seed, state, fields, response)
        assert mark.outcome == "correct"


@pytest.mark.parametrize("type_name, example", AUTO)
def test_correct_response_has_a_summary(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    summary = plugin.summarise_response(defn, plugin.correct_response(defn))
    assert isinstance(summary, str) and summary.strip()


# --- blank and garbage ---------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name, example", GOOD)
def test_blank_response_scores_zero(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    state = plugin.start_attempt(defn, random.Random(7))
    assert plugin.parse_response(defn, state, {}) is None
    mark = plugin.mark(defn, None)
    assert mark.awarded == 0 and mark.outcome == "blank"
    assert_within_bounds(mark, defn)
    assert plugin.summarise_response(defn, None) == ""


@pytest.mark.parametrize("type_name, example", GOOD)
def test_garbage_responses_score_zero_without_raising(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    for garbage in GARBAGE:
        mark = plugin.mark(defn, garbage)
        assert_within_bounds(mark, defn)
        assert mark.awarded == 0, garbage if len(repr(garbage)) < 80 else type(garbage)
        assert isinstance(plugin.summarise_response(defn, garbage), str)


@pytest.mark.parametrize("type_name, example", GOOD)
def test_odd_responses_stay_within_bounds(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    ids = choice_ids(defn)
    for response in [*ODD, ids, ids * 1000, list(reversed(ids)), ids[:1]]:
        assert_within_bounds(plugin.mark(defn, response), defn)
        assert isinstance(plugin.summarise_response(defn, response), str)


@pytest.mark.parametrize("type_name, example", GOOD)
def test_garbage_fields_never_raise(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    state = plugin.start_attempt(defn, random.Random(3))
    for fields in garbage_fields(plugin, defn, state):
        response = plugin.parse_response(defn, state, copy.deepcopy(fields))
        assert json.loads(json.dumps(response)) == response
        assert_within_bounds(plugin.mark(defn, response), defn)
        assert isinstance(plugin.summarise_response(defn, response), str)


@pytest.mark.parametrize("type_name, example", [p for p in GOOD if "options" in p.values[1]["definition"]
                                                or p.values[1]["definition"].get("preset") == "true_false"])
def test_positions_that_are_not_plain_in_range_digits_are_blank(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    state = plugin.start_attempt(defn, random.Random(3))
    n = len(choice_ids(defn))
    for value in ("-1", str(n), "99", "x", "1.0", " 0", "0\n", "²", "١", ""):
        assert plugin.parse_response(defn, state, {"choice": [value]}) is None, value


# --- purity -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("type_name, example", GOOD)
def test_contract_methods_do_not_mutate_their_inputs(type_name, example):
    plugin, defn = REGISTRY[type_name], copy.deepcopy(example["definition"])
    state = plugin.start_attempt(defn, random.Random(5))
    correct = plugin.correct_response(defn)
    fields = plugin.fields_for_response(defn, state, correct)
    for response in [correct, None, *GARBAGE[:10], *ODD[:8]]:
        snapshot = copy.deepcopy((defn, state, fields, response))
        plugin.mark(defn, response)
        plugin.summarise_response(defn, response)
        plugin.candidate_context(defn, state, response)
        plugin.parse_response(defn, state, fields)
        plugin.fields_for_response(defn, state, correct)
        assert (defn, state, fields, response) == snapshot


@pytest.mark.parametrize("type_name, example", GOOD)
def test_candidate_context_does_not_carry_the_key(type_name, example):
    plugin, defn = REGISTRY[type_name], example["definition"]
    state = plugin.start_attempt(defn, random.Random(11))
    ctx = plugin.candidate_context(defn, state, None)
    key_ids = string_leaves(plugin.correct_response(defn))
    assert not (string_leaves(ctx) & key_ids)
    words = json.dumps(ctx, default=str).lower()
    for word in ('"key"', '"keys"', '"correct"', '"score"', '"scoring"'):
        assert word not in words


# --- properties ------------------------------------------------------------------------------------

id_like = st.sampled_from(["a", "b", "c", "d", "e", "true", "false", "cra", "cca", "o4", "nope", ""])
scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20), id_like)
responses = st.one_of(
    scalars,
    st.lists(st.one_of(id_like, scalars), max_size=12),
    st.dictionaries(st.text(max_size=5), scalars, max_size=4),
    st.lists(st.lists(id_like, max_size=3), max_size=3),
)


def good_examples(type_name: str):
    return st.sampled_from([e["definition"] for e in EXAMPLES[type_name]["good"]])


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
@PROPERTY
@given(data=st.data(), response=responses)
def test_any_response_marks_within_bounds_deterministically(type_name, data, response):
    plugin, defn = REGISTRY[type_name], data.draw(good_examples(type_name), label="definition")
    snapshot = copy.deepcopy((defn, response))
    first = plugin.mark(defn, response)
    assert_within_bounds(first, defn)
    assert plugin.mark(defn, response) == first
    assert isinstance(plugin.summarise_response(defn, response), str)
    assert (defn, response) == snapshot


@pytest.mark.parametrize("type_name", sorted(REGISTRY))
@PROPERTY
@given(data=st.data(), values=st.lists(st.one_of(st.text(max_size=6), st.integers(-3, 12).map(str)), max_size=15),
       seed=st.integers(0, 2**31))
def test_any_posted_fields_parse_and_mark_within_bounds(type_name, data, values, seed):
    plugin, defn = REGISTRY[type_name], data.draw(good_examples(type_name), label="definition")
    state = plugin.start_attempt(defn, random.Random(seed))
    fields = {name: list(values) for name in field_names(plugin, defn, state)}
    snapshot = copy.deepcopy((defn, state, fields))
    response = plugin.parse_response(defn, state, fields)
    assert json.loads(json.dumps(response)) == response
    assert_within_bounds(plugin.mark(defn, response), defn)
    assert (defn, state, fields) == snapshot


def expected_per_option(marks: Decimal, keys: set[str], chosen: set[str]) -> Decimal:
    """The documented rule, written out again: +marks/keys per key chosen, the same off per
    wrong option chosen, never below 0, to the hundredth."""
    if not chosen:
        return Decimal(0)
    raw = marks * (len(chosen & keys) - len(chosen - keys)) / len(keys)
    return max(Decimal(0), raw).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@st.composite
def multiple_response_items(draw, scoring):
    n = draw(st.integers(3, 8))
    ids = [f"o{i}" for i in range(n)]
    keys = draw(st.lists(st.sampled_from(ids), min_size=1, max_size=n - 1, unique=True))
    marks = draw(st.sampled_from(["0.5", "1", "1.5", "2", "3", "4", "5", "7", "10", "12.5"]))
    defn = {"stem": "<p>Q</p>", "marks": Decimal(marks) if draw(st.booleans()) else float(marks),
            "options": [{"id": i, "text": f"Option {i}"} for i in ids], "keys": keys, "scoring": scoring}
    chosen = draw(st.sets(st.sampled_from(ids)))
    return defn, chosen


@PROPERTY
@given(item=multiple_response_items("per_option"))
def test_per_option_scoring_follows_the_documented_rule(item):
    defn, chosen = item
    plugin = REGISTRY["multiple_response"]
    assert plugin.validate_definition(defn) == []
    marks, keys = Decimal(str(defn["marks"])), set(defn["keys"])
    mark = plugin.mark(defn, sorted(chosen))
    if chosen == keys:
        assert mark.awarded == marks and mark.outcome == "correct"
    else:
        assert mark.awarded == expected_per_option(marks, keys, chosen), (defn, chosen, mark)
        assert mark.outcome == ("blank" if not chosen else "partial" if mark.awarded > 0 else "incorrect")
    assert_within_bounds(mark, defn)


@PROPERTY
@given(item=multiple_response_items("all_or_nothing"))
def test_all_or_nothing_scoring_is_all_or_nothing(item):
    defn, chosen = item
    mark = REGISTRY["multiple_response"].mark(defn, sorted(chosen))
    assert mark.awarded == (Decimal(str(defn["marks"])) if chosen == set(defn["keys"]) else 0)


@st.composite
def option_lists(draw):
    n = draw(st.integers(1, 10))
    ids = draw(st.lists(st.from_regex(r"[A-Za-z0-9_-]{1,6}", fullmatch=True), min_size=n, max_size=n, unique=True))
    pinned = draw(st.sets(st.integers(0, n - 1)))
    opts = [{"id": oid, "text": f"Text {oid}", **({"pinned": True} if i in pinned else {})} for i, oid in enumerate(ids)]
    defn = {"stem": "<p>Q</p>", "marks": 1, "options": opts}
    shuffle = draw(st.sampled_from([True, False, None]))
    if shuffle is not None:
        defn["shuffle"] = shuffle
    return defn


@PROPERTY
@given(defn=option_lists(), seed=st.integers(0, 2**32), data=st.data())
def test_shuffled_order_is_a_permutation_that_keeps_pinned_options(defn, seed, data):
    ids = options.option_ids(defn)
    order = options.shuffled_order(defn, random.Random(seed))
    assert sorted(order) == sorted(ids) and len(order) == len(ids)
    assert order == options.shuffled_order(defn, random.Random(seed))
    for index, option in enumerate(defn["options"]):
        if option.get("pinned"):
            assert order[index] == option["id"]
    if defn.get("shuffle") is False:
        assert order == ids

    # Display positions map back to exactly the ids they came from, in the same order.
    state = {"order": order}
    key = data.draw(st.lists(st.sampled_from(ids), unique=True))
    positions = options.positions_from_ids(defn, state, key)
    assert all(p.isdigit() and int(p) < len(ids) for p in positions)
    assert options.ids_from_positions(defn, state, positions) == key

    # What the browser sees: positions 0..n-1 in display order, never an id.
    shown = options.display_options(defn, state, set(key))
    assert [o["value"] for o in shown] == [str(i) for i in range(len(ids))]
    assert [o["html"] for o in shown] == [f"Text {oid}" for oid in order]
    assert [o["checked"] for o in shown] == [oid in key for oid in order]
