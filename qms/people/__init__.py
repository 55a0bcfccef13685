"""People (ISO/IEC 17020 6.1): personnel files, training, supervised work, witnessing, declarations,
scopes of authorisation and the authorisations that gate the technical work."""
from flask import Blueprint
from flask_babel import lazy_gettext as _l

bp = Blueprint("people", __name__, template_folder="templates")

_STAFF = frozenset({"quality_manager", "auditor", "examiner", "csi_officer", "viewer"})
NAV: list[tuple[object, str, frozenset[str]]] = [(_l("People"), "people.index", _STAFF)]
