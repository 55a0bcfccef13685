from __future__ import annotations

from flask_babel import gettext
from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileField
from wtforms import DateField, IntegerField, PasswordField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from qms.auth.models import ROLE_LABELS, Role
from qms.documents.models import DISCIPLINE_LABELS, DISCIPLINES
from qms.documents.services import DEFAULT_MEANING
from qms.forms import Form
from qms.identifiers import RecordIdSelectField

DISCIPLINE_CHOICES = [SelectChoice(d, DISCIPLINE_LABELS[d]) for d in DISCIPLINES]
ROLE_CHOICES = [SelectChoice(r.value, label) for r, label in ROLE_LABELS.items() if r != Role.ADMIN]


class SopForm(Form):
    code = StringField(_l("Code (e.g. CSI-SOP-007)"), validators=[DataRequired(), Length(max=32)])
    title = StringField(_l("Title"), validators=[DataRequired(), Length(max=200)])
    discipline = SelectField(_l("Discipline"), choices=DISCIPLINE_CHOICES)
    owner_id = RecordIdSelectField(_l("Owner"), validators=[Optional()])
    review_months = IntegerField(_l("Review period (months)"), default=12,
                                 validators=[DataRequired(), NumberRange(min=1, max=60)])
    applies_to = SelectMultipleField(_l("Staff who must read it (roles)"), choices=ROLE_CHOICES)


class SopEditForm(SopForm):
    code = None  # type: ignore[assignment]  # the code identifies the SOP and never changes


class DraftForm(Form):
    content_markdown = TextAreaField(_l("Content (Markdown)"), validators=[Length(max=500_000)])
    upload = FileField(_l("Or upload a PDF or Word (DOCX) file instead"))
    change_summary = TextAreaField(_l("What changed (change summary)"), validators=[Length(max=5000)])
    requirement_ids = StringField(_l("Requirements addressed (ids, separated by spaces or commas)"),
                                  validators=[Length(max=5000)])


class ApproveForm(Form):
    password = PasswordField(_l("Your password (electronic signature)"), validators=[DataRequired(), Length(max=1024)])
    otp = StringField(_l("MFA code (if you use an authenticator app)"), validators=[Optional(), Length(max=12)])
    effective_on = DateField(_l("Effective from"), validators=[Optional()])
    meaning = StringField(_l("Meaning of the signature"), default=lambda: gettext(DEFAULT_MEANING),
                          validators=[DataRequired(), Length(max=200)])


class CommentForm(Form):
    comment = TextAreaField(_l("Comment"), validators=[DataRequired(), Length(max=5000)])
