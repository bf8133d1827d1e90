"""Datetimes inside the library are timezone-aware UTC; other values are refused by name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest

from leadtocash import (
    Customer,
    CustomerId,
    FollowUp,
    FollowUpId,
    LeadId,
    RepId,
    SalesRep,
    ValidationError,
)
from leadtocash.validators import replace

WHEN = datetime(2026, 3, 2, 9, 30)


def _customer(created_at: datetime) -> Customer:
    return Customer(id=CustomerId("c1"), name="Acme", created_at=created_at)


@pytest.mark.parametrize(
    "tzinfo", [UTC, timezone(timedelta(0)), timezone(timedelta(0), "Z")], ids=str
)
def test_any_utc_datetime_is_accepted(tzinfo: timezone) -> None:
    assert _customer(WHEN.replace(tzinfo=tzinfo)).created_at == WHEN.replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (WHEN, "time.naive"),
        (WHEN.replace(tzinfo=timezone(timedelta(hours=8))), "time.not_utc"),
        ("2026-03-02T09:30:00+00:00", "time.naive"),
    ],
    ids=["naive", "utc+8", "text"],
)
def test_other_values_are_refused_naming_the_field(value: object, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _customer(value)  # type: ignore[arg-type]
    assert [(e.path, e.code) for e in caught.value.errors] == [("created_at", code)]
    # Optional datetimes are checked the same way, and None is fine.
    assert Customer(id=CustomerId("c2"), name="B", created_at=WHEN.replace(tzinfo=UTC),
                    updated_at=None).updated_at is None  # fmt: skip
    with pytest.raises(ValidationError):
        Customer(id=CustomerId("c3"), name="C", created_at=WHEN.replace(tzinfo=UTC),
                 updated_at=WHEN)  # fmt: skip


def test_blank_names_and_negative_weights_are_refused_by_name() -> None:
    with pytest.raises(ValidationError) as blank:
        SalesRep(id=RepId("r1"), name=" \t")
    assert [(e.path, e.code) for e in blank.value.errors] == [("name", "field.required")]
    with pytest.raises(ValidationError) as negative:
        SalesRep(id=RepId("r1"), name="Li", weight=-1)
    assert [(e.path, e.code) for e in negative.value.errors] == [("weight", "field.negative")]
    assert SalesRep(id=RepId("r1"), name="Li", weight=0).weight == 0  # 0 = gets no share


def test_a_follow_up_targets_exactly_one_customer_or_lead() -> None:
    at = WHEN.replace(tzinfo=UTC)
    for target in ({}, {"customer_id": CustomerId("c1"), "lead_id": LeadId("l1")}):
        with pytest.raises(ValidationError) as caught:
            FollowUp(id=FollowUpId("f1"), rep_id=RepId("r1"), at=at, **target)  # type: ignore[arg-type]
        assert [(e.path, e.code) for e in caught.value.errors] == [
            ("customer_id", "followup.target")
        ]
    on_lead = FollowUp(id=FollowUpId("f1"), rep_id=RepId("r1"), at=at, lead_id=LeadId("l1"))
    assert (on_lead.customer_id, on_lead.lead_id) == (None, "l1")


def test_replace_is_evolve_with_only_the_changed_fields_validated() -> None:
    at = WHEN.replace(tzinfo=UTC)
    customer = Customer(id=CustomerId("c1"), name="A", created_at=at, phones=("+8613800000000",))
    changed = replace(customer, owner_id=RepId("r1"), updated_at=at, name="B")
    assert changed == attrs.evolve(customer, owner_id=RepId("r1"), updated_at=at, name="B")
    assert changed.phones is customer.phones and changed.version == customer.version
    assert hash(changed) == hash(attrs.evolve(changed))
    with pytest.raises(ValidationError) as naive:
        replace(customer, updated_at=WHEN)
    assert [(e.path, e.code) for e in naive.value.errors] == [("updated_at", "time.naive")]
    with pytest.raises(ValidationError):
        replace(customer, name=" ")
    with pytest.raises(TypeError):  # an unknown field: attrs.evolve's own error
        replace(customer, no_such_field=1)
    # A class with an init hook goes through attrs.evolve (its hook runs).
    follow_up = FollowUp(id=FollowUpId("f1"), rep_id=RepId("r1"), at=at, lead_id=LeadId("l1"))
    with pytest.raises(ValidationError):
        replace(follow_up, lead_id=None)
