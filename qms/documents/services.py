"""SOP document control: drafts, review, e-signed approval, effective dates, acknowledgements.

Services add and flush; the request (or CLI command) commits. Refusals raise the `qms.errors`
family (`InvalidInput`, `NotPermitted`, `StateConflict`, `NotFound`) with a message that is safe
to show; the one handler turns them into the page again or a JSON problem body.

Nothing here puts a revision into force: the approval's effective date does, by itself, when
the date comes (`qms.documents.models`), so reading never writes.
"""
from __future__ import annotations

import csv
import hashlib
import io
import re
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import or_, select

from qms.auth.models import Membership, Role, User
from qms.auth.services import check_password
from qms.db import today, utcnow
from qms.documents.models import (
    DISCIPLINES,
    REVISION_STATE_LABELS,
    Acknowledgement,
    EventKind,
    Revision,
    RevisionEvent,
    RevisionState,
    Sop,
    SopStatus,
)
from qms.errors import InvalidInput, NotFound, NotPermitted, StateConflict
from qms.extensions import db
from qms.people import services as people
from qms.people.models import Gate
from qms.storage import object_store
from qms.trail.audited import audit_reason
from qms.uploads import check_member_names
from sop_library.loader import SopTemplate

READERS = frozenset(Role) - {Role.ADMIN}
AUTHORS = frozenset({Role.QUALITY_MANAGER, Role.EXAMINER})  # draft and submit revisions
APPROVERS = frozenset({Role.QUALITY_MANAGER, Role.EXAMINER})  # sign approvals (never their own drafts)
MANAGERS = frozenset({Role.QUALITY_MANAGER})  # create SOPs, change the register, review, retire


def N_(text: str) -> str:  # noqa: N802 - the extractor's keyword for "mark, do not translate here"
    return text


# Stored as the signer's declaration: English for API callers, the form offers it in the signer's language.
DEFAULT_MEANING = N_("Approved for use: I have reviewed this revision and authorise it as the controlled procedure.")
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
TEMPLATE_BANNER = "Replace text in [square brackets]"
UPCOMING_DAYS = 60
_CODE = re.compile(r"^[A-Z0-9][A-Z0-9._-]{1,31}$")
OPEN_STATES = (RevisionState.DRAFT, RevisionState.IN_REVIEW, RevisionState.APPROVED)


# The signature's password checks in `approve` still name it; the shared throttled check replaces them.
DocumentError = InvalidInput


# --- helpers ----------------------------------------------------------------------------------

def _state_name(rev: Revision) -> str:
    return str(REVISION_STATE_LABELS[rev.state])


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()



def _event(rev: Revision, kind: EventKind, actor: User | None, **fields: object) -> RevisionEvent:
    ev = RevisionEvent(unit_id=rev.unit_id, sop_id=rev.sop_id, revision=rev, kind=kind.value,
                       actor_id=actor.id if actor else None, actor_name=actor.full_name if actor else "system",
                       content_sha256=rev.content_sha256, **fields)
    db.session.add(ev)
    db.session.flush()
    return ev


def parse_requirement_ids(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,;]+", text or "") if part]


def check_requirement_ids(ids: Iterable[str]) -> list[str]:
    """The ids, deduplicated, each resolved in the `audits` catalogues; unknown ones are refused."""
    import audits

    clean = list(dict.fromkeys(str(i).strip() for i in ids if str(i).strip()))
    unknown = []
    for requirement_id in clean:
        try:
            audits.resolve(requirement_id)
        except audits.UnknownRequirementError:
            unknown.append(requirement_id)
    if unknown:
        raise InvalidInput(_("Unknown requirement id(s): %(ids)s. Use ids from the requirement catalogues, "
                             "e.g. 17020:8.3.1.", ids=", ".join(unknown[:10])[:300]))
    return clean


def _check_roles(values: Iterable[str]) -> list[str]:
    roles = list(dict.fromkeys(values))
    bad = [r for r in roles if r not in {role.value for role in Role}]
    if bad:
        raise InvalidInput(_("Unknown role(s): %(roles)s.", roles=", ".join(bad)[:200]))
    return roles


def _check_fields(*, title: str, discipline: str, review_months: int) -> None:
    if not title.strip() or len(title) > 200:
        raise InvalidInput(_("A title of 1 to 200 characters is required."))
    if discipline not in DISCIPLINES:
        raise InvalidInput(_("Choose a discipline: %(disciplines)s.", disciplines=", ".join(DISCIPLINES)))
    if not 1 <= review_months <= 60:
        raise InvalidInput(_("The review period is 1 to 60 months."))


def _member_of_unit(user_id: int, unit_id: int) -> bool:
    stmt = select(Membership.id).where(Membership.user_id == user_id, Membership.unit_id == unit_id)
    return db.session.scalar(stmt.limit(1)) is not None


def unit_members(unit_id: int) -> list[User]:
    stmt = (select(User).join(Membership, Membership.user_id == User.id)
            .where(Membership.unit_id == unit_id, User.active.is_(True)).distinct().order_by(User.full_name))
    return list(db.session.scalars(stmt))


# --- the register -----------------------------------------------------------------------------

def create_sop(*, unit_id: int, code: str, title: str, discipline: str, author: User | None,
               owner_id: int | None = None, review_months: int = 12, applies_to: Iterable[str] = (),
               content_markdown: str = "", change_summary: str = "First issue.",
               requirement_ids: Iterable[str] = ()) -> Sop:
    """A new SOP in the unit's register, with revision 1 as a draft."""
    code = code.strip().upper()
    if not _CODE.match(code):
        raise InvalidInput(_("A code uses capital letters, digits, '.', '-' and '_' (2 to 32), e.g. CSI-SOP-007."))
    _check_fields(title=title, discipline=discipline, review_months=review_months)
    # Explicit unit filter: outside a request (CLI) no scope applies.
    if db.session.scalar(select(Sop.id).where(Sop.unit_id == unit_id, Sop.code == code)) is not None:
        raise InvalidInput(_("The code %(code)s is already in this unit's register.", code=code))
    if owner_id is not None and not _member_of_unit(owner_id, unit_id):
        raise InvalidInput(_("The owner must be a member of this unit."))
    sop = Sop(unit_id=unit_id, code=code, title=title.strip(), discipline=discipline, owner_id=owner_id,
              review_months=review_months, applies_to=_check_roles(applies_to))
    db.session.add(sop)
    db.session.flush()
    _add_revision(sop, author, content_markdown, change_summary, check_requirement_ids(requirement_ids))
    return sop


def update_sop(sop: Sop, *, title: str, discipline: str, owner_id: int | None, review_months: int,
               applies_to: Iterable[str]) -> Sop:
    _check_fields(title=title, discipline=discipline, review_months=review_months)
    if owner_id is not None and not _member_of_unit(owner_id, sop.unit_id):
        raise InvalidInput(_("The owner must be a member of this unit."))
    sop.title, sop.discipline, sop.owner_id = title.strip(), discipline, owner_id
    sop.review_months, sop.applies_to = review_months, _check_roles(applies_to)
    db.session.flush()
    return sop


@dataclass(frozen=True)
class RegisterFilter:
    q: str = ""
    discipline: str = ""
    status: str = ""

    @classmethod
    def from_args(cls, args: dict[str, str]) -> RegisterFilter:
        status = args.get("status", "").strip()
        if status and status not in {s.value for s in SopStatus}:
            raise InvalidInput(_("Unknown status %(status)r.", status=status[:40]))
        discipline = args.get("discipline", "").strip()
        if discipline and discipline not in DISCIPLINES:
            raise InvalidInput(_("Unknown discipline %(discipline)r.", discipline=discipline[:40]))
        return cls(q=args.get("q", "").strip()[:100], discipline=discipline, status=status)


def register(flt: RegisterFilter = RegisterFilter()) -> list[Sop]:
    """The unit's SOPs (the request scope picks the unit), filtered, by code."""
    stmt = select(Sop).order_by(Sop.code)
    if flt.q:
        like = f"%{flt.q.replace('%', '').replace('_', ' ')}%"
        stmt = stmt.where(or_(Sop.code.ilike(like), Sop.title.ilike(like)))
    if flt.discipline:
        stmt = stmt.where(Sop.discipline == flt.discipline)
    if flt.status:
        stmt = stmt.where(Sop.status == flt.status)
    return list(db.session.scalars(stmt))


CSV_COLUMNS = ("code", "title", "discipline", "status", "current revision", "effective on", "owner",
               "review months", "last reviewed", "next review", "applies to")


def master_list_csv(sops: list[Sop]) -> str:
    """The master list an assessor asks for, as CSV (formula injection neutralised)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for sop in sops:
        rev = current_revision(sop)
        row = (sop.code, sop.title, sop.discipline, sop.status, rev.number if rev else "",
               (rev.effective_on or "") if rev else "",
               sop.owner.full_name if sop.owner else "", sop.review_months, sop.last_reviewed_on or "",
               sop.next_review_on or "", " ".join(sop.applies_to or []))
        writer.writerow([_cell(v) for v in row])
    return buffer.getvalue()


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


# --- revisions --------------------------------------------------------------------------------

def current_revision(sop: Sop) -> Revision | None:
    """The revision in force today (derived from the effective dates), if any."""
    return db.session.get(Revision, sop.current_revision_id) if sop.current_revision_id else None


def open_revision(sop: Sop) -> Revision | None:
    """The revision being worked on (draft, in review or approved and not yet effective)."""
    return next((rev for rev in reversed(sop.revisions) if rev.state in OPEN_STATES), None)


def _add_revision(sop: Sop, author: User | None, content: str | None, summary: str, requirement_ids: list[str],
                  based_on: Revision | None = None, file_from: Revision | None = None) -> Revision:
    number = max((r.number for r in sop.revisions), default=0) + 1
    rev = Revision(unit_id=sop.unit_id, sop=sop, number=number, content_markdown=content,
                   change_summary=summary, requirement_ids=requirement_ids,
                   content_sha256=sha256_text(content) if content is not None else "",
                   author_id=author.id if author else None, editor_id=author.id if author else None,
                   based_on_id=based_on.id if based_on else None)
    if file_from is not None:
        rev.file_sha256, rev.filename = file_from.file_sha256, file_from.filename
        rev.media_type, rev.file_size, rev.content_sha256 = file_from.media_type, file_from.file_size, \
            file_from.content_sha256
    db.session.add(rev)
    db.session.flush()
    return rev


def new_draft(sop: Sop, author: User) -> Revision:
    """The next revision as a draft, starting from the effective (or latest) content."""
    if sop.retired_at is not None:
        raise StateConflict(_("This SOP is retired: it takes no new revisions."))
    if (pending := open_revision(sop)) is not None:
        raise StateConflict(_("Revision %(number)s is still %(state)s: finish it before starting another.",
                              number=pending.number, state=_state_name(pending)))
    base = current_revision(sop) or (sop.revisions[-1] if sop.revisions else None)
    content = base.content_markdown if base and not base.is_file else ("" if base is None else None)
    return _add_revision(sop, author, content, "", list(base.requirement_ids) if base else [], based_on=base,
                         file_from=base if base is not None and base.is_file else None)


def _editable(rev: Revision) -> None:
    if rev.submitted_at is not None or rev.state != RevisionState.DRAFT:
        raise StateConflict(_("Revision %(number)s was submitted: it can no longer be changed. "
                              "Start a new revision instead.", number=rev.number))


def edit_draft(rev: Revision, editor: User, *, content_markdown: str | None = None, change_summary: str | None = None,
               requirement_ids: Iterable[str] | None = None) -> Revision:
    """Change a draft's Markdown, change summary or requirement ids (only while it is a draft)."""
    _editable(rev)
    if content_markdown is not None:
        rev.content_markdown = content_markdown.replace("\r\n", "\n")
        rev.content_sha256 = sha256_text(rev.content_markdown)
        rev.file_sha256, rev.filename, rev.media_type, rev.file_size = None, "", "", None
    if change_summary is not None:
        rev.change_summary = change_summary.strip()
    if requirement_ids is not None:
        rev.requirement_ids = check_requirement_ids(requirement_ids)
    rev.editor_id = editor.id
    if rev.author_id is None:  # an imported template becomes the work of whoever adapts it
        rev.author_id = editor.id
    db.session.flush()
    return rev


def sniff_upload(data: bytes, filename: str) -> str:
    """The media type of an upload (PDF or DOCX, by their bytes, not their name), or a refusal."""
    limit = current_app.config.get("DOCUMENT_MAX_BYTES", MAX_UPLOAD_BYTES)
    if not data:
        raise InvalidInput(_("The file is empty."))
    if len(data) > limit:
        raise InvalidInput(_("The file is %(size).1f MB; the limit is %(limit).0f MB.",
                             size=len(data) / 1048576, limit=limit / 1048576))
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            names = set()
        if {"[Content_Types].xml", "word/document.xml"} <= names:
            check_member_names(names, filename=filename)  # kept and handed out as uploaded: no zip-slip
            return DOCX
    raise InvalidInput(_("%(name)s is neither a PDF nor a Word (DOCX) document; only these two are accepted.",
                         name=filename[:80] or _("The file")))


def attach_file(rev: Revision, editor: User, data: bytes, filename: str, *, change_summary: str | None = None,
                requirement_ids: Iterable[str] | None = None) -> Revision:
    """Make an uploaded PDF/DOCX the draft's content (with its summary and requirement ids).

    Everything is checked before anything is stored.
    """
    _editable(rev)
    media_type = sniff_upload(data, filename)
    ids = check_requirement_ids(requirement_ids) if requirement_ids is not None else None
    digest = object_store().put(data)
    name = filename.replace("\\", "/").rsplit("/", 1)[-1].strip()[:255] or "document"
    rev.content_markdown = None
    rev.file_sha256, rev.filename, rev.media_type, rev.file_size = digest, name, media_type, len(data)
    rev.content_sha256 = digest
    return edit_draft(rev, editor, change_summary=change_summary, requirement_ids=ids)


def submit(rev: Revision, user: User) -> Revision:
    """Send a draft for review; from now on its content is frozen."""
    _editable(rev)
    if rev.sop.retired_at is not None:
        raise StateConflict(_("This SOP is retired."))
    if not rev.is_file and not (rev.content_markdown or "").strip():
        raise InvalidInput(_("The draft has no content yet."))
    if not rev.is_file and TEMPLATE_BANNER in (rev.content_markdown or ""):
        raise InvalidInput(_("The draft still carries the template note: replace the [bracketed] text with your "
                             "unit's details and delete the note before submitting."))
    if not rev.change_summary.strip():
        raise InvalidInput(_("Describe what changed (the change summary) before submitting."))
    if rev.author_id is None:
        rev.author_id = user.id
    rev.submitted_at = utcnow()
    db.session.flush()
    _event(rev, EventKind.SUBMITTED, user)
    _derived_changed(rev.sop)
    return rev


def _in_review(rev: Revision) -> None:
    if rev.state != RevisionState.IN_REVIEW:
        raise StateConflict(_("Revision %(number)s is %(state)s, not in review.",
                              number=rev.number, state=_state_name(rev)))


def _contributors(rev: Revision) -> set[int]:
    submitted = rev.event(EventKind.SUBMITTED)
    return {i for i in (rev.author_id, rev.editor_id, submitted.actor_id if submitted else None) if i is not None}


def reject(rev: Revision, user: User, comment: str) -> Revision:
    """Refuse a revision in review; its author gets a new draft with the same content back."""
    _in_review(rev)
    if not comment.strip():
        raise InvalidInput(_("Say why the revision is rejected: the author needs the comments."))
    if user.id in _contributors(rev):
        raise NotPermitted(_("You wrote or submitted this revision: someone else must review it."))
    _event(rev, EventKind.REJECTED, user, comment=comment.strip()[:5000])
    author = db.session.get(User, rev.author_id) if rev.author_id else None
    draft = _add_revision(rev.sop, author, rev.content_markdown, rev.change_summary, list(rev.requirement_ids),
                          based_on=rev, file_from=rev if rev.is_file else None)
    _derived_changed(rev.sop)
    return draft


def approve(rev: Revision, user: User, *, password: str, otp: str = "", effective_on: date | None = None,
            meaning: str = DEFAULT_MEANING) -> RevisionEvent:
    """The approver's electronic signature: password (and MFA code) re-entered, never the author.

    The revision is in force from `effective_on` (today by default) without anything more being written.
    """
    _in_review(rev)
    if user.id in _contributors(rev):
        raise NotPermitted(_("You cannot approve a revision you wrote, edited or submitted."))

    people.require(user, rev.unit_id, Gate.SOP_APPROVAL)
    check_password(user, password, otp=otp or "", purpose="SOP approval")  # throttled, recorded
    effective_on = effective_on or today()
    if effective_on < today():
        raise InvalidInput(_("The effective date cannot be in the past."))
    if not meaning.strip():
        raise InvalidInput(_("State the meaning of the signature."))
    if rev.is_file and not object_store().exists(rev.file_sha256 or ""):
        raise StateConflict(_("The revision's file is missing from the object store: it cannot be approved."))
    with audit_reason(db.session, f"electronic signature: {meaning.strip()[:200]}"):
        signature = _event(rev, EventKind.APPROVED, user, signature_meaning=meaning.strip()[:200],
                           effective_on=effective_on)
    _derived_changed(rev.sop)
    return signature


def _lock(sop: Sop) -> Sop:
    """The SOP row, locked until commit (PostgreSQL), re-read so a concurrent change is seen."""
    stmt = select(Sop).where(Sop.id == sop.id).with_for_update().execution_options(populate_existing=True)
    return db.session.scalars(stmt).one()


def _derived_changed(sop: Sop) -> None:
    """After an event: what the SOP's derived columns say is read again from the history."""
    db.session.flush()
    db.session.expire(sop, ["current_revision_id", "status", "last_reviewed_on"])


def record_review(sop: Sop, user: User, comment: str) -> RevisionEvent:
    """A periodic review that found no change needed: recorded, and the review clock restarts."""
    rev = current_revision(sop)
    if rev is None or sop.retired_at is not None:
        raise StateConflict(_("Only an SOP with an effective revision can be reviewed."))
    if not comment.strip():
        raise InvalidInput(_("Record what the review looked at."))
    ev = _event(rev, EventKind.REVIEWED, user, comment=comment.strip()[:5000])
    _derived_changed(sop)
    return ev


def retire(sop: Sop, user: User, reason: str) -> Sop:
    """Withdraw an SOP: its effective revision is retired and nothing of it is in force any more."""
    if sop.retired_at is not None:
        raise StateConflict(_("This SOP is already retired."))
    if not reason.strip():
        raise InvalidInput(_("Give the reason for retiring the SOP."))
    sop = _lock(sop)
    with audit_reason(db.session, reason.strip()[:500]):
        rev = current_revision(sop)
        if rev is not None:
            _event(rev, EventKind.RETIRED, user, comment=reason.strip()[:5000])
        sop.retired_at = utcnow()
        _derived_changed(sop)
    return sop


# --- read and understood ----------------------------------------------------------------------

def acknowledge(rev: Revision, user: User) -> Acknowledgement:
    """The user has read and understood this revision; only the effective one can be acknowledged."""
    if rev.sop.current_revision_id != rev.id:
        raise StateConflict(_("Revision %(number)s is %(state)s: only the effective revision can be acknowledged.",
                              number=rev.number, state=_state_name(rev)))
    existing = db.session.scalar(select(Acknowledgement).where(Acknowledgement.revision_id == rev.id,
                                                               Acknowledgement.user_id == user.id))
    if existing is not None:
        return existing
    ack = Acknowledgement(unit_id=rev.unit_id, sop_id=rev.sop_id, revision_id=rev.id, user_id=user.id,
                          content_sha256=rev.content_sha256)
    db.session.add(ack)
    db.session.flush()
    return ack


def has_acknowledged(rev: Revision, user: User) -> bool:
    stmt = select(Acknowledgement.id).where(Acknowledgement.revision_id == rev.id, Acknowledgement.user_id == user.id)
    return db.session.scalar(stmt) is not None


def _roles_by_user(unit_id: int) -> dict[int, set[str]]:
    roles: dict[int, set[str]] = {}
    for user_id, role in db.session.execute(select(Membership.user_id, Membership.role)
                                            .where(Membership.unit_id == unit_id)):
        roles.setdefault(user_id, set()).add(role)
    return roles


@dataclass(frozen=True)
class Outstanding:
    sop: Sop
    revision: Revision
    users: list[User]
    done: int


def outstanding(unit_id: int) -> list[Outstanding]:
    """Per effective SOP: the staff it applies to who have not acknowledged its effective revision.

    Tasks are derived, not stored: someone who joins the unit (or gets a role) later has the task too.
    """
    roles = _roles_by_user(unit_id)
    members = {u.id: u for u in unit_members(unit_id)}
    result = []
    sops = db.session.scalars(select(Sop).where(Sop.unit_id == unit_id, Sop.current_revision_id.is_not(None))
                              .order_by(Sop.code))
    for sop in sops:
        rev = current_revision(sop)
        assert rev is not None
        acked = set(db.session.scalars(select(Acknowledgement.user_id).where(Acknowledgement.revision_id == rev.id)))
        applies = set(sop.applies_to or [])
        due = [u for uid, u in members.items() if roles.get(uid, set()) & applies and uid not in acked]
        result.append(Outstanding(sop, rev, due, len(acked)))
    return result


def outstanding_for(user: User, unit_id: int) -> list[Outstanding]:
    return [row for row in outstanding(unit_id) if any(u.id == user.id for u in row.users)]


def by_person(rows: list[Outstanding]) -> list[tuple[User, list[Outstanding]]]:
    people: dict[int, tuple[User, list[Outstanding]]] = {}
    for row in rows:
        for user in row.users:
            people.setdefault(user.id, (user, []))[1].append(row)
    return sorted(people.values(), key=lambda item: item[0].full_name)


# --- periodic review and the dashboard ----------------------------------------------------------

def reviews_due(unit_id: int, *, within_days: int = UPCOMING_DAYS) -> tuple[list[Sop], list[Sop]]:
    """(overdue, upcoming) periodic reviews of the unit's effective SOPs."""
    in_force = db.session.scalars(select(Sop).where(Sop.unit_id == unit_id, Sop.current_revision_id.is_not(None)))
    horizon = today() + timedelta(days=within_days)
    due = sorted((sop for sop in in_force if sop.next_review_on is not None and sop.next_review_on <= horizon),
                 key=lambda sop: (sop.next_review_on, sop.code))
    return [sop for sop in due if sop.next_review_on < today()], [sop for sop in due if sop.next_review_on >= today()]


def dashboard_panels(user: User, unit_id: int | None, roles: frozenset[Role]):  # type: ignore[no-untyped-def]
    from qms.main.services import Panel

    if unit_id is None or not roles & READERS:
        return []
    panels = []
    mine = outstanding_for(user, unit_id)
    panels.append(Panel(_("SOPs to read"), "documents/_panel_acknowledge.html", {"rows": mine}, order=20))
    if Role.QUALITY_MANAGER in roles:
        overdue, upcoming = reviews_due(unit_id)
        in_review = list(db.session.scalars(select(Sop).where(Sop.unit_id == unit_id,
                                                              Sop.status == SopStatus.IN_REVIEW.value)))
        panels.append(Panel(_("SOP reviews"), "documents/_panel_reviews.html",
                            {"overdue": overdue, "upcoming": upcoming, "in_review": in_review,
                             "today": today()}, order=21))
    return panels


# --- files and the controlled copy ----------------------------------------------------------------

def revision_file(rev: Revision) -> bytes:
    if not rev.is_file:
        raise NotFound(_("This revision has no uploaded file."))
    return object_store().get(rev.file_sha256 or "")


def controlled_copy_pdf(rev: Revision, user: User) -> bytes:
    """The revision as a controlled copy: header, footer with printer and date, watermark if not in force."""
    from qms.documents.markdown import render_markdown
    from qms.pdf import render_pdf

    state = rev.state
    approved = rev.event(EventKind.APPROVED)
    in_force_states = (RevisionState.EFFECTIVE, RevisionState.SUPERSEDED, RevisionState.RETIRED)
    effective = approved if state in in_force_states else None
    watermark = "" if state == RevisionState.EFFECTIVE else (
        _("DRAFT") if state in (RevisionState.DRAFT, RevisionState.IN_REVIEW, RevisionState.REJECTED,
                                RevisionState.APPROVED) else state.label.upper())
    return render_pdf("documents/controlled_copy.html", sop=rev.sop, rev=rev, state=state, watermark=watermark,
                      effective=effective, approved=approved, body=render_markdown(rev.content_markdown or ""),
                      printed_at=utcnow(), printed_by=user)


def history(sop: Sop) -> Iterator[RevisionEvent]:
    stmt = select(RevisionEvent).where(RevisionEvent.sop_id == sop.id).order_by(RevisionEvent.id)
    return iter(db.session.scalars(stmt))


# --- the SOP library ------------------------------------------------------------------------------

def import_library(unit_id: int, templates: Iterable[SopTemplate], *,
                   author: User | None = None) -> tuple[list[Sop], list[str]]:
    """Each `sop_library` template whose code the unit lacks becomes a new SOP with a draft revision.

    Returns (created SOPs, skipped codes); a second run creates nothing.
    """
    created, skipped = [], []
    for template in templates:
        code = template.code
        if db.session.scalar(select(Sop.id).where(Sop.unit_id == unit_id, Sop.code == code)) is not None:
            skipped.append(code)
            continue
        summary = (f"Imported from the SOP library: template {code} revision {template.revision}"
                   f"{_translation_note(template)} (sha256 {template.content_sha256[:12]}). "
                   "Adapt it to the unit before submitting.")
        created.append(create_sop(
            unit_id=unit_id, code=code, title=template.title, discipline=template.discipline,
            author=author, review_months=template.review_months,
            applies_to=template.applies_to, content_markdown=template.body_markdown,
            change_summary=summary, requirement_ids=template.requirement_ids))
    return created, skipped


def _translation_note(template: SopTemplate) -> str:
    """For a translated template, its language and who translated and reviewed it (kept in the history)."""
    if not template.is_translation:
        return ""
    return (f", {template.locale} translation by {template.translated_by}; "
            f"reviewed by {template.reviewed_by or 'no native speaker yet'}")


def acknowledgements_of(user_id: int, unit_id: int) -> list[tuple[Sop, Revision, Acknowledgement]]:
    """The person's read-and-understood records in the unit, newest first (for the personnel file)."""
    stmt = (select(Sop, Revision, Acknowledgement)
            .join(Revision, Revision.id == Acknowledgement.revision_id).join(Sop, Sop.id == Acknowledgement.sop_id)
            .where(Acknowledgement.user_id == user_id, Acknowledgement.unit_id == unit_id)
            .order_by(Acknowledgement.acknowledged_at.desc(), Acknowledgement.id.desc()))
    return [(sop, rev, ack) for sop, rev, ack in db.session.execute(stmt)]
