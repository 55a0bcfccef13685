"""What the trail knows about each record type: its name for people, its kind, its page, its fields.

The trail never imports a domain's views or models to describe a record: a record type is
named by its class name, its page by an endpoint name string, and its fields by column names.
The known types are listed in `qms.trail.catalogue`; a domain may add its own with `register`.
"""
from __future__ import annotations

import enum
import functools
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import lazy_gettext as _l


class Kind(enum.StrEnum):
    """What a record is about; who may read its history in the trail depends on it."""

    ACCOUNT = "account"  # users, memberships, units, API tokens, settings
    EVIDENCE = "evidence"  # cases, items, custody, photos
    BALLISTIC = "ballistic"  # entries, candidates, decisions, links, exchange
    QUALITY = "quality"  # audits, results, findings, actions, SOP content
    UNCLASSIFIED = "unclassified"  # a record type nobody described yet: treated as content


@dataclass(frozen=True)
class Link:
    """The page of a record: `url_for(endpoint, **{arg: <value of field>})`.

    `field` is "id" for the record's own page, or a column naming the record whose page shows
    it (a membership is shown on its user's page).
    """

    endpoint: str
    arg: str
    field: str = "id"


@dataclass(frozen=True)
class RecordType:
    name: str  # the model's class name, as the trail stores it in `entity`
    label: Any  # a lazy translatable string
    kind: Kind
    link: Link | None = None
    fields: Mapping[str, Any] = field(default_factory=dict)  # column -> lazy label
    shown_as: str = ""  # the column that names a record of this type where another refers to it
    # column -> "module:NAME" of the domain's labels for the codes it stores (a state, a kind): named,
    # not imported, so the trail loads no domain; a list of codes (roles) is labelled code by code.
    codes: Mapping[str, str] = field(default_factory=dict)

    def field_label(self, column: str) -> str:
        label = self.fields.get(column) or COMMON_FIELDS.get(column)
        return str(label) if label is not None else humanise(column)

    def code_label(self, column: str, value: Any) -> str | None:
        """A stored code through its translated label; None when the column holds no code or the code
        is not one the domain labels (shown as stored, never guessed)."""
        reference = self.codes.get(column)
        if reference is None:
            return None
        labels = code_labels(reference)
        if isinstance(value, list) and value and all(isinstance(code, str) and code in labels for code in value):
            return ", ".join(str(labels[code]) for code in value)
        return str(labels[value]) if isinstance(value, str) and value in labels else None


@functools.cache
def code_labels(reference: str) -> Mapping[Any, Any]:
    """The label mapping named "module:NAME" (codes -> lazy translated labels)."""
    module, name = reference.split(":")
    return getattr(importlib.import_module(module), name)


def is_machine_text(column: str, value: Any) -> bool:
    """Fingerprints, keys, identifiers and JSON structures: shown as code, not as words to translate."""
    return isinstance(value, (dict, list)) or column.endswith(MACHINE_SUFFIXES)


def humanise(column: str) -> str:
    """`created_by_id` -> "Created by": the fallback for a column nobody labelled."""
    words = column.removesuffix("_id").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def unclassified(name: str) -> RecordType:
    return RecordType(name=name, label=humanise(name), kind=Kind.UNCLASSIFIED)


MACHINE_SUFFIXES = ("sha256", "hash", "fingerprint", "uuid", "public_key", "_key", "_key_reversed", "prefix")

# Columns that mean the same in every record type.
COMMON_FIELDS: Mapping[str, Any] = {
    "id": _l("Number"),
    "unit_id": _l("Unit"),
    "user_id": _l("User"),
    "created_at": _l("Created"),
    "created_by_id": _l("Created by"),
    "changed_at": _l("Changed"),
    "name": _l("Name"),
    "title": _l("Title"),
    "status": _l("Status"),
    "state": _l("State"),
    "kind": _l("Kind"),
    "role": _l("Role"),
    "number": _l("Number"),
    "sha256": _l("File fingerprint (SHA-256)"),
    "content_sha256": _l("Content fingerprint (SHA-256)"),
    "file_sha256": _l("File fingerprint (SHA-256)"),
    "filename": _l("File name"),
    "original_name": _l("File name"),
    "media_type": _l("File type"),
    "size": _l("Size (bytes)"),
    "file_size": _l("Size (bytes)"),
    "item_id": _l("Item"),
    "case_id": _l("Case"),
    "entry_id": _l("Ballistic entry"),
    "audit_id": _l("Audit"),
    "sop_id": _l("SOP"),
    "revision_id": _l("Revision"),
    "actor_id": _l("By"),
    "actor_name": _l("By (name)"),
    "at": _l("When"),
    "comment": _l("Comment"),
    "calibre": _l("Calibre"),
    "conclusion": _l("Conclusion"),
    "note": _l("Note"),
    "text": _l("Text"),
    "evidence": _l("Evidence"),
    "candidate_id": _l("Candidate"),
    "job_id": _l("Correlation job"),
    "entry_low_id": _l("First entry"),
    "entry_high_id": _l("Second entry"),
    "index_entry_id": _l("Search index entry"),
    "parameters": _l("Parameters"),
}
