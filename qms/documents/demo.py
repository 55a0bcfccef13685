"""Demo SOPs: the library imported into FC-MOI, two SOPs in force, one waiting for approval."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Protocol

from sqlalchemy import select

from qms.auth.models import Unit, User
from qms.extensions import db

UNIT = "FC-MOI"
EFFECTIVE = ("CSI-SOP-005", "CSI-SOP-007")
IN_REVIEW = ("CSI-SOP-001",)


class _Account(Protocol):
    username: str
    password: str


def _adapted(markdown: str, unit_name: str) -> str:
    """The template with its "replace the brackets" note removed and the unit named."""
    text = re.sub(r"^> Template\..*\n\n?", "", markdown, flags=re.MULTILINE)
    return text.replace("[unit]", unit_name)


def seed_documents(accounts: Iterable[_Account]) -> None:
    """Once per demo database: import the SOP library into FC-MOI and take some SOPs through approval."""
    from qms.documents import services
    from qms.documents.models import Sop
    from qms.trail.audited import set_actor
    from sop_library.loader import load_templates

    unit = db.session.scalar(select(Unit).where(Unit.code == UNIT))
    if unit is None or db.session.scalar(select(Sop.id).where(Sop.unit_id == unit.id).limit(1)):
        return
    passwords = {a.username: a.password for a in accounts}
    users = {u.username: u for u in db.session.scalars(select(User).where(User.username.in_(passwords)))}
    author, signer, csi = users.get("quality"), users.get("examiner"), users.get("csi")
    if author is None or signer is None:
        return
    set_actor(db.session, user_id=None, username="demo-seed", unit_id=unit.id)
    created, _ = services.import_library(unit.id, load_templates())
    by_code = {sop.code: sop for sop in created}
    for code in (*EFFECTIVE, *IN_REVIEW):
        sop = by_code.get(code)
        if sop is None:
            continue
        draft = sop.revisions[0]
        services.update_sop(sop, title=sop.title, discipline=sop.discipline, owner_id=author.id,
                            review_months=sop.review_months, applies_to=sop.applies_to)
        services.edit_draft(draft, author, content_markdown=_adapted(draft.content_markdown or "", unit.name),
                            change_summary="First issue, adapted from the SOP library.")
        services.submit(draft, author)
        if code in EFFECTIVE:
            services.approve(draft, signer, password=passwords["examiner"])
    if csi is not None and "CSI-SOP-005" in by_code:
        services.acknowledge(by_code["CSI-SOP-005"].revisions[0], csi)
    db.session.commit()
