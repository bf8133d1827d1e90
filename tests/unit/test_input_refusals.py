"""Bad input the command fuzzer (tests/properties/test_command_fuzz.py) found escaping as a
Python error: each is now a ValidationError naming the parameter, and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from contract_fixtures import cash_world
from leadtocash import LeadToCash
from leadtocash.contracts import InvoicePolicy, LineInput, MilestoneSpec, ProductId
from leadtocash.contracts.reminders import ReminderPolicy
from leadtocash.durations import Duration
from leadtocash.errors import ValidationError
from leadtocash.model import PoolId
from leadtocash.pool.leads import LeadPoolRules
from leadtocash.pool.rules import PoolRules
from leadtocash.validators import MAX_DAYS
from pool_fixtures import ADMIN, SYSTEM, World, make_world, rep_principal

SWEEPS: dict[str, Callable[[LeadToCash, int], Any]] = {
    "billing.due_reminders": lambda crm, n: crm.billing.due_reminders(SYSTEM, batch=n),
    "lead_pools.sweep": lambda crm, n: crm.lead_pools.sweep(SYSTEM, batch=n),
    "lead_pools.resume_recomputes": lambda crm, n: crm.lead_pools.resume_recomputes(SYSTEM, page=n),
    "quotes.expire_due": lambda crm, n: crm.quotes.expire_due(SYSTEM, batch=n),
    "reclaim.sweep": lambda crm, n: crm.reclaim.sweep(SYSTEM, batch=n),
    "reclaim.recompute_provisional": lambda crm, n: crm.reclaim.recompute_provisional(
        SYSTEM, batch=n
    ),
    "reclaim.resume_recomputes": lambda crm, n: crm.reclaim.resume_recomputes(SYSTEM, page=n),
    "renewals.sweep": lambda crm, n: crm.renewals.sweep(SYSTEM, batch=n),
    "tickets.sweep_sla": lambda crm, n: crm.tickets.sweep_sla(SYSTEM, batch=n),
    "contacts.remind_due": lambda crm, n: crm.contacts.remind_due(SYSTEM, limit=n),
    "recycle_bin.purge_due": lambda crm, n: crm.recycle_bin.purge_due(SYSTEM, limit=n),
    "classification.distribution": lambda crm, n: crm.classification.distribution(ADMIN, page=n),
}


def _refused(call: Callable[[], Any], world: World) -> ValidationError:
    before = (len(world.store.audit_log(limit=100_000)), dict(world.store._rows))
    with pytest.raises(ValidationError) as caught:
        call()
    assert (len(world.store.audit_log(limit=100_000)), dict(world.store._rows)) == before
    return caught.value


@pytest.mark.parametrize("name", sorted(SWEEPS))
@pytest.mark.parametrize("size", [0, -1])
def test_a_sweep_refuses_a_batch_of_no_records(name: str, size: int) -> None:
    world = make_world(customers=2)
    error = _refused(lambda: SWEEPS[name](world.crm, size), world)
    assert [(e.path, e.code) for e in error.errors] in (
        [("batch", "field.out_of_range")],
        [("page", "field.out_of_range")],
        [("limit", "field.out_of_range")],
    )


def test_reclaim_sweep_names_a_bad_chunk_too() -> None:
    world = make_world()
    error = _refused(lambda: world.crm.reclaim.sweep(SYSTEM, chunk=0), world)
    assert error.paths == ("chunk",)


def test_csat_refuses_a_time_without_zone_and_an_unknown_grouping() -> None:
    world = make_world()
    aware = datetime(2026, 3, 1, tzinfo=UTC)
    naive = _refused(lambda: world.crm.tickets.csat(ADMIN, datetime(2026, 1, 1), aware), world)
    assert [(e.path, e.code) for e in naive.errors] == [("since", "time.naive")]
    grouping = _refused(lambda: world.crm.tickets.csat(ADMIN, aware, aware, by="weekly"), world)
    assert [(e.path, e.code) for e in grouping.errors] == [("by", "field.choice")]


def test_a_customer_csv_the_csv_module_cannot_read_is_refused_naming_the_text() -> None:
    world = make_world()
    huge = 'name\n"' + "x" * 200_000 + '"\n'  # a field past the csv module's limit
    error = _refused(lambda: world.crm.collisions.import_customers_csv(ADMIN, huge, pool_id=None),
                     world)  # fmt: skip
    assert [(e.path, e.code) for e in error.errors] == [("text", "import.malformed")]


def test_a_customer_csv_with_carriage_returns_reads_its_rows() -> None:
    world = make_world()
    report = world.crm.collisions.import_customers_csv(
        ADMIN, "name\r\n甲科技有限公司\r乙科技有限公司\r\n", pool_id=world.pool_id
    )
    assert report.count("created") == 2


@pytest.mark.parametrize("encoding", ["\x00", "no-such-codec"])
def test_an_unknown_encoding_is_refused_naming_it(encoding: str) -> None:
    world = make_world()
    error = _refused(
        lambda: world.crm.collisions.plan_import(ADMIN, "name\n甲\n".encode(), encoding=encoding),
        world,
    )
    assert [(e.path, e.code) for e in error.errors] == [("encoding", "import.encoding")]


def test_a_blank_payload_key_is_named_by_a_path_that_shows_it() -> None:
    world = make_world()
    payload = {"channel": "web_form", "company_name": "甲科技", "phone": "13800138000", "": 1}
    error = _refused(lambda: world.crm.leads.capture(ADMIN, payload), world)
    assert [(e.path, e.code) for e in error.errors] == [('[""]', "field.unknown")]


def test_a_quote_valid_for_more_days_than_a_calendar_holds_is_refused() -> None:
    world, customer, _ = cash_world()
    error = _refused(
        lambda: world.crm.quotes.draft(
            rep_principal(1), customer, "CNY", [LineInput(Decimal(1), ProductId("SRV-1"))],
            validity_days=10**12,
        ),
        world,
    )  # fmt: skip
    assert [(e.path, e.code) for e in error.errors] == [("validity_days", "field.out_of_range")]


@pytest.mark.parametrize(
    ("build", "path"),
    [
        (lambda: Duration.days(MAX_DAYS + 1), "amount"),
        (lambda: Duration.working_days(MAX_DAYS + 1), "amount"),
        (lambda: Duration.hours(MAX_DAYS * 24 + 1), "amount"),
        (
            lambda: MilestoneSpec("balance", Decimal(1), days_after_delivery=10**9),
            "days_after_delivery",
        ),
        (lambda: InvoicePolicy(payment_days=MAX_DAYS + 1), "payment_days"),
        (lambda: ReminderPolicy(before_days=10**9), "before_days"),
    ],
)
def test_day_counts_past_a_hundred_years_are_refused(
    build: Callable[[], object], path: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    assert caught.value.paths == (path,)


def test_the_longest_allowed_durations_still_give_a_deadline() -> None:
    assert Duration.working_days(MAX_DAYS).amount == MAX_DAYS
    assert Duration.hours(MAX_DAYS * 24).amount == MAX_DAYS * 24


@pytest.mark.parametrize("name", ["need_confirmed", "decision_maker_identified"])
@pytest.mark.parametrize("value", [None, "yes", 1])
def test_a_demand_flag_that_is_not_true_or_false_is_refused_naming_it(
    name: str, value: object
) -> None:
    world = make_world(customers=1)
    signals: dict[str, Any] = {name: value}
    error = _refused(
        lambda: world.crm.classification.update_signals(ADMIN, world.customers[0], **signals),
        world,
    )
    assert [(e.path, e.code) for e in error.errors] == [(f"signals.{name}", "field.type")]


def test_pool_rules_that_release_to_no_pool_are_refused() -> None:
    """Found by the customer lifecycle machine: rules releasing to a pool that does not
    exist were stored, and the reclaim sweep then failed on every due customer (a manual
    release put the customer in a pool nobody can list)."""
    world = make_world(customers=1)
    crm, nowhere = world.crm, PoolId("nowhere")
    calls: list[Callable[[], Any]] = [
        lambda: crm.pools.create_pool(ADMIN, "West", rules=PoolRules(release_to=nowhere)),
        lambda: crm.reclaim.update_rules(
            ADMIN, world.pool_id, PoolRules(release_to=nowhere), "reorganised"
        ),
        lambda: crm.lead_pools.create_pool(
            ADMIN, "Leads", rules=LeadPoolRules(release_to=world.pool_id)
        ),  # a customer pool is no lead pool
    ]
    for call in calls:
        error = _refused(call, world)
        assert [(e.path, e.code) for e in error.errors] == [
            ("rules.release_to", "pool.unknown_release_target")
        ]
    west = crm.pools.create_pool(ADMIN, "West", rules=PoolRules(release_to=world.pool_id))
    assert west.rules.release_to == world.pool_id


def test_opportunities_refuse_an_index_deals_are_not_listed_by() -> None:
    world = make_world(customers=1)
    refused = _refused(lambda: world.crm.pipeline.opportunities(ADMIN, "deleted", "x"), world)
    assert [(e.path, e.code) for e in refused.errors] == [("index", "field.choice")]
    for index in ("owner", "customer", "stage", "close_month", "open_close_date"):
        assert world.crm.pipeline.opportunities(ADMIN, index, "nobody") == []
