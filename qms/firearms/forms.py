"""Forms of the firearm register's pages (Flask-WTF: every one carries its CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from qms.firearms.leads import OUTCOME_LABELS
from qms.firearms.services import CONVERSION_LABELS, EVENT_LABELS, PRINTED_LABELS, TYPE_LABELS
from qms.forms import Form
from qms.identifiers import RecordIdSelectField

SERIAL_HELP = _l("As marked. Write ? for each character that cannot be read (a partly obliterated serial); leave "
                 "empty when none can be read.")


def _choices(labels: dict) -> list[SelectChoice]:  # type: ignore[type-arg]
    return [SelectChoice(key.value, label) for key, label in labels.items()]


class FirearmForm(Form):
    firearm_type = SelectField(_l("Type"), choices=_choices(TYPE_LABELS))
    make = StringField(_l("Make"), validators=[Optional(), Length(max=100)])
    model = StringField(_l("Model"), validators=[Optional(), Length(max=100)])
    calibre = StringField(_l("Calibre"), validators=[Optional(), Length(max=60)])
    serial_number = StringField(_l("Serial number"), validators=[Optional(), Length(max=60)],
                                description=SERIAL_HELP)
    other_markings = TextAreaField(_l("Other markings (import, proof, essential components)"),
                                   validators=[Optional(), Length(max=4000)])
    country_of_manufacture = StringField(_l("Country of manufacture"), validators=[Optional(), Length(max=100)])
    printed = SelectField(_l("3D-printed"), choices=_choices(PRINTED_LABELS), default="")
    conversion = SelectField(_l("Converted"), choices=_choices(CONVERSION_LABELS), default="")
    home_made = BooleanField(_l("Home-made"))
    modified = BooleanField(_l("Modified (shortened, automatic fire, altered markings...)"))
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=4000)])
    item_id = RecordIdSelectField(_l("Custody item (when seized)"), validators=[Optional()])


class AddFirearmForm(FirearmForm):
    """A new record with what happened to the firearm first (a report, a seizure...)."""

    event_kind = SelectField(_l("What happened"), choices=[SelectChoice("", _l("(nothing yet)")),
                                                            *_choices(EVENT_LABELS)], default="",
                             validators=[Optional()])
    event_on = DateField(_l("On"), validators=[Optional()])
    event_place = StringField(_l("Where"), validators=[Optional(), Length(max=200)])
    event_reporter = StringField(_l("Reported by (stolen or lost)"), validators=[Optional(), Length(max=200)])
    event_police_reference = StringField(_l("Police reference (stolen or lost)"),
                                         validators=[Optional(), Length(max=100)])


class EditFirearmForm(FirearmForm):
    reason = StringField(_l("Reason for the change"), validators=[DataRequired(), Length(max=500)])


class EventForm(Form):
    kind = SelectField(_l("Event"), choices=_choices(EVENT_LABELS))
    occurred_on = DateField(_l("Date"), validators=[DataRequired()])
    place = StringField(_l("Place"), validators=[Optional(), Length(max=200)])
    reporter = StringField(_l("Reported by (stolen or lost)"), validators=[Optional(), Length(max=200)])
    police_reference = StringField(_l("Police reference (stolen or lost)"), validators=[Optional(), Length(max=100)])
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=4000)])


class LeadDecisionForm(Form):
    outcome = SelectField(_l("Decision"), choices=_choices(OUTCOME_LABELS))
    note = TextAreaField(_l("Note (required to dismiss: why they differ)"), validators=[Optional(), Length(max=4000)])
    password = PasswordField(_l("Your password (signs the decision)"), validators=[DataRequired()])
