"""Merge planning for duplicate customers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest

from leadtocash.collision import (
    MERGE_CONFLICT_CODE,
    DedupKey,
    KeyKind,
    MergeMove,
    SurvivorRule,
    choose_survivor,
    key_texts,
    plan_merge,
    retarget_contact,
    retarget_follow_up,
)
from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.model import (
    Contact,
    ContactId,
    Customer,
    CustomerId,
    FollowUp,
    FollowUpId,
    PoolId,
    RepId,
    Tier,
    ZoneId,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 3, 1, tzinfo=UTC)
USCC = "91110000600037341L"


def customer(ident: str, **changes: object) -> Customer:
    base: dict[str, object] = {
        "id": CustomerId(ident),
        "name": "华为技术有限公司",
        "created_at": T0,
    }
    base.update(changes)
    return Customer(**base)  # type: ignore[arg-type]


class TestSurvivor:
    def test_owned_beats_unowned_even_if_newer(self) -> None:
        pooled = customer("a", created_at=T0)
        owned = customer("b", created_at=T0 + timedelta(days=5), owner_id=RepId("bob"))
        survivor, loser, rule = choose_survivor(pooled, owned)
        assert (survivor.id, loser.id, rule) == ("b", "a", SurvivorRule.OWNED)
        assert choose_survivor(owned, pooled)[2] is SurvivorRule.OWNED
        assert choose_survivor(owned, pooled)[0].id == "b"

    def test_older_wins_when_ownership_ties(self) -> None:
        old = customer("z", created_at=T0, owner_id=RepId("bob"))
        new = customer("a", created_at=T0 + timedelta(seconds=1), owner_id=RepId("eve"))
        assert choose_survivor(new, old)[:3] == (old, new, SurvivorRule.OLDER)
        assert choose_survivor(old, new)[0] == old

    def test_smaller_id_breaks_a_full_tie(self) -> None:
        a, b = customer("a"), customer("b")
        assert choose_survivor(b, a) == (a, b, SurvivorRule.ID)
        assert choose_survivor(a, b) == (a, b, SurvivorRule.ID)

    def test_explicit_preference_wins(self) -> None:
        pooled = customer("a")
        owned = customer("b", owner_id=RepId("bob"))
        assert choose_survivor(pooled, owned, prefer=CustomerId("a"))[:3] == (
            pooled,
            owned,
            SurvivorRule.PREFERRED,
        )

    def test_preference_must_be_one_of_the_two(self) -> None:
        with pytest.raises(ValidationError):
            choose_survivor(customer("a"), customer("b"), prefer=CustomerId("c"))

    def test_a_customer_cannot_merge_with_itself(self) -> None:
        with pytest.raises(RuleViolation) as info:
            choose_survivor(customer("a"), customer("a"))
        assert info.value.code == MERGE_CONFLICT_CODE


def test_merged_customer_unites_contact_data_and_keeps_survivor_owner() -> None:
    survivor = customer(
        "s",
        owner_id=RepId("bob"),
        phones=("+8613800138000",),
        emails=("a@huawei.com",),
        tags=frozenset({"vip"}),
        tier=Tier.C,
        zone_id=ZoneId("east"),
        last_follow_up_at=T0 + timedelta(days=1),
        version=7,
        created_at=T0 + timedelta(days=3),
    )
    loser = customer(
        "l",
        name="HUAWEI TECHNOLOGIES CO., LTD.",
        owner_id=None,
        pool_id=PoolId("p1"),
        uscc=USCC,
        phones=("138 0013 8000", "010-65529988"),
        emails=("A@Huawei.com", "b@huawei.com"),
        tags=frozenset({"5g"}),
        tier=Tier.B,
        address="深圳市龙岗区",
        locked=True,
        last_follow_up_at=T0 + timedelta(days=9),
        created_at=T0,
    )
    plan = plan_merge(loser, survivor, now=NOW)
    merged = plan.merged
    assert plan.rule is SurvivorRule.OWNED
    assert (plan.survivor_id, plan.loser_id) == ("s", "l")
    assert merged.id == "s"
    assert merged.name == "华为技术有限公司"
    assert merged.owner_id == "bob"
    assert merged.uscc == USCC
    assert merged.phones == ("+8613800138000", "010-65529988")
    assert merged.emails == ("a@huawei.com", "b@huawei.com")
    assert merged.tags == {"vip", "5g"}
    assert merged.tier is Tier.B
    assert merged.zone_id == "east"
    assert merged.address == "深圳市龙岗区"
    assert merged.locked
    assert merged.created_at == T0
    assert merged.last_follow_up_at == T0 + timedelta(days=9)
    assert merged.updated_at == NOW
    assert merged.version == 7
    assert plan.displaced_owner_id is None
    # reversible: both full snapshots are kept untouched
    assert plan.survivor_before == survivor
    assert plan.loser_snapshot == loser
    assert plan.at == NOW
    # keys: the survivor gains the loser's new keys; the loser's keys are released
    assert key_texts(plan.added_keys) == {
        f"uscc:{USCC}",
        "phone:+861065529988",
        "email:b@huawei.com",
    }
    assert DedupKey(KeyKind.NAME, "huaweitechnologies") in plan.released_keys


def test_unowned_survivor_takes_the_loser_pool() -> None:
    a = customer("a")
    b = customer("b", pool_id=PoolId("east-pool"), created_at=T0 + timedelta(days=1))
    plan = plan_merge(a, b, now=NOW)
    assert plan.survivor_id == "a"
    assert plan.merged.pool_id == "east-pool"


def test_different_owners_report_the_displaced_owner() -> None:
    a = customer("a", owner_id=RepId("bob"))
    b = customer("b", owner_id=RepId("eve"), created_at=T0 + timedelta(days=1))
    plan = plan_merge(a, b, now=NOW)
    assert plan.merged.owner_id == "bob"
    assert plan.displaced_owner_id == "eve"


def test_different_usccs_are_not_merged() -> None:
    other = "91440300708461136T"
    with pytest.raises(RuleViolation) as info:
        plan_merge(customer("a", uscc=USCC), customer("b", uscc=other), now=NOW)
    assert info.value.code == MERGE_CONFLICT_CODE
    assert info.value.details["loser_uscc"] == other


def test_moves_are_listed_in_stable_order_and_reversible() -> None:
    a = customer("a")
    b = customer("b", created_at=T0 + timedelta(days=1))
    plan = plan_merge(
        a,
        b,
        now=NOW,
        attached=[("follow_up", "f2"), ("contact", "k1"), ("follow_up", "f1"), ("contact", "k1")],
    )
    assert plan.moves == (
        MergeMove("contact", "k1", CustomerId("b"), CustomerId("a")),
        MergeMove("follow_up", "f1", CustomerId("b"), CustomerId("a")),
        MergeMove("follow_up", "f2", CustomerId("b"), CustomerId("a")),
    )
    assert [(m.from_customer, m.to_customer) for m in plan.reverse_moves()] == [("a", "b")] * 3


def test_retarget_follow_ups_and_contacts() -> None:
    plan = plan_merge(customer("a"), customer("b", created_at=NOW), now=NOW)
    on_loser = FollowUp(FollowUpId("f"), RepId("bob"), at=T0, customer_id=CustomerId("b"))
    elsewhere = attrs.evolve(on_loser, customer_id=CustomerId("x"))
    assert retarget_follow_up(on_loser, plan).customer_id == "a"
    assert retarget_follow_up(elsewhere, plan) is elsewhere
    contact = Contact(ContactId("k"), CustomerId("b"), "张三")
    assert retarget_contact(contact, plan).customer_id == "a"
    other_contact = attrs.evolve(contact, customer_id=CustomerId("x"))
    assert retarget_contact(other_contact, plan) is other_contact


def test_merge_requires_utc_now() -> None:
    with pytest.raises(ValidationError):
        plan_merge(customer("a"), customer("b"), now=datetime(2025, 1, 1))


def test_the_deal_facts_move_with_the_deals() -> None:
    """Found by the customer lifecycle machine: the loser's deals move to the survivor, but
    its ``won`` and open-stage facts stayed behind, so a company with a won deal was not won
    (reclaimable, counted as not won in its owner's book)."""
    later = NOW + timedelta(days=3)
    survivor = customer("a", open_opportunity_stage=1, last_opportunity_at=NOW)
    loser = customer("b", won=True, open_opportunity_stage=3, last_opportunity_at=later)
    merged = plan_merge(survivor, loser, now=NOW, prefer=CustomerId("a")).merged
    assert (merged.won, merged.open_opportunity_stage, merged.last_opportunity_at) == (
        True, 3, later,
    )  # fmt: skip
    none_open = plan_merge(customer("a"), customer("b"), now=NOW).merged
    assert (none_open.won, none_open.open_opportunity_stage) == (False, None)
