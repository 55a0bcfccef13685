"""Forms of the trace request pages (Flask-WTF: every one carries its CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from qms.forms import Form


SERIAL_HELP = _l("As marked. Write ? for each character that cannot be read (a partly obliterated serial); at least "
                 "four characters must be readable.")


class TraceRequestForm(Form):
    partner = SelectField(_l("Ask"), validate_choice=False, validators=[DataRequired()])
    serial_number = StringField(_l("Serial number"), validators=[DataRequired(), Length(max=60)],
                                description=SERIAL_HELP)
    make = StringField(_l("Make"), validators=[Optional(), Length(max=100)])
    model = StringField(_l("Model"), validators=[Optional(), Length(max=100)])
    calibre = StringField(_l("Calibre"), validators=[Optional(), Length(max=60)])
    reason = TextAreaField(_l("Reason for the request"), validators=[DataRequired(), Length(max=2000)])
    reference = StringField(_l("Your reference (case or file)"), validators=[Optional(), Length(max=100)])


class TraceImportForm(Form):
    package = FileField(_l("Trace package (.zip): a partner's request, or the answer to one of ours"),
                        validators=[FileRequired(_l("Choose the package file."))])


class TraceAnswerForm(Form):
    """Signing the answer: the reviewer has seen the records it will list (or that it says "no record")."""
