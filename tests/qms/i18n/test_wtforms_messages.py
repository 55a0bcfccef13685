"""WTForms' own messages ("This field is required.") come from the application's catalogues, in every
shipped language, through the base form qms.forms.Form."""
from __future__ import annotations

from pathlib import Path

import pytest
import wtforms
from babel.messages.pofile import read_po
from flask import Flask
from werkzeug.datastructures import MultiDict

from qms.i18n.catalogues import po_path
from qms.i18n.languages import CATALOGUES
from qms.i18n.wtforms_messages import MESSAGES
from qms.quality.manual_forms import PolicyForm

REQUIRED = "This field is required."


def test_the_marked_list_is_wtforms_own_template() -> None:
    template = Path(wtforms.__file__).parent / "locale" / "wtforms.pot"
    with template.open("rb") as handle:
        shipped = {message.id if isinstance(message.id, str) else tuple(message.id)
                   for message in read_po(handle) if message.id}
    assert set(MESSAGES) == shipped


@pytest.mark.parametrize("code", CATALOGUES)
def test_a_missing_field_is_reported_in_the_readers_language(app: Flask, code: str) -> None:
    with po_path(code).open("rb") as handle:
        expected = read_po(handle, locale=code)[REQUIRED].string
    assert expected and expected != REQUIRED
    with app.test_request_context(headers={"Accept-Language": code.replace("_", "-")}):
        form = PolicyForm(formdata=MultiDict({"statement": "x"}), meta={"csrf": False})
        form.clause.choices = [("17020:6.1.1", "6.1.1")]
        assert not form.validate()
        assert form.clause.errors == [expected]
