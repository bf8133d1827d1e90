"""Contracts: prefilled creation, exact payment plans, lifecycle, immutability, amendments,
deliveries and delivery-dated milestones."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import attrs
import pytest

from contract_fixtures import ALICE_AS_MANAGER, AUTHOR, CUSTOMER, MANAGER, NOW, REP, accepted_quote
from leadtocash.contracts import (
    AmendmentId,
    AmendmentLine,
    ApprovalPolicy,
    Contract,
    ContractId,
    ContractLine,
    ContractStatus,
    DeliveryId,
    Milestone,
    MilestoneBasis,
    MilestoneSpec,
    QuoteStatus,
    accept_delivery,
    approve_amendment,
    approve_contract,
    build_plan,
    complete_contract,
    contract_from_opportunity,
    contract_from_quote,
    decline_contract,
    delivered_value,
    edit_contract,
    fully_delivered_on,
    payment_plan,
    plan_problems,
    propose_amendment,
    record_delivery,
    reject_amendment,
    sign_contract,
    submit_contract,
    terminate_contract,
)
from leadtocash.errors import InvalidTransition, RuleViolation, ValidationError
from leadtocash.money import Money
from leadtocash.pipeline.opportunity import Opportunity, OpportunityId

POLICY = ApprovalPolicy()
SIGNED = datetime(2024, 3, 5, 6, 0, tzinfo=UTC)
PLAN_30_60_10 = [
    MilestoneSpec("预付款", percent=Decimal(30), due_date=date(2024, 3, 15)),
    MilestoneSpec("到货款", percent=Decimal(60), basis=MilestoneBasis.FIRST_DELIVERY,
                  days_after_delivery=10),
    MilestoneSpec("验收款", percent=Decimal(10), basis=MilestoneBasis.FULL_DELIVERY,
                  days_after_delivery=30),
]  # fmt: skip


def cny(text: str) -> Money:
    return Money(text, "CNY")


def active_contract() -> Contract:
    """Quote q-1 (2 servers at 1999.00 + installation 500.00 = 4498.00) signed on 5 March."""
    draft = contract_from_quote(
        accepted_quote(), ContractId("c-1"), NOW, AUTHOR, plan=PLAN_30_60_10
    )
    approved = approve_contract(submit_contract(draft, NOW, AUTHOR), POLICY, MANAGER, "ok", NOW)
    return sign_contract(approved, SIGNED, NOW, AUTHOR)


def test_a_30_60_10_plan_sums_exactly_where_naive_rounding_creates_a_cent() -> None:
    total = cny("1000.06")
    # naive: 300.018 → 300.02, 600.036 → 600.04, 100.006 → 100.01 = 1000.07 (one fen created)
    naive = [Money(total.amount * p / 100, "CNY") for p in (30, 60, 10)]
    assert sum(m.minor_units for m in naive) == 100007
    # largest remainder: floors 30001 + 60003 + 10000 = 100004 fen, 2 short; remainders
    # .8, .6, .6 → the first and (tie, earlier wins) the second get one fen each
    plan = build_plan(total, [MilestoneSpec(f"m{p}", percent=Decimal(p), due_date=date(2024, 4, 1))
                              for p in (30, 60, 10)])  # fmt: skip
    assert [m.amount for m in plan] == [cny("300.02"), cny("600.04"), cny("100.00")]
    assert [m.id for m in plan] == ["M1", "M2", "M3"]


def test_fixed_amounts_come_first_and_percentages_split_the_rest() -> None:
    plan = build_plan(
        cny("1000.00"),
        [
            MilestoneSpec("deposit", amount=cny("100.00"), due_date=date(2024, 4, 1)),
            MilestoneSpec("rest a", percent=Decimal(50), due_date=date(2024, 5, 1)),
            MilestoneSpec("rest b", percent=Decimal(50), due_date=date(2024, 6, 1)),
        ],
    )
    assert [m.amount for m in plan] == [cny("100.00"), cny("450.00"), cny("450.00")]


@pytest.mark.parametrize(
    "specs",
    [
        [MilestoneSpec("a", percent=Decimal(30), due_date=date(2024, 4, 1))],
        [MilestoneSpec("a", amount=cny("999.99"), due_date=date(2024, 4, 1))],
        [MilestoneSpec("a", amount=cny("1000.01"), due_date=date(2024, 4, 1))],
    ],
)
def test_plans_that_do_not_make_up_the_total_are_refused(specs: list[MilestoneSpec]) -> None:
    with pytest.raises(RuleViolation) as caught:
        build_plan(cny("1000.00"), specs)
    assert caught.value.code == "contract.plan_mismatch"


def test_milestone_specs_are_checked() -> None:
    with pytest.raises(ValidationError):
        MilestoneSpec("both", percent=Decimal(10), amount=cny("1"), due_date=date(2024, 1, 1))
    with pytest.raises(ValidationError):
        MilestoneSpec("no date", percent=Decimal(10))
    with pytest.raises(ValidationError):
        MilestoneSpec("dated delivery", percent=Decimal(10), basis=MilestoneBasis.FULL_DELIVERY,
                      due_date=date(2024, 1, 1))  # fmt: skip


def test_a_contract_from_an_accepted_quote_takes_its_lines_at_quoted_totals() -> None:
    quote = accepted_quote()
    contract = contract_from_quote(quote, ContractId("c-1"), NOW, AUTHOR)
    assert contract.total == quote.total == cny("4498.00")
    assert [(line.line_no, line.amount, line.tax) for line in contract.lines] == [
        (1, cny("3998.00"), cny("459.95")),  # 3998 − 3998/1.13 = 459.9469… → 459.95
        (2, cny("500.00"), cny("28.30")),  # 500 − 500/1.06 = 28.3018… → 28.30
    ]
    assert (contract.customer_id, contract.owner_id, contract.quote_id) == (CUSTOMER, REP, "q-1")
    with pytest.raises(RuleViolation) as caught:
        contract_from_quote(
            attrs.evolve(quote, status=QuoteStatus.SENT), ContractId("c"), NOW, AUTHOR
        )
    assert caught.value.code == "contract.quote_not_accepted"


def test_a_contract_from_a_won_opportunity_has_one_line() -> None:
    opportunity = Opportunity(
        id=OpportunityId("o-1"), customer_id=CUSTOMER, owner_id=REP, name="机房扩容",
        amount=cny("113000.00"), close_date=date(2024, 3, 1), created_at=NOW, stage="won",
    )  # fmt: skip
    contract = contract_from_opportunity(opportunity, ContractId("c-o"), NOW, AUTHOR)
    assert contract.total == cny("113000.00")
    assert contract.lines[0].tax == cny("13000.00")
    assert contract.opportunity_id == "o-1" and contract.owner_id == REP
    with pytest.raises(RuleViolation) as caught:
        contract_from_opportunity(
            attrs.evolve(opportunity, stage="quotation"), ContractId("c"), NOW, AUTHOR
        )
    assert caught.value.code == "contract.opportunity_not_won"


def test_lifecycle_and_approval_rules() -> None:
    draft = contract_from_quote(accepted_quote(), ContractId("c-1"), NOW, AUTHOR)
    with pytest.raises(RuleViolation) as caught:
        submit_contract(draft, NOW, AUTHOR)
    assert caught.value.code == "contract.plan_missing"
    draft = edit_contract(draft, NOW, plan=PLAN_30_60_10, title="服务器采购合同")
    pending = submit_contract(draft, NOW, AUTHOR)
    with pytest.raises(RuleViolation) as caught:
        edit_contract(pending, NOW, title="x")
    assert caught.value.code == "contract.not_editable"
    with pytest.raises(RuleViolation) as caught:
        approve_contract(pending, POLICY, ALICE_AS_MANAGER, "mine", NOW)
    assert caught.value.code == "contract.self_approval"
    assert decline_contract(pending, POLICY, MANAGER, "fix", NOW).status is ContractStatus.DRAFT
    approved = approve_contract(pending, POLICY, MANAGER, "ok", NOW)
    with pytest.raises(InvalidTransition):
        complete_contract(approved, NOW, AUTHOR)
    active = sign_contract(approved, SIGNED, NOW, AUTHOR)
    assert active.status is ContractStatus.ACTIVE and active.signed_at == SIGNED
    # Completion needs every line delivered in full; the refusal names the lines short.
    shipped = record_delivery(
        active, DeliveryId("d-1"), {1: Decimal(1)}, date(2024, 3, 9), NOW, "w"
    )
    for short, lines in ((active, [1, 2]), (shipped, [1, 2])):
        with pytest.raises(RuleViolation) as caught:
            complete_contract(short, NOW, AUTHOR)
        assert (caught.value.code, caught.value.details["lines"]) == (
            "contract.not_fulfilled",
            lines,
        )
    servers = record_delivery(
        shipped, DeliveryId("d-2"), {1: Decimal(1)}, date(2024, 3, 9), NOW, "w"
    )
    with pytest.raises(RuleViolation) as caught:
        complete_contract(servers, NOW, AUTHOR)
    assert caught.value.details["lines"] == [2]
    done = record_delivery(servers, DeliveryId("d-3"), {2: Decimal(1)}, date(2024, 3, 9), NOW, "w")
    assert complete_contract(done, NOW, AUTHOR).status is ContractStatus.COMPLETED
    ended = terminate_contract(active, "客户破产", NOW, AUTHOR)
    assert (ended.status, ended.reason) == (ContractStatus.TERMINATED, "客户破产")
    with pytest.raises(ValidationError):
        terminate_contract(active, " ", NOW, AUTHOR)


def test_signed_terms_are_immutable_and_refusals_change_nothing() -> None:
    active = active_contract()
    before = attrs.evolve(active)
    with pytest.raises(RuleViolation) as caught:
        edit_contract(active, NOW, title="changed")
    assert caught.value.code == "contract.signed_immutable"
    with pytest.raises(RuleViolation) as caught:
        edit_contract(terminate_contract(active, "x", NOW, AUTHOR), NOW, title="changed")
    assert caught.value.code == "contract.signed_immutable"
    assert active == before


def test_partial_deliveries_never_exceed_the_order_and_date_the_milestones() -> None:
    active = active_contract()
    assert [m.due_date for m in payment_plan(active)] == [date(2024, 3, 15), None, None]
    first = record_delivery(active, DeliveryId("d-1"), {1: Decimal(1)}, date(2024, 3, 10), NOW, "w")
    with pytest.raises(RuleViolation) as caught:
        record_delivery(first, DeliveryId("d-2"), {1: Decimal(2)}, date(2024, 3, 11), NOW, "w")
    assert caught.value.code == "contract.over_delivery"
    assert caught.value.details["ordered"] == "2" and caught.value.details["delivered"] == "1"
    with pytest.raises(RuleViolation) as caught:
        record_delivery(first, DeliveryId("d-2"), {9: Decimal(1)}, date(2024, 3, 11), NOW, "w")
    assert caught.value.code == "contract.unknown_line"
    # 1 of 2 servers: 3998.00 × 1/2 = 1999.00
    assert delivered_value(first) == cny("1999.00")
    accepted = accept_delivery(first, DeliveryId("d-1"), date(2024, 3, 12), NOW, "customer")
    with pytest.raises(RuleViolation) as caught:
        accept_delivery(accepted, DeliveryId("d-1"), date(2024, 3, 12), NOW, "customer")
    assert caught.value.code == "contract.delivery_accepted"
    assert [m.due_date for m in payment_plan(accepted)] == [
        date(2024, 3, 15), date(2024, 3, 22), None,
    ]  # fmt: skip
    second = record_delivery(
        accepted, DeliveryId("d-2"), {1: Decimal(1), 2: Decimal(1)}, date(2024, 3, 20), NOW, "w"
    )
    assert delivered_value(second) == second.total
    assert fully_delivered_on(second) is None  # not accepted yet
    done = accept_delivery(second, DeliveryId("d-2"), date(2024, 3, 25), NOW, "customer")
    assert fully_delivered_on(done) == date(2024, 3, 25)
    assert payment_plan(done)[2].due_date == date(2024, 4, 24)
    with pytest.raises(RuleViolation) as caught:
        record_delivery(
            contract_from_quote(accepted_quote(), ContractId("c"), NOW, AUTHOR),
            DeliveryId("d"), {1: Decimal(1)}, date(2024, 3, 1), NOW, "w",
        )  # fmt: skip
    assert caught.value.code == "contract.not_active"


def test_amendments_change_a_signed_contract_by_a_delta_with_their_own_approval() -> None:
    active = active_contract()
    extra = AmendmentLine(
        3, Decimal(1), cny("226.00"), description="延保", tax_rate=Decimal("0.13")
    )
    with pytest.raises(RuleViolation) as caught:
        propose_amendment(active, AmendmentId("a-1"), "延保一年", [extra], [], NOW, AUTHOR)
    assert caught.value.code == "contract.plan_mismatch"
    milestone = Milestone("M4", "延保款", cny("226.00"), due_date=date(2024, 6, 1))
    proposed = propose_amendment(active, AmendmentId("a-1"), "延保一年", [extra], [milestone],
                                 NOW, AUTHOR)  # fmt: skip
    assert proposed.total == active.total  # not in force until approved
    with pytest.raises(RuleViolation) as caught:
        approve_amendment(proposed, AmendmentId("a-1"), POLICY, ALICE_AS_MANAGER, "ok", NOW)
    assert caught.value.code == "contract.self_approval"
    amended = approve_amendment(proposed, AmendmentId("a-1"), POLICY, MANAGER, "ok", NOW)
    assert amended.total == cny("4724.00")
    plan = payment_plan(amended)
    assert sum(m.amount.minor_units for m in plan) == amended.total.minor_units
    assert amended.lines == active.lines  # the signed terms never change
    with pytest.raises(InvalidTransition):
        reject_amendment(amended, AmendmentId("a-1"), POLICY, MANAGER, "no", NOW)

    delivered = record_delivery(
        amended, DeliveryId("d"), {1: Decimal(2)}, date(2024, 3, 9), NOW, "w"
    )
    cut = AmendmentLine(1, Decimal(-1), cny("-1999.00"))
    reduce = Milestone("M2", "到货款", cny("-1999.00"), basis=MilestoneBasis.FIRST_DELIVERY)
    with pytest.raises(RuleViolation) as caught:
        propose_amendment(delivered, AmendmentId("a-2"), "少一台", [cut], [reduce], NOW, AUTHOR)
    assert caught.value.code == "contract.amendment_below_delivered"
    fewer = propose_amendment(amended, AmendmentId("a-2"), "少一台", [cut], [reduce], NOW, AUTHOR)
    rejected = reject_amendment(fewer, AmendmentId("a-2"), POLICY, MANAGER, "no", NOW)
    assert rejected.total == amended.total and rejected.amendments[-1].reason == "no"
    smaller = approve_amendment(fewer, AmendmentId("a-2"), POLICY, MANAGER, "ok", NOW)
    assert smaller.total == cny("2725.00")
    assert sum(m.amount.minor_units for m in payment_plan(smaller)) == 272500


def test_contract_construction_checks_its_invariants() -> None:
    line = ContractLine(1, "x", Decimal(1), cny("10.00"), cny("1.15"), Decimal("0.13"))
    with pytest.raises(ValidationError):
        Contract(ContractId("c"), CUSTOMER, AUTHOR, "t", "CNY", (), NOW)
    with pytest.raises(ValidationError):
        Contract(ContractId("c"), CUSTOMER, AUTHOR, "t", "CNY", (line, line), NOW)
    with pytest.raises(ValidationError):
        Contract(ContractId("c"), CUSTOMER, AUTHOR, "t", "CNY", (line,), NOW,
                 plan=(Milestone("M1", "m", cny("9.99"), due_date=date(2024, 1, 1)),))  # fmt: skip


# -- payment plans: every refusal coded, every boundary pinned (docs/mutation.md) --------------

APRIL = date(2024, 4, 1)


def _codes(error: ValidationError) -> list[tuple[str, str]]:
    """The paths and codes of a refusal, which must also say why in words (any wording)."""
    assert all(isinstance(e.message, str) and e.message.strip() for e in error.errors)
    return [(e.path, e.code) for e in error.errors]


def test_plan_ids_default_to_m1_m2_and_explicit_ids_must_differ() -> None:
    plan = build_plan(
        cny("10.00"),
        [
            MilestoneSpec("a", percent=Decimal(50), due_date=APRIL, id="DEP"),
            MilestoneSpec("b", percent=Decimal(50), due_date=APRIL),
        ],
    )
    assert [m.id for m in plan] == ["DEP", "M2"]
    with pytest.raises(ValidationError) as caught:
        build_plan(
            cny("10.00"),
            [
                MilestoneSpec("a", percent=Decimal(50), due_date=APRIL, id="M2"),
                MilestoneSpec("b", percent=Decimal(50), due_date=APRIL),
            ],
        )
    assert _codes(caught.value) == [("plan", "contract.duplicate_milestone")]
    with pytest.raises(ValidationError) as caught:
        build_plan(cny("10.00"), [])
    assert _codes(caught.value) == [("plan", "contract.plan_mismatch")]


def test_plan_milestones_carry_their_specs() -> None:
    (first, second) = build_plan(
        cny("10.00"),
        [
            MilestoneSpec("预付", amount=cny("3.00"), due_date=APRIL),
            MilestoneSpec("验收", percent=Decimal(100), basis=MilestoneBasis.FULL_DELIVERY,
                          days_after_delivery=15),
        ],
    )  # fmt: skip
    assert first == Milestone("M1", "预付", cny("3.00"), MilestoneBasis.DATE, APRIL, 0, None)
    assert second == Milestone(
        "M2", "验收", cny("7.00"), MilestoneBasis.FULL_DELIVERY, None, 15, Decimal(100)
    )


def test_fixed_amounts_may_make_up_the_whole_total_but_not_more() -> None:
    # fixed alone, exactly the total
    plan = build_plan(cny("10.00"), [MilestoneSpec("all", amount=cny("10.00"), due_date=APRIL)])
    assert [m.amount for m in plan] == [cny("10.00")]
    # fixed = total and percentages for the (zero) rest: zero milestones, still a plan
    plan = build_plan(
        cny("10.00"),
        [
            MilestoneSpec("all", amount=cny("10.00"), due_date=APRIL),
            MilestoneSpec("rest", percent=Decimal(100), due_date=APRIL),
        ],
    )
    assert [m.amount for m in plan] == [cny("10.00"), cny("0")]
    # zero-amount milestones are allowed, negative ones are not
    plan = build_plan(
        cny("10.00"),
        [
            MilestoneSpec("free", amount=cny("0"), due_date=APRIL),
            MilestoneSpec("all", amount=cny("10.00"), due_date=APRIL),
        ],
    )
    assert [m.amount for m in plan] == [cny("0"), cny("10.00")]
    with pytest.raises(ValidationError) as negative:
        MilestoneSpec("neg", amount=cny("-0.01"), due_date=APRIL)
    assert _codes(negative.value) == [("amount", "field.negative")]
    # one fen too much
    with pytest.raises(RuleViolation) as caught:
        build_plan(
            cny("10.00"),
            [
                MilestoneSpec("a", amount=cny("6.00"), due_date=APRIL),
                MilestoneSpec("b", amount=cny("4.01"), due_date=APRIL),
                MilestoneSpec("c", percent=Decimal(100), due_date=APRIL),
            ],
        )
    assert caught.value.code == "contract.plan_mismatch" and caught.value.message.strip()
    assert caught.value.details == {"total": "10.00 CNY", "fixed": "10.01 CNY", "percent": "100"}


def test_percentages_must_add_up_to_exactly_100() -> None:
    for parts in ([Decimal(50), Decimal("49.99")], [Decimal(50), Decimal("50.01")]):
        specs = [MilestoneSpec(f"m{i}", percent=p, due_date=APRIL) for i, p in enumerate(parts)]
        with pytest.raises(RuleViolation) as caught:
            build_plan(cny("10.00"), specs)
        assert caught.value.code == "contract.plan_mismatch" and caught.value.message.strip()
        assert caught.value.details == {
            "total": "10.00 CNY",
            "fixed": "0.00 CNY",
            "percent": str(sum(parts)),
        }
    # fixed amounts short of the total with no percentage to take the rest
    with pytest.raises(RuleViolation) as caught:
        build_plan(cny("10.00"), [MilestoneSpec("a", amount=cny("9.99"), due_date=APRIL)])
    assert caught.value.details == {"total": "10.00 CNY", "fixed": "9.99 CNY", "percent": "0"}


def test_percent_bounds_and_spec_shape() -> None:
    for ok in (Decimal(0), Decimal(100)):
        assert MilestoneSpec("m", percent=ok, due_date=APRIL).percent == ok
    for bad in (Decimal("-0.01"), Decimal("100.01"), 50):
        with pytest.raises(ValidationError) as caught:
            MilestoneSpec("m", percent=bad, due_date=APRIL)  # type: ignore[arg-type]
        assert _codes(caught.value) == [("percent", "contracts.rate_range")]
    for both_or_none in ({"percent": Decimal(1), "amount": cny("1")}, {}):
        with pytest.raises(ValidationError) as caught:
            MilestoneSpec("m", due_date=APRIL, **both_or_none)  # type: ignore[arg-type]
        assert _codes(caught.value) == [("percent", "contract.milestone_amount")]
    with pytest.raises(ValidationError) as caught:
        MilestoneSpec("m", percent=Decimal(1))
    assert _codes(caught.value) == [("due_date", "field.required")]
    with pytest.raises(ValidationError) as caught:
        MilestoneSpec("m", percent=Decimal(1), basis=MilestoneBasis.FIRST_DELIVERY,
                      due_date=APRIL)  # fmt: skip
    assert _codes(caught.value) == [("due_date", "contract.milestone_due")]
    # a stored delivery milestone gets its date on acceptance: a date is allowed there
    dated = Milestone("M1", "m", cny("1"), MilestoneBasis.FIRST_DELIVERY, APRIL)
    assert dated.due_date == APRIL
    with pytest.raises(ValidationError) as caught:
        Milestone("M1", "m", cny("1"))
    assert _codes(caught.value) == [("due_date", "field.required")]


def test_a_fixed_amount_in_another_currency_is_refused_with_its_index() -> None:
    with pytest.raises(RuleViolation) as caught:
        build_plan(
            cny("10.00"),
            [
                MilestoneSpec("a", amount=cny("5.00"), due_date=APRIL),
                MilestoneSpec("b", amount=Money("5.00", "USD"), due_date=APRIL),
            ],
        )
    assert caught.value.code == "contracts.currency_mismatch"
    assert caught.value.details == {"what": "plan[1].amount", "expected": "CNY", "found": "USD"}


def test_plan_problems_name_every_problem() -> None:
    ok = (Milestone("M1", "a", cny("4.00"), due_date=APRIL),
          Milestone("M2", "b", cny("6.00"), due_date=APRIL))  # fmt: skip
    assert plan_problems(ok, cny("10.00")) == []
    assert plan_problems((), cny("0")) == []

    def codes(plan: tuple[Milestone, ...], total: Money) -> list[tuple[str, str]]:
        problems = plan_problems(plan, total)
        assert all(isinstance(p.message, str) and p.message.strip() for p in problems)
        return [(p.path, p.code) for p in problems]

    assert codes(ok, cny("10.01")) == [("plan", "contract.plan_mismatch")]
    assert codes((ok[0], ok[0], ok[1]), cny("14.00")) == [("plan", "contract.duplicate_milestone")]
    assert codes(ok, Money("10.00", "USD")) == [("plan", "contracts.currency_mismatch")]
    negative = (ok[0], attrs.evolve(ok[1], amount=cny("-1.00")), ok[1])
    assert codes(negative, cny("9.00")) == [
        ("plan", "contract.duplicate_milestone"),
        ("plan", "field.negative"),
    ]
