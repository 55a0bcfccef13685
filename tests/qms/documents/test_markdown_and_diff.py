"""Markdown renders inert (acceptance 4); differences by construction."""
from __future__ import annotations

import pytest

from qms.documents.diff import changed, inline, side_by_side
from qms.documents.markdown import render_markdown


@pytest.mark.parametrize("hostile", [
    "<script>alert(1)</script>",
    "[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "[x](java\tscript:alert(1))", "[x](vbscript:msgbox(1))",
    "[x](data:text/html;base64,PHNjcmlwdD4=)", "![x](data:image/svg+xml;base64,PHN2Zz4=)",
    '<a href="#" onclick="alert(1)">x</a>', "<img src=x onerror=alert(1)>", "<svg onload=alert(1)>",
    "<iframe src=//example.org>", '<div style="background:url(javascript:alert(1))">x</div>',
    "[x](&#106;avascript:alert(1))", "<details open ontoggle=alert(1)>",
])
def test_hostile_markdown_is_inert(hostile):
    html = str(render_markdown(hostile)).lower()
    assert "<script" not in html and "<img" not in html and "<iframe" not in html and "<svg" not in html
    assert "href=\"javascript" not in html and "href=\"data" not in html and "href=\"vbscript" not in html
    assert " on" not in html.replace("&lt;", "").split(">", 1)[0]  # no on* attribute in any tag
    assert "<div" not in html and "style=" not in html.split("&lt;")[0]


def test_ordinary_markdown_keeps_its_structure():
    source = "## 1. Purpose\n\n- **one**\n- [BPM](https://enfsi.eu)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    html = str(render_markdown(source))
    assert "<h2>1. Purpose</h2>" in html and "<strong>one</strong>" in html and "<table>" in html
    assert '<a href="https://enfsi.eu" rel="noopener noreferrer nofollow">BPM</a>' in html


def test_side_by_side_pairs_changed_lines_and_pads_inserts():
    rows = side_by_side("a\nb\nc\n", "a\nB\nc\nd\n")
    assert [(r.kind, r.left, r.right) for r in rows] == [
        ("equal", "a", "a"), ("replace", "b", "B"), ("equal", "c", "c"), ("insert", "", "d")]
    assert rows[3].left_no is None and rows[3].right_no == 4
    assert changed(rows) == 2


def test_inline_lists_removed_then_added_lines():
    lines = inline("a\nb\nc\n", "a\nB\nc\n")
    assert [(line.kind, line.text) for line in lines] == [
        ("equal", "a"), ("delete", "b"), ("insert", "B"), ("equal", "c")]
    assert lines[3].old_no == 3 and lines[3].new_no == 3


def test_identical_texts_have_no_differences():
    assert changed(side_by_side("x\ny", "x\ny")) == 0
