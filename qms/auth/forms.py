from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (BooleanField, EmailField, HiddenField, IntegerField, PasswordField, SelectField, SelectMultipleField,
                     StringField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from qms.auth.models import ROLE_LABELS
from qms.forms import Form
from qms.i18n.languages import LANGUAGES

ROLE_CHOICES = [SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()]


def language_choices(unset: object) -> list[SelectChoice]:
    """Each language by its own name (marked with its `lang`, so screen readers say it right), after `unset`."""
    return [SelectChoice("", unset)] + [SelectChoice(language.code, language.native_name,
                                                     render_kw={"lang": language.tag}) for language in LANGUAGES]


class LoginForm(Form):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})


class MfaCodeForm(Form):
    code = StringField(_l("Six-digit code from your authenticator app"),
                       validators=[DataRequired(),
                                   Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("Enter the six digits."))],
                       render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"})


class MfaLoginForm(Form):
    code = StringField(_l("Six-digit code from your authenticator app, or one of your recovery codes"),
                       validators=[DataRequired(), Length(max=64)],
                       render_kw={"autocomplete": "one-time-code", "autofocus": True})


class PasswordResetForm(Form):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username"})
    code = StringField(_l("Reset code from your administrator"), validators=[DataRequired(), Length(max=64)],
                       render_kw={"autocomplete": "off"})
    new = PasswordField(_l("New password (at least 12 characters)"), validators=[DataRequired(), Length(max=1024)],
                        render_kw={"autocomplete": "new-password"})


class ResetIssueForm(Form):
    reason = StringField(_l("Reason (kept in the audit trail)"), validators=[DataRequired(), Length(min=3, max=500)])
    reset_mfa = BooleanField(_l("The authenticator is lost too: turn MFA off until they enrol again"))


class PasswordChangeForm(Form):
    current = PasswordField(_l("Current password"), validators=[DataRequired()])
    new = PasswordField(_l("New password (at least 12 characters)"), validators=[DataRequired(), Length(max=1024)],
                        render_kw={"autocomplete": "new-password"})


class DigestForm(Form):
    digest = BooleanField(_l("Send me a daily e-mail of what waits for me (SOPs to read, actions, calibrations, "
                             "authorisations, reviews)"))


class UserForm(Form):
    username = StringField(_l("User name"), validators=[DataRequired(), Length(max=64)])
    full_name = StringField(_l("Full name"), validators=[DataRequired(), Length(max=200)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=254)])
    password = PasswordField(_l("Initial password (at least 12 characters)"),
                             validators=[DataRequired(), Length(max=1024)])
    roles = SelectMultipleField(_l("Roles in this unit"), choices=ROLE_CHOICES, validators=[DataRequired()])


class RoleForm(Form):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class ReasonForm(Form):
    reason = StringField(_l("Reason (kept in the audit trail)"), validators=[DataRequired(), Length(min=3, max=500)])


class ActiveForm(ReasonForm):
    active = BooleanField(_l("Account active"))


class LanguageForm(Form):
    language = SelectField(_l("Language"), choices=lambda: language_choices(_l("As the unit, else the browser")),
                           validate_choice=False)  # the service refuses an unknown one, with its reason
    next = HiddenField()


class UnitForm(Form):
    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    country = StringField(_l("Country (ISO 3166 two-letter code)"), validators=[Optional(), Length(min=2, max=2)])
    language = SelectField(_l("Language of the unit (for people who chose none)"),
                           choices=lambda: language_choices(_l("None: each person's browser decides")),
                           validate_choice=False)
    timezone = StringField(_l("Time zone (e.g. Europe/Skopje; empty: the server's default)"),
                           validators=[Optional(), Length(max=64)])


class TokenForm(Form):
    name = StringField(_l("What the token is for"), validators=[DataRequired(), Length(max=100)])
    role = SelectField(_l("Role the token acts with"), choices=ROLE_CHOICES)
    days = IntegerField(_l("Valid for (days)"), default=90, validators=[DataRequired(), NumberRange(min=1, max=365)])
