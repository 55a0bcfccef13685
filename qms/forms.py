"""The base of every form: Flask-WTF's CSRF protection, with WTForms' own messages ("This field is
required.", "Not a valid date value.") looked up in the application's catalogues.

WTForms ships catalogues for a few of our languages only (Romanian and Serbian Cyrillic, none for
Macedonian, Albanian, Bosnian, Croatian, Montenegrin or Serbian Latin), so its messages are extracted
into our own template instead (`qms.i18n.wtforms_messages`) and translated with everything else.
"""
from __future__ import annotations

from flask_babel import get_translations
from flask_wtf import FlaskForm


class _CatalogueTranslations:
    """WTForms' translations interface over the request's Flask-Babel catalogue. WTForms fills the
    placeholders itself, so nothing is formatted here."""

    def gettext(self, string: str) -> str:
        return get_translations().ugettext(string)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return get_translations().ungettext(singular, plural, n)


CATALOGUE = _CatalogueTranslations()


class Form(FlaskForm):
    class Meta:
        def get_translations(self, form):  # type: ignore[no-untyped-def]
            return CATALOGUE
