"""Acceptance 3: on PostgreSQL, 50 threads hand over the same item at the same moment, 20 rounds.

Exactly one hand-over per round succeeds (SELECT ... FOR UPDATE serialises them; the others then
see they no longer hold the item); sequence numbers stay gap-free and every chain verifies.
"""
from __future__ import annotations

import threading
from collections import Counter

import pytest
import sqlalchemy as sa

from qms import create_app
from qms.auth.models import Role, User
from qms.evidence import custody
from qms.evidence.chain import verify_chains
from qms.evidence.models import CustodyEvent, Item
from qms.extensions import db
from tests.conftest import PASSWORD, PG_URL

THREADS, ROUNDS = 50, 20


@pytest.fixture()
def racing_app(app_config):  # type: ignore[no-untyped-def]
    if not PG_URL:
        print("SKIPPED: the concurrency acceptance test needs PostgreSQL (set QMS_TEST_DATABASE_URL)")
        pytest.skip("needs PostgreSQL: set QMS_TEST_DATABASE_URL")
    return create_app({**app_config, "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": THREADS + 5, "max_overflow": 0}})


def _hand_over(app, item_id: int, sender_id: int, receiver: str, barrier: threading.Barrier,  # type: ignore[no-untyped-def]
               outcomes: list[str]) -> None:
    with app.app_context():
        try:
            item = db.session.get(Item, item_id)
            sender = db.session.get(User, sender_id)
            db.session.commit()  # hold no snapshot while waiting at the barrier
            barrier.wait()
            custody.transfer_custody(item, actor=sender, receiver_username=receiver, receiver_password=PASSWORD)
            db.session.commit()
            outcomes.append("ok")
        except custody.CustodyError as error:
            db.session.rollback()
            outcomes.append(f"refused: {error}")
        except sa.exc.DBAPIError as error:  # would be answered 409 by the web layer
            db.session.rollback()
            outcomes.append(f"conflict: {error.__class__.__name__}")
        finally:
            db.session.remove()


def test_fifty_simultaneous_handovers_exactly_one_wins_each_round(lab, pistol, db_session, make_user, racing_app):
    people = [make_user(lab.unit, Role.CSI_OFFICER, username=f"racer{i:02d}") for i in range(THREADS + 1)]
    db_session.commit()
    item_id, holder = pistol.id, lab.csi
    usernames = {p.id: p.username for p in people}
    for round_no in range(ROUNDS):
        receivers = [p for p in people if p.id != holder.id][:THREADS]
        barrier, outcomes = threading.Barrier(THREADS), []
        threads = [threading.Thread(target=_hand_over, args=(racing_app, item_id, holder.id, usernames[r.id],
                                                             barrier, outcomes)) for r in receivers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        tally = Counter(o.split(":")[0] for o in outcomes)
        assert tally["ok"] == 1, f"round {round_no}: {tally}, e.g. {outcomes[:3]}"
        assert len(outcomes) == THREADS
        refusals = [o for o in outcomes if o != "ok"]
        assert all("you do not hold" in o or "already offered" in o for o in refusals), refusals[:3]
        db_session.expire_all()
        holder = db_session.get(User, db_session.get(Item, item_id).holder_id)
    seqs = list(db_session.scalars(sa.select(CustodyEvent.seq).where(CustodyEvent.item_id == item_id)
                                   .order_by(CustodyEvent.seq)))
    assert seqs == list(range(1, len(seqs) + 1)) and len(seqs) == 2 + 2 * ROUNDS  # collected, sealed + 2 per round
    assert verify_chains(db_session.connection()).ok
