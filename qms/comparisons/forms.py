"""Forms of the comparison pages (Flask-WTF: every one carries its CSRF token)."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DecimalField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.comparisons.models import Conclusion
from qms.identifiers import RecordIdSelectField


class EntryForm(FlaskForm):
    item_id = RecordIdSelectField("Custody item (cartridge case or test fire)", validators=[DataRequired()])
    scan = FileField("Scan (X3P topography, or PNG/TIFF/JPEG image)", validators=[FileRequired()])
    pixel_size_um = DecimalField("Pixel size (µm), for images without one", places=None,
                                 validators=[Optional(), NumberRange(min=0.01, max=100)])
    calibre = StringField("Calibre", validators=[Optional(), Length(max=40)])
    firearm_make = StringField("Firearm make, if known", validators=[Optional(), Length(max=80)])
    firearm_model = StringField("Firearm model, if known", validators=[Optional(), Length(max=80)])
    device_id = RecordIdSelectField(_l("Imaging instrument (from the equipment register)"),
                                    validators=[DataRequired(message=_l("Choose the imaging instrument."))])
    settings = TextAreaField("Device settings (objective, lighting, resolution...)",
                             validators=[Optional(), Length(max=2000)])


class DecisionForm(FlaskForm):
    conclusion = RadioField("Conclusion", choices=[SelectChoice(c.value, c.label) for c in Conclusion],
                            validators=[DataRequired(message="Choose a conclusion.")])
    note = TextAreaField("Note (what you saw)", validators=[Optional(), Length(max=4000)])
    password = PasswordField("Your password (signs the decision)", validators=[DataRequired()])
