"""Line differences between two revisions' Markdown, side by side or inline (difflib)."""
from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class SideBySideRow:
    kind: str  # equal | replace | delete | insert
    left_no: int | None
    left: str
    right_no: int | None
    right: str


@dataclass(frozen=True)
class InlineLine:
    kind: str  # equal | delete | insert
    old_no: int | None
    new_no: int | None
    text: str


def side_by_side(old: str, new: str) -> list[SideBySideRow]:
    """Rows pairing the old and new lines; changed blocks are padded with empty cells."""
    a, b = old.splitlines(), new.splitlines()
    rows: list[SideBySideRow] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        for k in range(max(i2 - i1, j2 - j1)):
            i, j = i1 + k, j1 + k
            left = (i + 1, a[i]) if i < i2 else (None, "")
            right = (j + 1, b[j]) if j < j2 else (None, "")
            rows.append(SideBySideRow(tag, left[0], left[1], right[0], right[1]))
    return rows


def inline(old: str, new: str) -> list[InlineLine]:
    """One column: removed lines, then the lines that replace them, amid the unchanged ones."""
    a, b = old.splitlines(), new.splitlines()
    lines: list[InlineLine] = []
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            lines.extend(InlineLine("equal", i + 1, j1 + (i - i1) + 1, a[i]) for i in range(i1, i2))
            continue
        lines.extend(InlineLine("delete", i + 1, None, a[i]) for i in range(i1, i2))
        lines.extend(InlineLine("insert", None, j + 1, b[j]) for j in range(j1, j2))
    return lines


def changed(rows: list[SideBySideRow]) -> int:
    return sum(1 for row in rows if row.kind != "equal")
