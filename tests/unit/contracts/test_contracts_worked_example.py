"""A worked example with hand-checked numbers, quote to cash (CNY, 13% VAT, 含税).

Every figure below is computed by hand in the comments; the code must agree to the fen.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from contract_fixtures import AUTHOR, CUSTOMER, MANAGER, REP
from leadtocash.contracts import (
    AgingBucket,
    ApprovalPolicy,
    ContractId,
    DeliveryId,
    Invoice,
    InvoiceCeiling,
    InvoiceId,
    InvoiceKind,
    InvoicePolicy,
    InvoiceStatus,
    LineInput,
    MilestoneBasis,
    MilestoneSpec,
    Product,
    ProductId,
    QuoteId,
    QuotePolicy,
    Receipt,
    ReceiptId,
    accept_delivery,
    accept_quote,
    aging,
    allocate,
    allocate_oldest_first,
    apply_credit,
    approve_contract,
    approve_quote,
    collection_forecast,
    confirm_receipt,
    contract_from_quote,
    days_sales_outstanding,
    draft_invoice,
    draft_quote,
    draft_red_invoice,
    issue_invoice,
    issue_red_invoice,
    needs_approval,
    open_credit,
    payment_plan,
    performance_by_cash,
    record_delivery,
    register_receipt,
    roll_up,
    send_quote,
    sign_contract,
    submit_contract,
    submit_quote,
    surplus_to_credit,
)
from leadtocash.errors import RuleViolation
from leadtocash.model import RepId
from leadtocash.money import Money


def cny(text: str) -> Money:
    return Money(text, "CNY")


def at(day: int, month: int) -> datetime:
    return datetime(2024, month, day, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


VAT = Decimal("0.13")
PRODUCTS = {
    ProductId("srv"): Product(ProductId("srv"), "SRV", "服务器", "台", cny("1999.00"), VAT),
    ProductId("sto"): Product(ProductId("sto"), "STO", "存储", "台", cny("888.80"), VAT),
    ProductId("ins"): Product(ProductId("ins"), "INS", "集成服务", "项", cny("1234.51"), VAT),
}


def test_quote_to_cash_by_hand() -> None:
    # -- the quote: 3 lines, line discounts, 3% quote discount, 13% VAT included ------------
    quote = draft_quote(
        QuoteId("Q-1"), CUSTOMER, AUTHOR, "CNY",
        [
            LineInput(Decimal(3), ProductId("srv"), discount_rate=Decimal("0.05")),
            LineInput(Decimal(2), ProductId("sto"), discount_rate=Decimal("0.10")),
            LineInput(Decimal(1), ProductId("ins")),
        ],
        PRODUCTS, at(1, 3), valid_until=date(2024, 3, 31), owner_id=REP,
        discount_rate=Decimal("0.03"),
    )  # fmt: skip
    price = quote.price
    # gross: 3 × 1999.00 = 5997.00; 2 × 888.80 = 1777.60; 1 × 1234.51 = 1234.51 → 9009.11
    # line discounts: 5997.00 × 5% = 299.85; 1777.60 × 10% = 177.76; 0
    # after line discounts: 5697.15 + 1599.84 + 1234.51 = 8531.50
    # quote discount: 8531.50 × 3% = 255.945 → 255.94 (half-even: 4 is even)
    # split 25594 fen by 569715 : 159984 : 123451 (sum 853150):
    #   17091.116…, 4799.426…, 3703.457… → floors 17091 + 4799 + 3703 = 25593, one fen short,
    #   largest remainder .457 → line 3: 170.91, 47.99, 37.04
    assert [line.gross for line in price.lines] == [cny("5997.00"), cny("1777.60"), cny("1234.51")]
    assert [line.quote_discount for line in price.lines] == [
        cny("170.91"), cny("47.99"), cny("37.04"),
    ]  # fmt: skip
    # line totals: 5697.15 − 170.91 = 5526.24; 1599.84 − 47.99 = 1551.85; 1234.51 − 37.04 = 1197.47
    # tax (inclusive): 5526.24 − 5526.24/1.13 = 635.7621… → 635.76
    #                  1551.85 − 1551.85/1.13 = 178.5314… → 178.53
    #                  1197.47 − 1197.47/1.13 = 137.7620… → 137.76
    assert [(line.total, line.tax) for line in price.lines] == [
        (cny("5526.24"), cny("635.76")),
        (cny("1551.85"), cny("178.53")),
        (cny("1197.47"), cny("137.76")),
    ]
    # total 5526.24 + 1551.85 + 1197.47 = 8275.56; tax 952.05; net 7323.51
    assert (price.total, price.tax, price.net) == (cny("8275.56"), cny("952.05"), cny("7323.51"))
    # discount 299.85 + 177.76 + 255.94 = 733.55 = 8.142% of 9009.11: above an 8% threshold
    assert price.discount == cny("733.55")
    policy = QuotePolicy(discount_threshold=Decimal("0.08"))
    assert needs_approval(quote, policy)
    quote = approve_quote(
        submit_quote(quote, at(1, 3), AUTHOR), policy, MANAGER, "大客户", at(1, 3)
    )
    quote = accept_quote(send_quote(quote, policy, at(2, 3), AUTHOR), at(4, 3), "customer")

    # -- the contract and its 30/60/10 plan --------------------------------------------------
    plan = [
        MilestoneSpec("预付款", percent=Decimal(30), due_date=date(2024, 3, 15)),
        MilestoneSpec("到货款", percent=Decimal(60), basis=MilestoneBasis.FIRST_DELIVERY,
                      days_after_delivery=10),
        MilestoneSpec("验收款", percent=Decimal(10), basis=MilestoneBasis.FULL_DELIVERY,
                      days_after_delivery=30),
    ]  # fmt: skip
    contract = contract_from_quote(quote, ContractId("C-1"), at(4, 3), AUTHOR, plan=plan)
    # 827556 fen × 30/60/10 % = 248266.8, 496533.6, 82755.6
    # naive rounding: 248267 + 496534 + 82756 = 827557 — one fen created
    # largest remainder: floors 248266 + 496533 + 82755 = 827554, two short; remainders
    # .8, .6, .6 → M1 and (tie, earlier first) M2: 2482.67 + 4965.34 + 827.55 = 8275.56
    assert [m.amount for m in contract.plan] == [cny("2482.67"), cny("4965.34"), cny("827.55")]
    contract = submit_contract(contract, at(4, 3), AUTHOR)
    contract = approve_contract(contract, ApprovalPolicy(), MANAGER, "ok", at(4, 3))
    contract = sign_contract(contract, at(5, 3), at(5, 3), AUTHOR)

    # -- invoice 1 (M1) and two partial deliveries -------------------------------------------
    invoice_policy = InvoicePolicy()
    inv1 = draft_invoice(InvoiceId("INV-1"), contract, InvoiceKind.SPECIAL, cny("2482.67"),
                         at(6, 3), "fred", milestone_id="M1")  # fmt: skip
    # tax share: 952.05 × 2482.67 / 8275.56 = 285.6152… → 285.62
    assert inv1.tax == cny("285.62")
    inv1, contract = issue_invoice(
        inv1, contract, invoice_policy, date(2024, 3, 6), at(6, 3), "fred"
    )
    assert inv1.due_date == date(2024, 3, 15)  # M1's date

    contract = record_delivery(contract, DeliveryId("D-1"), {1: Decimal(2), 2: Decimal(2)},
                               date(2024, 3, 10), at(10, 3), "warehouse")  # fmt: skip
    contract = accept_delivery(contract, DeliveryId("D-1"), date(2024, 3, 12), at(12, 3), "cust")
    # M2 falls due 10 days after the first acceptance: 12 March + 10 = 22 March
    assert payment_plan(contract)[1].due_date == date(2024, 3, 22)
    with pytest.raises(RuleViolation) as over:
        record_delivery(contract, DeliveryId("D-x"), {2: Decimal(1)}, date(2024, 3, 20),
                        at(20, 3), "warehouse")  # fmt: skip
    assert over.value.code == "contract.over_delivery"  # both storage units already delivered
    contract = record_delivery(contract, DeliveryId("D-2"), {1: Decimal(1), 3: Decimal(1)},
                               date(2024, 3, 20), at(20, 3), "warehouse")  # fmt: skip
    contract = accept_delivery(contract, DeliveryId("D-2"), date(2024, 3, 25), at(25, 3), "cust")
    # M3 falls due 30 days after full acceptance: 25 March + 30 = 24 April
    assert payment_plan(contract)[2].due_date == date(2024, 4, 24)

    # -- invoice 2 (M2) issued for a wrong 5000.00, partly corrected by a red invoice --------
    inv2 = draft_invoice(InvoiceId("INV-2"), contract, InvoiceKind.SPECIAL, cny("5000.00"),
                         at(22, 3), "fred", milestone_id="M2")  # fmt: skip
    inv2, contract = issue_invoice(inv2, contract, invoice_policy, date(2024, 3, 22), at(22, 3),
                                   "fred")  # fmt: skip
    # tax share 952.05 × 5000 / 8275.56 = 575.2178… → 575.22; invoiced 2482.67 + 5000 = 7482.67
    assert (inv2.tax, inv2.due_date) == (cny("575.22"), date(2024, 3, 22))
    assert contract.invoiced == cny("7482.67")
    inv3 = draft_invoice(InvoiceId("INV-3"), contract, InvoiceKind.ORDINARY, cny("827.55"),
                         at(26, 3), "fred", milestone_id="M3")  # fmt: skip
    with pytest.raises(RuleViolation) as refused:  # 7482.67 + 827.55 = 8310.22 > 8275.56
        issue_invoice(inv3, contract, invoice_policy, date(2024, 3, 26), at(26, 3), "fred")
    assert refused.value.code == "invoice.over_contract"
    red = draft_red_invoice(inv2, InvoiceId("RED-2"), "金额开错", at(23, 3), "fred",
                            amount=cny("34.66"))  # fmt: skip
    # red tax: 575.22 × 34.66 / 5000 = 3.9874… → 3.99, negated
    assert (red.amount, red.tax) == (cny("-34.66"), cny("-3.99"))
    red, inv2, contract = issue_red_invoice(
        red, inv2, contract, date(2024, 3, 23), at(23, 3), "fred"
    )
    # INV-2 outstanding 5000.00 − 34.66 = 4965.34 (= M2); invoiced 7482.67 − 34.66 = 7448.01
    assert inv2.outstanding == cny("4965.34") and contract.invoiced == cny("7448.01")
    inv3, contract = issue_invoice(
        inv3, contract, invoice_policy, date(2024, 3, 26), at(26, 3), "fred"
    )
    # 7448.01 + 827.55 = 8275.56: invoiced to the fen of the contract, nothing more fits
    assert contract.invoiced == contract.total == cny("8275.56")
    assert inv3.due_date == date(2024, 4, 24)
    extra = draft_invoice(InvoiceId("INV-4"), contract, InvoiceKind.ORDINARY, cny("0.01"),
                          at(27, 3), "fred")  # fmt: skip
    with pytest.raises(RuleViolation) as refused:
        issue_invoice(extra, contract, InvoicePolicy(ceiling=InvoiceCeiling.DELIVERED),
                      date(2024, 3, 27), at(27, 3), "fred")  # fmt: skip
    assert refused.value.code == "invoice.over_contract"

    # -- four receipts -----------------------------------------------------------------------
    credit = open_credit(CUSTOMER, "CNY")
    invoices: tuple[Invoice, ...] = (inv1, inv2, inv3)

    def receive(ident: str, amount: str, day: date) -> Receipt:
        when = at(day.day, day.month)
        registered = register_receipt(
            ReceiptId(ident), CUSTOMER, cny(amount), day, f"BANK-{ident}", "某某科技", when, "fred"
        )
        return confirm_receipt(registered, at(day.day, day.month), "finance-lead")

    r1 = receive("R-1", "2482.67", date(2024, 3, 14))
    r1, invoices, credit = allocate_oldest_first(r1, invoices, credit, at(14, 3), "fred")
    # INV-1 (due 15 Mar) is the oldest: paid in full
    assert invoices[0].status is InvoiceStatus.PAID
    r2 = receive("R-2", "3000.00", date(2024, 3, 28))
    r2, invoices, credit = allocate_oldest_first(r2, invoices, credit, at(28, 3), "fred")
    # a partial payment: INV-2 4965.34 − 3000.00 = 1965.34 outstanding
    assert invoices[1].status is InvoiceStatus.PARTLY_PAID
    assert invoices[1].outstanding == cny("1965.34")
    r3 = receive("R-3", "1000.00", date(2024, 4, 15))
    r3, invoices, credit = allocate_oldest_first(r3, invoices, credit, at(15, 4), "fred")
    assert invoices[1].outstanding == cny("965.34")  # 1965.34 − 1000.00

    # -- aging and DSO on 1 May --------------------------------------------------------------
    on = date(2024, 5, 1)
    report = aging(invoices, on, "CNY")
    # INV-2: 965.34, due 22 Mar → 9 + 30 + 1 = 40 days overdue → 31–60
    # INV-3: 827.55, due 24 Apr → 7 days overdue → 0–30; total 965.34 + 827.55 = 1792.89
    assert report.amount(AgingBucket.DAYS_31_60) == cny("965.34")
    assert report.amount(AgingBucket.DAYS_0_30) == cny("827.55")
    assert report.amount(AgingBucket.NOT_DUE) == report.amount(AgingBucket.DAYS_90_PLUS) == cny("0")
    assert report.total == cny("1792.89")
    # DSO over 1 Mar – 1 May (31 + 30 + 1 = 62 days): credit sales 2482.67 + 5000.00 − 34.66
    # + 827.55 = 8275.56; 1792.89 / 8275.56 × 62 = 111159.18 / 8275.56 = 13.4322… → 13.43
    sent = (red, *invoices)
    assert days_sales_outstanding(sent, date(2024, 3, 1), on, "CNY") == Decimal("13.43")
    # forecast: collected 2482.67 + 4000.00 = 6482.67 pays M1 and 4000.00 of M2; the rest of
    # M2 (965.34) and M3 (827.55) are overdue, so expected in May: 1792.89
    forecast = collection_forecast([contract], invoices, on, "CNY")
    assert [(e.month, e.amount) for e in forecast] == [("2024-05", cny("1792.89"))]

    # -- the fourth receipt pays INV-3 explicitly and overpays: 1000.00 − 827.55 = 172.45 -----
    r4 = receive("R-4", "1000.00", date(2024, 5, 6))
    r4, paid3 = allocate(r4, invoices[2], cny("827.55"), at(6, 5), "fred")
    r4, credit = surplus_to_credit(r4, credit, at(6, 5), "fred")
    assert paid3.status is InvoiceStatus.PAID and credit.balance == cny("172.45")
    invoices = (invoices[0], invoices[1], paid3)
    # the credit later pays part of INV-2: 965.34 − 172.45 = 792.89 outstanding, credit 0
    credit, paid2 = apply_credit(credit, invoices[1], at(20, 5), "fred")
    invoices = (invoices[0], paid2, invoices[2])
    assert paid2.outstanding == cny("792.89") and credit.balance == cny("0")

    # -- conservation, roll-up, performance ----------------------------------------------------
    receipts = (r1, r2, r3, r4)
    # received 2482.67 + 3000 + 1000 + 1000 = 7482.67 = allocated 7310.22 + credited 172.45
    assert sum(r.amount.minor_units for r in receipts) == 748267
    assert sum(r.allocated.minor_units + r.credited.minor_units for r in receipts) == 748267
    summary = roll_up(contract, (red, *invoices))
    assert (summary.contracted, summary.delivered, summary.invoiced) == (
        cny("8275.56"), cny("8275.56"), cny("8275.56"),
    )  # fmt: skip
    # collected: 2482.67 + (4000.00 + 172.45) + 827.55 = 7482.67; outstanding 792.89
    assert (summary.collected, summary.outstanding) == (cny("7482.67"), cny("792.89"))
    by_rep: dict[RepId | None, Money] = performance_by_cash(
        receipts, [credit], {i.id: i for i in invoices}, {contract.id: contract},
        date(2024, 3, 1), date(2024, 5, 31), "CNY",
    )  # fmt: skip
    assert by_rep == {REP: cny("7482.67")}
    # 90+ at the end of June: INV-2, due 22 Mar, 9 + 30 + 31 + 30 = 100 days overdue
    late = aging(invoices, date(2024, 6, 30), "CNY")
    assert late.amount(AgingBucket.DAYS_90_PLUS) == late.total == cny("792.89")
