"""An item's current custody is the fold of its events: the cached columns always equal it, and a
column changed behind the application's back is reported by `qms custody verify` and on the pages."""
from __future__ import annotations

import itertools
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qms.evidence import custody
from qms.evidence.chain import verify_chains
from qms.evidence.cli import custody as custody_commands
from qms.evidence.models import CustodyEvent, Item
from qms.evidence.state import START, Custody, apply, cached, fold_events
from qms.extensions import db
from tests.conftest import PASSWORD

SEALS = itertools.count()


def _act(lab, item: Item, action: str, who: int, other: int) -> None:  # type: ignore[no-untyped-def]
    people = [lab.csi, lab.custodian, lab.examiner]
    actor, party = people[who], people[other]
    steps = {
        "offer": lambda: custody.offer_transfer(item, actor=actor, receiver=party),
        "accept": lambda: custody.accept_transfer(item, username=party.username, password=PASSWORD),
        "cancel": lambda: custody.cancel_transfer(item, actor=actor),
        "handover": lambda: custody.transfer_custody(item, actor=actor, receiver_username=party.username,
                                                     receiver_password=PASSWORD),
        "store": lambda: custody.store(item, actor=actor, location=lab.shelf),
        "take_out": lambda: custody.remove_from_storage(item, actor=actor),
        "examine": lambda: custody.examine(item, actor=actor, notes="looked"),
        "seal": lambda: custody.seal(item, actor=actor, seal_number=f"S-{next(SEALS)}"),
        "break_seal": lambda: custody.break_seal(item, actor=actor, notes="opened"),
        "reseal": lambda: custody.reseal(item, actor=actor, seal_number=f"S-{next(SEALS)}"),
        "sample": lambda: custody.sample(item, actor=actor, exhibit_number=uuid.uuid4().hex[:8],
                                         item_type="cartridge_case", description="test fire"),
        "image": lambda: custody.record_imaging(item, actor=actor, device="comparison microscope"),
        "correct": lambda: custody.correct(item, actor=actor, wrong_seq=1, correction="typo in the place"),
        "return": lambda: custody.return_to_owner(item, actor=actor, recipient="The owner, ID 123"),
        "destroy": lambda: custody.destroy(item, actor=actor, witness_username=party.username,
                                           witness_password=PASSWORD, method="crushed, order 1/2026"),
    }
    steps[action]()


ACTIONS = ["offer", "accept", "cancel", "handover", "store", "take_out", "examine", "seal", "break_seal", "reseal",
           "sample", "image", "correct", "return", "destroy"]
steps = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 2), st.integers(0, 2)), min_size=1, max_size=12)


def _item_and_samples(item_id: int) -> list[Item]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Item).where(sa.or_(Item.id == item_id, Item.parent_item_id == item_id))))


def _events(item: Item) -> list[CustodyEvent]:
    return list(db.session.scalars(sa.select(CustodyEvent).where(CustodyEvent.item_id == item.id)
                                   .order_by(CustodyEvent.seq)))


@settings(max_examples=50, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sequence=steps)
def test_the_cached_custody_always_equals_the_fold_of_the_events(lab, db_session, sequence):
    item = custody.register_item(lab.case, actor=lab.csi, exhibit_number=uuid.uuid4().hex[:8], item_type="firearm",
                                 description="Pistol", seal_number=f"S-{next(SEALS)}")
    db_session.commit()
    item_id = item.id
    for action, who, other in sequence:
        try:
            _act(lab, db_session.get(Item, item_id), action, who, other)
            db_session.commit()
        except custody.CustodyError:
            db_session.rollback()  # a refused step records nothing; the fold must still hold
        for each in _item_and_samples(item_id):
            assert fold_events(_events(each)) == cached(each), (each.id, sequence)
    ids = [each.id for each in _item_and_samples(item_id)]
    assert verify_chains(db_session.connection(), item_ids=ids).ok


def test_apply_is_pure_and_imaging_moves_nothing():
    held = apply(START, {"kind": "collected", "actor_id": 7, "to_user_id": None, "location_id": None,
                         "seal_number": ""})
    assert held == Custody(holder_id=7) and START == Custody()  # the start value is untouched
    imaged = apply(held, {"kind": "imaged", "actor_id": 8, "to_user_id": None, "location_id": None,
                          "seal_number": ""})
    assert imaged is held


def test_a_destroyed_item_does_not_show_its_seal_as_intact(lab, pistol, login_as, db_session):
    custody.destroy(pistol, actor=lab.csi, witness_username="keeper", witness_password=PASSWORD, method="crushed")
    db_session.commit()
    assert db_session.get(Item, pistol.id).sealed is False
    page = login_as(lab.csi).get(f"/evidence/items/{pistol.id}").get_data(as_text=True)
    assert "intact" not in page and "destroyed with the item" in page


# --- a database owner changes the cached custody --------------------------------------------------------

TAMPERS = {
    "holder": lambda lab: {"holder_id": lab.examiner.id},
    "state": lambda lab: {"state": "in_storage", "holder_id": None},
    "location": lambda lab: {"location_id": lab.shelf.id},
    "seal": lambda lab: {"sealed": False},
}


@pytest.mark.parametrize("column", TAMPERS)
def test_raw_sql_on_the_cached_custody_is_reported_naming_the_item(app, lab, pistol, login_as, db_session, column):
    runner, item_id, values = app.test_cli_runner(), pistol.id, TAMPERS[column](lab)
    client = login_as(lab.csi)
    assert runner.invoke(custody_commands, ["verify"]).exit_code == 0
    db_session.commit()
    db_session.close()
    # No trigger guards evidence_item (its cache is rewritten by every event): an owner just updates it.
    with db.engine.begin() as connection:
        connection.execute(sa.update(Item.__table__).where(Item.__table__.c.id == item_id).values(values))

    result = runner.invoke(custody_commands, ["verify"])
    assert result.exit_code == 1
    assert f"item {item_id}, current custody: the item's recorded custody does not match its events" in result.output

    page = client.get(f"/evidence/items/{item_id}").get_data(as_text=True)
    assert 'id="custody-mismatch"' in page and f"Item {item_id} (exhibit 1 of case 2026/001)" in page
    assert 'class="state state-in_custody"' in page  # the page shows the custody its events give
    report = client.get("/evidence/verify").get_data(as_text=True)
    assert "Problems found" in report and f"item {item_id}, current custody" in report
