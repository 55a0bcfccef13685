"""Imaging is a custody step: only the person who holds an item images it, and the chain records it."""
from __future__ import annotations

import io

import pytest
import sqlalchemy as sa

from qms.auth import services as auth_services
from qms.auth.models import Role
from qms.comparisons import services
from qms.comparisons.models import BallisticEntry
from qms.errors import StateConflict
from qms.evidence import custody
from qms.evidence.chain import verify_chains
from qms.evidence.checkpoints import verify_all
from qms.evidence.models import CustodyEvent, Item
from qms.evidence.state import cached, fold_events
from qms.extensions import db
from tests.conftest import PASSWORD


def _events(item_id: int) -> list[CustodyEvent]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(CustodyEvent).where(CustodyEvent.item_id == item_id)
                                   .order_by(CustodyEvent.seq)))


def _entries() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(BallisticEntry))


def _hand_over(scene_bench, casing: int) -> Item:  # type: ignore[no-untyped-def]
    item = scene_bench.casings[casing]
    custody.transfer_custody(item, actor=scene_bench.csi, receiver_username=scene_bench.examiner.username,
                             receiver_password=PASSWORD)
    db.session.commit()
    return item


def test_imaging_an_item_someone_else_holds_is_refused_naming_the_holder(scene_bench, scans):
    casing = scene_bench.casings[0]  # registered, and so held, by the CSI officer
    before = len(_events(casing.id))
    with pytest.raises(StateConflict, match=r"held by csi1 \(Test User\)"):
        services.add_entry(casing, actor=scene_bench.examiner, data=scans["F0000-S00"], filename="a.x3p",
                           device_id=scene_bench.device.id)
    db.session.rollback()
    assert _entries() == 0 and len(_events(casing.id)) == before


def test_an_accepted_upload_adds_an_imaged_event_and_the_chain_verifies(scene_bench, scans):
    casing = _hand_over(scene_bench, 0)
    entry = services.add_entry(casing, actor=scene_bench.examiner, data=scans["F0000-S00"], filename="a.x3p",
                               device_id=scene_bench.device.id, search=False)
    db.session.commit()
    events = _events(casing.id)
    imaged = events[-1]
    assert imaged.kind == "imaged" and imaged.actor_id == scene_bench.examiner.id
    assert imaged.details["device"] == "SCAN-01 NanoFocus muSurf"  # the register's label
    assert imaged.details["equipment_id"] == scene_bench.device.id
    assert imaged.details["ballistic_entry_id"] == entry.id
    assert imaged.details["original_sha256"] == entry.original_sha256
    assert imaged.occurred_at == entry.acquired_at
    item = db.session.get(Item, casing.id)
    assert item.holder_id == scene_bench.examiner.id  # imaging moves nothing
    assert fold_events(events) == cached(item)
    assert verify_chains(db.session.connection()).ok
    assert verify_all(db.session.connection()).ok


def test_a_test_fire_the_examiner_made_may_be_imaged_after_it_was_stored(scene_bench, scans, db_session):
    firearm = custody.register_item(scene_bench.cases[0], actor=scene_bench.examiner, exhibit_number="9",
                                    item_type="firearm",
                                    description="Pistol")
    test_fire = custody.sample(firearm, actor=scene_bench.examiner, exhibit_number="9-TF1", item_type="cartridge_case",
                               description="Test fire")
    building = custody.add_location(unit_id=scene_bench.unit.id, kind="building", name="HQ")
    custody.store(test_fire, actor=scene_bench.examiner, location=building)
    db_session.commit()
    services.add_entry(test_fire, actor=scene_bench.examiner, data=scans["F0000-S01"], filename="tf.x3p",
                       device_id=scene_bench.device.id,
                       search=False)
    db_session.commit()
    assert _events(test_fire.id)[-1].kind == "imaged"
    with pytest.raises(StateConflict, match="in storage"):  # the scene casing someone stored is not theirs
        custody.store(scene_bench.casings[1], actor=scene_bench.csi, location=building)
        db_session.commit()
        services.add_entry(scene_bench.casings[1], device_id=scene_bench.device.id, actor=scene_bench.examiner, data=scans["F0001-S00"],
                           filename="b.x3p")


def test_the_upload_form_lists_only_the_items_the_uploader_holds(scene_bench, login_as):
    _hand_over(scene_bench, 2)
    page = login_as(scene_bench.examiner).get("/comparisons/entries/new").get_data(as_text=True)
    items = page.split('name="item_id"')[1].split("</select>")[0]
    assert f'value="{scene_bench.casings[2].id}"' in items
    assert f'value="{scene_bench.casings[0].id}"' not in items and f'value="{scene_bench.casings[1].id}"' not in items


def test_the_api_refuses_an_upload_for_an_item_held_by_someone_else(client, scene_bench, scans, db_session):
    _, clear = auth_services.issue_token(scene_bench.examiner, unit_id=scene_bench.unit.id, role=Role.EXAMINER,
                                         name="t")
    db_session.commit()
    response = client.post("/api/v1/comparisons/entries", headers={"Authorization": f"Bearer {clear}"}, data={
        "item_id": str(scene_bench.casings[1].id), "device_id": str(scene_bench.device.id),
        "scan": (io.BytesIO(scans["F0001-S00"]), "b.x3p")},
        content_type="multipart/form-data")
    assert response.status_code == 409, response.json
    assert "csi1 (Test User)" in response.json["message"]
    assert _entries() == 0
