"""API: scopes of authorisation, personnel files, competence records, signed authorisations, the matrix.

A person or scope of another unit answers 404 (the services look them up in the caller's unit).
Grants, suspensions, reinstatements and withdrawals are signed with the caller's password in the
JSON body; a wrong one is refused (403) and counts towards the sign-in throttle.
"""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import g
from flask.views import MethodView
from flask_smorest import Blueprint

from qms.api.schemas import RecordId, RecordIdsOf
from qms.auth.models import Role
from qms.auth.permissions import Access
from qms.people import services
from qms.people.models import TrainingOutcome, WitnessOutcome

blp = Blueprint("api_people", __name__, url_prefix="/people",
                description="People (ISO/IEC 17020 6.1): personnel files, competence records, authorisations")
RECORDERS = services.READERS - {Role.VIEWER}  # supervisors and observers record what they saw; the service decides
ACCESS = Access(read=services.READERS, write=RECORDERS)
SIGNED = Access(read=services.READERS, write=services.MANAGERS)
TEXT = ma.validate.Length(max=services.MAX_TEXT)


class PeopleScopeSchema(ma.Schema):
    id = RecordId()
    code = ma.fields.Str()
    name = ma.fields.Str()
    requirements = ma.fields.Str()
    education = ma.fields.Str()
    min_training_hours = ma.fields.Float()
    min_supervised = ma.fields.Int()
    min_witnessed = ma.fields.Int()
    witness_interval_months = ma.fields.Int()


class PeoplePersonSchema(ma.Schema):
    id = RecordId()
    username = ma.fields.Str()
    full_name = ma.fields.Str()
    job_title = ma.fields.Str()


class PeopleTrainingSchema(ma.Schema):
    id = RecordId()
    user_id = RecordId()
    scope_id = RecordId(allow_none=True)
    course = ma.fields.Str()
    provider = ma.fields.Str()
    started_on = ma.fields.Date()
    completed_on = ma.fields.Date()
    hours = ma.fields.Float()
    outcome = ma.fields.Str()
    certificate_sha256 = ma.fields.Str(allow_none=True)
    certificate_name = ma.fields.Str()
    notes = ma.fields.Str()
    recorded_by_id = RecordId(allow_none=True)
    recorded_at = ma.fields.DateTime()


class PeopleSupervisedSchema(ma.Schema):
    id = RecordId()
    user_id = RecordId()
    scope_id = RecordId()
    supervisor_id = RecordId()
    performed_on = ma.fields.Date()
    reference = ma.fields.Str()
    notes = ma.fields.Str()
    recorded_by_id = RecordId(allow_none=True)
    recorded_at = ma.fields.DateTime()


class PeopleWitnessingSchema(ma.Schema):
    id = RecordId()
    user_id = RecordId()
    scope_id = RecordId()
    observer_id = RecordId()
    observed_on = ma.fields.Date()
    reference = ma.fields.Str()
    outcome = ma.fields.Str()
    notes = ma.fields.Str()
    recorded_by_id = RecordId(allow_none=True)
    recorded_at = ma.fields.DateTime()


class PeopleDeclarationSchema(ma.Schema):
    id = RecordId()
    year = ma.fields.Int()
    kind = ma.fields.Str()
    interests = ma.fields.Str()
    signed_at = ma.fields.DateTime()


class PeopleAuthorisationEventSchema(ma.Schema):
    id = RecordId()
    user_id = RecordId()
    scope_id = RecordId()
    kind = ma.fields.Str()
    valid_from = ma.fields.Date(allow_none=True)
    valid_until = ma.fields.Date(allow_none=True)
    reason = ma.fields.Str()
    justification = ma.fields.Str()
    unmet = ma.fields.List(ma.fields.Str())
    signed_by_id = RecordId(allow_none=True)
    signed_by_name = ma.fields.Str()
    signature_meaning = ma.fields.Str()
    signed_at = ma.fields.DateTime()


class PeopleAuthorisationSchema(ma.Schema):
    scope_id = RecordId()
    scope_code = ma.fields.Str()
    standing = ma.fields.Str(metadata={"description": "authorised, expiring, not_yet, expired, suspended, "
                                                      "withdrawn, in_training or none"})
    valid_from = ma.fields.Date(allow_none=True)
    valid_until = ma.fields.Date(allow_none=True)
    events = ma.fields.List(ma.fields.Nested(PeopleAuthorisationEventSchema))


class PeoplePersonFileSchema(ma.Schema):
    person = ma.fields.Nested(PeoplePersonSchema)
    roles = ma.fields.List(ma.fields.Str())
    education = ma.fields.Str()
    qualifications = ma.fields.Str()
    training = ma.fields.List(ma.fields.Nested(PeopleTrainingSchema))
    supervised = ma.fields.List(ma.fields.Nested(PeopleSupervisedSchema))
    witnessing = ma.fields.List(ma.fields.Nested(PeopleWitnessingSchema))
    declarations = ma.fields.List(ma.fields.Nested(PeopleDeclarationSchema))
    authorisations = ma.fields.List(ma.fields.Nested(PeopleAuthorisationSchema))
    witnessing_due_scope_ids = RecordIdsOf(lambda f: [s.id for s in f["witnessing_due"]])


class PeopleMatrixCellSchema(ma.Schema):
    scope_id = RecordId()
    standing = ma.fields.Str()
    valid_until = ma.fields.Date(allow_none=True)


class PeopleMatrixRowSchema(ma.Schema):
    person = ma.fields.Nested(PeoplePersonSchema)
    cells = ma.fields.List(ma.fields.Nested(PeopleMatrixCellSchema))
    witnessing_due_scope_ids = RecordIdsOf(lambda row: row["witnessing_due"])


class PeopleMatrixSchema(ma.Schema):
    on = ma.fields.Date()
    scopes = ma.fields.List(ma.fields.Nested(PeopleScopeSchema))
    rows = ma.fields.List(ma.fields.Nested(PeopleMatrixRowSchema))


class PeopleTrainingCreateSchema(ma.Schema):
    course = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    provider = ma.fields.Str(load_default="", validate=ma.validate.Length(max=200))
    started_on = ma.fields.Date(required=True)
    completed_on = ma.fields.Date(required=True)
    hours = ma.fields.Float(load_default=0, validate=ma.validate.Range(min=0, max=10000))
    outcome = ma.fields.Str(required=True, validate=ma.validate.OneOf([o.value for o in TrainingOutcome]))
    scope_id = RecordId(load_default=None, allow_none=True)
    notes = ma.fields.Str(load_default="", validate=TEXT)


class PeopleSupervisedCreateSchema(ma.Schema):
    scope_id = RecordId(required=True)
    supervisor_id = RecordId(required=True)
    performed_on = ma.fields.Date(required=True)
    reference = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    notes = ma.fields.Str(load_default="", validate=TEXT)


class PeopleWitnessingCreateSchema(ma.Schema):
    scope_id = RecordId(required=True)
    observer_id = RecordId(required=True)
    observed_on = ma.fields.Date(required=True)
    reference = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    outcome = ma.fields.Str(required=True, validate=ma.validate.OneOf([o.value for o in WitnessOutcome]))
    notes = ma.fields.Str(load_default="", validate=TEXT)


class PeopleSignatureSchema(ma.Schema):
    """The electronic signature: the caller's password (and MFA code if enrolled), re-entered for this act."""

    password = ma.fields.Str(required=True, load_only=True, validate=ma.validate.Length(min=1, max=1024))
    otp = ma.fields.Str(load_only=True, load_default="", validate=ma.validate.Length(max=12))
    meaning = ma.fields.Str(load_default=services.DEFAULT_MEANING, validate=ma.validate.Length(max=200))


class PeopleGrantSchema(PeopleSignatureSchema):
    valid_from = ma.fields.Date(load_default=None, allow_none=True)
    valid_until = ma.fields.Date(load_default=None, allow_none=True)
    justification = ma.fields.Str(load_default="", validate=TEXT,
                                  metadata={"description": "Required when the competence requirements are unmet."})


class PeopleChangeSchema(PeopleSignatureSchema):
    reason = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=services.MAX_TEXT))


def _signature(data: dict[str, Any]) -> services.Signature:
    return services.Signature(password=data.pop("password"), otp=data.pop("otp"), meaning=data.pop("meaning"))


def _person(user: Any, file: Any) -> dict[str, Any]:
    return {"id": user.id, "username": user.username, "full_name": user.full_name,
            "job_title": file.job_title if file is not None else ""}


@blp.route("/scopes")
class Scopes(MethodView):
    access = ACCESS

    @blp.response(200, PeopleScopeSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The unit's scopes of authorisation with their competence requirements."""
        return services.scopes(g.qms_unit_id)


@blp.route("")
class People(MethodView):
    access = ACCESS

    @blp.response(200, PeoplePersonSchema(many=True))
    def get(self):  # type: ignore[no-untyped-def]
        """The unit's people with their job titles."""
        return [_person(user, services.personnel_file(user.id, g.qms_unit_id))
                for user in services.members(g.qms_unit_id)]


@blp.route("/matrix")
class Matrix(MethodView):
    access = ACCESS

    @blp.response(200, PeopleMatrixSchema)
    def get(self):  # type: ignore[no-untyped-def]
        """The competence matrix: each person's standing for each scope today, and whose witnessing is due."""
        grid = services.matrix(g.qms_unit_id)
        rows = [{"person": _person(p, services.personnel_file(p.id, g.qms_unit_id)),
                 "cells": [{"scope_id": s.id, "standing": grid.cells[(p.id, s.id)].value,
                            "valid_until": grid.until[(p.id, s.id)]} for s in grid.scopes],
                 "witnessing_due": [s.id for s in grid.witnessing_due[p.id]]} for p in grid.people]
        return {"on": grid.on, "scopes": grid.scopes, "rows": rows}


@blp.route("/<int:user_id>")
class PersonFile(MethodView):
    access = ACCESS

    @blp.response(200, PeoplePersonFileSchema)
    def get(self, user_id: int):  # type: ignore[no-untyped-def]
        """A person's file: training, supervised work, witnessing, declarations and authorisations."""
        found = services.person_file(user_id, g.qms_unit_id)
        return {"person": _person(found.person, found.file), "roles": sorted(r.value for r in found.roles),
                "education": found.file.education if found.file else "",
                "qualifications": found.file.qualifications if found.file else "",
                "training": found.training, "supervised": found.supervised, "witnessing": found.witnessing,
                "declarations": found.declarations, "witnessing_due": found.witnessing_due,
                "authorisations": [{"scope_id": scope.id, "scope_code": scope.code, "standing": standing.value,
                                    "valid_from": state.valid_from, "valid_until": state.valid_until,
                                    "events": events}
                                   for scope, standing, state, events in found.authorisations]}


@blp.route("/<int:user_id>/training")
class Training(MethodView):
    access = ACCESS

    @blp.arguments(PeopleTrainingCreateSchema)
    @blp.response(201, PeopleTrainingSchema)
    def post(self, data: dict, user_id: int):  # type: ignore[no-untyped-def]
        """Record a completed training (quality managers; a certificate file is added on the page)."""
        return services.record_training(g.qms_unit_id, g.qms_user, user_id=user_id,
                                        training=services.TrainingInput(**data))


@blp.route("/<int:user_id>/supervised")
class Supervised(MethodView):
    access = ACCESS

    @blp.arguments(PeopleSupervisedCreateSchema)
    @blp.response(201, PeopleSupervisedSchema)
    def post(self, data: dict, user_id: int):  # type: ignore[no-untyped-def]
        """Record a case or exercise done under supervision (a quality manager, or the supervisor)."""
        return services.record_supervised(g.qms_unit_id, g.qms_user, user_id=user_id, **data)


@blp.route("/<int:user_id>/witnessing")
class WitnessingRecords(MethodView):
    access = ACCESS

    @blp.arguments(PeopleWitnessingCreateSchema)
    @blp.response(201, PeopleWitnessingSchema)
    def post(self, data: dict, user_id: int):  # type: ignore[no-untyped-def]
        """Record a witnessed examination (17020 6.1.9; a quality manager, or the observer)."""
        return services.record_witnessing(g.qms_unit_id, g.qms_user, user_id=user_id, **data)


@blp.route("/<int:user_id>/authorisations/<int:scope_id>/grant")
class Grant(MethodView):
    access = SIGNED

    @blp.arguments(PeopleGrantSchema)
    @blp.response(201, PeopleAuthorisationEventSchema)
    def post(self, data: dict, user_id: int, scope_id: int):  # type: ignore[no-untyped-def]
        """Grant (or renew) an authorisation, signed; unmet requirements need a justification (400 without)."""
        signature = _signature(data)
        return services.grant(g.qms_unit_id, g.qms_user, user_id=user_id, scope_id=scope_id, signature=signature,
                              **data)


def _change_route(action: str, change: Any, summary: str) -> None:
    """A signed suspension, reinstatement or withdrawal with its reason: the same shape for the three."""

    @blp.arguments(PeopleChangeSchema)
    @blp.response(201, PeopleAuthorisationEventSchema)
    def post(self, data: dict, user_id: int, scope_id: int):  # type: ignore[no-untyped-def]
        signature = _signature(data)
        return change(g.qms_unit_id, g.qms_user, user_id=user_id, scope_id=scope_id, reason=data["reason"],
                      signature=signature)

    post.__doc__ = summary
    view = type(f"{action.capitalize()}Authorisation", (MethodView,), {"access": SIGNED, "post": post})
    blp.route(f"/<int:user_id>/authorisations/<int:scope_id>/{action}")(view)


_change_route("suspend", services.suspend, "Suspend an authorisation, signed, with the reason.")
_change_route("reinstate", services.reinstate, "Reinstate a suspended authorisation, signed, with the reason.")
_change_route("withdraw", services.withdraw, "Withdraw an authorisation, signed, with the reason.")
