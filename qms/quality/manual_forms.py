"""Forms of the quality-manual pages."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from qms.forms import Form


class PolicyForm(Form):
    clause = SelectField(_l("Clause"), validators=[DataRequired()])  # a catalogue id such as 17020:6.1.1
    statement = TextAreaField(_l("Policy statement (the unit's own words)"),
                              validators=[DataRequired(), Length(max=20000)])


class IssueForm(Form):
    change_summary = StringField(_l("What changed since the last revision"), validators=[Optional(), Length(max=500)])
