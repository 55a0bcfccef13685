"""Forms of the exchange pages: export a selection, import a package, add or revoke a partner key."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from qms.forms import Form
from qms.identifiers import RecordIdField, RecordIdMultipleField


class ExportForm(Form):
    entry_ids = RecordIdMultipleField(_l("Entries to export"), validate_choice=False,
                                    widget=ListWidget(prefix_label=False), option_widget=CheckboxInput(),
                                    validators=[InputRequired("Choose at least one entry to export.")])


class ImportForm(Form):
    package = FileField(_l("Exchange package (.zip)"), validators=[FileRequired(_l("Choose the package file."))])


class PartnerKeyForm(Form):
    name = StringField(_l("Partner (unit and server)"), validators=[DataRequired(), Length(max=200)])
    public_key = TextAreaField(_l("Their public key (PEM block or 64 hex digits)"),
                               validators=[DataRequired(), Length(max=2000)])


class RevokeKeyForm(Form):
    key_id = RecordIdField(_l("Key"), widget=HiddenInput(), validators=[InputRequired()])
