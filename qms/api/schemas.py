"""Schemas shared by API endpoints."""
from __future__ import annotations

import marshmallow as ma


class UnitSchema(ma.Schema):
    id = ma.fields.Int(dump_only=True)
    code = ma.fields.Str(dump_only=True)
    name = ma.fields.Str(required=True, validate=ma.validate.Length(min=1, max=200))
    country = ma.fields.Str(validate=ma.validate.Length(equal=2))


class UnitUpdateSchema(ma.Schema):
    name = ma.fields.Str(validate=ma.validate.Length(min=1, max=200))
    country = ma.fields.Str(validate=ma.validate.Regexp(r"^[A-Za-z]{2}$", error="Use a two-letter country code."))


class MembershipSchema(ma.Schema):
    unit_id = ma.fields.Int()
    role = ma.fields.Str()


class MeSchema(ma.Schema):
    id = ma.fields.Int()
    username = ma.fields.Str()
    full_name = ma.fields.Str()
    email = ma.fields.Str()
    mfa_enrolled = ma.fields.Bool()
    active_unit_id = ma.fields.Int(allow_none=True)
    roles = ma.fields.List(ma.fields.Str())
    via_token = ma.fields.Bool()
