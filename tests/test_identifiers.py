"""UCI, ULN, centre and candidate numbers, checked against examples worked by hand."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine import identifiers as ids


# --- UCI: weights 16..5 over the first 12 characters, sum mod 17, ABCDEFGHKLMRTVWXY ----------------

def test_uci_worked_example_from_wjec():
    # 6*16 + 8*15 + 9*14 + 9*13 + 9*12 + 0*11 + 9*10 + 8*9 + 0*8 + 0*7 + 0*6 + 1*5 = 734
    # 734 = 43*17 + 3, and letter 3 (from 0) of ABCDEFGHKLMRTVWXY is D.
    assert ids.uci_check_letter("689990980001") == "D"
    assert ids.uci_problem("689990980001D") is None


def test_uci_second_worked_example():
    # 68199 0 01 2058: 6*16 + 8*15 + 1*14 + 9*13 + 9*12 + 0 + 0 + 1*9 + 2*8 + 0*7 + 5*6 + 8*5 = 550
    # 550 = 32*17 + 6 -> G
    assert ids.uci_check_letter("681990012058") == "G"
    assert ids.uci_problem("681990012058G") is None


def test_uci_for_the_demo_centre():
    # 99001 0 26 0001: 9*16 + 9*15 + 1*12 + 2*10 + 6*9 + 1*5 = 370 = 21*17 + 13 -> V
    assert ids.uci_check_letter("990010260001") == "V"


def test_uci_letter_in_the_awarding_body_position_counts_by_alphabet_position():
    # 99001 B 26 0001: as above plus B(=2)*11 = 392 = 23*17 + 1 -> B
    assert ids.uci_check_letter("99001B260001") == "B"
    assert ids.uci_problem("99001B260001B") is None


@pytest.mark.parametrize("value, words", [
    ("689990980001E", "fails its check letter"),
    ("689990980010D", "fails its check letter"),   # two digits swapped
    ("68999098001D", "13 characters"),
    ("68999098000AD", "5-digit centre number"),      # letter where a digit belongs
    ("6899909800011", "5-digit centre number"),      # no check letter
])
def test_bad_ucis_are_refused_with_a_reason(value, words):
    assert words in ids.uci_problem(value)


def test_uci_is_normalised_before_checking():
    assert ids.normalise_uci(" 68999 0980001d ") == "689990980001D"


@given(st.from_regex(r"\d{5}[0-9A-Z]\d{6}", fullmatch=True))
def test_every_uci_built_with_its_check_letter_passes_and_any_other_letter_fails(first_twelve):
    good = first_twelve + ids.uci_check_letter(first_twelve)
    assert ids.uci_problem(good) is None
    for letter in ids.UCI_CHECK_LETTERS.replace(good[-1], ""):
        assert ids.uci_problem(first_twelve + letter) is not None


# --- ULN: weights 10..2 over the first nine digits; check = 10 - (sum mod 11) ------------------------

def test_uln_worked_examples():
    # 1*10 + 4*2 = 18; 18 mod 11 = 7; 10 - 7 = 3
    assert ids.uln_check_digit("100000004") == 3
    assert ids.uln_problem("1000000043") is None
    # 1*10 + 2*9 + 3*8 + 4*7 + 5*6 + 6*5 + 7*4 + 8*3 + 9*2 = 210; 210 mod 11 = 1; 10 - 1 = 9
    assert ids.uln_check_digit("123456789") == 9
    assert ids.uln_problem("1234567899") is None


def test_uln_with_remainder_zero_has_no_valid_check_digit():
    # 1*10 + 6*2 = 22; 22 mod 11 = 0: the check would have to be 10.
    assert ids.uln_check_digit("100000006") is None
    assert "check digit" in ids.uln_problem("1000000063")


@pytest.mark.parametrize("value, words", [
    ("1000000042", "check digit"),
    ("1234567898", "check digit"),
    ("0123456789", "never starts with 0"),
    ("123456789", "10 digits"),
    ("12345678AB", "10 digits"),
])
def test_bad_ulns_are_refused_with_a_reason(value, words):
    assert words in ids.uln_problem(value)


# --- centre and candidate numbers ---------------------------------------------------------------------

@pytest.mark.parametrize("value, ok", [("99001", True), ("9900", False), ("990011", False), ("9900A", False)])
def test_centre_numbers_are_five_digits(value, ok):
    assert (ids.centre_number_problem(value) is None) is ok


@pytest.mark.parametrize("value, ok", [("0001", True), ("9999", True), ("0000", False), ("1", False),
                                       ("00001", False), ("12a4", False)])
def test_candidate_numbers_are_four_digits_from_0001(value, ok):
    assert (ids.candidate_number_problem(value) is None) is ok
