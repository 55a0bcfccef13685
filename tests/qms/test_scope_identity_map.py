"""The unit scope holds for records already loaded in the session (the identity map)."""
from __future__ import annotations

from datetime import date

from flask import Flask

from qms.auth.models import Role
from qms.evidence import custody
from qms.evidence.models import Case, Item
from qms.scoping import set_scope


def test_get_inside_a_request_cannot_return_another_units_loaded_record(app: Flask, db_session, make_unit, make_user):
    unit_a, unit_b = make_unit(), make_unit()
    officer_b = make_user(unit_b, Role.CSI_OFFICER)
    case = custody.register_case(unit_id=unit_b.id, actor=officer_b, case_number="B-1", offence_type="burglary",
                                 opened_on=date(2026, 1, 1))
    item = custody.register_item(case, actor=officer_b, exhibit_number="1", item_type="bullet", description="b")
    db_session.flush()  # loaded and not expired: the identity map holds both
    with app.test_request_context():
        set_scope((unit_a.id,))
        assert db_session.get(Item, item.id) is None
        assert db_session.get(Case, case.id) is None
        set_scope((unit_b.id,))
        assert db_session.get(Item, item.id) is item
