"""Record identifiers beyond the database's range are refused (4xx with a reason), never an overflow (500).

The API is walked from its OpenAPI document: every identifier in a path, a query, a JSON body or a
multipart form gets 2**70 (beyond 64 bits), -1 and 2**31 (beyond PostgreSQL's INTEGER). The forms
are listed explicitly, and a check makes sure the list misses no identifier field of any form.
"""
from __future__ import annotations

import importlib
import io
import pkgutil
import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from flask import Flask
from flask_wtf import FlaskForm

import qms
from qms.audits import services as audits
from qms.auth import services as auth
from qms.auth.models import Role, User
from qms.evidence import custody
from qms.identifiers import MAX_RECORD_ID, RecordIdField, RecordIdMultipleField, RecordIdSelectField
from qms.quality import services as quality
from qms.people import services as people
from qms.quality import review as management_review

BAD_IDS = (2**70, -1, 2**31)
API_ROLES = (Role.ADMIN, Role.QUALITY_MANAGER, Role.AUDITOR, Role.EXAMINER, Role.CSI_OFFICER)
ID_FIELD_TYPES = (RecordIdField, RecordIdSelectField, RecordIdMultipleField)


NOT_RECORD_IDS = {"requirement_ids"}  # a form's catalogue requirement ids (text such as 17020:7.1)


def _is_id_name(name: str) -> bool:
    return (name == "id" or name.endswith(("_id", "_ids")) or name in ("team", "receiver", "wrong_seq")) and (
        name not in NOT_RECORD_IDS)


@dataclass
class World:
    boss: User
    ids: dict[str, int]  # path parameter name -> a record of the unit
    tokens: dict[Role, str]


@pytest.fixture()
def world(app: Flask, db_session, make_unit, make_user) -> World:
    """One unit with a person holding every role, a case with an item, and an audit with a finding."""
    unit = make_unit(code="IDS")
    boss = make_user(unit, *API_ROLES, username="boss")
    case = custody.register_case(unit_id=unit.id, actor=boss, case_number="K-1", offence_type="Robbery",
                                 opened_on=date.today())
    item = custody.register_item(case, actor=boss, exhibit_number="1", item_type="cartridge_case",
                                 description="A casing")
    plan = audits.AuditPlan(title="Methods", planned_start=date.today(), planned_end=date.today() + timedelta(days=2),
                            lead_auditor_id=boss.id, clauses=("17020:7.1",))
    audit = audits.create_audit(plan, unit_id=unit.id, actor=boss)
    audits.start_audit(audit, boss)
    audits.record_result(audit.items[0], boss, result="non_conforming", evidence_note="No record kept.")
    finding = audits.raise_finding(audit.items[0], boss, grade="minor", statement="Missing record.")
    nonconformity = quality.record_nonconformity(unit.id, boss, "other", quality.Found(title="Late report"))
    tokens = {role: auth.issue_token(boss, unit_id=unit.id, role=role, name=role.value)[1] for role in API_ROLES}
    review = management_review.create_review(unit.id, boss, title="Review", period_start=date.today(),
                                             period_end=date.today())
    db_session.commit()
    ids = {"case_id": case.id, "item_id": item.id, "audit_id": audit.id, "checklist_item_id": audit.items[0].id,
           "finding_id": finding.id, "unit_id": unit.id, "nc_id": nonconformity.id, "review_id": review.id,
           "boss_id": boss.id,
           "scope_id": people.scopes(unit.id)[0].id}
    return World(boss, ids, tokens)


# --- the API, from its document -------------------------------------------------------------------------

def _document(app: Flask) -> dict[str, Any]:
    return app.test_client().get("/api/v1/openapi.json").get_json()


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _sample(prop: dict[str, Any]) -> Any:
    """A plain valid value of a property, so that only the identifier under test is wrong."""
    if "enum" in prop:
        return prop["enum"][0] or prop["enum"][-1]
    kind = prop.get("type")
    if kind == "integer":
        return max(prop.get("minimum", 1), 1)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object":
        return {}
    if prop.get("format") == "date":
        return date.today().isoformat()
    if prop.get("format") == "date-time":
        return "2026-01-01T10:00:00+00:00"
    return next((text for text in ("CSI-SOP-1", "GB", "Some text") if re.search(prop.get("pattern", ""), text)), "x")


def _body_cases(document: dict[str, Any], schema: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(field, body) for every identifier field of a JSON body: the body valid but for that field."""
    schema = _resolve(document, schema)
    props = {name: prop for name, prop in schema.get("properties", {}).items() if not prop.get("readOnly")}
    valid = {name: _sample(props[name]) for name in schema.get("required", [])}
    cases = []
    for name, prop in props.items():
        if _is_id_name(name) and "integer" in (prop.get("type"), prop.get("items", {}).get("type")):
            for bad in BAD_IDS:
                cases.append((name, valid | {name: [bad] if prop.get("type") == "array" else bad}))
        elif prop.get("type") == "array" and "properties" in _resolve(document, prop.get("items", {})):
            for field, inner in _body_cases(document, prop["items"]):  # e.g. an audit's team members
                cases.append((f"{name}[].{field}", valid | {name: [inner]}))
    return cases


def _api_requests(document: dict[str, Any], ids: dict[str, int]):  # type: ignore[no-untyped-def]
    """(label, method, url, kwargs) of every request with one identifier out of range."""
    for path, operations in document["paths"].items():
        names = re.findall(r"{(\w+)}", path)
        for method, operation in operations.items():
            if method not in ("get", "post", "patch", "put", "delete"):
                continue
            for name in names:  # each path identifier out of range, the others naming real records
                for bad in BAD_IDS:
                    url = path.format(**{n: (bad if n == name else ids.get(n, 1)) for n in names})
                    yield f"{method.upper()} {path} [{name}={bad}]", method, url, {}
            url = path.format(**{n: ids.get(n, 1) for n in names})
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and _is_id_name(parameter["name"]):
                    for bad in BAD_IDS:
                        yield f"{method.upper()} {path} [?{parameter['name']}={bad}]", method, url, {
                            "query_string": {parameter["name"]: bad}}
            content = (operation.get("requestBody") or {}).get("content", {})
            if "application/json" in content:
                for field, body in _body_cases(document, content["application/json"]["schema"]):
                    yield f"{method.upper()} {path} [{field}={body}]", method, url, {"json": body}
            if "multipart/form-data" in content:
                schema = content["multipart/form-data"]["schema"]
                for name in filter(_is_id_name, schema["properties"]):
                    for bad in BAD_IDS:
                        yield f"{method.upper()} {path} [{name}={bad}]", method, url, {"data": {name: str(bad)}}


def test_every_identifier_field_of_the_api_is_documented_within_the_database_range(app: Flask):
    document = _document(app)
    loose = []
    for name, schema in document["components"]["schemas"].items():
        for field, prop in schema.get("properties", {}).items():
            prop = prop.get("items", prop) if prop.get("type") == "array" else prop
            if _is_id_name(field) and prop.get("type") == "integer":  # not catalogue ids (text) nor team members
                if (prop.get("minimum"), prop.get("maximum")) != (1, MAX_RECORD_ID):
                    loose.append(f"{name}.{field}")
    assert not loose, f"identifiers without the database's range: {loose}"


def test_identifiers_out_of_range_are_refused_by_every_api_operation(app: Flask, world: World):
    client = app.test_client()
    requests = list(_api_requests(_document(app), world.ids))
    assert len(requests) > 150
    body_fields = 0
    for label, method, url, kwargs in requests:
        answers = []
        for role in API_ROLES:
            if "data" in kwargs:  # a multipart upload: a fresh file each time (the client closes it)
                kwargs["data"]["scan"] = (io.BytesIO(b"not a scan"), "scan.png")
            response = client.open(url, method=method, headers={"Authorization": f"Bearer {world.tokens[role]}"},
                                   **kwargs)
            answers.append(response.status_code)
            assert 400 <= response.status_code < 500, f"{label} as {role.value}: {response.status_code}"
            assert response.get_json()["message"], f"{label}: no reason given"
        if "[" in label and "={" not in label and any(code not in (401, 403) for code in answers):
            body_fields += 1
    assert body_fields > 100  # the identifiers were read, not just refused for the role


# --- the forms, listed ------------------------------------------------------------------------------------

# (form class, field, URL, the other fields of a valid submission)
FORM_CASES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("AuditForm", "lead_auditor_id", "/audits/new", {"title": "T", "kind": "internal", "body_type": "A",
                                                      "clauses": "17020:7.1", "planned_start": "2026-05-01",
                                                      "planned_end": "2026-05-02"}),
    ("AuditForm", "team", "/audits/new", {"title": "T", "kind": "internal", "body_type": "A", "clauses": "17020:7.1",
                                          "planned_start": "2026-05-01", "planned_end": "2026-05-02",
                                          "lead_auditor_id": "{boss}"}),
    ("AuditForm", "programme_entry_id", "/audits/new", {"title": "T", "kind": "internal", "body_type": "A",
                                                        "clauses": "17020:7.1", "planned_start": "2026-05-01",
                                                        "planned_end": "2026-05-02", "lead_auditor_id": "{boss}"}),
    ("TeamForm", "user_id", "/audits/{audit_id}/team", {"role": "auditor"}),
    ("ResultForm", "revision_ids", "/audits/items/{checklist_item_id}/result", {"result": "conforming"}),
    ("ActionForm", "owner_id", "/audits/findings/{finding_id}/actions", {"title": "Fix", "due_on": "2026-06-01"}),
    ("NcActionForm", "owner_id", "/quality/nonconformities/{nc_id}/actions", {"title": "Fix", "due_on": "2026-06-01"}),
    ("ReauditForm", "lead_auditor_id", "/audits/{audit_id}/reaudit", {"title": "Again", "planned_start": "2026-07-01",
                                                                      "planned_end": "2026-07-02"}),
    ("SopForm", "owner_id", "/documents/new", {"code": "CSI-SOP-9", "title": "T", "review_months": "12",
                                               "discipline": "firearms and ballistics"}),
    ("EntryForm", "item_id", "/comparisons/entries/new", {"device_id": "1", "scan": "FILE"}),
    ("EntryForm", "device_id", "/comparisons/entries/new", {"item_id": "1", "scan": "FILE"}),
    ("InstrumentForm", "responsible_id", "/equipment", {"identifier": "X-1", "kind": "camera"}),
    ("AssessForm", "work_id", "/equipment/reviews/1/assess", {"work_kind": "ballistic_entry", "assessment": "no_effect"}),
    ("EventForm", "event-equipment_ids", "/evidence/items/{item_id}/events", {"event-kind": "examined",
                                                                              "event-notes": "Looked"}),
    ("GrantForm", "g-scope_id", "/people/{boss_id}/grant", {"g-password": "x"}),
    ("TrainingForm", "t-scope_id", "/people/{boss_id}/training", {"t-course": "C", "t-started_on": "2026-01-01",
                                                                 "t-completed_on": "2026-01-02", "t-outcome": "passed"}),
    ("SupervisedForm", "s-scope_id", "/people/{boss_id}/supervised", {"s-performed_on": "2026-01-01",
                                                                     "s-reference": "R", "s-supervisor_id": "1"}),
    ("SupervisedForm", "s-supervisor_id", "/people/{boss_id}/supervised", {"s-performed_on": "2026-01-01",
                                                                          "s-reference": "R", "s-scope_id": "1"}),
    ("WitnessingForm", "w-scope_id", "/people/{boss_id}/witnessing", {"w-observed_on": "2026-01-01", "w-reference": "R",
                                                                     "w-outcome": "satisfactory", "w-observer_id": "1"}),
    ("WitnessingForm", "w-observer_id", "/people/{boss_id}/witnessing", {"w-observed_on": "2026-01-01",
                                                                        "w-reference": "R", "w-outcome": "satisfactory",
                                                                        "w-scope_id": "1"}),
    ("OfferForm", "offer-receiver", "/evidence/items/{item_id}/offer", {}),
    ("EventForm", "event-location_id", "/evidence/items/{item_id}/events", {"event-kind": "stored"}),
    ("EventForm", "event-wrong_seq", "/evidence/items/{item_id}/events", {"event-kind": "correction"}),
    ("LocationForm", "parent_id", "/evidence/locations", {"kind": "room", "name": "Store"}),
    ("ExportForm", "entry_ids", "/comparisons/exchange/export", {}),
    ("RevokeKeyForm", "key_id", "/comparisons/exchange/keys/revoke", {}),
    ("ProficiencyResultForm", "participant_id", "/quality/proficiency",
     {"provider": "P", "scheme": "S", "round": "1", "scope_id": "{scope}", "performed_on": "2026-05-01",
      "reported_result": "R", "z_score": "1", "reference_kind": "assigned"}),
    ("ProficiencyResultForm", "scope_id", "/quality/proficiency",
     {"provider": "P", "scheme": "S", "round": "1", "participant_id": "{boss}", "performed_on": "2026-05-01",
      "reported_result": "R", "z_score": "1", "reference_kind": "assigned"}),
    ("ReviewDecisionForm", "owner_id", "/quality/reviews/{review_id}/decisions",
     {"kind": "corrective_action", "text": "Act", "action_title": "Act", "due_on": "2099-01-01"}),
    ("ComplaintForm", "audit_id", "/quality/complaints", {"kind": "complaint", "complainant": "A", "channel": "letter",
                                                          "description": "Late."}),
    ("FirearmForm", "add-item_id", "/firearms", {"add-firearm_type": "pistol", "add-make": "Zastava"}),
    ("RiskForm", "owner_id", "/quality/risks", {"title": "T", "source": "other", "likelihood": "2", "impact": "2",
                                                "review_on": "2027-01-01"}),
]


def _form_classes() -> dict[str, type[FlaskForm]]:
    found: dict[str, type[FlaskForm]] = {}
    for module in pkgutil.walk_packages(qms.__path__, "qms."):
        if module.name.endswith("forms"):
            for value in vars(importlib.import_module(module.name)).values():
                if isinstance(value, type) and issubclass(value, FlaskForm) and value is not FlaskForm:
                    found[value.__name__] = value
    return found


def test_every_identifier_field_of_every_form_is_bounded_and_listed(app: Flask):
    listed = {(form, field.split("-")[-1]) for form, field, _, _ in FORM_CASES}
    missing, loose = [], []
    for name, form_class in _form_classes().items():
        for field_name, unbound in vars(form_class).items():
            if not hasattr(unbound, "field_class") or not _is_id_name(field_name):
                continue
            if not issubclass(unbound.field_class, ID_FIELD_TYPES):
                loose.append(f"{name}.{field_name}")
            # a subclass inherits its parent's fields: listing the parent's is enough (e.g. SopEditForm)
            if not any((base.__name__, field_name) in listed for base in form_class.__mro__):
                missing.append(f"{name}.{field_name}")
    assert not loose, f"identifier fields without the bounded types of qms.identifiers: {loose}"
    assert not missing, f"identifier fields of forms not tried below: {missing}"


@pytest.mark.parametrize(("form", "field", "url", "others"), FORM_CASES, ids=[f"{c[0]}.{c[1]}" for c in FORM_CASES])
def test_identifiers_out_of_range_are_refused_by_every_form(app: Flask, world: World, login_as, form: str,
                                                             field: str, url: str, others: dict[str, Any]):
    client = login_as(world.boss)
    target = url.format(**world.ids)
    for bad in BAD_IDS:
        data: dict[str, Any] = {k: (v.format(boss=world.boss.id, scope=world.ids["scope_id"]) if isinstance(v, str)
                                    else v)
                                for k, v in others.items()}
        if data.get("scan") == "FILE":
            data["scan"] = (io.BytesIO(b"not a scan"), "scan.png")
        data[field] = str(bad)
        response = client.post(target, data=data, content_type="multipart/form-data")
        assert 400 <= response.status_code < 500, f"{form}.{field}={bad} at {target}: {response.status_code}"
        assert response.get_data(as_text=True).strip()
