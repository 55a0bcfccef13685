"""Serial normalisation and matching, table-driven (issue 18, acceptance 1); makes and calibres."""
from __future__ import annotations

import pytest

from qms.firearms.serials import KEY_ALPHABET, anchor, calibre_key, keys_match, search_anchor, serial_key, text_key

# (as marked, its key)
KEYS = [
    ("12345B", "123458"),
    ("i2345b", "123458"),  # case
    ("12 345-B", "123458"),  # spaces and separators
    ("12.345/B", "123458"),
    ("O1-S2-Z3", "01522" + "3"),  # O/0, S/5, Z/2
    ("QD0o", "0000"),  # Q and D read as 0 when worn
    ("L1I", "111"),
    ("G6 B8", "6688"),
    ("UVY", "VVV"),
    ("12?45B", "12?458"),  # unknown position
    ("12*45B", "12?458"),  # * is also one unknown position
    ("１２３４５Ｂ", "123458"),  # full-width digits and letters
    ("АВС-123", "A8C123"),  # Cyrillic А, В, С typed for Latin A, B, C
    ("ZASTAVA 7.62", "2A5TAVA762"),
    ("", ""),
]


@pytest.mark.parametrize(("marked", "key"), KEYS, ids=[k[0] or "empty" for k in KEYS])
def test_a_serial_is_keyed_by_its_look_alike_classes_without_separators(marked: str, key: str) -> None:
    assert serial_key(marked) == key


# (one serial, another, whether they match)
PAIRS = [
    ("12?45B", "I2345B", True),  # acceptance 1: an unknown position, I read as 1
    ("12?45B", "12345C", False),  # acceptance 1: B and C are not alike
    ("12345B", "123458", True),  # B/8
    ("A-1234-5", "a12345", True),  # separators and case
    ("1234 S", "12345", True),  # S/5
    ("O12345", "012345", True),  # O/0
    ("Z99041177", "299-04I177", True),  # Z/2, I/1
    ("Z99-04?177", "Z99-041177", True),  # partly obliterated serial against the full one
    ("Z99-04??77", "Z99-041177", True),  # two unknown positions
    ("??9-041177", "Z99-041177", True),  # unknown at the start
    ("Z99-04117?", "Z99-041177", True),  # unknown at the end
    ("Z99-04?177", "Z99-041178", False),  # a known position differs
    ("12?45B", "12?45B", True),  # two partial serials agreeing wherever both are known
    ("12?45B", "1?345B", True),
    ("12?45B", "13?45B", False),
    ("12345", "123456", False),  # lengths differ
    ("12?45", "123456", False),  # an unknown position is one character, not a run
    ("12345C", "12345E", False),
    ("A12345", "412345", False),  # A and 4 are not a look-alike class
    ("", "12345", False),  # no serial matches nothing
    ("", "", False),
]


@pytest.mark.parametrize(("a", "b", "expected"), PAIRS, ids=[f"{a}~{b}" for a, b, _ in PAIRS])
def test_serials_match_by_class_and_unknown_positions_in_both_directions(a: str, b: str, expected: bool) -> None:
    assert keys_match(serial_key(a), serial_key(b)) is expected
    assert keys_match(serial_key(b), serial_key(a)) is expected


@pytest.mark.parametrize("marked", ["12€45", "12\u202e45", "12ä45"])
def test_characters_no_serial_holds_are_refused(marked: str) -> None:
    with pytest.raises(ValueError):
        serial_key(marked)


@pytest.mark.parametrize(("key", "column", "text"), [
    ("123?58", "key", "123"),  # the prefix is the longer known end
    ("1?3458", "reversed", "8543"),  # the suffix is longer: searched in the reversed keys
    ("?23?5?", "key", ""),  # no known end
])
def test_a_partial_record_is_found_by_its_longer_known_end(key: str, column: str, text: str) -> None:
    found = anchor(key)
    assert (found.column, found.text) == (column, text)


@pytest.mark.parametrize(("key", "column", "text", "expanded"), [
    ("123?58", "key", "123", False),
    ("?47227?", "key", "47227", True),  # both ends unknown: one prefix per key character, then 47227
    ("?23?5?", "key", "23", True),
    ("1234?6?", "key", "1234", False),  # the known prefix is longer than the run before the last "?"
    ("12?4567?", "reversed", "7654", True),
    ("??3456", "reversed", "6543", False),
])
def test_a_partial_key_is_searched_by_its_narrowest_known_run(key: str, column: str, text: str,
                                                             expanded: bool) -> None:
    found = search_anchor(key)
    assert (found.column, found.text, found.expanded) == (column, text, expanded)


def test_the_key_alphabet_is_digits_and_the_letters_no_class_folds() -> None:
    assert KEY_ALPHABET == "0123456789ACEFHJKMNPRTVWX" and set(serial_key(KEY_ALPHABET)) == set(KEY_ALPHABET)


@pytest.mark.parametrize(("a", "b"), [("Česká zbrojovka", "CESKA-ZBROJOVKA"), ("Zastava Arms", "ZASTAVA  ARMS"),
                                      ("Glock", "glock")])
def test_makes_compare_without_case_accents_or_punctuation(a: str, b: str) -> None:
    assert text_key(a) == text_key(b)


@pytest.mark.parametrize(("a", "b", "same"), [
    ("9x19 mm", "9 mm Luger", True), ("9×19", "9mm Parabellum", True), ("7.62x25 mm Tokarev", "7,62x25", True),
    ("9 mm Kurz", ".380 ACP", True), ("12 gauge", "12/70", False), ("9x19", "9x17", False),
])
def test_calibres_compare_by_designation(a: str, b: str, same: bool) -> None:
    assert (calibre_key(a) == calibre_key(b)) is same
