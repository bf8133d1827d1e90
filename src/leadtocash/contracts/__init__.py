"""Contract to cash (合同 → 订单/交付 → 发票 → 回款 → 应收): the pure domain.

Products and quotes (报价), contracts with payment plans, amendments and deliveries (合同,
回款计划, 补充协议, 交付), invoices incl. red corrections (发票, 红字发票), receipts with
allocation and customer credit (回款, 核销, 预收), and receivables (应收: aging, DSO, forecast,
roll-ups, performance by cash collected). No I/O and no clock: ``now`` is always a parameter.
"""

from __future__ import annotations

from leadtocash.contracts.approvals import (
    DEFAULT_APPROVER_ROLES,
    Approval,
    ApprovalPolicy,
    check_approver,
)
from leadtocash.contracts.checks import DEFAULT_TIMEZONE, business_date, start_of_day
from leadtocash.contracts.ids import (
    AmendmentId,
    ContractId,
    CreditId,
    DeliveryId,
    InvoiceId,
    ProductId,
    QuoteId,
    ReceiptId,
    ReversalId,
)
from leadtocash.contracts.pricing import PricedLine, QuotePrice, price_lines, tax_of
from leadtocash.contracts.products import VAT_RATES, Product
from leadtocash.contracts.quotes import (
    QUOTE_TABLE,
    LineInput,
    Quote,
    QuoteLine,
    QuotePolicy,
    QuoteStatus,
    accept_quote,
    approve_quote,
    decline_quote,
    draft_quote,
    edit_quote,
    expire_quote,
    is_quote_expired,
    needs_approval,
    quote_expires_at,
    reject_quote,
    resolve_lines,
    revise_quote,
    send_quote,
    submit_quote,
)

__all__ = [
    "DEFAULT_APPROVER_ROLES",
    "DEFAULT_TIMEZONE",
    "QUOTE_TABLE",
    "VAT_RATES",
    "AmendmentId",
    "Approval",
    "ApprovalPolicy",
    "ContractId",
    "CreditId",
    "DeliveryId",
    "InvoiceId",
    "LineInput",
    "PricedLine",
    "Product",
    "ProductId",
    "Quote",
    "QuoteId",
    "QuoteLine",
    "QuotePolicy",
    "QuotePrice",
    "QuoteStatus",
    "ReceiptId",
    "ReversalId",
    "accept_quote",
    "approve_quote",
    "business_date",
    "check_approver",
    "decline_quote",
    "draft_quote",
    "edit_quote",
    "expire_quote",
    "is_quote_expired",
    "needs_approval",
    "price_lines",
    "quote_expires_at",
    "reject_quote",
    "resolve_lines",
    "revise_quote",
    "send_quote",
    "start_of_day",
    "submit_quote",
    "tax_of",
]
