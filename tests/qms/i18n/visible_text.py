"""What a reader sees of a page rendered in the pseudo-locale that did not go through a catalogue.

The rule, in full:
- Visible text is every text node outside <script>, <style> and <template>, plus the attributes a
  reader sees or hears: title, placeholder, alt, aria-label, data-confirm, and the value of
  submit, button and reset inputs.
- Everything between the markers ⟦ and ⟧ came from a catalogue (markers nest: a translated
  string inside another).
- Not text to translate, and so excepted:
  * elements that say they are in another language (a `lang` attribute: the language switch
    shows each language by its own name);
  * machine text: <code>, <kbd>, <samp>, <pre> (commands, hashes, identifiers);
  * moments: <time> (dates and times are formatted by Babel from the locale's data, not from a
    catalogue);
  * user data: any text stored in the database (names, titles, descriptions, numbers of cases),
    except bare lower-case words such as `in_force` or `draft`: those are enumeration codes,
    which a page must show through a translated label (usernames are user data nonetheless);
  * digests: a run of 16 or more hexadecimal digits (a SHA-256 in a tooltip), removed before user
    data, since a stored string that happens to occur inside a digest would split it into
    digit-free pieces;
  * numbers, ids and codes: a word with a digit (AUD-2026-0001, 12:30, v2), a word of one letter,
    a word in capitals (UTC, SOP, ISO/IEC, CSI-QMS), and anything without letters (·, —, →).
- What remains, a word of at least two letters, is an untranslated string.

Dates and times are checked apart (`unformatted_moments`): the text of <time> elements counts there, and
an ISO date (2026-12-07) in visible text, outside machine text and user data, is a moment that was not
formatted for the reader (the pseudo-locale formats them as English does: "Dec 7, 2026").
"""
from __future__ import annotations

import re
from html.parser import HTMLParser

OPEN, CLOSE = "⟦", "⟧"
HIDDEN = {"script", "style", "template"}
MACHINE = {"code", "kbd", "samp", "pre", "time"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
SPOKEN_ATTRIBUTES = ("title", "placeholder", "alt", "aria-label", "data-confirm")
BUTTON_INPUTS = {"submit", "button", "reset"}
ENUM_CODE = re.compile(r"^[a-z][a-z0-9_]*$")
LETTERS = re.compile(r"[^\W\d_]+")
HEX_DIGEST = re.compile(r"\b[0-9a-f]{16,}\b")
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
STORED_MOMENT = re.compile(r"^[\d:T .+Z-]+$")


class _Visible(HTMLParser):
    def __init__(self, machine: set[str] = MACHINE) -> None:
        super().__init__(convert_charrefs=True)
        self.machine = machine
        self.stack: list[tuple[str, bool]] = []  # (tag, excepted)
        self.text: list[str] = []
        self.attributes: list[str] = []

    def _excepted(self) -> bool:
        return any(excepted for _, excepted in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        excepted = tag in HIDDEN or tag in self.machine or (tag != "html" and "lang" in values)
        if not (self._excepted() or excepted):
            self.attributes += [values[name] or "" for name in SPOKEN_ATTRIBUTES if values.get(name)]
            if tag == "input" and values.get("type") in BUTTON_INPUTS and values.get("value"):
                self.attributes.append(values["value"] or "")
        if tag not in VOID:
            self.stack.append((tag, excepted))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.stack) - 1, -1, -1):
            if self.stack[index][0] == tag:
                del self.stack[index:]
                return

    def handle_data(self, data: str) -> None:
        if not self._excepted():
            self.text.append(data)


def outside_markers(text: str) -> str:
    """The text with every marked (translated) segment removed; markers nest."""
    kept, depth = [], 0
    for char in text:
        if char == OPEN:
            depth += 1
        elif char == CLOSE:
            depth = max(0, depth - 1)
        elif depth == 0:
            kept.append(char)
    return "".join(kept)


def is_untranslated_word(token: str) -> bool:
    if any(char.isdigit() for char in token):
        return False
    letters = "".join(LETTERS.findall(token))
    return len(letters) >= 2 and not letters.isupper()


def user_data(values: set[str], usernames: set[str]) -> list[str]:
    """The stored strings that count as user data, longest first (so a longer one is removed whole)."""
    kept = {value.strip() for value in values if len(value.strip()) >= 2 and not ENUM_CODE.match(value.strip())}
    kept |= {name for name in usernames if len(name) >= 2}
    return sorted(kept, key=len, reverse=True)


def unwrapped(html: str, data: list[str]) -> list[str]:
    """The fragments of a pseudo-locale page that are visible, outside markers and not excepted."""
    parser = _Visible()
    parser.feed(html)
    parser.close()
    streams = ["\n".join(parser.text)] + parser.attributes
    found: list[str] = []
    for stream in streams:
        rest = HEX_DIGEST.sub(" ", outside_markers(stream))
        for value in data:
            if value in rest:
                rest = rest.replace(value, " ")
        for line in rest.splitlines():
            if any(is_untranslated_word(token) for token in line.split()):
                found.append(" ".join(line.split()))
    return list(dict.fromkeys(found))


def unformatted_moments(html: str, data: list[str]) -> list[str]:
    """The ISO dates a reader sees on a page (in <time> elements too), outside machine text and user data."""
    parser = _Visible(machine=MACHINE - {"time"})
    parser.feed(html)
    parser.close()
    rest = HEX_DIGEST.sub(" ", "\n".join(parser.text))
    # A stored moment (the trail keeps before/after values as text) is no user data to excuse here.
    for value in (value for value in data if not STORED_MOMENT.match(value)):
        if value in rest:
            rest = rest.replace(value, " ")
    return list(dict.fromkeys(" ".join(line.split()) for line in rest.splitlines() if ISO_DATE.search(line)))
