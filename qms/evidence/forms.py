from __future__ import annotations

from datetime import datetime, timedelta, timezone

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, DateTimeLocalField, IntegerField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from qms.evidence.custody import RECORDABLE, When
from qms.evidence.models import EVENT_LABELS, ITEM_TYPE_LABELS, LOCATION_KIND_LABELS
from qms.forms import Form
from qms.identifiers import RecordIdField, RecordIdMultipleField, RecordIdSelectField

# Labels stay lazy: the choices are built once, at import, and shown in each reader's language.
ITEM_TYPES = [SelectChoice(t.value, label) for t, label in ITEM_TYPE_LABELS.items()]
LOCATION_KINDS = [SelectChoice(k.value, label) for k, label in LOCATION_KIND_LABELS.items()]
# Events recorded with the generic form; transfers, destruction and sampling have their own.
KIND_CHOICES = [SelectChoice(k.value, EVENT_LABELS[k]) for k in RECORDABLE]


class TimedForm(Form):
    """When it happened, in the recorder's local time; the browser fills in its UTC offset."""

    occurred_at = DateTimeLocalField(_l("When (local time; empty = now)"), validators=[Optional()],
                                     format=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S"])
    utc_offset = IntegerField(_l("UTC offset (minutes)"), default=0, widget=HiddenInput(),
                              validators=[Optional(), NumberRange(min=-14 * 60, max=14 * 60)],
                              render_kw={"data-utc-offset": True})
    notes = TextAreaField(_l("Notes"), validators=[Optional(), Length(max=2000)])

    def when(self) -> When:
        offset = self.utc_offset.data or 0
        local = self.occurred_at.data
        if local is None:
            return When(None, offset)
        return When((local - timedelta(minutes=offset)).replace(tzinfo=timezone.utc), offset)


class CaseForm(Form):
    case_number = StringField(_l("Case number"), validators=[DataRequired(), Length(max=64)])
    offence_type = StringField(_l("Offence type"), validators=[DataRequired(), Length(max=120)])
    offence_date = DateField(_l("Date of the offence"), validators=[Optional()])
    opened_on = DateField(_l("Case opened on"), validators=[DataRequired()],
                          default=lambda: datetime.now(timezone.utc).date())
    summary = TextAreaField(_l("Summary"), validators=[Optional(), Length(max=4000)])


class ItemForm(TimedForm):
    exhibit_number = StringField(_l("Exhibit number"), validators=[DataRequired(), Length(max=32)])
    item_type = SelectField(_l("Type"), choices=ITEM_TYPES)
    description = TextAreaField(_l("Description"), validators=[DataRequired(), Length(max=4000)])
    make = StringField(_l("Make (firearms)"), validators=[Optional(), Length(max=80)])
    model = StringField(_l("Model (firearms)"), validators=[Optional(), Length(max=80)])
    serial_number = StringField(_l("Serial number (firearms)"), validators=[Optional(), Length(max=80)])
    calibre = StringField(_l("Calibre"), validators=[Optional(), Length(max=40)])
    packaging = StringField(_l("Packaging"), validators=[Optional(), Length(max=200)])
    seal_number = StringField(_l("Seal number"), validators=[Optional(), Length(max=64)])
    collected_place = StringField(_l("Collected where"), validators=[Optional(), Length(max=200)])


class OfferForm(TimedForm):
    receiver = RecordIdSelectField(_l("Hand over to"), validate_choice=False)


class PartyForm(TimedForm):
    """A second person confirms with their own password (on this device or from their account)."""

    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "off"})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "off"})


class CancelForm(TimedForm):
    pass


class EventForm(TimedForm):
    kind = SelectField(_l("Event"), choices=KIND_CHOICES)
    location_id = RecordIdSelectField(_l("Storage location"), validate_choice=False)
    seal_number = StringField(_l("New seal number"), validators=[Optional(), Length(max=64)])
    recipient = StringField(_l("Returned to (name and identity document)"), validators=[Optional(), Length(max=200)])
    wrong_seq = RecordIdField(_l("Event # being corrected"), validators=[Optional()])
    # The page offers the unit's instruments in service; the service refuses any other with the reason.
    equipment_ids = RecordIdMultipleField(_l("Instruments used (examinations; in service only)"),
                                          validators=[Optional()], validate_choice=False)


class DestroyForm(PartyForm):
    disposal = SelectField(_l("What happens"), choices=[SelectChoice("destroyed", _l("Destroyed")),
                                                    SelectChoice("disposed", _l("Disposed of"))])
    method = StringField(_l("How, and on whose authority"), validators=[DataRequired(), Length(max=500)])


class SampleForm(TimedForm):
    exhibit_number = StringField(_l("Exhibit number of the sub-item"), validators=[DataRequired(), Length(max=32)])
    item_type = SelectField(_l("Type"), choices=ITEM_TYPES)
    description = TextAreaField(_l("Description (e.g. test-fire, swab)"), validators=[DataRequired(), Length(max=4000)])


class PhotoForm(Form):
    photo = FileField(_l("Photograph of the packaging or seal (JPEG, PNG or TIFF)"), validators=[FileRequired()])
    caption = StringField(_l("Caption"), validators=[Optional(), Length(max=200)])


class LocationForm(Form):
    kind = SelectField(_l("Kind"), choices=LOCATION_KINDS)
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=120)])
    parent_id = RecordIdSelectField(_l("Inside"), validate_choice=False)

