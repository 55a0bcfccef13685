"""Forms of the comparison pages (Flask-WTF: every one carries its CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField, FileRequired
from wtforms import DecimalField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.comparisons.models import CONCLUSION_LABELS, Conclusion
from qms.forms import Form
from qms.identifiers import RecordIdSelectField


class EntryForm(Form):
    item_id = RecordIdSelectField(_l("Custody item (cartridge case or test fire)"), validators=[DataRequired()])
    scan = FileField(_l("Scan (X3P topography, or PNG/TIFF/JPEG image)"), validators=[FileRequired()])
    pixel_size_um = DecimalField(_l("Pixel size (µm), for images without one"), places=None,
                                 validators=[Optional(), NumberRange(min=0.01, max=100)])
    calibre = StringField(_l("Calibre"), validators=[Optional(), Length(max=40)])
    firearm_make = StringField(_l("Firearm make, if known"), validators=[Optional(), Length(max=80)])
    firearm_model = StringField(_l("Firearm model, if known"), validators=[Optional(), Length(max=80)])
    device_id = RecordIdSelectField(_l("Imaging instrument (from the equipment register)"),
                                    validators=[DataRequired(message=_l("Choose the imaging instrument."))])
    settings = TextAreaField(_l("Device settings (objective, lighting, resolution...)"),
                             validators=[Optional(), Length(max=2000)])


class DecisionForm(Form):
    conclusion = RadioField(_l("Conclusion"), choices=[SelectChoice(c.value, CONCLUSION_LABELS[c]) for c in Conclusion],
                            validators=[DataRequired(message=_l("Choose a conclusion."))])
    note = TextAreaField(_l("Note (what you saw)"), validators=[Optional(), Length(max=4000)])
    password = PasswordField(_l("Your password (signs the decision)"), validators=[DataRequired()])
