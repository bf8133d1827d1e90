"""CSAT reports, churn signals feeding the classification, and idempotent renewals."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import attrs
import pytest

from aftersales_fixtures import CUSTOMER, WEEKDAYS, cst, new_ticket
from contract_fixtures import AUTHOR, MANAGER, REP, accepted_quote
from leadtocash.aftersales import (
    ChurnFacts,
    ChurnRules,
    ChurnSignal,
    CsatGrouping,
    LowSatisfactionRule,
    OverdueReceivable,
    OverdueReceivableRule,
    RenewalPolicy,
    SlaBreachRule,
    SlaTarget,
    Ticket,
    apply_churn,
    assign_ticket,
    churn_facts,
    close_ticket,
    csat_report,
    plan_renewals,
    renewal_candidate,
    renewal_id,
    renewal_opportunity,
    resolve_ticket,
    start_work,
    sweep_sla,
)
from leadtocash.classification import TagRules, TierRules, apply_classification
from leadtocash.contracts import (
    ApprovalPolicy,
    Contract,
    ContractId,
    ContractStatus,
    MilestoneSpec,
    approve_contract,
    contract_from_quote,
    sign_contract,
    submit_contract,
)
from leadtocash.durations import Duration
from leadtocash.errors import ValidationError
from leadtocash.model import Customer, CustomerId, RepId, TeamId, Tier
from leadtocash.money import Money
from leadtocash.pipeline import DEFAULT_FLOW
from leadtocash.signals import DemandSignals, RiskLevel

MON = cst(2026, 3, 2, 10)


def rated(ticket_id: str, score: int, at: datetime, rep: str, team: str) -> Ticket:
    ticket = new_ticket(at, ticket_id=ticket_id)
    ticket = assign_ticket(ticket, at, assignee_id=RepId(rep), team_id=TeamId(team))
    ticket = resolve_ticket(ticket, at, "agent", clock=WEEKDAYS)
    return close_ticket(ticket, at, "agent", clock=WEEKDAYS, score=score)


def test_csat_per_rep_team_and_month() -> None:
    tickets = [
        rated("t1", 5, cst(2026, 3, 2, 10), "rep-a", "team-1"),
        rated("t2", 4, cst(2026, 3, 3, 10), "rep-a", "team-1"),
        rated("t3", 2, cst(2026, 3, 4, 10), "rep-b", "team-1"),
        rated("t4", 1, cst(2026, 4, 1, 0, 30), "rep-b", "team-2"),  # 1 Apr local, 31 Mar UTC
        new_ticket(MON, ticket_id="t5"),  # not rated: ignored
    ]
    since, until = cst(2026, 3, 1), cst(2026, 5, 1)
    by_rep = csat_report(tickets, since=since, until=until)
    assert by_rep.row("rep-a").csat == Decimal("100.0")
    assert by_rep.row("rep-b").csat == Decimal("0.0")
    assert by_rep.total.responses == 4 and by_rep.total.csat == Decimal("50.0")
    assert by_rep.total.average == Decimal("3.00")
    by_team = csat_report(tickets, since=since, until=until, grouping=CsatGrouping.TEAM)
    assert by_team.row("team-1").csat == Decimal("66.7")  # 2 of 3, half-even to 0.1
    by_month = csat_report(tickets, since=since, until=until, grouping=CsatGrouping.MONTH)
    assert [(r.key, r.responses) for r in by_month.rows] == [("2026-03", 3), ("2026-04", 1)]
    march = csat_report(tickets, since=since, until=cst(2026, 4, 1))
    assert march.total.responses == 3 and march.row("nobody").csat is None
    with pytest.raises(ValidationError):
        csat_report(tickets, since=until, until=since)


def breached_ticket(ticket_id: str, opened: datetime) -> Ticket:
    ticket = new_ticket(opened, ticket_id=ticket_id)
    ticket = start_work(ticket, opened + timedelta(days=1), "agent", clock=WEEKDAYS)
    return sweep_sla(ticket, opened + timedelta(days=1), WEEKDAYS).ticket


def customer() -> Customer:
    signals = DemandSignals(
        need_confirmed=True,
        budget=Money(500_000, "CNY"),
        decision_maker_identified=True,
        expected_close=date(2026, 3, 20),
    )
    return Customer(CUSTOMER, "客户甲", created_at=cst(2025, 1, 1), tier=Tier.A, signals=signals)


def test_two_breaches_in_30_days_tag_the_customer_and_lower_its_tier_explained() -> None:
    tickets = [breached_ticket("t1", cst(2026, 2, 24, 10)), breached_ticket("t2", MON)]
    assert all(t.breached == {SlaTarget.FIRST_RESPONSE} for t in tickets)
    rules = ChurnRules()
    facts = churn_facts(CUSTOMER, tickets)
    assessment = rules.assess(facts, cst(2026, 3, 10))
    assert assessment.risk is RiskLevel.MEDIUM and assessment.tags == {"sla-breaches"}
    (finding,) = assessment.findings
    assert finding.signal is ChurnSignal.SLA_BREACHES and finding.code == "churn.sla_breaches"
    assert dict(finding.details) == {"count": "2", "within": "30"}
    before = customer()
    update = apply_churn(before, assessment, rules)
    assert update.after.tags == {"sla-breaches"} and update.risk_changed
    assert update.summary() == (
        "after-sales risk none → medium (sla-breaches: 2 SLA breaches within 30 "
        "calendar_days); tags +sla-breaches"
    )
    # The classification reads after_sales_risk: tier A (hot) needs risk ≤ low.
    was = apply_classification(before, TierRules(), TagRules(), cst(2026, 3, 10))
    now = apply_classification(update.after, TierRules(), TagRules(), cst(2026, 3, 10))
    assert was.after.tier is Tier.A and now.after.tier is Tier.B
    assert "churn-risk" in now.after.tags and "sla-breaches" in now.after.tags
    assert "after-sales risk" in now.classification.explain()
    # By 20 April no breach lies within the last 30 days: the rules clear their tag.
    later = rules.assess(facts, cst(2026, 4, 20))
    cleared = apply_churn(update.after, later, rules)
    assert cleared.after.tags == frozenset() and cleared.tags_removed == {"sla-breaches"}
    assert cleared.after.signals.after_sales_risk is RiskLevel.NONE
    assert apply_churn(cleared.after, later, rules).after is cleared.after  # no change


def test_low_satisfaction_and_overdue_receivables_raise_the_risk() -> None:
    tickets = [rated("t1", 1, MON, "rep-a", "team-1"), rated("t2", 3, MON, "rep-a", "team-1")]
    overdue = [OverdueReceivable("inv-1", date(2026, 1, 1), Money(100, "CNY"))]
    facts = churn_facts(CUSTOMER, tickets, overdue)
    rules = ChurnRules()
    at = cst(2026, 3, 2, 12)  # 60 days after 1 Jan is 2 Mar: not yet past 60
    assessment = rules.assess(facts, at)
    assert assessment.tags == {"low-csat"} and assessment.risk is RiskLevel.MEDIUM
    assessment = rules.assess(facts, cst(2026, 3, 3, 12))
    assert assessment.tags == {"low-csat", "overdue-receivable"}
    assert assessment.risk is RiskLevel.HIGH
    assert "overdue-receivable: 1 receivable(s) overdue more than 60 days" in assessment.explain()
    strict = ChurnRules((LowSatisfactionRule(at_most=1),))
    assert strict.assess(facts, at).findings == ()  # mean 2.0 > 1
    assert ChurnRules().assess(ChurnFacts(CUSTOMER), at).explain() == (
        "after-sales risk none: no churn signal"
    )


def test_invalid_churn_rules_are_refused_naming_the_path() -> None:
    with pytest.raises(ValidationError) as caught:
        ChurnRules(
            (
                SlaBreachRule(min_breaches=0),
                LowSatisfactionRule(tag="sla-breaches", at_most=6),
                OverdueReceivableRule(risk=RiskLevel.NONE),
                SlaBreachRule(tag=" x", within=Duration.days(0)),
            )
        )
    assert set(caught.value.paths) == {
        "rules[0].min_breaches",
        "rules[1].tag",
        "rules[1].at_most",
        "rules[2].risk",
        "rules[3].tag",
        "rules[3].within",
    }
    assert {e.code for e in caught.value.errors} == {"churn.rule_invalid"}
    assessment = ChurnRules().assess(ChurnFacts(CUSTOMER), MON)
    other = attrs.evolve(assessment, customer_id=CustomerId("x"))
    with pytest.raises(ValidationError):
        apply_churn(customer(), other, ChurnRules())


def active_contract() -> Contract:
    now = datetime(2024, 3, 1, 2, tzinfo=UTC)
    plan = [MilestoneSpec("全款", percent=Decimal(100), due_date=date(2024, 3, 15))]
    contract = contract_from_quote(accepted_quote(), ContractId("k-1"), now, AUTHOR, plan=plan)
    contract = submit_contract(contract, now, AUTHOR)
    contract = approve_contract(contract, ApprovalPolicy(), MANAGER, "ok", now)
    return sign_contract(contract, now, now, AUTHOR)


def test_a_contract_nearing_its_end_gets_one_renewal_opportunity() -> None:
    contract = active_contract()
    assert contract.status is ContractStatus.ACTIVE
    candidate = renewal_candidate(contract, date(2025, 3, 31))
    policy = RenewalPolicy(lead_time=Duration.days(60))
    # 60 days before 31 Mar 2025 00:00 Shanghai is 30 Jan 2025 00:00 (16:00 UTC on the 29th).
    early = plan_renewals([candidate], done=set(), now=datetime(2025, 1, 29, 15, tzinfo=UTC))
    assert early.drafts == ()
    now = datetime(2025, 1, 29, 16, tzinfo=UTC)
    plan = plan_renewals([candidate], done=set(), now=now, policy=policy)
    (draft,) = plan.drafts
    assert draft.renewal.id == renewal_id(ContractId("k-1")) == "renewal:k-1"
    assert draft.renewal.owner_id == REP and draft.close_date == date(2025, 3, 31)
    assert draft.amount == contract.total
    opportunity = renewal_opportunity(draft, at=now, actor="system")
    assert opportunity.stage == DEFAULT_FLOW.initial and opportunity.owner_id == REP
    assert opportunity.id == draft.renewal.opportunity_id
    assert opportunity.custom["renewal_of"] == "k-1"
    again = plan_renewals([candidate], done={draft.renewal.contract_id}, now=now)
    assert again.drafts == () and again.skipped == ()  # once: idempotent
    unowned = attrs.evolve(candidate, owner_id=None)
    assert plan_renewals([unowned], done=set(), now=now).skipped == (
        (ContractId("k-1"), "no_owner"),
    )
    ended = attrs.evolve(candidate, status=ContractStatus.TERMINATED)
    assert plan_renewals([ended], done=set(), now=now) == plan_renewals([], done=set(), now=now)
    other = renewal_candidate(contract, date(2025, 3, 31), owner_id=RepId("r2"))
    assert other.owner_id == "r2"
