"""Lead scores through the facade: every lead change rescores the lead in its own commit, a
rule change rescores every lead in resumable pages (audited), lists sort and filter by
score, and ``crm.lead_scores.explain`` says why.
"""

from __future__ import annotations

from datetime import date, timedelta

import attrs
import pytest

from leadtocash import LeadToCash, Money, Principal, RepId, Role, SalesRep
from leadtocash.app import LeadFilter, LeadSort
from leadtocash.classification import (
    RESCORE_ID,
    Condition,
    LeadRescore,
    Operator,
    ScoreRule,
    ScoreRules,
)
from leadtocash.errors import ValidationError
from leadtocash.model import FollowUp, FollowUpId, FollowUpKind, Lead, LeadId
from leadtocash.scoring import ScoreComponent
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
SYSTEM = Principal("system", roles=frozenset({Role.SYSTEM}))
REP = Principal("u1", roles=frozenset({Role.REP}), rep_id=RepId("rep1"))
QUALIFIED = ScoreRules(
    rules=(
        *ScoreRules().rules,
        ScoreRule(
            "qualified", ScoreComponent.ENGAGEMENT, 30, (Condition("qualified", Operator.IS_TRUE),)
        ),
    )
)


class _OtherIds(SequentialIds):
    """Another process's ids (never the first one's)."""

    def new_id(self, kind: str) -> str:
        return "p2-" + super().new_id(kind)


def _crm() -> tuple[LeadToCash, InMemoryStore, FakeClock]:
    store, clock = InMemoryStore(), FakeClock()
    return LeadToCash(store, clock, SequentialIds()), store, clock


def _capture(crm: LeadToCash, n: int, **extra: object) -> Lead:
    payload = {"channel": "import", "company_name": f"星辰科技{n}", "phone": f"1390013900{n}"}
    return crm.leads.capture(ADMIN, {**payload, **extra})


def _stored(crm: LeadToCash, lead_id: str) -> Lead:
    with crm.unit_of_work() as uow:
        return uow.leads.get(lead_id)


def _lead_entries(store: InMemoryStore, lead_id: str) -> list[tuple[str, str | None]]:
    return [
        (e.action, e.reason)
        for e in store.audit_log(limit=10_000)
        if e.target_kind == "lead" and e.target_id == lead_id
    ]


def test_a_captured_lead_is_stored_with_its_score_and_explanation() -> None:
    crm, _, clock = _crm()
    lead = _capture(crm, 1, channel="referral", industry="制造", employees="120")
    assert lead.score is not None
    assert (lead.industry, lead.employees) == ("制造", 120)
    assert lead.score.total == 40  # referral 20, phone 5, mid-size 10, industry 5
    assert [r.rule for r in lead.score.fired] == ["referral", "phone", "mid-size", "industry"]
    assert lead.score.rules_version == ScoreRules().version
    assert lead.score.scored_at == clock.now()
    assert _stored(crm, lead.id) == lead


def test_a_bad_employee_count_is_refused_naming_the_field() -> None:
    crm, store, _ = _crm()
    with pytest.raises(ValidationError) as caught:
        _capture(crm, 1, employees="many")
    assert [(e.path, e.code) for e in caught.value.errors] == [("employees", "field.type")]
    assert store.audit_log(limit=10) == []


def test_an_edit_rescores_the_lead_in_the_same_commit() -> None:
    crm, store, clock = _crm()
    lead = _capture(crm, 1)
    clock.advance(timedelta(hours=1))
    edited = crm.leads.edit(ADMIN, lead.id, email="li@example.com", employees=800)
    assert edited.score is not None and lead.score is not None
    assert edited.score.points(ScoreComponent.COMPLETENESS) == 10
    assert edited.score.points(ScoreComponent.FIT) == 15
    assert edited.score.scored_at == clock.now()
    assert _stored(crm, lead.id).score == edited.score
    assert [a for a, _ in _lead_entries(store, lead.id)] == ["lead.capture", "lead.update"]


def test_a_status_change_and_a_conversion_rescore_the_lead() -> None:
    crm, _, _ = _crm()
    crm.settings.update(ADMIN, "qualification counts", lead_score=QUALIFIED)
    lead = _capture(crm, 1, contact_name="李四")
    crm.pipeline.start_working(ADMIN, lead.id)
    qualified = crm.pipeline.qualify(ADMIN, lead.id)
    assert qualified.score is not None and lead.score is not None
    assert qualified.score.total == lead.score.total + 30
    crm.reps.register(ADMIN, SalesRep(id=RepId("rep1"), name="Rep"))
    result = crm.pipeline.convert(
        REP, lead.id, amount=Money(1000, "CNY"), close_date=date(2026, 3, 31)
    )
    assert result.lead.score is not None
    assert result.lead.score.points(ScoreComponent.ENGAGEMENT) == 30  # converted counts too


def test_a_rule_change_rescores_every_lead_audited_and_records_the_job() -> None:
    crm, store, _ = _crm()
    leads = [_capture(crm, n) for n in range(3)]
    phone_only = ScoreRules(
        rules=(
            ScoreRule(
                "phone",
                ScoreComponent.COMPLETENESS,
                50,
                (Condition("has_phone", Operator.IS_TRUE),),
            ),
        )
    )
    crm.settings.update(ADMIN, "phones matter most", lead_score=phone_only)
    for lead in leads:
        stored = _stored(crm, lead.id)
        assert stored.score is not None
        assert (stored.score.total, stored.score.rules_version) == (50, phone_only.version)
        assert _lead_entries(store, lead.id)[-1] == (
            "settings.manage",
            "lead score rules changed (phones matter most): score recomputed",
        )
    with crm.unit_of_work() as uow:
        job = uow.repository(LeadRescore).get(RESCORE_ID)
    assert (job.done, job.changed, job.rules_version) == (True, 3, phone_only.version)
    # the same rules again change nothing: no new lead entries
    count = len(store.audit_log(limit=10_000))
    crm.settings.update(ADMIN, "again", lead_score=phone_only)
    assert len(store.audit_log(limit=10_000)) == count


def test_a_stopped_rescore_is_finished_by_the_next_run_in_another_process() -> None:
    crm, store, clock = _crm()
    leads = [_capture(crm, n) for n in range(5)]
    with crm.unit_of_work() as uow:  # leads stored before scores existed
        for lead in leads:
            uow.leads.save(attrs.evolve(uow.leads.get(lead.id), score=None))
        uow.commit()
    first = crm.lead_scores.recompute(SYSTEM, reason="first scores", page=2, max_pages=1)
    assert (first.pages, first.changed, first.finished) == (1, 2, False)
    assert sum(_stored(crm, lead.id).score is None for lead in leads) == 3
    other = LeadToCash(store, clock, _OtherIds())  # a second process
    rest = other.lead_scores.recompute(SYSTEM, page=2)
    assert (rest.changed, rest.finished) == (3, True)
    assert all(_stored(crm, lead.id).score is not None for lead in leads)
    assert other.lead_scores.recompute(SYSTEM) == type(rest)(pages=1, changed=0, finished=True)


def test_follow_ups_on_the_lead_count_as_engagement() -> None:
    crm, _, clock = _crm()
    lead = _capture(crm, 1)
    with crm.unit_of_work() as uow:
        for n, kind in enumerate((FollowUpKind.CALL, FollowUpKind.VISIT, FollowUpKind.CALL)):
            uow.follow_ups.add(
                FollowUp(
                    FollowUpId(f"f{n}"), RepId("rep1"), clock.now(), kind, lead_id=LeadId(lead.id)
                )
            )
        uow.commit()
    explained = crm.lead_scores.explain(ADMIN, lead.id)
    assert (explained.facts.follow_ups, explained.facts.meetings) == (3, 1)
    assert explained.score.points(ScoreComponent.ENGAGEMENT) == 25
    assert explained.stale  # stored before the follow-ups were counted
    crm.lead_scores.recompute(SYSTEM, reason="refresh")
    stored = _stored(crm, lead.id).score
    assert stored is not None and stored.points(ScoreComponent.ENGAGEMENT) == 25
    clock.advance(timedelta(days=15))  # recency lapses: the periodic refresh takes it back
    crm.lead_scores.recompute(SYSTEM, reason="refresh")
    stored = _stored(crm, lead.id).score
    assert stored is not None and stored.points(ScoreComponent.ENGAGEMENT) == 20


def test_explain_lists_fired_and_unfired_rules() -> None:
    crm, _, _ = _crm()
    lead = _capture(crm, 1)
    explained = crm.lead_scores.explain(ADMIN, lead.id)
    assert not explained.stale
    text = explained.explain()
    assert "+5 completeness by rule 'phone': phone known" in text
    assert "met (engagement +10, not fired): visits and meetings at least 1 (now: 0)" in text
    assert {r.rule.name for r in explained.rules if r.fired} == {"phone"}


def test_lead_lists_sort_best_score_first_and_filter_by_minimum() -> None:
    crm, _, _ = _crm()
    low = _capture(crm, 1)  # 5
    high = _capture(crm, 2, channel="referral", employees=900)  # 40
    mid = _capture(crm, 3, channel="event")  # 15
    page = crm.leads.list(ADMIN, sort=LeadSort.SCORE)
    assert [lead.id for lead in page.items] == [high.id, mid.id, low.id]
    best = crm.leads.list(ADMIN, LeadFilter(min_score=15), sort=LeadSort.SCORE)
    assert [lead.id for lead in best.items] == [high.id, mid.id]
    assert crm.leads.count(ADMIN, LeadFilter(min_score=16)) == 1
    newest = crm.leads.list(ADMIN, LeadFilter(min_score=15))
    assert [lead.id for lead in newest.items] == [high.id, mid.id]  # created order
    with pytest.raises(ValidationError) as caught:
        crm.leads.list(ADMIN, LeadFilter(min_score=101))
    assert caught.value.errors[0].path == "min_score"


def test_unscored_leads_sort_last() -> None:
    crm, _, _ = _crm()
    old = _capture(crm, 1, channel="referral")
    new = _capture(crm, 2)
    with crm.unit_of_work() as uow:
        uow.leads.save(attrs.evolve(uow.leads.get(old.id), score=None))
        uow.commit()
    page = crm.leads.list(ADMIN, sort=LeadSort.SCORE)
    assert [lead.id for lead in page.items] == [new.id, old.id]
    assert crm.leads.count(ADMIN, LeadFilter(min_score=0)) == 1


def test_erasing_a_person_rescores_the_leads_that_held_their_phone() -> None:
    crm, _, _ = _crm()
    lead = _capture(crm, 1, contact_name="李四")
    assert lead.score is not None and lead.score.points(ScoreComponent.COMPLETENESS) == 10
    customer, _warnings = crm.collisions.create_customer(
        ADMIN, "远航贸易", pool_id=None, phones=["13900139001"]
    )
    crm.customers.erase_person(ADMIN, customer_id=customer.id, reason="PIPL request")
    erased = _stored(crm, lead.id)
    assert (erased.phone, erased.contact_name) == (None, None)
    assert erased.score is not None and erased.score.points(ScoreComponent.COMPLETENESS) == 0


def test_a_follow_up_logged_on_a_pooled_lead_rescores_its_engagement() -> None:
    crm, store, _ = _crm()
    crm.reps.register(ADMIN, SalesRep(id=RepId("rep1"), name="Rep"))
    pool = crm.lead_pools.create_pool(ADMIN, "线索池", product_line="ERP")
    lead = _capture(crm, 1)
    crm.lead_pools.add_lead(ADMIN, lead.id, pool.id)
    claimed = crm.lead_pools.claim(REP, lead.id)
    assert claimed.score == _stored(crm, lead.id).score  # nothing the score reads moved
    crm.lead_pools.log_follow_up(REP, lead.id, kind=FollowUpKind.MEETING)
    after = _stored(crm, lead.id)
    assert after.score is not None
    assert after.score.points(ScoreComponent.ENGAGEMENT) == 20  # a follow-up, a meeting, recent
    assert [a for a, _ in _lead_entries(store, lead.id)][-1] == "customer.follow_up"
