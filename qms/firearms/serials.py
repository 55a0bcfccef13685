"""Serial numbers, makes and calibres as the register compares them (pure functions: no Flask, no database).

A serial number is compared by its *key*: the marking upper-cased, Cyrillic and full-width letters read
as the Latin ones they look like, separators dropped, and each character replaced by its look-alike
class, so that a serial misread, mistyped or worn on the metal still meets its report.

Separators (dropped): space, ``-``, ``/``, ``.``, ``_``, ``,``, ``:``, ``\\``, ``|``, ``'``, ``"`` and
``#``. Hyphens and spaces are not part of the number on the metal; how they were typed varies.

Look-alike classes (each member reads as the first one): the pairs examiners and register clerks
confuse on stamped, engraved or worn markings (INTERPOL iARMS guidance: check O/0, I/1, S/5, B/8):

====================  =======================================================
``0``: 0 O Q D        round shapes; D and Q lose their stroke or tail when worn
``1``: 1 I L          vertical strokes; a worn L foot disappears
``2``: 2 Z            the same strokes, the diagonal the other way
``5``: 5 S            S stamped with a flat top reads as 5
``6``: 6 G            G with a closed hook reads as 6
``8``: 8 B            B with a worn spine reads as 8
``V``: V U Y          U and Y stamps lose the bottom or stem when worn
====================  =======================================================

Letters and digits outside these classes (A, C, E, 3, 4, 7, 9 ...) stand for themselves, so
"12345C" and "12345B" stay different.

Unknown positions: a ``?`` or ``*`` in a serial marks **one** character that cannot be read (a partly
obliterated serial); it matches any character. Write one mark per unreadable character; when even
the number of characters is unknown, record no serial and let the make/model/calibre match work.

Examples
--------
>>> serial_key("12?45B")
'12?458'
>>> serial_key("I2345B"), serial_key("12345C")
('123458', '12345C')
>>> keys_match(serial_key("12?45B"), serial_key("I2345B")), keys_match(serial_key("12?45B"), serial_key("12345C"))
(True, False)
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

UNKNOWN = "?"
UNKNOWN_MARKS = frozenset("?*")
SEPARATORS = frozenset(" -/._,:\\|'\"#")
LOOK_ALIKES = {"0": "0OQD", "1": "1IL", "2": "2Z", "5": "5S", "6": "6G", "8": "8B", "V": "VUY"}
# Cyrillic capitals typed for the Latin letters they look like (Macedonian, Serbian, Bulgarian keyboards).
CYRILLIC = {"А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
            "Х": "X", "У": "Y", "І": "I", "Ј": "J", "Ѕ": "S", "З": "3"}
MAX_SERIAL = 40

_CLASS_OF = {member: head for head, members in LOOK_ALIKES.items() for member in members}


def _letters(marking: str) -> str:
    """NFKC (full-width forms, ligatures), upper case, Cyrillic look-alikes as Latin."""
    text = unicodedata.normalize("NFKC", marking).upper()
    return "".join(CYRILLIC.get(char, char) for char in text)


def serial_key(marking: str) -> str:
    """The key of a serial as marked: look-alike classes, no separators, ``?`` for each unknown position.

    Characters that are neither letters, digits, separators nor unknown marks are refused with a
    ValueError (a serial is read off metal: anything else is a typing accident worth seeing).
    """
    key = []
    for char in _letters(marking):
        if char in SEPARATORS or char.isspace():
            continue
        if char in UNKNOWN_MARKS:
            key.append(UNKNOWN)
        elif char.isascii() and char.isalnum():
            key.append(_CLASS_OF.get(char, char))
        else:
            raise ValueError(f"a serial holds letters, digits, separators and ? or * for unreadable ones: {char!r}")
    return "".join(key)


def is_partial(key: str) -> bool:
    return UNKNOWN in key


def keys_match(a: str, b: str) -> bool:
    """Two serial keys match when they have the same length and agree wherever both are known."""
    if not a or not b or len(a) != len(b):
        return False
    return all(x == y or UNKNOWN in (x, y) for x, y in zip(a, b, strict=True))


def known_prefix(key: str) -> str:
    """The characters before the first unknown one (the whole key when none is unknown)."""
    return key.split(UNKNOWN, 1)[0]


def known_suffix(key: str) -> str:
    """The characters after the last unknown one (the whole key when none is unknown)."""
    return key.rsplit(UNKNOWN, 1)[-1]


def like_pattern(key: str) -> str:
    """A SQL LIKE pattern of the key: each unknown position is ``_`` (keys hold no ``%`` nor ``_``)."""
    return key.replace(UNKNOWN, "_")


@dataclass(frozen=True)
class Anchor:
    """How an index finds the candidates of a partial key: a known end of the key.

    ``column`` is "key" (search the keys by prefix) or "reversed" (search the reversed keys by prefix,
    which is the suffix of the key); ``text`` the prefix to look for in that column. When ``expanded``,
    the key's first (or last) character is unknown and the search is one prefix per character a key can
    hold, each that character followed by ``text`` (25 narrow searches instead of one over everything).
    """

    column: str
    text: str
    expanded: bool = False


# The characters a key holds: digits and the letters not folded into a look-alike class.
KEY_ALPHABET = "".join(sorted({_CLASS_OF.get(c, c) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"}))


def anchor(key: str) -> Anchor:
    """The longer of the key's known prefix and suffix (what a partial record stores to be found by)."""
    prefix, suffix = known_prefix(key), known_suffix(key)
    if len(suffix) > len(prefix):
        return Anchor("reversed", suffix[::-1])
    return Anchor("key", prefix)


def search_anchor(key: str) -> Anchor:
    """The narrowest search for a partial key: `anchor`, or, when the key begins (ends) with one unknown
    character, the known run after (before) it, expanded over `KEY_ALPHABET` if that run is longer."""
    best = anchor(key)
    options = []
    if len(key) > 2 and key[0] == UNKNOWN != key[1]:
        options.append(Anchor("key", known_prefix(key[1:]), expanded=True))
    if len(key) > 2 and key[-1] == UNKNOWN != key[-2]:
        options.append(Anchor("reversed", known_suffix(key[:-1])[::-1], expanded=True))
    for option in options:  # an expanded search costs as much as one a character shorter
        if len(option.text) > len(best.text):
            best = option
    return best


def prefix_upper_bound(prefix: str) -> str:
    """The smallest string above every string starting with `prefix` (for a range scan of an index)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else ""


# --- makes, models and calibres -----------------------------------------------------------------------

# Calibre designations that name the same cartridge (the common ones in the region's seizures).
CALIBRE_ALIASES = {
    "9MMLUGER": "9X19", "9MMPARA": "9X19", "9MMPARABELLUM": "9X19", "9MMP": "9X19", "9PARA": "9X19",
    "9MMKURZ": "9X17", "380ACP": "9X17", "380AUTO": "9X17", "9MMSHORT": "9X17", "9MMBROWNINGSHORT": "9X17",
    "765BROWNING": "765X17", "765MMBROWNING": "765X17", "32ACP": "765X17", "765MM": "765X17",
    "762TOKAREV": "762X25", "762TT": "762X25", "762X25TOKAREV": "762X25",
    "762X39MM": "762X39", "545X39MM": "545X39", "556NATO": "556X45", "223REM": "556X45",
    "12GAUGE": "12GA", "12G": "12GA", "12BORE": "12GA", "12": "12GA",
    "9MMPAK": "9PAK", "9MMRK": "9PAK",
}


def text_key(value: str) -> str:
    """A make or model compared without case, accents, spaces or punctuation ("Česká zbrojovka" = "CESKA-ZBROJOVKA")."""
    decomposed = unicodedata.normalize("NFKD", _letters(value))
    return "".join(char for char in decomposed if char.isascii() and char.isalnum())


def calibre_key(value: str) -> str:
    """A calibre compared as one designation: "9 mm Luger", "9x19" and "9×19 mm" are the same cartridge."""
    text = _letters(value).replace("×", "X").replace(",", ".")
    text = re.sub(r"(?<=\d)\s*MM\b", "", text) if re.search(r"\d\s*X\s*\d", text) else text
    compact = "".join(char for char in unicodedata.normalize("NFKD", text) if char.isascii() and char.isalnum())
    return CALIBRE_ALIASES.get(compact, compact)
