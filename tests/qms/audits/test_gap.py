"""Gap analysis: SOP coverage and scores on a unit whose SOPs and audit results are known by construction."""
from __future__ import annotations

from datetime import date, timedelta

import pytest

import audits
from qms.audits import gap, services
from qms.audits.models import Audit, Result
from qms.auth.models import Role
from qms.db import today
from qms.documents import services as documents
from tests.conftest import PASSWORD
from tests.qms.audits.conftest import item, plan
from tests.qms.conftest import Staff


def sop(staff: Staff, code: str, requirement_ids: list[str], *, effective: bool = True):  # type: ignore[no-untyped-def]
    made = documents.create_sop(unit_id=staff.unit.id, code=code, title=f"Procedure {code}",
                                discipline="quality management", author=staff.qm, owner_id=staff.qm.id,
                                content_markdown=f"# {code}\n", requirement_ids=requirement_ids)
    if effective:
        documents.submit(made.revisions[0], staff.qm)
        documents.approve(made.revisions[0], staff.examiner, password=PASSWORD)
    return made


def audit_with(staff: Staff, clauses: tuple[str, ...], start: date, results: dict[str, str]) -> Audit:
    made = services.create_audit(plan(staff, clauses=clauses, planned_start=start,
                                      planned_end=start + timedelta(days=1)), unit_id=staff.unit.id, actor=staff.qm)
    services.start_audit(made, staff.lead)
    for requirement_id, value in results.items():
        justification = "Not done by this unit." if value == Result.NOT_APPLICABLE.value else ""
        services.record_result(item(made, requirement_id), staff.lead, result=value, justification=justification)
    return made


C, P, NC, NA, NOT = (Result.CONFORMING.value, Result.PARTIALLY_CONFORMING.value, Result.NON_CONFORMING.value,
                     Result.NOT_APPLICABLE.value, Result.NOT_ASSESSED.value)


@pytest.fixture()
def known_unit(staff: Staff, db_session):  # type: ignore[no-untyped-def]
    """SOPs in force for 6.1.1, 6.1.2 and (as a clause group) 7.1; a draft and a retired SOP that must not count.

    An older audit judged 6.1.1 C, 6.1.2 P, 6.1.3 NC, 6.1.4 N/A and 7.1.1 C; a newer one judged
    6.1.1 NC and 6.1.3 C, and left 6.1.2 "not assessed" (so the older P still stands).
    """
    sop(staff, "SOP-A", ["17020:6.1.1", "17020:6.1.2"])
    sop(staff, "SOP-B", ["17020:7.1"])
    sop(staff, "SOP-DRAFT", ["17020:6.1.3"], effective=False)
    retired = sop(staff, "SOP-OLD", ["17020:6.1.5"])
    documents.retire(retired, staff.qm, "Replaced by SOP-A.")
    older = audit_with(staff, ("17020:6.1", "17020:7.1"), today() - timedelta(days=60),
                       {"17020:6.1.1": C, "17020:6.1.2": P, "17020:6.1.3": NC, "17020:6.1.4": NA, "17020:7.1.1": C})
    newer = audit_with(staff, ("17020:6.1",), today(), {"17020:6.1.1": NC, "17020:6.1.3": C, "17020:6.1.2": NOT})
    db_session.commit()
    return older, newer


def section(analysis: gap.GapAnalysis, section_id: str) -> gap.SectionGap:
    return next(s for s in analysis.catalogue("iso17020-2012").sections if s.id == section_id)


def clause(analysis: gap.GapAnalysis, clause_id: str) -> gap.ClauseGap:
    return next(c for s in analysis.catalogue("iso17020-2012").sections for c in s.clauses if c.id == clause_id)


def test_latest_assessed_result_wins_and_not_assessed_keeps_the_older_one(known_unit, staff: Staff) -> None:
    older, newer = known_unit
    analysis = gap.unit_gap_analysis(staff.unit.id)
    assert analysis.requirement("17020:6.1.1").result == NC
    assert analysis.requirement("17020:6.1.1").assessed.audit_id == newer.id
    assert analysis.requirement("17020:6.1.2").result == P
    assert analysis.requirement("17020:6.1.2").assessed.audit_id == older.id
    assert analysis.requirement("17020:6.1.5").result is None
    assert analysis.audits_considered == 2


def test_scores_per_clause_and_section_equal_the_hand_computed_values(known_unit, staff: Staff) -> None:
    analysis = gap.unit_gap_analysis(staff.unit.id)
    # 6.1: 6.1.1 NC = 0, 6.1.2 P = 0.5, 6.1.3 C = 1; 6.1.4 N/A left out.
    assert clause(analysis, "17020:6.1").score == pytest.approx((0 + 0.5 + 1) / 3)
    assert clause(analysis, "17020:7.1").score == pytest.approx(1.0)
    assert clause(analysis, "17020:6.2").score is None  # nothing assessed: no score, not 0
    assert section(analysis, "17020:6").score == pytest.approx(0.5)
    assert section(analysis, "17020:7").score == pytest.approx(1.0)
    assert section(analysis, "17020:4").score is None


def test_sop_coverage_counts_only_sops_in_force_and_clause_groups_cover_their_items(known_unit, staff: Staff) -> None:
    analysis = gap.unit_gap_analysis(staff.unit.id)
    catalogue = audits.load_catalogue("iso17020-2012")
    count = {prefix: len([r for r in catalogue.assessable("A") if r.clause.startswith(prefix)])
             for prefix in ("6.1.", "6.", "7.1.", "7.")}
    assert [ref.code for ref in analysis.requirement("17020:6.1.1").sops] == ["SOP-A"]
    assert analysis.requirement("17020:6.1.3").sops == ()  # a draft is not in force
    assert analysis.requirement("17020:6.1.5").sops == ()  # nor is a retired SOP
    assert [ref.code for ref in analysis.requirement("17020:7.1.9").sops] == ["SOP-B"]
    # 6.1.4 is not applicable: out of the coverage count.
    assert clause(analysis, "17020:6.1").coverage == pytest.approx(2 / (count["6.1."] - 1))
    assert clause(analysis, "17020:7.1").coverage == pytest.approx(1.0)
    assert section(analysis, "17020:6").coverage == pytest.approx(2 / (count["6."] - 1))
    assert section(analysis, "17020:7").coverage == pytest.approx(count["7.1."] / count["7."])


def test_every_applicable_requirement_of_every_catalogue_is_listed_in_catalogue_order(known_unit,
                                                                                     staff: Staff) -> None:
    analysis = gap.unit_gap_analysis(staff.unit.id)
    assert analysis.body_type == "A"
    assert [c.id for c in analysis.catalogues][0] == "iso17020-2012"
    for listed in analysis.catalogues:
        expected = [r.id for r in audits.load_catalogue(listed.id).assessable("A")]
        assert [r.requirement_id for r in listed.all_requirements] == expected
    assert "17020:A.2" not in {r.requirement_id for r in analysis.catalogue("iso17020-2012").all_requirements}


def test_a_unit_never_audited_lists_everything_without_scores(staff: Staff) -> None:
    analysis = gap.unit_gap_analysis(staff.unit.id)
    assert analysis.body_type is None and analysis.audits_considered == 0
    iso = analysis.catalogue("iso17020-2012")
    assert len(iso.all_requirements) == len(audits.load_catalogue("iso17020-2012").assessable())
    assert iso.score is None and iso.coverage == 0.0


def test_gap_page_shows_the_scores_with_bars_that_need_no_inline_style(known_unit, staff: Staff, login_as) -> None:
    page = login_as(staff.qm).get("/audits/gap")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Gap analysis" in html
    assert 'aria-label="Conformity: 50 %"' in html  # section 6
    assert "SOP-A rev. 1" in html
    main = html[html.index("<main"):html.index("</main>")]
    assert "style=" not in main and "<script" not in main  # the CSP allows neither


def _indicator_row(html: str, key: str) -> str:
    start = html.index(f'id="indicator-{key}"')
    return html[start:html.index("</tr>", start)]


def test_indicators_from_people_and_equipment_records_are_counted_on_the_gap_page(staff: Staff, make_user,
                                                                                 login_as, db_session) -> None:
    """Constructed: the CSI officer is trained, the examiner is not; one auditor's imaging authorisation ends in 30
    days; a scanner never calibrated and a microscope that failed its check (opening an impact review) affect
    results, a calibrated camera and an uncalibrated balance that affects nothing do not count."""
    from qms.equipment import services as equipment
    from qms.people import services as people

    people.record_training(staff.unit.id, staff.qm, user_id=staff.csi.id, training=people.TrainingInput(
        course="Scene examination", started_on=today() - timedelta(days=5), completed_on=today() - timedelta(days=4),
        outcome="passed", hours=40))
    soon = make_user(staff.unit, Role.AUDITOR, username="soon", authorised=False)
    soon.full_name = "Ана Истекић"
    people.authorise_by_operator(staff.unit.id, soon, ["imaging"], reason="paper records",
                                 valid_until=today() + timedelta(days=30))

    def instrument(identifier: str, kind: str, *, affects: bool = True) -> object:
        return equipment.add(staff.unit.id, staff.qm, equipment.Details(
            identifier=identifier, kind=kind, affects_results=affects, calibration_interval_months=12))

    instrument("SCAN-NEW", "3d_scanner")
    camera = instrument("CAM-1", "camera")
    instrument("BAL-1", "balance", affects=False)
    microscope = instrument("CM-1", "comparison_microscope")
    for found in (camera, microscope):
        equipment.add_record(found, staff.qm, equipment.RecordInput("calibration", today() - timedelta(days=20),
                                                                    result="pass"))
    equipment.add_record(microscope, staff.qm, equipment.RecordInput("check", today(), result="fail"))
    db_session.commit()

    analysis = gap.unit_gap_analysis(staff.unit.id)
    counts = {indicator.key: indicator.count for indicator in analysis.indicators}
    # every authorised person (qm, lead, auditor2, examiner, csi and the new auditor) has no witnessing yet
    assert counts == {"untrained": 1, "witnessing_due": 6, "expiring": 1, "uncalibrated": 2, "open_reviews": 1}
    names = {indicator.key: indicator.names for indicator in analysis.indicators}
    assert names["untrained"] == (staff.examiner.full_name,) and "Ана Истекић" in names["expiring"][0]
    assert {name.split()[0] for name in names["uncalibrated"]} == {"SCAN-NEW", "CM-1"}

    html = login_as(staff.qm).get("/audits/gap").get_data(as_text=True)
    assert '<td class="num">1</td>' in _indicator_row(html, "untrained")
    assert '<td class="num">2</td>' in _indicator_row(html, "uncalibrated")
    assert "SCAN-NEW" in _indicator_row(html, "uncalibrated") and "BAL-1" not in html
    assert "Ана Истекић" in _indicator_row(html, "expiring")
    assert '<td class="num">1</td>' in _indicator_row(html, "open_reviews")
    assert 'href="#indicator-uncalibrated"' in html  # beside requirement 6.2.6
