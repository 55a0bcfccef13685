"""SOP Markdown to safe HTML: markdown-it-py (raw HTML off) and then nh3 (an allow-list sanitiser).

Two layers on purpose: markdown-it escapes raw HTML and refuses javascript:/vbscript:/data: link
targets; nh3 then keeps only the tags and attributes an SOP needs, links only to http, https and
mailto, and drops images (an SOP's figures travel as an uploaded PDF; no page may fetch a URL
from a document's text).
"""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")

TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "code", "pre", "blockquote",
        "ul", "ol", "li", "a", "table", "thead", "tbody", "tr", "th", "td", "del", "s"}
ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}


def render_markdown(text: str) -> Markup:
    """Sanitised HTML for a revision's Markdown; safe to insert into a page or a PDF."""
    html = _md.render(text or "")
    clean = nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes={"http", "https", "mailto"},
                      link_rel="noopener noreferrer nofollow", strip_comments=True)
    return Markup(clean)  # noqa: S704 - nh3 output is the sanitised allow-list above
