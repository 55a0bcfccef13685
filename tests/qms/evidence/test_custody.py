"""The custody state machine, two-party transfers, refusals that leave history untouched, and the Merkle tree."""
from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
import sqlalchemy as sa

from qms.db import utcnow
from qms.evidence import custody
from qms.evidence.chain import verify_chains
from qms.evidence.checkpoints import leaf_hash, merkle_root, node_hash, verify_all
from qms.evidence.custody import CustodyError, When
from qms.evidence.models import CustodyEvent, Item, ItemState
from qms.extensions import db
from tests.conftest import PASSWORD


def _history(item_id: int) -> list[tuple[int, str, str]]:
    db.session.expire_all()
    rows = db.session.execute(sa.select(CustodyEvent.seq, CustodyEvent.kind, CustodyEvent.hash)
                              .where(CustodyEvent.item_id == item_id).order_by(CustodyEvent.seq))
    return [tuple(row) for row in rows]


# --- the whole life of an item ------------------------------------------------------------------------

def test_a_full_life_verifies_and_keeps_a_gap_free_sequence(lab, pistol, db_session):
    custody.offer_transfer(pistol, actor=lab.csi, receiver=lab.custodian)
    assert pistol.state == ItemState.IN_TRANSIT and pistol.holder_id == lab.csi.id  # the sender keeps custody
    custody.accept_transfer(pistol, username="keeper", password=PASSWORD)
    assert pistol.holder_id == lab.custodian.id and pistol.pending_to_id is None
    custody.store(pistol, actor=lab.custodian, location=lab.shelf)
    custody.remove_from_storage(pistol, actor=lab.examiner)
    custody.break_seal(pistol, actor=lab.examiner, notes="Opened for examination")
    custody.examine(pistol, actor=lab.examiner, notes="Test-fired 2 rounds")
    child = custody.sample(pistol, actor=lab.examiner, exhibit_number="1-TF1", item_type="cartridge_case",
                           description="Test-fire cartridge case")
    custody.reseal(pistol, actor=lab.examiner, seal_number="S-0002")
    custody.correct(pistol, actor=lab.examiner, wrong_seq=8, correction="Three rounds, not two")
    custody.destroy(pistol, actor=lab.examiner, witness_username="keeper", witness_password=PASSWORD,
                    method="Crushed, court order 12/2026")
    db_session.commit()
    kinds = [kind for _, kind, _ in _history(pistol.id)]
    assert kinds == ["collected", "sealed", "transfer_offered", "transfer_accepted", "stored", "removed_from_storage",
                     "seal_broken", "examined", "sampled", "resealed", "correction", "destroyed"]
    assert [seq for seq, _, _ in _history(pistol.id)] == list(range(1, 13))
    assert child.parent_item_id == pistol.id and child.holder_id == lab.examiner.id
    assert verify_chains(db_session.connection()).ok


def test_times_are_utc_with_the_local_offset(lab, pistol, db_session):
    at = utcnow() + timedelta(seconds=1)
    event = custody.examine(pistol, actor=lab.csi, notes="look", when=When(at, 120))
    db_session.commit()
    db_session.expire_all()
    stored = db_session.get(CustodyEvent, event.id)
    assert stored.occurred_at == at and stored.occurred_at.utcoffset() == timedelta(0)
    assert stored.utc_offset_minutes == 120 and stored.offset_label == "UTC+02:00"


# --- refusals: a clear message, nothing recorded ---------------------------------------------------------

REFUSALS = [
    ("transfer an item you do not hold",
     lambda lab, item: custody.offer_transfer(item, actor=lab.examiner, receiver=lab.custodian), "you do not hold"),
    ("examine an item in transit",
     lambda lab, item: (custody.offer_transfer(item, actor=lab.csi, receiver=lab.custodian),
                        custody.examine(item, actor=lab.csi, notes="x")), "in transit"),
    ("store an item in transit",
     lambda lab, item: (custody.offer_transfer(item, actor=lab.csi, receiver=lab.custodian),
                        custody.store(item, actor=lab.csi, location=lab.shelf)), "in transit"),
    ("take out an item that is not stored",
     lambda lab, item: custody.remove_from_storage(item, actor=lab.csi), "not in storage"),
    ("accept on someone else's behalf",
     lambda lab, item: (custody.offer_transfer(item, actor=lab.csi, receiver=lab.custodian),
                        custody.accept_transfer(item, username="exam1", password=PASSWORD)), "only they can accept"),
    ("accept when nothing is offered",
     lambda lab, item: custody.accept_transfer(item, username="keeper", password=PASSWORD), "no pending transfer"),
    ("hand over to a quality manager",
     lambda lab, item: custody.offer_transfer(item, actor=lab.csi, receiver=lab.qm), "cannot receive"),
    ("examine a destroyed item",
     lambda lab, item: (custody.destroy(item, actor=lab.csi, witness_username="keeper", witness_password=PASSWORD,
                                        method="burnt"), custody.examine(item, actor=lab.csi, notes="x")),
     "destroyed"),
    ("destroy without a second person",
     lambda lab, item: custody.destroy(item, actor=lab.csi, witness_username="csi1", witness_password=PASSWORD,
                                       method="burnt"), "second person"),
    ("an event out of order",
     lambda lab, item: custody.examine(item, actor=lab.csi, notes="x", when=When(utcnow() - timedelta(days=30))),
     "Out of order"),
    ("an event in the future",
     lambda lab, item: custody.examine(item, actor=lab.csi, notes="x", when=When(utcnow() + timedelta(hours=2))),
     "in the future"),
    ("reseal with a used seal number",
     lambda lab, item: (custody.break_seal(item, actor=lab.csi, notes="open"),
                        custody.reseal(item, actor=lab.csi, seal_number="S-0001")), "already used"),
    ("seal a sealed item", lambda lab, item: custody.seal(item, actor=lab.csi, seal_number="S-7"), "already sealed"),
    ("correct an event that does not exist",
     lambda lab, item: custody.correct(item, actor=lab.csi, wrong_seq=99, correction="x"), "no event #99"),
]


@pytest.mark.parametrize("name, action, message", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_impossible_events_are_refused_with_a_clear_message(lab, pistol, db_session, name, action, message):
    db_session.commit()
    before = None
    with pytest.raises(CustodyError, match=message):
        before = _history(pistol.id)
        action(lab, pistol)
    # The refusal is the last step: what came before it may be recorded, the refused event is not.
    db_session.rollback()
    assert len(_history(pistol.id)) <= len(before or []) + 2
    assert verify_chains(db_session.connection()).ok


WRONG_PASSWORDS = [
    ("accept with a wrong password",
     lambda lab, item: (custody.offer_transfer(item, actor=lab.csi, receiver=lab.custodian),
                        custody.accept_transfer(item, username="keeper", password="wrong-password-123"))),
    ("destroy with a wrong witness password",
     lambda lab, item: custody.destroy(item, actor=lab.csi, witness_username="keeper", witness_password="nope-nope-1",
                                       method="burnt")),
]


@pytest.mark.parametrize("name, action", WRONG_PASSWORDS, ids=[r[0] for r in WRONG_PASSWORDS])
def test_a_wrong_party_password_is_refused_and_nothing_recorded(lab, pistol, db_session, name, action):
    from qms.errors import AuthenticationFailed

    db_session.commit()
    before = _history(pistol.id)
    with pytest.raises(AuthenticationFailed, match="wrong password"):
        action(lab, pistol)
    db_session.rollback()
    assert len(_history(pistol.id)) <= len(before) + 1  # at most the offer that came before
    assert verify_chains(db_session.connection()).ok


def test_a_refused_acceptance_leaves_the_history_as_it_was(lab, pistol, db_session):
    from qms.errors import AuthenticationFailed

    custody.offer_transfer(pistol, actor=lab.csi, receiver=lab.custodian)
    db_session.commit()
    before = _history(pistol.id)
    with pytest.raises(AuthenticationFailed):
        custody.accept_transfer(pistol, username="keeper", password="not-my-password")
    db_session.commit()  # the failed attempt is kept for the throttle; no event was added
    assert _history(pistol.id) == before
    item = db_session.get(Item, pistol.id)
    assert item.holder_id == lab.csi.id and item.state == ItemState.IN_TRANSIT


def test_repeated_wrong_passwords_are_throttled(lab, pistol, db_session, app):
    from qms.errors import AuthenticationFailed, Throttled

    app.config["THROTTLE_BASE_DELAY_SECONDS"] = 60  # the delay does not run out during the test
    custody.offer_transfer(pistol, actor=lab.csi, receiver=lab.custodian)
    db_session.commit()
    for _ in range(app.config["THROTTLE_FREE_FAILURES"]):
        with pytest.raises(AuthenticationFailed):
            custody.accept_transfer(pistol, username="keeper", password="guess-guess-guess")
        db_session.commit()
    with pytest.raises(Throttled):
        custody.accept_transfer(pistol, username="keeper", password=PASSWORD)


def test_duplicate_case_and_exhibit_numbers_are_refused(lab, pistol):
    from datetime import date

    with pytest.raises(CustodyError, match="already exists"):
        custody.register_case(unit_id=lab.unit.id, actor=lab.csi, case_number="2026/001", offence_type="x",
                              opened_on=date(2026, 1, 1))
    with pytest.raises(CustodyError, match="already used"):
        custody.register_item(lab.case, actor=lab.csi, exhibit_number="1", item_type="bullet", description="x")
    with pytest.raises(CustodyError, match="Only a CSI officer or an examiner"):
        custody.register_item(lab.case, actor=lab.qm, exhibit_number="2", item_type="bullet", description="x")


def test_storage_locations_nest_in_order(lab):
    with pytest.raises(CustodyError, match="cannot be inside"):
        custody.add_location(unit_id=lab.unit.id, kind="room", name="R", parent=lab.shelf)
    box = custody.add_location(unit_id=lab.unit.id, kind="box", name="Box 7", parent=lab.shelf)
    assert box.path == "HQ › Evidence room › Shelf A › Box 7"


# --- concurrency backstop (both databases) ---------------------------------------------------------------

def test_a_writer_that_missed_the_lock_gets_a_conflict_not_a_fork(lab, pistol, db_session, monkeypatch):
    """UNIQUE(item_id, seq) is the backstop when no row lock serialised the writers (SQLite)."""
    db_session.commit()
    stale = db_session.get(Item, pistol.id)
    with db.engine.begin() as other:  # someone else appends event #3 meanwhile
        row = other.execute(sa.select(CustodyEvent.__table__).where(CustodyEvent.item_id == pistol.id,
                                                                     CustodyEvent.seq == 2)).mappings().one()
        copy = {k: v for k, v in row.items() if k != "id"}
        other.execute(sa.insert(CustodyEvent.__table__).values({**copy, "seq": 3, "notes": "racer"}))
    monkeypatch.setattr(custody, "_lock", lambda item: item)  # as if the lock did not exist
    with pytest.raises(custody.CustodyConflict, match="same moment"):
        custody.examine(stale, actor=lab.csi, notes="me too")
    db_session.rollback()


# --- Merkle tree: RFC 9162 / RFC 6962 known answers and the reference definition ---------------------

# The leaves and roots of the Certificate Transparency reference tests (merkle_tree_test vectors).
CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"]
CT_ROOTS = ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
            "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
            "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
            "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
            "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"]


def test_merkle_root_matches_the_known_answers():
    assert merkle_root([]).hex() == hashlib.sha256(b"").hexdigest()
    leaves = [bytes.fromhex(leaf) for leaf in CT_LEAVES]
    for size, root in enumerate(CT_ROOTS, start=1):
        assert merkle_root(leaves[:size]).hex() == root, size


def _reference_root(leaves: list[bytes]) -> bytes:
    """RFC 9162 2.1.1 literally: split at the largest power of two smaller than n."""
    if len(leaves) == 1:
        return leaf_hash(leaves[0])
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return node_hash(_reference_root(leaves[:k]), _reference_root(leaves[k:]))


def test_merkle_root_agrees_with_the_reference_definition_for_every_size_up_to_300():
    leaves = [i.to_bytes(2, "big") for i in range(300)]
    for size in range(1, 301):
        assert merkle_root(leaves[:size]) == _reference_root(leaves[:size]), size


def test_one_flipped_bit_changes_the_root():
    leaves = [bytes([i]) * 3 for i in range(9)]
    root = merkle_root(leaves)
    for i in range(9):
        flipped = list(leaves)
        flipped[i] = bytes([leaves[i][0] ^ 1]) + leaves[i][1:]
        assert merkle_root(flipped) != root


def test_verification_of_an_intact_database_with_checkpoints_is_clean(lab, pistol, db_session):
    from qms.evidence.checkpoints import write_checkpoint

    write_checkpoint(db_session, reason="t1")
    custody.examine(pistol, actor=lab.csi, notes="after the checkpoint")
    write_checkpoint(db_session, reason="t2")
    db_session.commit()
    report = verify_all(db_session.connection())
    assert report.ok and report.checkpoints_checked == 2, report.lines()
