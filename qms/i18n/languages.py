"""The languages CSI-QMS ships: English (the source) and the region's catalogues under qms/translations/.

Montenegrin ships as its own catalogue `sr_Latn_ME` (Serbian in Latin script as written in
Montenegro, the identifier CLDR and Babel know), not as `cnr`: `cnr` (ISO 639-3, 2017) has no CLDR
data, so Babel could neither format its dates and numbers nor choose its plural rule. It is a full
catalogue rather than a few overrides of `sr_Latn` because the Montenegrin standard is ijekavian
("vrijeme", "mjesto", "uslijedio") where Serbian Latin is mostly ekavian, so most strings differ;
a translator may start from the `sr_Latn` entries. A browser asking for `cnr` or `sr-ME` gets it.

No imports of `qms` here: the registry is read by services, views and the CLI alike.
"""
from __future__ import annotations

from dataclasses import dataclass

SOURCE = "en"
PSEUDO = "en_XA"  # generated from the template for tests; never offered to people


@dataclass(frozen=True)
class Language:
    code: str  # Babel identifier: the catalogue's folder name
    native_name: str  # the language's name in itself: what its reader looks for in a list
    english_name: str  # for the CLI and for the operator

    @property
    def tag(self) -> str:
        """The BCP 47 tag, for `lang` attributes (`sr_Latn_ME` -> `sr-Latn-ME`)."""
        return self.code.replace("_", "-")


LANGUAGES: tuple[Language, ...] = (
    Language("en", "English", "English"),
    Language("mk", "Македонски", "Macedonian"),
    Language("sq", "Shqip", "Albanian"),
    Language("sr", "Српски (ћирилица)", "Serbian (Cyrillic)"),
    Language("sr_Latn", "Srpski (latinica)", "Serbian (Latin)"),
    Language("sr_Latn_ME", "Crnogorski", "Montenegrin"),
    Language("bs", "Bosanski", "Bosnian"),
    Language("hr", "Hrvatski", "Croatian"),
    Language("ro", "Română", "Romanian"),
)
BY_CODE = {language.code: language for language in LANGUAGES}
CATALOGUES = tuple(language.code for language in LANGUAGES if language.code != SOURCE)

# Language tags a browser may send for a shipped catalogue under another name.
ALIASES = {"cnr": "sr_Latn_ME", "sr_ME": "sr_Latn_ME", "sh": "sr_Latn", "mo": "ro"}


def is_shipped(code: str) -> bool:
    return code in BY_CODE
