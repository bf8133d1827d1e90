"""Every public facade command, called with arbitrary well-typed input, either succeeds or
refuses with a LeadToCashError — and a refusal has its own code, names its bad fields and
changes nothing (the session-wide guard in ``tests/refusal_guard.py`` checks each call).

On the in-memory store, SQLite and PostgreSQL (a private schema; skipped without a server
outside CI), each command gets a small organisation (customers, a signed contract and its
invoice, a lead pool with a lead, a contact, a ticket, a deal, a customer merged into
another, whose ticket moved with it) and
hypothesis draws its arguments from its signature: blank, huge and odd texts, the ids of
records of every kind (and ids of none), negative and huge numbers, NaN, naive and far-off
times, unknown enum values for parameters that take text; pool rules, members, reps and
durations, amendment lines, milestones, delivered quantities and demand signals come from
``leadtocash.testing.strategies`` (valid values, mixed with odd ones), and import plans from
``plan_import`` on a few files (plus hand-made ones, as a caller holding a plan between the
dry run and the commit might pass). The world is shared by a command's examples, so later
examples meet what earlier ones changed. Arguments of other richer types (filters) keep their
defaults; a command that requires one is skipped (the skip says so).
"""

from __future__ import annotations

import enum
import inspect
import io
import types
import typing
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contract_fixtures import cash_world, signed_contract
from leadtocash import LeadToCash, Money
from leadtocash.access import Principal, Role
from leadtocash.app.aggregates import SPECS
from leadtocash.app.imports import ImportPlan
from leadtocash.contracts import AmendmentLine, InvoiceKind, LineInput, Milestone
from leadtocash.durations import Duration
from leadtocash.errors import LeadToCashError
from leadtocash.model import Contact, ContactId, CustomerId, PoolId, SalesRep
from leadtocash.pool.leads import LeadPoolRules
from leadtocash.pool.membership import PoolMembers
from leadtocash.pool.rules import PoolRules
from leadtocash.ports import Store
from leadtocash.signals import DemandSignals, RiskLevel
from leadtocash.testing import InMemoryStore, strategies
from pool_fixtures import ADMIN, World, add_lead, rep_principal

TEXTS = ("", "   ", "x" * 2_500, "客户\u3000名称", "\x00", "'; drop table records; --", "Ω" * 300)
NUMBERS = (-1, 0, 1, 2, 7, 10**12)
DECIMALS = (Decimal("NaN"), Decimal("-1"), Decimal(0), Decimal("0.005"), Decimal("1e30"))
MONEY = (Money("0", "CNY"), Money("0.01", "CNY"), Money("100", "USD"), Money("1e12", "CNY"))
LINE_PRODUCTS = ("SRV-1", "nope", "")
#: Types of richer arguments drawn with ``leadtocash.testing.strategies`` (valid values).
RICHER: dict[Any, Callable[[], st.SearchStrategy[Any]]] = {
    PoolRules: strategies.pool_rules,
    LeadPoolRules: strategies.lead_pool_rules,
    PoolMembers: strategies.pool_members,
    SalesRep: strategies.reps,
    Duration: strategies.durations,
    DemandSignals: strategies.demand_signals,
    AmendmentLine: strategies.amendment_lines,
    Milestone: lambda: strategies.milestones(signed=True),
}
#: Odd values of any type, for arguments typed ``Any`` (demand signals given by keyword).
ANYTHING = (
    st.none() | st.booleans() | st.sampled_from(TEXTS) | st.sampled_from(NUMBERS)
    | st.sampled_from(DECIMALS) | st.sampled_from(MONEY) | st.sampled_from(list(RiskLevel))
    | st.just(date(2026, 3, 2)) | st.just(datetime(2026, 3, 2, 10, 0))
    | st.lists(st.sampled_from(TEXTS), max_size=2) | st.just({"amount": "1", "currency": "X"})
)  # fmt: skip
SIGNAL_NAMES = (*attrs.fields_dict(DemandSignals), "nonsense")
#: Whole argument sets for commands whose arguments must agree with each other to get past
#: the first check, drawn as well as the parameter-by-parameter ones.
AGREEING: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "contracts.propose_amendment": strategies.amendment_proposals().map(
        lambda p: {"description": p[0], "lines": p[1], "milestones": p[2]}
    ),
    "contracts.record_delivery": st.fixed_dictionaries(
        {"quantities": strategies.delivery_quantities(), "delivered_on": st.just(date(2026, 3, 2))}
    ),
}
#: Keyword arguments collected by ``**changes`` (``classification.update_signals``).
KEYWORDS: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "classification.update_signals": strategies.signal_changes()
    | st.dictionaries(st.sampled_from(SIGNAL_NAMES), ANYTHING, max_size=3),
}
SHANGHAI = timezone(timedelta(hours=8))


#: Customer files planned in every world: new rows, a bad phone, the same company twice, and
#: a company the book already holds.
FILES = (
    "客户名称,手机\n新公司甲,13900001111\n新公司乙,13900002222\n".encode(),
    "客户名称,手机,邮箱\n新公司丙,12345,x@\n新公司丁,13900003333,d@example.com\n".encode(),
    "company,phone\nSame Co,13900004444\nSame Co,13900004444\n客户0,\n".encode(),
)


def _forged_plans(plan: ImportPlan) -> list[ImportPlan]:
    """``plan`` with its first row's fields replaced by what a caller could hand in."""
    row = plan.rows[0]
    odd: list[dict[str, Any]] = [
        {}, {"name": "", "phones": [], "emails": []}, {"name": "X", "phones": "139", "emails": []},
        {"name": "Y", "phones": ["not a phone"], "emails": [None]}, {"name": 7, "uscc": 5},
    ]  # fmt: skip
    return [
        attrs.evolve(plan, rows=(attrs.evolve(row, fields=fields), *plan.rows[1:]))
        for fields in odd
    ]


def _plans(crm: LeadToCash) -> list[ImportPlan]:
    """Plans of :data:`FILES`, an empty plan, and forged ones."""
    plans = [crm.collisions.plan_import(ADMIN, data) for data in FILES]
    empty = ImportPlan((), {}, (), "utf-8", "csv")
    return [*plans, empty, *_forged_plans(plans[0])]


def _world(store: Store) -> tuple[World, list[str]]:
    """The organisation the commands run against, and every record id it holds."""
    # the fixtures type the in-memory store (tests read its rows); any Store runs them
    world, first, _second = cash_world(customers=4, store=typing.cast(InMemoryStore, store))
    crm = world.crm
    contract = signed_contract(world, first)
    crm.billing.draft_invoice(ADMIN, contract.id, InvoiceKind.ORDINARY, Money("100", "CNY"))
    pool = crm.lead_pools.create_pool(ADMIN, "East leads", pool_id=PoolId("leads-east"))
    add_lead(crm, 1, pool=pool.id, phone="+8613900000001")
    with crm.unit_of_work() as uow:
        uow.contacts.add(Contact(ContactId("k1"), first, "王经理", phone="+8613800001111"))
        uow.commit()
    crm.pipeline.create_opportunity(
        rep_principal(1), first, name="ERP", amount=Money("50000", "CNY"),
        close_date=date(2026, 6, 30), contact_id=ContactId("k1"),
    )  # fmt: skip
    crm.tickets.open(
        rep_principal(1), first, "k1", subject="打不开", category="software",
        channel="phone", priority="P3",
    )  # fmt: skip
    # A duplicate merged away (its ticket moves to the survivor): commands meet an archive.
    kept, dropped = world.customers[2], world.customers[3]
    with crm.unit_of_work() as uow:
        uow.contacts.add(Contact(ContactId("k2"), dropped, "李经理", phone="+8613800002222"))
        uow.commit()
    crm.tickets.open(
        ADMIN, dropped, "k2", subject="慢", category="software", channel="phone", priority="P3"
    )  # fmt: skip
    crm.collisions.merge(ADMIN, kept, dropped, "same company", prefer=CustomerId(kept))
    session = store.session()
    ids = sorted({r.id for spec in SPECS for r in session.scan(spec.kind, limit=1_000)})
    session.close()
    return world, ids


def _strategy(
    hint: Any, ids: list[str], plans: Sequence[ImportPlan] = ()
) -> st.SearchStrategy[Any] | None:
    """Values of type ``hint`` worth trying, or None when the type is not drawn."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        parts = [_strategy(a, ids, plans) for a in args]
        if any(p is None for p in parts):
            return None
        return st.one_of(*[p for p in parts if p is not None])
    if hint is type(None):
        return st.none()
    if getattr(hint, "__supertype__", None) is str or hint is str:  # ids and texts
        return st.sampled_from(ids) | st.sampled_from(TEXTS) | st.text(max_size=12)
    if hint is bool:
        return st.booleans()
    if hint is int:
        return st.sampled_from(NUMBERS) | st.integers(-3, 40)
    if hint is Decimal:
        return st.sampled_from(DECIMALS)
    if hint is Money:
        return st.sampled_from(MONEY)
    if hint is date:
        return st.dates(date(1900, 1, 1), date(2200, 1, 1))
    if hint is datetime:
        return st.sampled_from(
            (datetime(2026, 3, 2, 10, 0), datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI),
             datetime(2026, 3, 2, 2, 0, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC))
        )  # fmt: skip
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        return st.sampled_from(list(hint))
    if origin is typing.Literal:
        return st.sampled_from(args) | st.text(max_size=6)
    if origin is tuple and len(args) == 2 and args == (str, str):
        return st.tuples(st.sampled_from(ids) | st.just(""), st.sampled_from(ids) | st.just(""))
    if origin in (Sequence, Iterable) and args:
        lines = st.builds(
            LineInput, st.sampled_from((*DECIMALS, Decimal(2))), st.sampled_from(LINE_PRODUCTS)
        )
        inner = lines if args[0] is LineInput else _strategy(args[0], ids, plans)
        return None if inner is None else st.lists(inner, max_size=3)
    if origin is Mapping and args and args[0] is str:
        values = st.none() | st.sampled_from(TEXTS) | st.text(max_size=8) | st.integers(-2, 9)
        keys = st.sampled_from(
            ("channel", "company_name", "contact_name", "phone", "email", "uscc", "note",
             "zone_id", "campaign", "industry", "employees", "web_form", "")
        )  # fmt: skip
        return st.dictionaries(keys, values, max_size=6) if args[1] is not Any else None
    if origin is Mapping and args == (int, Decimal):  # quantities by line number
        return st.dictionaries(st.integers(-1, 5), st.sampled_from(DECIMALS), max_size=3)
    if hint in RICHER:  # the library's own strategies for its rule tables and members
        return RICHER[hint]()
    if hint is ImportPlan:
        return st.sampled_from(plans) if plans else None
    if hint is typing.TextIO:
        return st.builds(io.StringIO)
    if hint is typing.BinaryIO:
        return st.builds(io.BytesIO)
    if hint is bytes:
        return st.sampled_from((b"", b"\xff\xfe", "客户名称\n甲公司\n".encode()))
    return None


def _commands() -> list[tuple[str, str]]:
    found = []
    for attribute, kind in inspect.get_annotations(LeadToCash, eval_str=True).items():
        if isinstance(kind, type) and attribute != "ctx":
            found += [
                (attribute, name)
                for name, member in vars(kind).items()
                if not name.startswith("_") and inspect.isfunction(member)
            ]
    return sorted(found)


def _arguments(
    method: Callable[..., Any], ids: list[str], plans: Sequence[ImportPlan]
) -> dict[str, Any] | None:
    """A strategy per parameter to draw (None: a required one cannot be drawn)."""
    hints = typing.get_type_hints(method)
    drawn: dict[str, Any] = {}
    for name, parameter in list(inspect.signature(method).parameters.items())[1:]:
        if name == "principal" or parameter.kind is inspect.Parameter.VAR_KEYWORD:
            continue
        strategy = _strategy(hints.get(name, Any), ids, plans)
        own_kind = [i for i in ids if name.endswith("_id") and i.startswith(name[:-3])]
        if strategy is not None and own_kind:  # half the draws: an id of the named kind
            strategy = st.sampled_from(own_kind) | strategy
        if strategy is None:
            if parameter.default is inspect.Parameter.empty:
                return None
            continue
        if parameter.default is not inspect.Parameter.empty:
            strategy = st.just(parameter.default) | strategy
        drawn[name] = strategy
    return drawn


COMMANDS = _commands()
PRINCIPALS = (ADMIN, rep_principal(1), Principal("fin", roles=frozenset({Role.FINANCE})))


@pytest.mark.parametrize(("service", "name"), COMMANDS, ids=[f"{s}.{n}" for s, n in COMMANDS])
def test_a_command_succeeds_or_refuses_cleanly(
    service: str, name: str, engine_store: Store
) -> None:
    world, ids = _world(engine_store)
    method = getattr(getattr(world.crm, service), name)
    plans = _plans(world.crm) if name == "commit_import" else ()
    drawn = _arguments(vars(type(getattr(world.crm, service)))[name], ids, plans)
    if drawn is None:
        pytest.skip("a required argument of a richer type is not drawn")
    takes_principal = "principal" in inspect.signature(method).parameters
    command = f"{service}.{name}"
    arguments = st.fixed_dictionaries(drawn)
    if command in AGREEING:
        arguments |= st.tuples(arguments, AGREEING[command]).map(lambda p: {**p[0], **p[1]})
    if command in KEYWORDS:
        arguments = st.tuples(arguments, KEYWORDS[command]).map(lambda p: {**p[0], **p[1]})

    @settings(
        max_examples=max(5, settings().max_examples // 4),
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        deadline=None,
    )
    @given(st.sampled_from(PRINCIPALS), arguments)
    def call(principal: Principal, arguments: dict[str, Any]) -> None:
        try:
            if takes_principal:
                method(principal, **arguments)
            else:
                method(**arguments)
        except LeadToCashError:
            pass  # the guard checked its code, its fields and that it changed nothing

    call()
