"""The OpenAPI document matches the code: schemathesis sends generated requests to every operation.

Every operation is called with a bounded number of generated examples, with a token of each role
that uses the API, and without a token; the checks are schemathesis's: no 5xx, status codes,
content types, headers and bodies as documented.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from qms.auth import services
from qms.auth.models import Role

EXAMPLES = 6

# Operations whose schema-valid requests the business rules may still refuse (400), so the check
# that schema-valid data is accepted does not apply to them; every other check does.
REFUSED_BY_RULES = {
    "POST /api/v1/documents/sops": "the owner must be a member of the unit, and a code is unique in the register",
    "POST /api/v1/evidence/cases": "a case number is unique in the unit",
    "POST /api/v1/audits": "the lead auditor and team must be members, the end comes after the start, and a "
                           "checklist must be known or clauses named",
    "POST /api/v1/comparisons/exchange/export": "the entries must exist in the unit",
    "POST /api/v1/comparisons/exchange/import": "the body must be a real exchange package, signed by a partner",
    "POST /api/v1/comparisons/exchange/keys": "the key must be a real Ed25519 public key",
    "POST /api/v1/quality/complaints": "a case named must exist in the unit, an audit too; the date received is "
                                       "not in the future",
    "POST /api/v1/quality/risks": "the owner must be a member of the unit",
    "POST /api/v1/equipment": "the responsible person must be a member of the unit, and an identifier is unique in "
                              "the unit's register",
    "PATCH /api/v1/equipment/{equipment_id}": "the responsible person named must be a member of the unit",
    "POST /api/v1/firearms": "a record names a make, model, serial or description; a serial holds letters, digits, "
                             "separators and ? or * only; a custody item must be a firearm item of the unit; a "
                             "stolen or lost report names its reporter, place and police reference",
    "PATCH /api/v1/firearms/{firearm_id}": "as for a new record",
    "POST /api/v1/firearms/{firearm_id}/events": "a stolen or lost report names its reporter, place and police "
                                                 "reference; the date is not in the future",
    "POST /api/v1/firearms/leads/{lead_id}/decision": "a dismissal says why",
    "POST /api/v1/firearms/trace/requests": "the partner must be one of the unit's partner keys (or this server), the "
                                            "serial must have four readable characters",
    "POST /api/v1/firearms/trace/import": "the body must be a real trace package, signed by a partner",
    "POST /api/v1/firearms/trace/requests/{trace_id}/answer": "the request must be one the unit received and has not "
                                                              "answered",
}


@schemathesis.serializer("application/zip")
def _zip_body(ctx, value):  # type: ignore[no-untyped-def]
    """Exchange packages: generated bodies go as bytes (a real package is tested in test_exchange)."""
    return value if isinstance(value, bytes) else str(value).encode()
ROLES = (Role.ADMIN, Role.QUALITY_MANAGER, Role.EXAMINER, Role.CSI_OFFICER)


@pytest.fixture()
def tokens(db_session, make_unit, make_user) -> dict[str, dict[str, str]]:  # type: ignore[no-untyped-def]
    """A bearer header per role, for one user who holds them all in one unit with some records."""
    unit = make_unit(code="API")
    user = make_user(unit, *ROLES, username="contract")
    headers = {"anonymous": {}}
    for role in ROLES:
        _, clear = services.issue_token(user, unit_id=unit.id, role=role, name=f"contract {role.value}")
        headers[role.value] = {"Authorization": f"Bearer {clear}"}
    db_session.commit()
    return headers


def _failures_of(operation, tokens: dict[str, dict[str, str]]) -> list[str]:  # type: ignore[no-untyped-def]
    """Run the operation's generated examples with every token; the failures, described."""
    failures: list[str] = []
    excluded = [positive_data_acceptance] if operation.label in REFUSED_BY_RULES else []

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck), phases=[Phase.explicit, Phase.generate])
    def run(case) -> None:  # type: ignore[no-untyped-def]
        for who, headers in tokens.items():
            response = case.call(headers=headers)
            try:
                case.validate_response(response, headers=headers, excluded_checks=excluded)
            except (AssertionError, BaseExceptionGroup) as error:  # schemathesis's failed checks, summarised
                answer = f"{response.status_code} {response.text[:300]!r} to body {str(case.body)[:300]!r}"
                failures.extend(f"{operation.label} as {who}: {_summary(problem)} / {answer}"
                                for problem in _leaves(error))

    run()
    return failures


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _summary(problem: BaseException) -> str:
    lines = [line.strip() for line in str(problem).splitlines() if line.strip()]
    return f"{type(problem).__name__}: {' / '.join(lines[:12])[:900]}"


def test_every_operation_answers_as_documented(app, tokens):  # type: ignore[no-untyped-def]
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operations += 1
        failures += _failures_of(result.ok(), tokens)
    assert operations > 50
    assert not failures, "\n".join(dict.fromkeys(failures))
