"""The object store and the sandboxed PDF renderer shared by every domain."""
from __future__ import annotations

import subprocess

import pytest

from qms.pdf import PdfResourceRefused, render_pdf
from qms.storage import ObjectCorrupted, ObjectMissing, ObjectStore


def test_object_store_round_trip_dedup_and_tamper_detection(tmp_path):
    store = ObjectStore(tmp_path)
    digest = store.put(b"photograph of seal 0042")
    assert store.put(b"photograph of seal 0042") == digest
    assert store.get(digest) == b"photograph of seal 0042"
    path = store.path_for(digest)
    assert path.relative_to(tmp_path).parts[:2] == (digest[:2], digest[2:4])
    path.chmod(0o600)
    path.write_bytes(b"photograph of seal 0043")
    with pytest.raises(ObjectCorrupted):
        store.get(digest)
    with pytest.raises(ObjectMissing):
        store.get("0" * 64)
    with pytest.raises(ValueError, match="SHA-256"):
        store.get("../../etc/passwd")


def test_pdf_embeds_fonts_and_renders_cyrillic(app, tmp_path):
    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_env.loader = ChoiceLoader([DictLoader({"pdf/probe.html": (
        '{% extends "pdf/base.html" %}{% block body %}<h1>Контролна копија</h1>'
        '<p>Kopje e kontrolluar – ç ë</p>{% endblock %}')}), app.jinja_env.loader])
    with app.test_request_context():
        pdf = render_pdf("pdf/probe.html")
    assert pdf.startswith(b"%PDF")
    (tmp_path / "probe.pdf").write_bytes(pdf)
    fonts = subprocess.run(["pdffonts", str(tmp_path / "probe.pdf")], capture_output=True, text=True)
    if fonts.returncode == 0:
        assert "QMS-Sans" in fonts.stdout and " yes " in fonts.stdout  # our font, embedded
    text = subprocess.run(["pdftotext", str(tmp_path / "probe.pdf"), "-"], capture_output=True, text=True)
    if text.returncode != 0:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    assert "Контролна копија" in text.stdout and "Kopje e kontrolluar – ç ë" in text.stdout


def test_pdf_renderer_refuses_outside_resources(app):
    from jinja2 import ChoiceLoader, DictLoader

    app.jinja_env.loader = ChoiceLoader([DictLoader({"pdf/evil.html": (
        '{% extends "pdf/base.html" %}{% block body %}<img src="file:///etc/passwd">'
        '<img src="http://127.0.0.1:9/x.png">{% endblock %}')}), app.jinja_env.loader])
    with app.test_request_context():
        pdf = render_pdf("pdf/evil.html")  # WeasyPrint logs the refusal and leaves the image out
    assert pdf.startswith(b"%PDF") and b"root:x:0:0" not in pdf
    from qms.pdf import _static_file

    with pytest.raises(PdfResourceRefused):
        _static_file("file:///etc/passwd")
    with pytest.raises(PdfResourceRefused):
        _static_file("qms-static:/../../pdf.py")
