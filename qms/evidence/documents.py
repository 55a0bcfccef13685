"""Printed documents: the label sheet (QR code, verification code, case and exhibit numbers) and the
custody report of one item (a chain-of-custody form), which also writes a signed checkpoint."""
from __future__ import annotations

from typing import Any

import segno
from flask import url_for
from flask_babel import lazy_gettext as _l

from qms.db import utcnow
from qms.evidence import photos, services
from qms.evidence.checkpoints import key_path, write_checkpoint
from qms.evidence.models import ITEM_STATE_LABELS, ITEM_TYPE_LABELS, Case, Item
from qms.extensions import db
from qms.pdf import render_pdf


# The words stored in a custody event's signatures (hashed into the chain, so stored in English), as printed.
SIGNATURE_WORDS = {"receiver": _l("receiver"), "witness": _l("witness"),
                   "recorded_in_session_of": _l("recorded in the session of"),
                   "password re-entered": _l("password re-entered")}


def item_url(item: Item) -> str:
    """The URL in the QR code: the item page, with the label's verification code."""
    return url_for("evidence.item", item_id=item.id, v=item.label_code, _external=True)


def qr_data_uri(text: str) -> str:
    return segno.make(text, error="m").svg_data_uri(scale=3, border=2)


def labels_pdf(case: Case, items: list[Item]) -> bytes:
    labels = [{"item": item, "url": item_url(item), "qr": qr_data_uri(item_url(item))} for item in items]
    return render_pdf("evidence/labels_pdf.html", case=case, labels=labels, printed_at=utcnow(),
                      item_type_labels=ITEM_TYPE_LABELS)


def custody_report_pdf(item: Item, *, user: Any) -> bytes:
    """Sign a checkpoint first (every export writes one), then verify this item against all checkpoints."""
    checkpoint = write_checkpoint(db.session, reason=f"custody report of item {item.id} by {user.username}")
    report = services.verify_item(item)
    events = services.events_of(item)
    users = services.users_by_id(events)
    photo_checks = [photos.check(photo) for photo in services.photos_of(item)]
    return render_pdf("evidence/custody_pdf.html", item=item, case=item.case, events=events,
                      custody=services.custody_of(item, events, users), users=users, report=report,
                      checkpoint=checkpoint, key_file=key_path().name, photo_checks=photo_checks, printed_at=utcnow(),
                      printed_by=user, item_type_labels=ITEM_TYPE_LABELS, state_labels=ITEM_STATE_LABELS,
                      signature_words=SIGNATURE_WORDS)
