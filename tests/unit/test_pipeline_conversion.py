"""Lead conversion helpers: the customer and contact a lead becomes, and what dedup reuses.

The application's ``convert`` (tests/unit/test_pipeline_service.py) runs these inside one unit
of work; here each helper's branches are pinned on plain values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from leadtocash import (
    Channel,
    Contact,
    ContactId,
    Customer,
    CustomerId,
    Lead,
    LeadId,
    PoolId,
    RepId,
    RuleViolation,
    Tier,
    ZoneId,
)
from leadtocash.collision import (
    CollisionPolicy,
    ExistingRecord,
    Outcome,
    check_duplicates,
    lead_keys,
)
from leadtocash.pipeline import (
    contact_from_lead,
    customer_from_lead,
    matching_contact,
    reusable_customer,
)

AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
USCC = "91350100M000100Y43"
PHONE, OTHER_PHONE = "+8613900139000", "+8613900139001"
EMAIL, OTHER_EMAIL = "li@xingchen.cn", "wang@xingchen.cn"


def _lead(**kw: Any) -> Lead:
    fields: dict[str, Any] = {
        "id": LeadId("lead1"),
        "channel": Channel.WEB_FORM,
        "company_name": "星辰科技有限公司",
        "created_at": AT,
        "contact_name": "李四",
        "phone": PHONE,
        "email": EMAIL,
    }
    fields.update(kw)
    return Lead(**fields)


def _contact(
    n: int, name: str = "李四", phone: str | None = None, email: str | None = None
) -> Contact:
    return Contact(
        id=ContactId(f"ct{n}"), customer_id=CustomerId("c1"), name=name, phone=phone, email=email
    )


def test_the_new_customer_carries_the_leads_company_data_and_owner() -> None:
    lead = _lead(uscc=USCC, zone_id=ZoneId("east"), tier=Tier.B)
    customer = customer_from_lead(
        lead, customer_id=CustomerId("c1"), owner_id=RepId("rep1"), at=AT, pool_id=PoolId("p1")
    )
    assert (customer.id, customer.name, customer.uscc) == ("c1", "星辰科技有限公司", USCC)
    assert (customer.phones, customer.emails) == ((PHONE,), (EMAIL,))
    assert (customer.zone_id, customer.pool_id, customer.tier) == ("east", "p1", Tier.B)
    assert (customer.owner_id, customer.owner_since) == ("rep1", AT)
    assert (customer.created_at, customer.updated_at) == (AT, AT)


def test_a_lead_without_phone_or_email_gives_a_customer_without_them() -> None:
    customer = customer_from_lead(
        _lead(phone=None, email=None), customer_id=CustomerId("c1"), owner_id=RepId("r"), at=AT
    )
    assert (customer.phones, customer.emails, customer.pool_id) == ((), (), None)


def test_the_contact_is_the_leads_contact_person() -> None:
    contact = contact_from_lead(
        _lead(), contact_id=ContactId("ct1"), customer_id=CustomerId("c1"), title="CTO"
    )
    assert contact is not None
    assert (contact.id, contact.customer_id, contact.name, contact.title) == (
        "ct1", "c1", "李四", "CTO",
    )  # fmt: skip
    assert (contact.phone, contact.email) == (PHONE, EMAIL)


@pytest.mark.parametrize("name", [None, ""])
def test_no_contact_without_a_contact_name(name: str | None) -> None:
    lead = _lead(contact_name=name)
    assert contact_from_lead(lead, contact_id=ContactId("x"), customer_id=CustomerId("c")) is None


def test_a_contact_matches_on_name_and_the_same_phone_or_email() -> None:
    lead = _lead()
    other_name = _contact(1, "王五", PHONE, EMAIL)
    unrelated = _contact(2, "李四", OTHER_PHONE, OTHER_EMAIL)
    by_phone = _contact(3, "李四", PHONE, OTHER_EMAIL)
    by_email = _contact(4, "李四", None, EMAIL)
    exact = _contact(5, "李四", PHONE, EMAIL)
    assert matching_contact([other_name, unrelated], lead) is None
    assert matching_contact([other_name, unrelated, by_phone, exact], lead) == by_phone
    assert matching_contact([unrelated, by_email], lead) == by_email
    assert matching_contact([exact, by_phone], lead) == exact  # first match in the given order
    assert matching_contact([], lead) is None


def test_without_phone_and_email_only_a_contact_without_them_matches() -> None:
    lead = _lead(phone=None, email=None)
    bare = _contact(1, "李四")
    with_phone = _contact(2, "李四", PHONE)
    assert matching_contact([with_phone], lead) is None  # a missing phone matches no phone
    assert matching_contact([with_phone, bare], lead) == bare


def _customer(cid: str, owner: RepId | None, **kw: Any) -> Customer:
    return Customer(
        id=CustomerId(cid), name="星辰科技有限公司", created_at=AT, owner_id=owner, **kw
    )


def _report(lead: Lead, *customers: Customer, policy: CollisionPolicy | None = None) -> Any:
    existing = [ExistingRecord.from_customer(c) for c in customers]
    return check_duplicates(lead_keys(lead), existing, policy or CollisionPolicy())


def test_a_blocking_hit_on_the_callers_own_customer_is_reused() -> None:
    lead = _lead(uscc=USCC)
    mine = _customer("c1", RepId("rep1"), uscc=USCC)
    report = _report(lead, mine)
    assert report.blocked
    assert reusable_customer(report, {"c1": mine}, RepId("rep1")) is mine


def test_a_blocking_hit_on_someone_elses_customer_is_refused_naming_it() -> None:
    lead = _lead(uscc=USCC)
    theirs = _customer("c1", RepId("rep2"), uscc=USCC)
    with pytest.raises(RuleViolation) as caught:
        reusable_customer(_report(lead, theirs), {"c1": theirs}, RepId("rep1"))
    assert caught.value.code == "collision.duplicate"
    assert [hit["record_id"] for hit in caught.value.details["blocking"]] == ["c1", "c1"]
    pooled = _customer("c2", None, uscc=USCC)
    with pytest.raises(RuleViolation):  # a pool's customer is nobody's to reuse
        reusable_customer(_report(lead, pooled), {"c2": pooled}, RepId("rep1"))


def test_no_reuse_without_a_blocking_hit_on_a_found_customer() -> None:
    lead = _lead(uscc=USCC)
    mine = _customer("c1", RepId("rep1"), uscc=USCC)
    warn_only = CollisionPolicy(uscc=Outcome.WARN, name=Outcome.WARN)
    assert (
        reusable_customer(_report(lead, mine, policy=warn_only), {"c1": mine}, RepId("rep1"))
        is None
    )
    # blocking hits on records the caller did not load (e.g. leads) are not reused either
    assert reusable_customer(_report(lead, mine), {}, RepId("rep1")) is None
    assert reusable_customer(_report(lead), {"c1": mine}, RepId("rep1")) is None
