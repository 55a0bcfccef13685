"""`qms authorise`: the operator's first authorisations when a unit is set up."""
from __future__ import annotations

from qms.auth.models import Role
from qms.commands import authorise_command
from qms.people import services as people
from qms.people.models import AuthorisationEvent, Gate
from qms.trail.models import AuditEvent


def test_the_operator_grants_first_authorisations_with_a_reason_on_the_trail(app, make_unit, make_user, db_session):
    unit = make_unit(code="SETUP")
    quality = make_user(unit, Role.QUALITY_MANAGER, username="first.qm", authorised=False)
    result = app.test_cli_runner().invoke(authorise_command, [
        "--unit", "setup", "--user", "first.qm", "--scope", "sop_approval", "--scope", "audit_lead",
        "--until", "2030-12-31", "--reason", "Paper authorisation of 2024 (binder 1)"])
    assert result.exit_code == 0, result.output
    assert people.authorised(quality, unit.id, Gate.SOP_APPROVAL)
    assert not people.authorised(quality, unit.id, Gate.COMPARISON)
    events = db_session.scalars(db_session.query(AuthorisationEvent).statement).all()
    assert {e.signed_by_name for e in events} == {"operator (qms authorise)"}
    trail = db_session.scalars(db_session.query(AuditEvent).filter_by(entity="AuthorisationEvent").statement).all()
    assert len(trail) == 2 and all(row.username == "operator (CLI)" for row in trail)


def test_an_unknown_scope_or_user_is_a_clear_error(app, make_unit, make_user):
    unit = make_unit(code="SETUP")
    make_user(unit, Role.EXAMINER, username="ex1", authorised=False)
    runner = app.test_cli_runner()
    unknown_scope = runner.invoke(authorise_command, ["--unit", "SETUP", "--user", "ex1", "--scope", "flying",
                                                      "--reason", "r"])
    assert unknown_scope.exit_code != 0 and "No scope flying" in unknown_scope.output
    unknown_user = runner.invoke(authorise_command, ["--unit", "SETUP", "--user", "nobody", "--scope", "comparison",
                                                     "--reason", "r"])
    assert unknown_user.exit_code != 0 and "No user named 'nobody'" in unknown_user.output
    assert "Traceback" not in unknown_scope.output + unknown_user.output
