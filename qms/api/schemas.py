"""Schemas shared by API endpoints, and the one type of every record identifier they read or answer."""
from __future__ import annotations

from typing import Any

import marshmallow as ma

from qms.identifiers import MAX_RECORD_ID

# No input may hold a NUL character (`qms.security` refuses it: PostgreSQL cannot store one in text).
# Every text property of the document says so (`qms.api.DocumentedAnswers`); patterns written here include it.
NO_NUL = r"^[^\x00]*$"


class RecordId(ma.fields.Integer):
    """A record's identifier: a whole number within the database's integer range (documented as such).

    A larger number names no record; it is refused (422, with the reason) before it reaches a query,
    where it would overflow the column.
    """

    def __init__(self, **kwargs: Any) -> None:
        extra = kwargs.pop("validate", None)
        checks = [ma.validate.Range(min=1, max=MAX_RECORD_ID, error="Not an identifier of a record.")]
        checks += [] if extra is None else list(extra) if isinstance(extra, (list, tuple)) else [extra]
        super().__init__(strict=True, validate=checks, **kwargs)


def RecordIds(**kwargs: Any) -> ma.fields.List:  # noqa: N802 - a field, named like one
    """A list of record identifiers, each bounded as `RecordId`."""
    return ma.fields.List(RecordId(), **kwargs)


class ChangesSchema(ma.Schema):
    """The body of a PATCH: at least one field to change (documented as `minProperties: 1`).

    An empty body, or none, would change nothing and answer as if it had: it is refused (422).
    """

    @ma.validates_schema
    def _changes_something(self, data: dict[str, Any], **kwargs: Any) -> None:
        if not data:
            raise ma.ValidationError("Send at least one field to change.")


class UnitSchema(ma.Schema):
    id = RecordId(dump_only=True)
    code = ma.fields.Str(dump_only=True)
    name = ma.fields.Str(dump_only=True)
    country = ma.fields.Str(dump_only=True, validate=ma.validate.Length(max=2),
                            metadata={"description": "ISO 3166 two-letter code; empty when not set."})


class UnitUpdateSchema(ChangesSchema):
    name = ma.fields.Str(validate=[ma.validate.Length(min=1, max=200),
                                   ma.validate.Regexp(r"^[^\x00]*[^\s\x00][^\x00]*$",
                                                      error="The name cannot be blank.")])
    country = ma.fields.Str(validate=ma.validate.Regexp(r"^[A-Za-z]{2}$", error="Use a two-letter country code."))


class MembershipSchema(ma.Schema):
    unit_id = RecordId()
    role = ma.fields.Str()


class MeSchema(ma.Schema):
    id = RecordId()
    username = ma.fields.Str()
    full_name = ma.fields.Str()
    email = ma.fields.Str()
    mfa_enrolled = ma.fields.Bool()
    active_unit_id = RecordId(allow_none=True)
    roles = ma.fields.List(ma.fields.Str())
    via_token = ma.fields.Bool()


# A record identifier in a hand-written part of the document (multipart fields), as RecordId documents it.
ID_DOC = {"type": "integer", "minimum": 1, "maximum": MAX_RECORD_ID}
TEXT_DOC = {"type": "string", "pattern": NO_NUL}


def RecordIdOf(getter: Any, **kwargs: Any) -> ma.fields.Function:  # noqa: N802
    """A record identifier computed from the answered record (dump only), documented as `RecordId`."""
    return ma.fields.Function(getter, dump_only=True, metadata=ID_DOC, **kwargs)


def RecordIdsOf(getter: Any, **kwargs: Any) -> ma.fields.Function:  # noqa: N802
    """Record identifiers computed from the answered record (dump only), documented as a list of `RecordId`."""
    return ma.fields.Function(getter, dump_only=True, metadata={"type": "array", "items": ID_DOC}, **kwargs)
