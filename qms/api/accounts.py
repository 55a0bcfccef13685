"""API: the current user and the units."""
from __future__ import annotations

from flask import g
from flask_babel import gettext as _
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import MeSchema, UnitSchema, UnitUpdateSchema
from qms.auth.models import Role, Unit
from qms.auth.permissions import ALL_ROLES, Access
from qms.errors import NotFound
from qms.extensions import db

blp = Blueprint("api_accounts", __name__, description="The current user and the units")


@blp.route("/me")
class Me(MethodView):
    access = Access(signed_in=True)

    @blp.response(200, MeSchema)
    def get(self):  # type: ignore[no-untyped-def]
        """The calling user, the unit they act in and their roles there."""
        user = g.qms_user
        return {"id": user.id, "username": user.username, "full_name": user.full_name, "email": user.email,
                "mfa_enrolled": user.mfa_enrolled, "active_unit_id": g.qms_unit_id,
                "roles": sorted(r.value for r in g.qms_roles), "via_token": g.qms_via_token}


@blp.route("/units")
class Units(MethodView):
    access = Access(read=ALL_ROLES)

    @blp.response(200, UnitSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The units the caller may see (their active unit)."""
        return db.session.scalars(db.select(Unit).order_by(Unit.name)).all()


@blp.route("/units/<int:unit_id>")
class UnitItem(MethodView):
    access = Access(read=ALL_ROLES, write=frozenset({Role.ADMIN}))

    @blp.response(200, UnitSchema)
    def get(self, unit_id: int):  # type: ignore[no-untyped-def]
        """One unit."""
        return _unit_or_404(unit_id)

    @blp.arguments(UnitUpdateSchema)
    @blp.response(200, UnitSchema)
    def patch(self, changes: dict, unit_id: int):  # type: ignore[no-untyped-def]
        """Change a unit's name or country (administrators)."""
        unit = _unit_or_404(unit_id)
        if "name" in changes:
            unit.name = changes["name"].strip()
        if "country" in changes:
            unit.country = changes["country"].upper()
        db.session.flush()
        return unit


def _unit_or_404(unit_id: int) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(_("No such unit."))
    return unit
