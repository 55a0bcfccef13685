"""Record identifiers as they arrive from outside: whole numbers within the database's integer range.

Primary keys are INTEGER columns: 32 bits on PostgreSQL, 64 on SQLite. A larger number names no
record, but sent to the database it overflows (an error, not an answer). So every identifier a form
or an API schema reads is bounded to 1..MAX_RECORD_ID before any query: a too-large one is refused
with a reason (or, in a URL, is a page that does not exist: `qms.errors.RecordId`).

The forms use the fields below; the API uses `qms.api.schemas.RecordId` with the same bound.
"""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, SelectField, SelectMultipleField
from wtforms.validators import NumberRange

MAX_RECORD_ID = 2**31 - 1  # PostgreSQL's INTEGER; the smaller of the two databases' ranges


def record_id(value: Any) -> int:
    """The identifier as an int; ValueError for anything that cannot name a record (WTForms' coerce)."""
    if isinstance(value, bool):
        raise ValueError("not an identifier")
    if isinstance(value, int):
        number = value
    else:
        text = str(value).strip()
        if not (text.isascii() and text.isdigit()):
            raise ValueError("not an identifier")
        number = int(text)
    if not 1 <= number <= MAX_RECORD_ID:
        raise ValueError("identifier out of range")
    return number


def optional_record_id(value: Any) -> int | None:
    """As `record_id`, with the empty choice ("", None) meaning no record."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return record_id(value)


def record_id_range() -> NumberRange:
    """The bound of an integer field that names a record (or a sequence number stored as INTEGER)."""
    return NumberRange(min=1, max=MAX_RECORD_ID, message=_l("Not an identifier of a record."))


class RecordIdField(IntegerField):
    """A typed-in or hidden identifier: a whole number within the database's range."""

    def __init__(self, label: Any = None, validators: list[Any] | None = None, **kwargs: Any) -> None:
        super().__init__(label, [*(validators or ()), record_id_range()], **kwargs)


class _BoundedChoices:
    """Choices whose values are record ids: coerced and bounded, with one reason when they are not."""

    coerce_id: Any = staticmethod(record_id)
    refusal: Any = _l("Not an identifier of a record.")

    def __init__(self, label: Any = None, validators: list[Any] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("coerce", self.coerce_id)
        kwargs.setdefault("choices", [])
        super().__init__(label, validators, **kwargs)  # type: ignore[call-arg]

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)  # type: ignore[misc]
        except ValueError:
            raise ValueError(self.refusal) from None


class RecordIdSelectField(_BoundedChoices, SelectField):
    """A record chosen from a list; its value is the id (None for the empty choice), bounded as above."""

    coerce_id = staticmethod(optional_record_id)


class RecordIdMultipleField(_BoundedChoices, SelectMultipleField):
    """Several records chosen from a list; their ids, each bounded as above."""

    refusal = _l("One of the choices is not an identifier of a record.")
