"""Organisation settings are data: stored, audited, used by every path, kept across a restart.

A custom tier table (a recent follow-up alone makes a customer C) and a custom intake rule
(web forms need a phone) are stored through ``crm.settings.update`` on a real SQLite file;
after a restart the facade runs with them without being told: capture, follow-up, claim and
reclaim all follow the custom rules, and a facade built with different rules is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leadtocash import LeadToCash, PoolId, RandomIds, SalesRep, Tier, ValidationError, ZoneId
from leadtocash.classification import TierRules
from leadtocash.durations import Duration
from leadtocash.intake import IntakeRules
from leadtocash.model import Channel, RepId
from leadtocash.pool.rules import PoolRules, TierDurations
from leadtocash.testing import FakeClock
from leadtocash_adapters.sqlite_store import SQLiteStore
from pool_fixtures import ADMIN, SYSTEM, rep_principal

REP1 = rep_principal(1)
START = datetime(2026, 3, 2, 1, tzinfo=UTC)  # a Monday, 09:00 in Shanghai


def _custom_tiers() -> TierRules:
    config = TierRules().to_config()
    engaged = {
        "name": "engaged",
        "tier": "C",
        "when": {"last_engagement_at": {"within_days": 30}, "invalid": "is_false"},
    }
    rules = config["rules"]
    latent = next(i for i, rule in enumerate(rules) if rule["name"] == "latent")
    return TierRules.from_config({**config, "rules": [*rules[:latent], engaged, *rules[latent:]]})


def _phone_required() -> IntakeRules:
    required = dict(IntakeRules().required)
    required[Channel.WEB_FORM] = frozenset({"company_name", "phone"})
    return IntakeRules(required=required)


def _open(path: Path, clock: FakeClock, **rules: object) -> LeadToCash:
    store = SQLiteStore(path, create_schema=True)
    return LeadToCash(store, clock, RandomIds(), **rules)  # type: ignore[arg-type]


def test_custom_rules_are_stored_used_by_every_path_and_survive_a_restart(tmp_path: Path) -> None:
    path, clock = tmp_path / "crm.db", FakeClock(START)
    first = _open(path, clock)
    assert first.settings.get(ADMIN).version == 0  # nothing stored yet: the defaults
    stored = first.settings.update(
        ADMIN, "our tiers and forms", tier_rules=_custom_tiers(), intake=_phone_required()
    )
    assert stored.version == 1 and stored.updated_at == START
    entry = [e for e in first.ctx.store.audit_log() if e.target_kind == "organisation_settings"]
    assert [(e.actor_id, e.reason, e.before) for e in entry] == [
        ("admin", "our tiers and forms", None)
    ]
    first.ctx.store.close()

    clock.advance(timedelta(minutes=1))
    crm = _open(path, clock)  # a restart: no rules passed, the stored ones are in force
    assert crm.settings.get(REP1) == stored
    with pytest.raises(ValidationError) as clash:
        _open(path, clock, tier_rules=TierRules())
    assert clash.value.paths == ("tier_rules",)
    assert clash.value.errors[0].code == "settings.conflict"

    # Capture: the custom intake rule wants a phone on web forms.
    with pytest.raises(ValidationError) as refused:
        crm.leads.capture(
            REP1, {"channel": "web_form", "company_name": "甲公司", "email": "a@b.cn"}
        )
    assert "phone" in refused.value.paths

    # Claim, follow-up and reclaim: a follow-up makes the customer C under the custom table
    # (D under the defaults), so it gets C's 30 days instead of D's 7.
    rules = PoolRules(
        no_follow_up=TierDurations(Duration.days(7), {Tier.C: Duration.days(30)}),
    )
    pool = crm.pools.create_pool(ADMIN, "East", zone_id=ZoneId("east"), rules=rules)
    crm.reps.register(ADMIN, SalesRep(RepId("rep1"), "Rep 1", zone_id=ZoneId("east")))
    customer = crm.pools.add_customer(
        ADMIN, "乙公司", pool_id=PoolId(pool.id), phones=["13800000001"]
    )
    claimed = crm.pools.claim(REP1, customer.id)
    assert claimed.tier is Tier.D and claimed.reclaim_due_at == clock.now() + timedelta(days=7)
    crm.pools.log_follow_up(REP1, customer.id, note="called")
    followed = crm.pools.get_customer(REP1, customer.id)
    assert followed.tier is Tier.C
    assert followed.reclaim_due_at == clock.now() + timedelta(days=30)
    clock.advance(timedelta(days=8))
    assert crm.reclaim.sweep(SYSTEM).reclaimed == ()  # the default rules would reclaim it
    assert crm.pools.get_customer(REP1, customer.id).owner_id == "rep1"

    # A rule change reaches every service of this process at once, and is audited.
    crm.settings.update(ADMIN, "back to the defaults", tier_rules=TierRules())
    crm.classification.reclassify(REP1, customer.id)
    assert crm.pools.get_customer(REP1, customer.id).tier is Tier.D
    crm.ctx.store.close()
