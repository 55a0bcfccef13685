"""The record types the trail describes: their names, kinds, pages and field labels.

Filled here for every domain (by name strings, without importing the domains); a new domain
adds its types with `register(RecordType(...))` when its package is set up. A type nobody
registered is "unclassified": shown with humanised names, and hidden from administrators.
"""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

from qms.trail.records import Kind, Link, RecordType, unclassified

_KNOWN = (
    # --- accounts and settings ------------------------------------------------------------------
    RecordType("Unit", _l("Unit"), Kind.ACCOUNT, shown_as="name",
               fields={"code": _l("Code"), "country": _l("Country")}),
    RecordType("User", _l("User"), Kind.ACCOUNT, Link("auth.user_detail", "user_id"), shown_as="full_name",
               fields={"username": _l("User name"), "full_name": _l("Full name"), "email": _l("E-mail"),
                       "password_hash": _l("Password"), "mfa_secret": _l("Second-factor secret"),
                       "mfa_enrolled_at": _l("Second factor enrolled"), "active": _l("Active"),
                       "auth_epoch": _l("Sign-in generation")}),
    RecordType("Membership", _l("Role membership"), Kind.ACCOUNT, Link("auth.user_detail", "user_id", "user_id")),
    RecordType("ApiToken", _l("API token"), Kind.ACCOUNT, Link("auth.user_detail", "user_id", "user_id"),
               fields={"name": _l("Token name"), "prefix": _l("Token prefix"), "token_hash": _l("Token"),
                       "expires_at": _l("Expires"), "revoked_at": _l("Revoked")}),
    # --- evidence ---------------------------------------------------------------------------------
    RecordType("Case", _l("Case"), Kind.EVIDENCE, Link("evidence.case", "case_id"), shown_as="case_number",
               fields={"case_number": _l("Case number"), "offence_type": _l("Offence"),
                       "offence_date": _l("Offence date"), "opened_on": _l("Opened on"), "summary": _l("Summary")}),
    RecordType("StorageLocation", _l("Storage location"), Kind.EVIDENCE, shown_as="name",
               fields={"parent_id": _l("Inside")}),
    RecordType("Item", _l("Item"), Kind.EVIDENCE, Link("evidence.item", "item_id"), shown_as="exhibit_number",
               fields={"parent_item_id": _l("Taken from item"), "exhibit_number": _l("Exhibit number"),
                       "item_type": _l("Item type"), "description": _l("Description"), "make": _l("Make"),
                       "model": _l("Model"), "serial_number": _l("Serial number"), "packaging": _l("Packaging"),
                       "collected_by_id": _l("Collected by"), "collected_at": _l("Collected"),
                       "collected_place": _l("Collected at (place)"), "label_code": _l("Label code"),
                       "head_seq": _l("Custody events"), "head_hash": _l("Latest custody hash"),
                       "holder_id": _l("Holder"), "pending_to_id": _l("Transfer pending to"),
                       "location_id": _l("Storage location"), "seal_number": _l("Seal number"),
                       "sealed": _l("Sealed")}),
    RecordType("ItemPhoto", _l("Item photo"), Kind.EVIDENCE, Link("evidence.item", "item_id", "item_id"),
               fields={"caption": _l("Caption"), "uploaded_by_id": _l("Uploaded by"), "uploaded_at": _l("Uploaded")}),
    # --- ballistic --------------------------------------------------------------------------------
    RecordType("BallisticEntry", _l("Ballistic entry"), Kind.BALLISTIC, Link("comparisons.entry", "entry_id"),
               fields={"firearm_make": _l("Firearm make"), "firearm_model": _l("Firearm model"),
                       "device": _l("Imaging device"), "settings": _l("Device settings"),
                       "acquired_by_id": _l("Imaged by"), "acquired_at": _l("Imaged"),
                       "pixel_size_um": _l("Pixel size (µm)"), "origin": _l("Origin"),
                       "source_unit": _l("Source unit"), "source_label": _l("Source label")}),
    RecordType("DerivedObject", _l("Derived image"), Kind.BALLISTIC),
    RecordType("CorrelationJob", _l("Correlation job"), Kind.BALLISTIC,
               fields={"requested_by_id": _l("Requested by"), "progress": _l("Progress"), "error": _l("Error")}),
    RecordType("Candidate", _l("Candidate"), Kind.BALLISTIC, Link("comparisons.review", "candidate_id"),
               fields={"rank": _l("Rank"), "score": _l("Score"), "log10_lr": _l("Likelihood ratio (log10)")}),
    RecordType("Decision", _l("Decision"), Kind.BALLISTIC,
               Link("comparisons.review", "candidate_id", "candidate_id"),
               fields={"examiner_id": _l("Examiner"), "signed_at": _l("Signed")}),
    RecordType("CaseLink", _l("Case link"), Kind.BALLISTIC,
               fields={"case_low_id": _l("First case"), "case_high_id": _l("Second case"),
                       "confirmed_at": _l("Confirmed")}),
    RecordType("PartnerKey", _l("Partner key"), Kind.BALLISTIC,
               fields={"public_key": _l("Public key"), "fingerprint": _l("Fingerprint"),
                       "added_by_id": _l("Added by"), "revoked_by_id": _l("Revoked by")}),
    RecordType("ExchangePackage", _l("Exchange package"), Kind.BALLISTIC,
               fields={"direction": _l("Direction"), "entry_count": _l("Entries"),
                       "recorded_by_id": _l("Recorded by")}),
    RecordType("ExchangedEntry", _l("Exchanged entry"), Kind.BALLISTIC, fields={"package_id": _l("Package")}),
    # --- audits and quality -----------------------------------------------------------------------
    RecordType("AuditProgramme", _l("Audit programme"), Kind.QUALITY, Link("audits.programme", "programme_id"),
               shown_as="title", fields={"year": _l("Year"), "risk_notes": _l("Risk notes")}),
    RecordType("ProgrammeEntry", _l("Programme entry"), Kind.QUALITY,
               Link("audits.programme", "programme_id", "programme_id"),
               fields={"programme_id": _l("Programme"), "process": _l("Process"), "clauses": _l("Clauses"),
                       "planned_month": _l("Planned month"), "risk_level": _l("Risk level"),
                       "rationale": _l("Rationale")}),
    RecordType("Audit", _l("Audit"), Kind.QUALITY, Link("audits.audit", "audit_id"), shown_as="title",
               fields={"scope": _l("Scope"), "planned_start": _l("Planned start"), "planned_end": _l("Planned end"),
                       "lead_auditor_id": _l("Lead auditor"), "auditee": _l("Auditee"), "areas": _l("Areas")}),
    RecordType("TeamMember", _l("Audit team member"), Kind.QUALITY, Link("audits.audit", "audit_id", "audit_id")),
    RecordType("ChecklistItem", _l("Checklist item"), Kind.QUALITY, Link("audits.item", "checklist_item_id"),
               shown_as="title", fields={"clause": _l("Clause"), "requirement_id": _l("Requirement")}),
    RecordType("RequirementResult", _l("Requirement result"), Kind.QUALITY,
               Link("audits.item", "checklist_item_id", "item_id"),
               fields={"item_id": _l("Checklist item"), "result": _l("Result"), "evidence_note": _l("Evidence seen"),
                       "justification": _l("Justification"), "recorded_by_id": _l("Recorded by")}),
    RecordType("ResultSopLink", _l("SOP cited in a result"), Kind.QUALITY),
    RecordType("ResultFile", _l("Result evidence file"), Kind.QUALITY),
    RecordType("Finding", _l("Finding"), Kind.QUALITY, Link("audits.finding", "finding_id"), shown_as="number",
               fields={"item_id": _l("Checklist item"), "grade": _l("Grade"), "statement": _l("Statement"),
                       "raised_by_id": _l("Raised by"), "raised_at": _l("Raised")}),
    RecordType("CorrectiveAction", _l("Corrective action"), Kind.QUALITY, Link("audits.action", "action_id"),
               shown_as="title",
               fields={"finding_id": _l("Finding"), "nonconformity_id": _l("Nonconformity"), "owner_id": _l("Owner"),
                       "due_on": _l("Due"),
                       "raised_by_id": _l("Raised by"), "closed_at": _l("Closed")}),
    RecordType("Nonconformity", _l("Nonconformity"), Kind.QUALITY, Link("quality.nonconformity", "nc_id"),
               shown_as="number",
               fields={"number": _l("Number"), "source": _l("Source"), "source_key": _l("Source record"),
                       "source_url": _l("Source page"), "title": _l("Title"), "description": _l("Description"),
                       "location": _l("Where"), "found_on": _l("Found on"), "found_by_id": _l("Found by"),
                       "found_by_name": _l("Found by (name)"), "risk_grade": _l("Risk grade"),
                       "immediate_correction": _l("Immediate correction")}),
    RecordType("ActionStep", _l("Corrective action step"), Kind.QUALITY,
               Link("audits.action", "action_id", "action_id"),
               fields={"action_id": _l("Corrective action"), "method": _l("Method"),
                       "effective": _l("Effective"), "planned_due_on": _l("Planned due")}),
    RecordType("Sop", _l("SOP"), Kind.QUALITY, Link("documents.sop_detail", "sop_id"), shown_as="code",
               fields={"code": _l("Code"), "discipline": _l("Discipline"), "owner_id": _l("Owner"),
                       "review_months": _l("Review every (months)"), "applies_to": _l("Applies to"),
                       "current_revision_id": _l("Revision in force"), "next_review_on": _l("Next review")}),
    RecordType("Revision", _l("SOP revision"), Kind.QUALITY, Link("documents.revision", "revision_id"),
               shown_as="number",
               fields={"content_markdown": _l("Content"), "change_summary": _l("Summary of changes"),
                       "requirement_ids": _l("Requirements met"), "author_id": _l("Author"),
                       "editor_id": _l("Editor"), "based_on_id": _l("Based on revision"),
                       "submitted_at": _l("Submitted")}),
    RecordType("RevisionEvent", _l("SOP revision event"), Kind.QUALITY,
               Link("documents.revision", "revision_id", "revision_id"),
               fields={"signature_meaning": _l("Meaning of the signature"), "effective_on": _l("Effective on")}),
    RecordType("Acknowledgement", _l("SOP acknowledgement"), Kind.QUALITY,
               Link("documents.sop_detail", "sop_id", "sop_id"), fields={"acknowledged_at": _l("Acknowledged")}),
)

_REGISTRY: dict[str, RecordType] = {record.name: record for record in _KNOWN}


def register(record: RecordType) -> None:
    """Describe a record type to the trail (a later registration of the same name replaces it)."""
    _REGISTRY[record.name] = record


def record_type(name: str) -> RecordType:
    return _REGISTRY.get(name) or unclassified(name)


def names_of_kind(*kinds: Kind) -> frozenset[str]:
    return frozenset(name for name, record in _REGISTRY.items() if record.kind in kinds)
