"""A person's choice about the daily digest: no row means the digest is on."""
from __future__ import annotations

from datetime import datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, mapped_column

from qms.db import utcnow
from qms.extensions import db
from qms.trail.audited import Audited
from qms.trail.catalogue import register
from qms.trail.records import Kind, RecordType


class NotificationPreference(Audited, db.Model):  # type: ignore[name-defined]
    """Whether a person receives the daily e-mail digest (changed by that person; on the trail)."""

    __tablename__ = "notification_preference"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), unique=True)
    digest: Mapped[bool] = mapped_column(default=True)
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


register(RecordType("NotificationPreference", _l("E-mail digest preference"), Kind.ACCOUNT,
                    fields={"digest": _l("Daily e-mail digest")}))
