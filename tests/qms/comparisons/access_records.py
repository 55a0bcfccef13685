"""Unit B's ballistic records for the access test: an entry with its job, a candidate, decisions and a link."""
from __future__ import annotations

import hashlib
import uuid
from datetime import date

from qms.auth import services as auth_services
from qms.auth.models import Role
from qms.comparisons.models import (BallisticEntry, Candidate, CaseLink, CorrelationJob, Decision, DerivedObject,
                                    DerivedKind)
from qms.db import utcnow
from qms.evidence import custody
from qms.extensions import db

RECORD_PARAMS = {"entry_id", "job_id", "candidate_id", "link_id"}


def _entry(unit_b, user_b, item, n: int) -> BallisticEntry:  # type: ignore[no-untyped-def]
    entry = BallisticEntry(unit_id=unit_b.id, item_id=item.id, calibre="UNIT-B-MARKER calibre",
                           device="UNIT-B-MARKER scanner", acquired_by_id=user_b.id, acquired_by_name="MARKER-B-PERSON",
                           acquired_at=utcnow(), kind="topography", pixel_size_um=6.25,
                           original_sha256=hashlib.sha256(f"b{n}".encode()).hexdigest(),
                           original_name=f"UNIT-B-MARKER-{n}.x3p", original_type="x3p", original_size=2,
                           index_entry_id=uuid.uuid4().hex)
    db.session.add(entry)
    db.session.flush()
    return entry


def build(unit_b, user_b) -> dict[str, object]:  # type: ignore[no-untyped-def]
    auth_services.grant_role(user_b, unit_b, Role.EXAMINER)
    cases = [custody.register_case(unit_id=unit_b.id, actor=user_b, case_number=f"UNIT-B-MARKER-BAL-{n}",
                                   offence_type="UNIT-B-MARKER shooting", opened_on=date(2026, 1, 1)) for n in (1, 2)]
    items = [custody.register_item(case, actor=user_b, exhibit_number="C1", item_type="cartridge_case",
                                   description="UNIT-B-MARKER casing") for case in cases]
    first, second = (_entry(unit_b, user_b, item, n) for n, item in enumerate(items))
    job = CorrelationJob(unit_id=unit_b.id, entry_id=second.id, state="done", stage="done", progress=100,
                         error="UNIT-B-MARKER")
    db.session.add(job)
    db.session.flush()
    candidate = Candidate(unit_id=unit_b.id, job_id=job.id, attempt=1, rank=1, index_entry_id=first.index_entry_id,
                          entry_id=first.id, first_pass_score=0.9, first_pass_rank=1, score=0.8,
                          calibration_name="UNIT-B-MARKER calibration")
    db.session.add(candidate)
    db.session.flush()
    db.session.add(DerivedObject(unit_id=unit_b.id, entry_id=second.id, candidate_id=candidate.id,
                                 kind=DerivedKind.CELLMAP.value, sha256=hashlib.sha256(b"png").hexdigest(),
                                 media_type="image/png", source_sha256=second.original_sha256))
    decisions = [Decision(unit_id=unit_b.id, entry_low_id=first.id, entry_high_id=second.id, candidate_id=candidate.id,
                          role=role, conclusion="identification_lead", note="UNIT-B-MARKER note",
                          examiner_id=user_b.id) for role in ("first", "verification")]
    db.session.add_all(decisions)
    db.session.flush()
    link = CaseLink(unit_id=unit_b.id, entry_low_id=first.id, entry_high_id=second.id, case_low_id=cases[0].id,
                    case_high_id=cases[1].id, first_decision_id=decisions[0].id, verification_id=decisions[1].id)
    db.session.add(link)
    db.session.flush()
    return {"entry_id": second.id, "job_id": job.id, "candidate_id": candidate.id, "link_id": link.id,
            "kind": "cellmap"}
