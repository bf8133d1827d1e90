"""Hypothesis strategies for the core model, exported for users' own property tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import attrs
from hypothesis import strategies as st
from stdnum.cn import uscc as stdnum_uscc

from leadtocash.access import Principal, Role
from leadtocash.aftersales import ChurnRules, OverdueReceivableRule, Renewal, Ticket
from leadtocash.aftersales.policies import ServicePolicies
from leadtocash.allocation.ledger import FairnessLedger
from leadtocash.allocation.run import allocate
from leadtocash.audit import AuditEntry
from leadtocash.classification import RESCORE_ID, LeadRescore, ScoreRules, TierRules
from leadtocash.collision import DEFAULT_POLICY, CollisionPolicy, Outcome
from leadtocash.contracts import (
    VAT_RATES,
    Allocation,
    AmendmentLine,
    ApprovalPolicy,
    Contract,
    ContractId,
    CreditEntryKind,
    CreditRefund,
    CustomerCredit,
    DeliveryId,
    Invoice,
    InvoiceCeiling,
    InvoiceId,
    InvoiceKind,
    InvoicePolicy,
    LineInput,
    Milestone,
    MilestoneBasis,
    MilestoneSpec,
    Product,
    ProductId,
    Quote,
    QuoteId,
    QuotePolicy,
    Receipt,
    ReceiptId,
    ReceiptReversal,
    RefundId,
    ReversalId,
    accept_delivery,
    accept_quote,
    approve_contract,
    confirm_receipt,
    contract_from_quote,
    deposit_credit,
    draft_invoice,
    draft_quote,
    issue_invoice,
    open_credit,
    record_delivery,
    register_receipt,
    send_quote,
    sign_contract,
    submit_contract,
    submit_quote,
    surplus_to_credit,
    withdraw_credit,
)
from leadtocash.contracts.policies import CashPolicies
from leadtocash.contracts.reminders import (
    DueReminders,
    ReminderKind,
    ReminderPolicy,
    SentReminder,
)
from leadtocash.durations import BusinessHours, Duration, DurationUnit
from leadtocash.model import (
    Channel,
    Contact,
    ContactId,
    Customer,
    CustomerId,
    Deletion,
    FollowUp,
    FollowUpId,
    FollowUpKind,
    Lead,
    LeadId,
    LeadStatus,
    PoolId,
    RepId,
    SalesRep,
    Team,
    TeamId,
    Tier,
    Zone,
    ZoneId,
)
from leadtocash.money import MINOR_UNITS, Money
from leadtocash.pipeline.flows import DEFAULT_FLOW
from leadtocash.pipeline.machine import StageChange
from leadtocash.pipeline.opportunity import Opportunity, OpportunityId
from leadtocash.pool.book import DailyClaims, OwnershipAction, OwnershipChange, RepBook
from leadtocash.pool.browsing import DailyBrowses
from leadtocash.pool.leads import LeadBook, LeadOwnershipChange, LeadPool, LeadPoolRules
from leadtocash.pool.membership import PoolMembers
from leadtocash.pool.reclaim import LeadScheduleRecompute, ScheduleRecompute
from leadtocash.pool.rules import BrowseQuota, Pool, PoolRules, TierDurations
from leadtocash.recycle import RecycleRules
from leadtocash.scoring import MAX_SCORE, ComponentScore, LeadScore, ScoreComponent, ScoredRule
from leadtocash.settings import OrganisationSettings
from leadtocash.signals import DemandSignals, RiskLevel
from leadtocash.testing.aftersales_strategies import renewals, tickets
from leadtocash.testing.allocation_strategies import AllocationScenario, allocation_scenarios

__all__ = [
    "AGGREGATE_STRATEGIES",
    "T_EPOCH",
    "aggregates",
    "amendment_lines",
    "amendment_proposals",
    "audit_entries",
    "browse_quotas",
    "contacts",
    "contracts",
    "credit_refunds",
    "currencies",
    "customer_credits",
    "customers",
    "daily_browses",
    "daily_claims",
    "deletions",
    "delivery_quantities",
    "demand_signals",
    "due_reminders",
    "durations",
    "fairness_ledgers",
    "follow_ups",
    "idents",
    "invoices",
    "lead_books",
    "lead_ownership_changes",
    "lead_payloads",
    "lead_pool_rules",
    "lead_pools",
    "lead_rescores",
    "lead_scores",
    "leads",
    "milestones",
    "money",
    "names",
    "opportunities",
    "organisation_settings",
    "ownership_changes",
    "phones",
    "pool_members",
    "pool_rules",
    "pools",
    "products",
    "quotes",
    "receipt_reversals",
    "receipts",
    "rep_books",
    "reps",
    "schedule_recomputes",
    "signal_changes",
    "teams",
    "uscc_codes",
    "utc_datetimes",
    "zones",
]

#: A fixed instant for tests that need "some" valid UTC time.
T_EPOCH = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)

_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"

idents = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
names = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")
currencies = st.sampled_from(sorted(MINOR_UNITS))


def utc_datetimes(
    start: datetime = datetime(2020, 1, 1, tzinfo=UTC),
    end: datetime = datetime(2035, 1, 1, tzinfo=UTC),
) -> st.SearchStrategy[datetime]:
    """Timezone-aware UTC instants (microsecond precision) between ``start`` and ``end``."""
    span = int((end - start).total_seconds() * 1_000_000)
    return st.integers(0, span).map(lambda us: start + timedelta(microseconds=us))


def money(currency: str | None = None, max_units: int = 10**12) -> st.SearchStrategy[Money]:
    """Money amounts (possibly negative) in ``currency`` or any known currency."""
    cur = st.just(currency) if currency else currencies
    return st.builds(Money.from_minor_units, st.integers(-max_units, max_units), cur)


phones = st.builds(
    lambda prefix, rest: f"+86{prefix}{rest:08d}",
    st.sampled_from(["130", "131", "135", "138", "139", "150", "158", "186", "188", "199"]),
    st.integers(0, 10**8 - 1),
)


@st.composite
def uscc_codes(draw: st.DrawFn) -> str:
    """Valid unified social credit codes (GB 32100-2015 check digit computed)."""
    head = draw(st.sampled_from("123456789ANY")) + draw(st.sampled_from("1239"))
    region = draw(st.integers(110000, 659999))
    org = "".join(draw(st.lists(st.sampled_from(_USCC_ALPHABET), min_size=9, max_size=9)))
    body = f"{head}{region:06d}{org}"
    return body + str(stdnum_uscc.calc_check_digit(body))


_emails = st.builds(
    lambda user, host: f"{user}@{host}.com",
    st.text("abcdefghijklmnopqrstuvwxyz0123456789._", min_size=1, max_size=10).filter(
        lambda s: not s.startswith(".")
    ),
    st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=10),
)


def zones() -> st.SearchStrategy[Zone]:
    """Zones with a few real IANA time zones."""
    return st.builds(
        Zone,
        id=idents.map(ZoneId),
        name=names,
        timezone=st.sampled_from(["Asia/Shanghai", "Asia/Hong_Kong", "Europe/Berlin", "UTC"]),
    )


def teams() -> st.SearchStrategy[Team]:
    """Teams, optionally in a zone and with a lead."""
    return st.builds(
        Team,
        id=idents.map(TeamId),
        name=names,
        zone_id=st.none() | idents.map(ZoneId),
        lead_rep_id=st.none() | idents.map(RepId),
    )


def reps() -> st.SearchStrategy[SalesRep]:
    """Sales reps with weights, skills and availability."""
    return st.builds(
        SalesRep,
        id=idents.map(RepId),
        name=names,
        email=st.none() | _emails,
        zone_id=st.none() | idents.map(ZoneId),
        team_id=st.none() | idents.map(TeamId),
        weight=st.integers(0, 100),
        skills=st.frozensets(idents, max_size=3),
        active=st.booleans(),
        on_leave=st.booleans(),
        daily_claim_limit=st.none() | st.integers(0, 50),
        daily_allocation_cap=st.none() | st.integers(0, 50),
    )


def deletions() -> st.SearchStrategy[Deletion]:
    """Recycle-bin deletions: restorable (with or without a purge date), cascaded, purged."""
    return st.builds(
        Deletion,
        at=utc_datetimes(),
        by=idents,
        reason=names,
        purge_due_at=st.none() | utc_datetimes(),
        purged_at=st.none() | utc_datetimes(),
        with_customer=st.none() | idents.map(CustomerId),
    )


def leads() -> st.SearchStrategy[Lead]:
    """Leads in any status."""
    return st.builds(
        Lead,
        id=idents.map(LeadId),
        channel=st.sampled_from(Channel),
        company_name=names,
        created_at=utc_datetimes(),
        contact_name=st.none() | names,
        phone=st.none() | phones,
        email=st.none() | _emails,
        uscc=st.none() | uscc_codes(),
        zone_id=st.none() | idents.map(ZoneId),
        owner_id=st.none() | idents.map(RepId),
        status=st.sampled_from(LeadStatus),
        pool_id=st.none() | idents.map(PoolId),
        product_line=st.none() | names,
        owner_since=st.none() | utc_datetimes(),
        previous_owner_id=st.none() | idents.map(RepId),
        pool_entered_at=st.none() | utc_datetimes(),
        pool_cycles=st.integers(0, 5),
        last_follow_up_at=st.none() | utc_datetimes(),
        status_changed_at=st.none() | utc_datetimes(),
        reclaim_due_at=st.none() | utc_datetimes(),
        reclaim_rule=st.none() | st.sampled_from(["no_follow_up", "no_progress"]),
        warn_at=st.none() | utc_datetimes(),
        warned_due_at=st.none() | utc_datetimes(),
        reclaim_provisional=st.booleans(),
        tier=st.sampled_from(Tier),
        campaign=st.none() | names,
        note=st.none() | names,
        industry=st.none() | names,
        employees=st.none() | st.integers(0, 10**6),
        score=st.none() | lead_scores(),
        updated_at=st.none() | utc_datetimes(),
        deleted=st.none() | deletions(),
        duplicate_of=st.none()
        | st.sampled_from(["customer:", "lead:"]).flatmap(
            lambda kind: idents.map(lambda ident: kind + ident)
        ),
    )


def lead_scores() -> st.SearchStrategy[LeadScore]:
    """Stored lead scores: fired rules, their per-component sums, the clamped total."""

    def build(fired: list[ScoredRule], version: str, at: datetime) -> LeadScore:
        raw = sum(r.points for r in fired)
        components = tuple(
            ComponentScore(c, sum(r.points for r in fired if r.component is c))
            for c in ScoreComponent
        )
        total = max(0, min(MAX_SCORE, raw))
        return LeadScore(total, raw, components, tuple(fired), version, at)

    rule = st.builds(
        ScoredRule,
        rule=idents,
        component=st.sampled_from(ScoreComponent),
        points=st.integers(-100, 100).filter(bool),
        reason=st.just("") | names,
    )
    versions = st.text("0123456789abcdef", min_size=12, max_size=12)
    return st.builds(build, st.lists(rule, max_size=6), versions, utc_datetimes())


def lead_rescores() -> st.SearchStrategy[LeadRescore]:
    """Pending or finished rescores of every lead after the score rules changed."""
    return st.builds(
        LeadRescore,
        id=st.just(RESCORE_ID),
        requested_at=utc_datetimes(),
        reason=names,
        rules_version=st.just(ScoreRules().version),
        after=st.none() | st.tuples(idents, idents),
        done=st.booleans(),
        pages=st.integers(0, 10**6),
        changed=st.integers(0, 10**6),
    )


def demand_signals() -> st.SearchStrategy[DemandSignals]:
    """Demand signals with every fact known or not, risk and invalid markers included."""
    return st.builds(
        DemandSignals,
        need_confirmed=st.booleans(),
        budget=st.none() | money(max_units=10**10).map(lambda m: m if m.amount >= 0 else -m),
        decision_maker_identified=st.booleans(),
        expected_close=st.none() | st.dates(date(2020, 1, 1), date(2035, 1, 1)),
        last_engagement_at=st.none() | utc_datetimes(),
        after_sales_risk=st.sampled_from(RiskLevel),
        invalid_reason=st.none() | names,
        collaborating_zones=st.frozensets(idents, max_size=3),
    )


def customers() -> st.SearchStrategy[Customer]:
    """Customers, owned or in a pool."""
    return st.builds(
        Customer,
        id=idents.map(CustomerId),
        name=names,
        created_at=utc_datetimes(),
        uscc=st.none() | uscc_codes(),
        phones=st.lists(phones, max_size=3).map(tuple),
        emails=st.lists(_emails, max_size=2).map(tuple),
        address=st.none() | names,
        zone_id=st.none() | idents.map(ZoneId),
        pool_id=st.none() | idents.map(PoolId),
        owner_id=st.none() | idents.map(RepId),
        tier=st.sampled_from(Tier),
        tags=st.frozensets(idents, max_size=4),
        locked=st.booleans(),
        last_follow_up_at=st.none() | utc_datetimes(),
        updated_at=st.none() | utc_datetimes(),
        signals=demand_signals(),
        deleted=st.none() | deletions(),
    )


def contacts() -> st.SearchStrategy[Contact]:
    """Contacts of some customer."""
    return st.builds(
        Contact,
        id=idents.map(ContactId),
        customer_id=idents.map(CustomerId),
        name=names,
        title=st.none() | names,
        phone=st.none() | phones,
        email=st.none() | _emails,
        decision_maker=st.booleans(),
    )


def follow_ups() -> st.SearchStrategy[FollowUp]:
    """Follow-ups on either a customer or a lead."""
    target = st.one_of(
        st.builds(lambda c: (CustomerId(c), None), idents),
        st.builds(lambda lead: (None, LeadId(lead)), idents),
    )
    return st.builds(
        lambda fid, rep, at, kind, tgt, note: FollowUp(
            id=fid, rep_id=rep, at=at, kind=kind, customer_id=tgt[0], lead_id=tgt[1], note=note
        ),
        idents.map(FollowUpId),
        idents.map(RepId),
        utc_datetimes(),
        st.sampled_from(FollowUpKind),
        target,
        st.text(max_size=40),
    )


def audit_entries() -> st.SearchStrategy[AuditEntry]:
    """Unsealed audit entries with JSON-ish before/after snapshots."""
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers(-(10**9), 10**9) | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
        ),
        max_leaves=8,
    )
    snapshot = st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=4)
    return st.builds(
        AuditEntry,
        id=idents,
        at=utc_datetimes(),
        actor_id=idents,
        action=st.sampled_from(["lead.capture", "pool.claim", "pool.release"]),
        target_kind=st.sampled_from(["lead", "customer"]),
        target_id=idents,
        before=snapshot,
        after=snapshot,
        reason=st.none() | st.text(max_size=20),
        override=st.booleans(),
    )


def durations() -> st.SearchStrategy[Duration]:
    """Durations of every unit (0 = off)."""
    return st.builds(Duration, st.integers(0, 60), st.sampled_from(DurationUnit))


def pool_rules() -> st.SearchStrategy[PoolRules]:
    """Pool rule sets with every rule randomly on or off."""
    tier_durations = st.builds(
        TierDurations,
        default=st.none() | durations(),
        by_tier=st.dictionaries(st.sampled_from(Tier), durations(), max_size=3),
    )
    return st.builds(
        PoolRules,
        daily_claim_limit=st.none() | st.integers(0, 20),
        tier_claim_limits=st.dictionaries(st.sampled_from(Tier), st.integers(0, 5), max_size=2),
        capacity=st.none() | st.integers(0, 50),
        capacity_excludes_won=st.booleans(),
        capacity_excludes_locked=st.booleans(),
        reclaim_cooldown=st.none() | durations(),
        new_in_pool_cooldown=st.none() | durations(),
        protection_base=st.none() | st.builds(Duration.days, st.integers(0, 30)),
        protection_per_follow_up=st.none() | st.builds(Duration.days, st.integers(0, 5)),
        protection_cap=st.none(),
        no_follow_up=tier_durations,
        no_new_opportunity=tier_durations,
        not_won=tier_durations,
        exempt_locked=st.booleans(),
        exempt_from_stage=st.none() | st.integers(0, 5),
        warn_before=st.none() | durations(),
        release_to=st.none() | idents.map(PoolId),
        browse_quota=browse_quotas(),
    )


def browse_quotas() -> st.SearchStrategy[BrowseQuota]:
    """Pool browsing quotas (per role, zone and team, with a default)."""
    counts = st.integers(0, 50)
    return st.builds(
        BrowseQuota,
        default=counts,
        by_role=st.dictionaries(st.sampled_from(Role), counts, max_size=2),
        by_zone=st.dictionaries(idents.map(ZoneId), counts, max_size=2),
        by_team=st.dictionaries(idents.map(TeamId), counts, max_size=2),
    )


def pool_members() -> st.SearchStrategy[PoolMembers]:
    """Pool memberships: zones, teams, roles and named reps (often empty: everyone)."""
    return st.builds(
        PoolMembers,
        zones=st.frozensets(st.sampled_from([ZoneId("east"), ZoneId("west")]), max_size=2),
        teams=st.frozensets(st.sampled_from([TeamId("t1"), TeamId("t2")]), max_size=2),
        roles=st.frozensets(st.sampled_from(Role), max_size=2),
        reps=st.frozensets(st.sampled_from([RepId("rep1"), RepId("rep2")]), max_size=2),
    )


def pools() -> st.SearchStrategy[Pool]:
    """Pools with random rules."""
    return st.builds(
        Pool,
        id=idents.map(PoolId),
        name=names,
        zone_id=st.none() | idents.map(ZoneId),
        product_line=st.none() | names,
        rules=pool_rules(),
        members=pool_members(),
    )


def daily_browses() -> st.SearchStrategy[DailyBrowses]:
    """Daily browsing counters (the customers one rep opened from one pool on one day)."""
    return st.builds(
        DailyBrowses,
        id=idents,
        pool_id=idents.map(PoolId),
        rep_id=idents.map(RepId),
        day=st.dates(),
        opened=st.lists(idents.map(CustomerId), max_size=5, unique=True).map(tuple),
    )


def lead_pool_rules() -> st.SearchStrategy[LeadPoolRules]:
    """Lead pool rule sets with every rule randomly on or off."""
    return st.builds(
        LeadPoolRules,
        daily_claim_limit=st.none() | st.integers(0, 20),
        capacity=st.none() | st.integers(0, 50),
        reclaim_cooldown=st.none() | durations(),
        new_in_pool_cooldown=st.none() | durations(),
        no_follow_up=st.none() | durations(),
        no_progress=st.none() | durations(),
        warn_before=st.none() | durations(),
        release_to=st.none() | idents.map(PoolId),
    )


def lead_pools() -> st.SearchStrategy[LeadPool]:
    """Lead pools (线索池) with random rules."""
    return st.builds(
        LeadPool,
        id=idents.map(PoolId),
        name=names,
        zone_id=st.none() | idents.map(ZoneId),
        product_line=st.none() | names,
        rules=lead_pool_rules(),
        members=pool_members(),
    )


def lead_books() -> st.SearchStrategy[LeadBook]:
    """Reps' lead-ownership counters."""
    return st.builds(LeadBook, id=idents.map(RepId), gains=st.integers(0, 1000))


def rep_books() -> st.SearchStrategy[RepBook]:
    """Rep book counters."""
    return st.builds(
        RepBook,
        id=idents.map(RepId),
        owned=st.integers(0, 100),
        won=st.integers(0, 100),
        locked=st.integers(0, 100),
        won_and_locked=st.integers(0, 100),
    )


def daily_claims() -> st.SearchStrategy[DailyClaims]:
    """Daily claim counters."""
    return st.builds(
        DailyClaims,
        id=idents,
        pool_id=idents.map(PoolId),
        rep_id=idents.map(RepId),
        day=st.dates(),
        count=st.integers(0, 100),
        by_tier=st.dictionaries(st.sampled_from(Tier), st.integers(0, 20), max_size=3),
    )


def _moves() -> dict[str, st.SearchStrategy[Any]]:
    """The fields an ownership history line of a customer or a lead shares."""
    return {
        "id": idents,
        "action": st.sampled_from(OwnershipAction),
        "at": utc_datetimes(),
        "actor_id": idents,
        "from_rep": st.none() | idents.map(RepId),
        "to_rep": st.none() | idents.map(RepId),
        "from_pool": st.none() | idents.map(PoolId),
        "to_pool": st.none() | idents.map(PoolId),
        "reason": st.none() | names,
        "override": st.booleans(),
    }


def ownership_changes() -> st.SearchStrategy[OwnershipChange]:
    """Ownership history lines of customers."""
    return st.builds(OwnershipChange, customer_id=idents.map(CustomerId), **_moves())


def lead_ownership_changes() -> st.SearchStrategy[LeadOwnershipChange]:
    """Ownership history lines of leads (线索流转记录)."""
    return st.builds(LeadOwnershipChange, lead_id=idents.map(LeadId), **_moves())


def schedule_recomputes(
    kind: type[ScheduleRecompute] = ScheduleRecompute,
) -> st.SearchStrategy[ScheduleRecompute]:
    """Pending or finished recomputations of a pool's reclaim schedules (``kind``: a lead
    pool's with :class:`LeadScheduleRecompute`)."""
    return st.builds(
        kind,
        id=idents.map(PoolId),
        requested_at=utc_datetimes(),
        reason=names,
        after=st.none() | idents,
        done=st.booleans(),
        pages=st.integers(0, 10**6),
        changed=st.integers(0, 10**6),
    )


def organisation_settings() -> st.SearchStrategy[OrganisationSettings]:
    """Stored organisation settings: default or customised tier rules, collision policies."""
    custom = TierRules.from_config({**TierRules().to_config(), "completeness_fields": ["phones"]})
    return st.builds(
        OrganisationSettings,
        tier_rules=st.sampled_from([TierRules(), custom]),
        lead_score=st.sampled_from([ScoreRules(), ScoreRules(rules=ScoreRules().rules[:3])]),
        collision=st.sampled_from([DEFAULT_POLICY, CollisionPolicy(uscc=Outcome.WARN)]),
        recycle=st.builds(RecycleRules, st.none() | st.integers(0, 3650)),
        cash=cash_policies(),
        service=st.sampled_from(
            [
                ServicePolicies(),
                ServicePolicies(business_hours=BusinessHours(time(8, 30), time(17, 30))),
                ServicePolicies(
                    business_hours=BusinessHours(time(9), time(18), (time(12), time(13, 30))),
                    churn=ChurnRules(rules=(OverdueReceivableRule(days=30),)),
                ),
            ]
        ),
        updated_at=st.none() | utc_datetimes(),
    )


def cash_policies() -> st.SearchStrategy[CashPolicies]:
    """Contract-to-cash policies: approval threshold, invoicing and reminder days."""
    return st.builds(
        CashPolicies,
        quotes=st.builds(
            QuotePolicy, discount_threshold=st.integers(0, 100).map(lambda n: Decimal(n) / 100)
        ),
        invoices=st.builds(
            InvoicePolicy, ceiling=st.sampled_from(InvoiceCeiling), payment_days=st.integers(0, 365)
        ),
        reminders=st.builds(
            ReminderPolicy, before_days=st.integers(0, 30), after_days=st.integers(0, 30)
        ),
    )


def opportunities() -> st.SearchStrategy[Opportunity]:
    """Opportunities of the default flow in any stage, with a stage history."""
    stages = [stage.name for stage in DEFAULT_FLOW.stages]
    changes = st.builds(
        StageChange,
        stage_from=st.none() | st.sampled_from(stages),
        stage_to=st.sampled_from(stages),
        trigger=st.sampled_from(["create", "advance", "win", "lose", "reopen"]),
        at=utc_datetimes(),
        actor=idents,
        reason=st.none() | names,
    )
    return st.builds(
        Opportunity,
        id=idents.map(OpportunityId),
        customer_id=idents.map(CustomerId),
        owner_id=idents.map(RepId),
        name=names,
        amount=st.builds(Money.from_minor_units, st.integers(0, 10**12), currencies),
        close_date=st.dates(),
        created_at=utc_datetimes(),
        stage=st.sampled_from(stages),
        history=st.lists(changes, max_size=4).map(tuple),
        lost_reason=st.none() | names,
        contact_id=st.none() | idents.map(ContactId),
        lead_id=st.none() | idents.map(LeadId),
        next_step=st.none() | names,
        custom=st.dictionaries(idents, st.text(max_size=10), max_size=3),
        deleted=st.none() | deletions(),
        closed_at=st.none() | utc_datetimes(),
        updated_at=st.none() | utc_datetimes(),
    )


def fairness_ledgers() -> st.SearchStrategy[FairnessLedger]:
    """Ledgers in the state a run of the fair allocator leaves them."""

    def run(pool: str, scenario: AllocationScenario) -> FairnessLedger:
        ledger = FairnessLedger(PoolId(pool))
        for batch in scenario.batches:
            ledger = allocate(ledger, batch, scenario.reps, seed=scenario.seed).ledger
        return ledger

    return st.builds(run, idents, allocation_scenarios(max_reps=5, max_batches=2))


# -- contract to cash (built through the domain, so every value is one it can produce) -------
_C2C_CURRENCIES = st.sampled_from(["CNY", "USD", "JPY"])
_T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
_APPROVER = Principal("approver", roles=frozenset({Role.ADMIN}))


def _amount(currency: str, low: int = 0, high: int = 10**9) -> st.SearchStrategy[Money]:
    return st.integers(low, high).map(lambda units: Money.from_minor_units(units, currency))


def products() -> st.SearchStrategy[Product]:
    """Products of the price list, active or not."""
    return st.builds(
        lambda code, name, unit, price, rate, active: Product(
            ProductId(code), code, name, unit, price, rate, active
        ),
        idents,
        names,
        names,
        _C2C_CURRENCIES.flatmap(_amount),
        st.sampled_from(VAT_RATES),
        st.booleans(),
    )


@st.composite
def _drafted_quote(draw: st.DrawFn) -> Quote:
    currency = draw(_C2C_CURRENCIES)
    lines = draw(
        st.lists(
            st.builds(
                lambda qty, price, rate, discount, text: LineInput(
                    Decimal(qty),
                    description=text,
                    unit_price=price,
                    tax_rate=rate,
                    discount_rate=Decimal(discount) / 100,
                ),
                st.integers(1, 1000),
                _amount(currency, 1, 10**8),
                st.sampled_from(VAT_RATES),
                st.integers(0, 30),
                names,
            ),
            min_size=1,
            max_size=3,
        )
    )
    return draft_quote(
        QuoteId(draw(idents)), CustomerId(draw(idents)), draw(idents), currency, lines, {}, _T0,
        valid_until=date(2026, 2, 1), owner_id=draw(st.none() | idents.map(RepId)),
        tax_inclusive=draw(st.booleans()), discount_rate=Decimal(draw(st.integers(0, 20))) / 100,
    )  # fmt: skip


def quotes() -> st.SearchStrategy[Quote]:
    """Quotes drafted, submitted, sent or accepted."""
    policy = QuotePolicy(discount_threshold=Decimal(1))

    def moved(quote: Quote, how: int) -> Quote:
        if how == 1:
            return submit_quote(quote, _T0, quote.author_id)
        if how >= 2:
            quote = send_quote(quote, policy, _T0, quote.author_id)
        return accept_quote(quote, _T0, "customer") if how == 3 else quote

    return st.builds(moved, _drafted_quote(), st.integers(0, 3))


@st.composite
def _contract(draw: st.DrawFn) -> Contract:
    accepted = quotes().filter(lambda q: q.status.value == "accepted")
    quote = draw(accepted)
    plan = [
        MilestoneSpec("first", percent=Decimal(30), due_date=date(2026, 2, 1)),
        MilestoneSpec("rest", percent=Decimal(70), due_date=date(2026, 3, 1)),
    ]
    ends_on = draw(st.none() | st.dates(date(2026, 1, 1), date(2030, 12, 31)))
    contract = contract_from_quote(
        quote, ContractId(draw(idents)), _T0, quote.author_id, plan=plan, ends_on=ends_on
    )
    stage = draw(st.integers(0, 4))
    if stage >= 1:
        contract = submit_contract(contract, _T0, contract.author_id)
    if stage >= 2:
        contract = approve_contract(contract, ApprovalPolicy(), _APPROVER, "ok", _T0)
    if stage >= 3:
        contract = sign_contract(contract, _T0, _T0, contract.author_id)
    if stage >= 4:
        line = contract.lines[0]
        contract = record_delivery(
            contract, DeliveryId("d1"), {line.line_no: line.quantity}, date(2026, 1, 6), _T0, "w"
        )
        contract = accept_delivery(contract, DeliveryId("d1"), date(2026, 1, 7), _T0, "c")
    return contract


def contracts() -> st.SearchStrategy[Contract]:
    """Contracts from accepted quotes, drafted through signed and (partly) delivered."""
    return st.builds(_binned_unless_signed, _contract(), st.none() | deletions())


def _binned_unless_signed(contract: Contract, deletion: Deletion | None) -> Contract:
    """Only contracts never signed go to the recycle bin."""
    return contract if contract.signed else attrs.evolve(contract, deleted=deletion)


@st.composite
def _invoice(draw: st.DrawFn) -> Invoice:
    contract = draw(_contract().filter(lambda c: c.status.value == "active"))
    share = draw(st.integers(1, 100))
    total = contract.total
    if total.amount == 0:
        total = Money.from_minor_units(1, total.currency)
    amount = Money.from_minor_units(max(1, total.minor_units * share // 100), total.currency)
    invoice = draft_invoice(
        InvoiceId(draw(idents)), contract, draw(st.sampled_from(InvoiceKind)), amount, _T0, "fin"
    )
    if draw(st.booleans()) and amount <= contract.total:
        invoice, _ = issue_invoice(invoice, contract, InvoicePolicy(), date(2026, 1, 8), _T0, "fin")
    return invoice


def invoices() -> st.SearchStrategy[Invoice]:
    """Blue invoices of active contracts, drafts or issued."""
    return _invoice()


@st.composite
def _receipt(draw: st.DrawFn) -> Receipt:
    currency = draw(_C2C_CURRENCIES)
    customer = CustomerId(draw(idents))
    receipt = register_receipt(
        ReceiptId(draw(idents)), customer, draw(_amount(currency, 1, 10**9)), date(2026, 1, 9),
        draw(idents), draw(names), _T0, "fin",
    )  # fmt: skip
    stage = draw(st.integers(0, 2))
    if stage >= 1:
        receipt = confirm_receipt(receipt, _T0, "fin-lead")
    if stage >= 2:
        receipt, _ = surplus_to_credit(receipt, open_credit(customer, currency), _T0, "fin")
    return receipt


def receipts() -> st.SearchStrategy[Receipt]:
    """Receipts registered, confirmed, or confirmed with their amount moved to credit."""
    return _receipt()


def receipt_reversals() -> st.SearchStrategy[ReceiptReversal]:
    """Reversal documents of receipts (what they undid, why, when, by whom)."""

    def build(ident: str, receipt: str, customer: str, units: list[int], reason: str) -> Any:
        allocations = tuple(
            Allocation(InvoiceId(f"inv{n}"), Money.from_minor_units(u, "CNY"), _T0, "fin")
            for n, u in enumerate(units)
        )
        total = Money.from_minor_units(sum(units) + 1, "CNY")
        return ReceiptReversal(
            ReversalId(ident), ReceiptId(receipt), CustomerId(customer), total, allocations,
            Money.from_minor_units(1, "CNY"), reason, _T0, "fin",
        )  # fmt: skip

    return st.builds(
        build, idents, idents, idents, st.lists(st.integers(1, 10**6), max_size=3), names
    )


def customer_credits() -> st.SearchStrategy[CustomerCredit]:
    """Credit ledgers with deposits and uses, never below zero."""

    def build(customer: str, currency: str, moves: list[tuple[bool, int]]) -> CustomerCredit:
        credit = open_credit(CustomerId(customer), currency)
        for n, (deposit, units) in enumerate(moves):
            amount = Money.from_minor_units(units, currency)
            if deposit:
                credit = deposit_credit(credit, credit.customer_id, amount, f"r{n}", _T0, "fin")
            elif amount <= credit.balance:
                credit = withdraw_credit(
                    credit, credit.customer_id, amount, CreditEntryKind.APPLICATION, f"i{n}",
                    _T0 + timedelta(days=n), "fin",
                )  # fmt: skip
        return credit

    moves = st.lists(st.tuples(st.booleans(), st.integers(1, 10**6)), max_size=4)
    return st.builds(build, idents, _C2C_CURRENCIES, moves)


def credit_refunds() -> st.SearchStrategy[CreditRefund]:
    """Refund documents paying customer credit back (with or without method and reference)."""
    return st.builds(
        CreditRefund,
        id=idents.map(RefundId),
        customer_id=idents.map(CustomerId),
        amount=st.integers(1, 10**8).map(lambda u: Money.from_minor_units(u, "CNY")),
        reason=names,
        at=utc_datetimes(),
        by=names,
        method=st.none() | st.sampled_from(["bank", "alipay", "现金"]),
        reference=st.none() | idents,
    )


def due_reminders() -> st.SearchStrategy[DueReminders]:
    """Payment reminder schedules, pending or done."""
    sent = st.builds(SentReminder, st.sampled_from(ReminderKind), utc_datetimes(), st.booleans())
    return st.builds(
        DueReminders,
        id=idents.map(InvoiceId),
        customer_id=idents.map(CustomerId),
        due_date=st.dates(date(2020, 1, 1), date(2035, 1, 1)),
        next_kind=st.none() | st.sampled_from(ReminderKind),
        next_on=st.none() | st.dates(date(2020, 1, 1), date(2035, 1, 1)),
        done=st.lists(sent, max_size=2).map(tuple),
    )


# -- arguments of commands ------------------------------------------------------------------
def amendment_lines(currency: str = "CNY", lines: int = 3) -> st.SearchStrategy[AmendmentLine]:
    """Lines of a supplementary agreement (补充协议) to a contract of ``lines`` lines: deltas of
    either sign to lines 1..``lines``, or a new line (description, VAT rate, quantity)."""
    change = st.builds(
        AmendmentLine,
        line_no=st.integers(1, max(1, lines)),
        quantity_delta=st.integers(-5, 5).map(Decimal),
        amount_delta=_amount(currency, -(10**6), 10**6),
    )
    new = st.builds(
        AmendmentLine,
        line_no=st.integers(lines + 1, lines + 3),
        quantity_delta=st.integers(1, 10).map(Decimal),
        amount_delta=_amount(currency, 1, 10**6),
        description=names,
        tax_rate=st.sampled_from(VAT_RATES),
        unit=st.none() | names,
    )
    return change | new


def milestones(currency: str = "CNY", *, signed: bool = False) -> st.SearchStrategy[Milestone]:
    """Instalments of a payment plan, due on a date or days after the first or full delivery
    (``signed``: amounts of either sign, as an amendment adjusting a milestone has)."""
    amounts = _amount(currency, -(10**6) if signed else 0, 10**6)
    dated = st.builds(
        Milestone,
        id=idents,
        name=names,
        amount=amounts,
        due_date=st.dates(date(2026, 1, 1), date(2030, 12, 31)),
    )
    on_delivery = st.builds(
        Milestone,
        id=idents,
        name=names,
        amount=amounts,
        basis=st.sampled_from([MilestoneBasis.FIRST_DELIVERY, MilestoneBasis.FULL_DELIVERY]),
        days_after_delivery=st.integers(0, 365),
    )
    return dated | on_delivery


@st.composite
def _proposal(
    draw: st.DrawFn, currency: str, lines: int
) -> tuple[str, tuple[AmendmentLine, ...], tuple[Milestone, ...]]:
    changed = tuple(draw(st.lists(amendment_lines(currency, lines), min_size=1, max_size=3)))
    delta = sum((line.amount_delta for line in changed), Money.zero(currency))
    due = draw(milestones(currency))
    return draw(names), changed, (attrs.evolve(due, amount=delta),)


def amendment_proposals(
    currency: str = "CNY", lines: int = 3
) -> st.SearchStrategy[tuple[str, tuple[AmendmentLine, ...], tuple[Milestone, ...]]]:
    """``(description, lines, milestones)`` for ``propose_amendment``, the milestones adding
    up to the lines' delta exactly (the contract may still refuse them: deliveries, invoices)."""
    return _proposal(currency, lines)


def delivery_quantities(lines: int = 3) -> st.SearchStrategy[dict[int, Decimal]]:
    """Quantities delivered per line number (1..``lines``), for ``record_delivery``."""
    return st.dictionaries(
        st.integers(1, max(1, lines)),
        st.integers(1, 20).map(Decimal) | st.sampled_from([Decimal("0.5"), Decimal("1.25")]),
        min_size=1,
        max_size=max(1, lines),
    )


def signal_changes() -> st.SearchStrategy[dict[str, Any]]:
    """Keyword arguments of ``classification.update_signals``: one or more demand signals,
    each with a valid value (what a rep records after a call)."""
    optional = {name: _signal_value(name) for name in attrs.fields_dict(DemandSignals)}
    return st.fixed_dictionaries({}, optional=optional).filter(bool)


def _signal_value(name: str) -> st.SearchStrategy[Any]:
    """Valid values of demand signal ``name`` (those of :func:`demand_signals`)."""
    return demand_signals().map(lambda signals: getattr(signals, name))


#: One strategy factory per aggregate type (kept complete by a test against the storage specs).
AGGREGATE_STRATEGIES: dict[type[Any], Callable[[], st.SearchStrategy[Any]]] = {
    Lead: leads,
    Customer: customers,
    Contact: contacts,
    SalesRep: reps,
    Team: teams,
    Zone: zones,
    FollowUp: follow_ups,
    Pool: pools,
    RepBook: rep_books,
    DailyClaims: daily_claims,
    LeadPool: lead_pools,
    LeadBook: lead_books,
    DailyBrowses: daily_browses,
    OwnershipChange: ownership_changes,
    Opportunity: opportunities,
    FairnessLedger: fairness_ledgers,
    ScheduleRecompute: schedule_recomputes,
    LeadScheduleRecompute: lambda: schedule_recomputes(LeadScheduleRecompute),
    LeadRescore: lead_rescores,
    OrganisationSettings: organisation_settings,
    LeadOwnershipChange: lead_ownership_changes,
    Product: products,
    Quote: quotes,
    Contract: contracts,
    Invoice: invoices,
    Receipt: receipts,
    ReceiptReversal: receipt_reversals,
    CustomerCredit: customer_credits,
    CreditRefund: credit_refunds,
    DueReminders: due_reminders,
    Ticket: tickets,
    Renewal: renewals,
}


def aggregates() -> st.SearchStrategy[Any]:
    """Any registered aggregate."""
    return st.one_of([make() for make in AGGREGATE_STRATEGIES.values()])


def lead_payloads(channel: Channel | None = None) -> st.SearchStrategy[Mapping[str, object]]:
    """Valid lead capture payloads (as a web form or import row would send them)."""
    base = st.fixed_dictionaries(
        {
            "channel": st.just(channel.value)
            if channel
            else st.sampled_from([c.value for c in Channel]),
            "company_name": names,
            "phone": phones,
        },
        optional={
            "contact_name": names,
            "email": _emails,
            "uscc": uscc_codes(),
            "campaign": names,
        },
    )
    return base
