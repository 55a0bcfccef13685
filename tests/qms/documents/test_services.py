"""Every transition of an SOP revision and every refusal (acceptance 1)."""
from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
import time_machine
from dateutil.relativedelta import relativedelta
from sqlalchemy.exc import DatabaseError, IntegrityError

from qms.db import today
from qms.documents import services
from qms.documents.models import (Acknowledgement, EventKind, Revision, RevisionEvent, RevisionImmutable,
                                  RevisionState, Sop, SopStatus)
from qms.trail.models import AppendOnlyError
from tests.conftest import PASSWORD
from tests.qms.documents.conftest import CONTENT, make_effective


def test_a_new_sop_starts_with_a_draft(draft):
    assert draft.number == 1 and draft.state == RevisionState.DRAFT
    assert draft.sop.status == SopStatus.DRAFT
    assert draft.content_sha256 == services.sha256_text(CONTENT)


def test_draft_is_editable_until_submitted(staff, draft, db_session):
    services.edit_draft(draft, staff.qm, content_markdown="changed", change_summary="v1")
    assert draft.content_sha256 == services.sha256_text("changed")
    services.submit(draft, staff.qm)
    db_session.commit()
    assert draft.state == RevisionState.IN_REVIEW and draft.sop.status == SopStatus.IN_REVIEW
    with pytest.raises(services.StateConflict, match="can no longer be changed"):
        services.edit_draft(draft, staff.qm, content_markdown="sneaky")


def test_orm_and_database_refuse_to_change_a_submitted_revision(staff, draft, db_session):
    services.submit(draft, staff.qm)
    db_session.commit()
    draft.content_markdown = "rewritten behind the service's back"
    with pytest.raises(RevisionImmutable):
        db_session.flush()
    db_session.rollback()
    with pytest.raises(DatabaseError, match="frozen"):
        db_session.execute(sa.text("UPDATE sop_revision SET content_markdown = 'x' WHERE id = :id"), {"id": draft.id})
    db_session.rollback()
    with pytest.raises(AppendOnlyError):  # the revision, or its events' link to it
        db_session.delete(db_session.get(Revision, draft.id))
        db_session.flush()
    db_session.rollback()


def test_submit_refuses_empty_content_template_note_and_missing_summary(staff, draft):
    services.edit_draft(draft, staff.qm, content_markdown="> Template. Replace text in [square brackets] ...")
    with pytest.raises(services.InvalidInput, match="template note"):
        services.submit(draft, staff.qm)
    services.edit_draft(draft, staff.qm, content_markdown="  ")
    with pytest.raises(services.InvalidInput, match="no content"):
        services.submit(draft, staff.qm)
    services.edit_draft(draft, staff.qm, content_markdown="ok", change_summary="")
    with pytest.raises(services.InvalidInput, match="change summary"):
        services.submit(draft, staff.qm)


def test_approving_your_own_draft_is_refused(staff, draft):
    services.submit(draft, staff.qm)
    with pytest.raises(services.NotPermitted, match="you wrote"):
        services.approve(draft, staff.qm, password=PASSWORD)
    assert draft.state == RevisionState.IN_REVIEW


def test_an_editor_or_submitter_cannot_approve_either(staff, draft, make_user):
    services.edit_draft(draft, staff.examiner, content_markdown="edited by the examiner")
    services.submit(draft, staff.qm)
    with pytest.raises(services.NotPermitted):
        services.approve(draft, staff.examiner, password=PASSWORD)


def test_approval_needs_the_password_and_mfa_code(staff, draft, make_user, db_session):
    import pyotp

    from qms.auth.models import Role

    secret = pyotp.random_base32()
    signer = make_user(staff.unit, Role.QUALITY_MANAGER, mfa_secret=secret)
    services.submit(draft, staff.qm)
    from qms.errors import AuthenticationFailed

    with pytest.raises(AuthenticationFailed, match="password is not correct"):
        services.approve(draft, signer, password="wrong password")
    with pytest.raises(AuthenticationFailed, match="MFA code"):
        services.approve(draft, signer, password=PASSWORD, otp="000000")
    signature = services.approve(draft, signer, password=PASSWORD, otp=pyotp.TOTP(secret).now())
    assert signature.actor_id == signer.id


def test_approval_freezes_the_signature_and_takes_effect_today(staff, draft, db_session):
    services.submit(draft, staff.qm)
    signature = services.approve(draft, staff.examiner, password=PASSWORD, meaning="Approved for use")
    db_session.commit()
    assert (signature.kind, signature.actor_id, signature.actor_name) == ("approved", staff.examiner.id, "Test User")
    assert signature.signature_meaning == "Approved for use"
    assert signature.content_sha256 == services.sha256_text(CONTENT)
    assert signature.at.tzinfo is not None
    sop = draft.sop
    assert draft.state == RevisionState.EFFECTIVE and sop.status == SopStatus.EFFECTIVE
    assert sop.current_revision_id == draft.id
    assert sop.next_review_on == today() + relativedelta(months=12)


def test_a_future_effective_date_waits_then_is_in_force_by_itself(staff, draft, db_session):
    services.submit(draft, staff.qm)
    services.approve(draft, staff.examiner, password=PASSWORD, effective_on=today() + timedelta(days=3))
    db_session.commit()
    assert draft.state == RevisionState.APPROVED and draft.sop.status == SopStatus.APPROVED
    assert services.current_revision(draft.sop) is None
    with pytest.raises(services.StateConflict, match="still approved"):
        services.new_draft(draft.sop, staff.qm)  # one revision on its way at a time
    with time_machine.travel(today() + timedelta(days=3), tick=False):
        db_session.expire_all()
        assert draft.state == RevisionState.EFFECTIVE and draft.sop.status == SopStatus.EFFECTIVE
        assert draft.sop.current_revision_id == draft.id
        assert draft.sop.last_reviewed_on == today()
        assert [e.kind for e in draft.events] == ["submitted", "approved"]  # nothing was written


def test_effective_date_in_the_past_is_refused(staff, draft):
    services.submit(draft, staff.qm)
    with pytest.raises(services.InvalidInput, match="past"):
        services.approve(draft, staff.examiner, password=PASSWORD, effective_on=services.today() - timedelta(days=1))


def test_rejection_returns_a_new_draft_with_the_comments(staff, draft, db_session):
    services.submit(draft, staff.qm)
    with pytest.raises(services.InvalidInput, match="why"):
        services.reject(draft, staff.examiner, " ")
    with pytest.raises(services.NotPermitted):
        services.reject(draft, staff.qm, "my own")
    new = services.reject(draft, staff.examiner, "Section 4 lacks the packaging step.")
    db_session.commit()
    assert draft.state == RevisionState.REJECTED
    assert draft.event(EventKind.REJECTED).comment == "Section 4 lacks the packaging step."
    assert (new.number, new.state, new.author_id, new.based_on_id) == (2, RevisionState.DRAFT, staff.qm.id, draft.id)
    assert new.content_markdown == draft.content_markdown
    assert draft.sop.status == SopStatus.DRAFT


def test_a_newer_revision_supersedes_and_only_one_is_effective(staff, draft, db_session):
    make_effective(staff, draft)
    with pytest.raises(services.StateConflict, match="not in review"):
        services.approve(draft, staff.examiner, password=PASSWORD)  # already effective: not a second time
    second = services.new_draft(draft.sop, staff.qm)
    with pytest.raises(services.StateConflict, match="still draft"):
        services.new_draft(draft.sop, staff.qm)
    services.edit_draft(second, staff.qm, content_markdown=CONTENT + "\nNew step.\n", change_summary="Step added.")
    with pytest.raises(services.StateConflict, match="not in review"):
        services.approve(second, staff.examiner, password=PASSWORD)  # a draft cannot take effect
    make_effective(staff, second)  # the same day: the later approval is the one in force
    db_session.commit()
    assert draft.state == RevisionState.SUPERSEDED and second.state == RevisionState.EFFECTIVE
    effective = [r for r in draft.sop.revisions if r.state == RevisionState.EFFECTIVE]
    assert effective == [second] and draft.sop.current_revision_id == second.id
    with pytest.raises(services.StateConflict):
        services.approve(draft, staff.examiner, password=PASSWORD)  # a superseded revision never returns


def test_database_refuses_a_second_approval_of_a_revision(staff, draft, db_session):
    make_effective(staff, draft)
    db_session.commit()
    db_session.add(RevisionEvent(unit_id=draft.unit_id, sop_id=draft.sop_id, revision_id=draft.id,
                                 kind="approved", content_sha256=draft.content_sha256, effective_on=today()))
    with pytest.raises(IntegrityError):
        db_session.flush()
    db_session.rollback()


def test_revision_events_are_append_only(staff, draft, db_session):
    make_effective(staff, draft)
    db_session.commit()
    signature = draft.event(EventKind.APPROVED)
    signature.signature_meaning = "changed"
    with pytest.raises(AppendOnlyError):
        db_session.flush()
    db_session.rollback()
    with pytest.raises(DatabaseError):
        db_session.execute(sa.text("DELETE FROM sop_revision_event"))
    db_session.rollback()


def test_acknowledging_the_effective_revision_records_it(staff, draft, db_session):
    make_effective(staff, draft)
    (row,) = services.outstanding(staff.unit.id)
    assert [u.id for u in row.users] == [staff.csi.id]  # applies to CSI officers only
    ack = services.acknowledge(draft, staff.csi)
    assert services.acknowledge(draft, staff.csi) is ack  # twice: still one record
    db_session.commit()
    assert (ack.revision_id, ack.content_sha256) == (draft.id, draft.content_sha256)
    assert services.outstanding(staff.unit.id)[0].users == []


def test_acknowledging_a_revision_that_is_not_effective_is_refused(staff, draft, db_session):
    with pytest.raises(services.StateConflict, match="only the effective"):
        services.acknowledge(draft, staff.csi)  # a draft
    make_effective(staff, draft)
    services.acknowledge(draft, staff.csi)
    second = services.new_draft(draft.sop, staff.qm)
    services.edit_draft(second, staff.qm, content_markdown="v2", change_summary="v2")
    make_effective(staff, second)
    with pytest.raises(services.StateConflict, match="superseded"):
        services.acknowledge(draft, staff.csi)
    # The new revision is a new task, even for those who read the old one.
    assert [u.id for u in services.outstanding(staff.unit.id)[0].users] == [staff.csi.id]
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Acknowledgement)) == 1


def test_review_without_change_restarts_the_clock(staff, draft, db_session):
    with pytest.raises(services.StateConflict):
        services.record_review(draft.sop, staff.qm, "nothing in force")
    make_effective(staff, draft)
    db_session.commit()
    sop = draft.sop
    later = sop.next_review_on + timedelta(days=5)
    with time_machine.travel(later, tick=False):
        db_session.expire_all()
        overdue, upcoming = services.reviews_due(staff.unit.id)
        assert overdue == [sop] and upcoming == []
        event = services.record_review(sop, staff.qm, "Checked against the current BPM; no change needed.")
        assert event.kind == "reviewed" and sop.last_reviewed_on == later
        assert sop.next_review_on == later + relativedelta(months=12)
        assert services.reviews_due(staff.unit.id) == ([], [])


def test_retiring_leaves_nothing_in_force(staff, draft, db_session):
    make_effective(staff, draft)
    services.retire(draft.sop, staff.qm, "Merged into CSI-SOP-901.")
    db_session.commit()
    assert draft.sop.status == SopStatus.RETIRED and draft.sop.current_revision_id is None
    assert draft.state == RevisionState.RETIRED
    with pytest.raises(services.StateConflict):
        services.new_draft(draft.sop, staff.qm)
    with pytest.raises(services.StateConflict):
        services.acknowledge(draft, staff.csi)
    with pytest.raises(services.StateConflict):
        services.retire(draft.sop, staff.qm, "again")


def test_register_refuses_duplicate_codes_bad_fields_and_unknown_requirements(staff, draft):
    base = dict(unit_id=staff.unit.id, title="T", discipline="scene examination", author=staff.qm)
    with pytest.raises(services.InvalidInput, match="already"):
        services.create_sop(code="csi-sop-900", **base)
    with pytest.raises(services.InvalidInput, match="code"):
        services.create_sop(code="bad code!", **base)
    with pytest.raises(services.InvalidInput, match="discipline"):
        services.create_sop(code="X-1", **{**base, "discipline": "astrology"})
    with pytest.raises(services.InvalidInput, match="Unknown requirement"):
        services.create_sop(code="X-2", requirement_ids=["17020:99.9"], **base)
    with pytest.raises(services.InvalidInput, match="Unknown requirement"):
        services.edit_draft(draft, staff.qm, requirement_ids=["nope:1"])
    services.edit_draft(draft, staff.qm, requirement_ids=["17020:8.3.1", "17020:8.3.1", "g19:M2.1"])
    assert draft.requirement_ids == ["17020:8.3.1", "g19:M2.1"]


def test_the_same_code_may_exist_in_another_unit(staff, draft, make_unit):
    other = make_unit()
    sop = services.create_sop(unit_id=other.id, code="CSI-SOP-900", title="T", discipline="equipment", author=None)
    assert sop.unit_id == other.id


def test_master_list_csv(staff, draft, db_session):
    make_effective(staff, draft)
    draft.sop.title = "=HYPERLINK(evil)"
    text = services.master_list_csv([draft.sop])
    header, row = text.splitlines()
    assert header.startswith("code,title,discipline,status,current revision")
    assert row.startswith("CSI-SOP-900,'=HYPERLINK(evil),scene examination,effective,1,")


def test_library_import_is_idempotent(staff, db_session):
    from sop_library.loader import load_templates

    templates = load_templates()
    created, skipped = services.import_library(staff.unit.id, templates)
    db_session.commit()
    assert len(created) == len(templates) >= 15 and skipped == []
    assert all(s.revisions[0].state == RevisionState.DRAFT and s.revisions[0].author_id is None for s in created)
    count = db_session.scalar(sa.select(sa.func.count()).select_from(Revision))
    created, skipped = services.import_library(staff.unit.id, templates)
    assert created == [] and len(skipped) == len(templates)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Revision)) == count
    assert db_session.scalar(sa.select(sa.func.count()).select_from(Sop)) == len(templates)


def test_the_revision_in_force_is_not_stored_so_it_cannot_be_set_by_hand(staff, draft, db_session):
    with pytest.raises(DatabaseError):
        db_session.execute(sa.text("UPDATE sop SET current_revision_id = :rev WHERE id = :sop"),
                           {"rev": draft.id, "sop": draft.sop_id})
    db_session.rollback()
