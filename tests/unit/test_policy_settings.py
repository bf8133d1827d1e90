"""The contract-to-cash and after-sales policies are organisation settings: stored, changed by
an audited command, in force at once for every service, refused when a facade is built with
other ones, and read back by another process with ``reload``."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from contract_fixtures import cash_world
from leadtocash import LeadToCash, PermissionDenied, RuleViolation, ValidationError
from leadtocash.aftersales import SlaPolicies, SlaPolicy
from leadtocash.aftersales.policies import ServicePolicies
from leadtocash.contracts import LineInput, ProductId, QuotePolicy, QuoteStatus
from leadtocash.contracts.policies import CashPolicies
from leadtocash.durations import Duration
from pool_fixtures import ADMIN, rep_principal

REP1 = rep_principal(1)
STRICT = CashPolicies(quotes=QuotePolicy(discount_threshold=Decimal("0.02")))


def _state(crm: LeadToCash) -> Any:
    store = crm.ctx.store
    return (dict(store._rows), len(store.audit_log(limit=10**6)))  # type: ignore[attr-defined]


def _quote(crm: LeadToCash, customer: str, discount: str) -> str:
    line = LineInput(Decimal(1), ProductId("SRV-1"), discount_rate=Decimal(discount))
    quote = crm.quotes.draft(REP1, customer, "CNY", [line], valid_until=date(2026, 3, 31))
    return quote.id


def test_a_stricter_discount_threshold_is_stored_audited_and_in_force_at_once() -> None:
    world, customer, _ = cash_world()
    crm = world.crm
    loose = _quote(crm, customer, "0.05")
    assert crm.quotes.send(REP1, loose).status is QuoteStatus.SENT  # 5% ≤ the default 10%

    stored = crm.settings.update(ADMIN, "discounts over 2% need a manager", cash=STRICT)
    assert (stored.cash, stored.version) == (STRICT, 1)
    assert crm.quotes.policies == STRICT and crm.billing.policies == STRICT
    entry = crm.ctx.store.audit_log(limit=10**6)[-1]
    assert (entry.target_kind, entry.reason) == (
        "organisation_settings", "discounts over 2% need a manager"
    )  # fmt: skip
    assert entry.after is not None and entry.after["cash"]["quotes"]["discount_threshold"] == "0.02"

    strict = _quote(crm, customer, "0.05")
    with pytest.raises(RuleViolation) as caught:
        crm.quotes.send(REP1, strict)
    assert caught.value.code == "quote.approval_required"


def test_only_a_settings_manager_changes_them_and_a_refusal_changes_nothing() -> None:
    world, _, _ = cash_world()
    before = _state(world.crm)
    with pytest.raises(PermissionDenied):
        world.crm.settings.update(REP1, "mine", cash=STRICT)
    assert _state(world.crm) == before
    assert world.crm.quotes.policies == CashPolicies()


def test_another_process_reads_the_stored_policies_and_may_not_contradict_them() -> None:
    world, _, _ = cash_world()
    other = LeadToCash(world.store, world.clock, world.crm.ctx.ids)  # another process, built now
    bh = Duration.business_hours
    sla = SlaPolicies(
        policies=[
            SlaPolicy(p, bh(n), bh(8 * n)) for p, n in (("P1", 1), ("P2", 1), ("P3", 2), ("P4", 4))
        ]
    )
    service = ServicePolicies(sla=sla)
    world.crm.settings.update(ADMIN, "one priority only", cash=STRICT, service=service)
    assert other.tickets.policies == ServicePolicies()  # not reloaded yet
    other.settings.reload(ADMIN)
    assert (other.quotes.policies, other.tickets.policies) == (STRICT, service)

    restarted = LeadToCash(world.store, world.clock, world.crm.ctx.ids)
    assert restarted.contracts.policies == STRICT and restarted.churn.policies == service
    with pytest.raises(ValidationError) as clash:
        LeadToCash(world.store, world.clock, world.crm.ctx.ids, cash=CashPolicies())
    assert clash.value.paths == ("cash",)
    assert clash.value.errors[0].code == "settings.conflict"
    same = LeadToCash(world.store, world.clock, world.crm.ctx.ids, service=service)
    assert same.renewals.policies == service


def test_changing_nothing_writes_nothing() -> None:
    world, _, _ = cash_world()
    world.crm.settings.update(ADMIN, "first", cash=STRICT)
    before = _state(world.crm)
    world.clock.advance(timedelta(minutes=1))
    assert world.crm.settings.update(ADMIN, "again", cash=STRICT).version == 1
    assert _state(world.crm) == before


def test_settings_stored_before_these_policies_existed_read_back_with_the_defaults() -> None:
    world, _, _ = cash_world()
    world.crm.settings.update(ADMIN, "tiers", cash=STRICT)
    store = world.store
    key = ("organisation_settings", "organisation")
    row = store._rows[key]
    document = {k: v for k, v in json.loads(row.text).items() if k not in ("cash", "service")}
    row.text = json.dumps(document)
    restarted = LeadToCash(store, world.clock, world.crm.ctx.ids)
    assert restarted.settings.get(ADMIN).cash == CashPolicies()
    assert restarted.tickets.policies == ServicePolicies()
