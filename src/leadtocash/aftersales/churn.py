"""Churn signals (流失预警): configurable rules over after-sales facts, feeding the classification.

Rules look at what after-sales knows about one customer — SLA breaches of its tickets, its
satisfaction ratings, and its overdue receivables (passed in as facts, e.g. from
:func:`overdue_receivables`) — and each rule that holds gives a tag and a risk level with an
explanation. :func:`apply_churn` writes the result on the customer: the churn tags (rules own
them: they are added and removed by the rules only) and ``signals.after_sales_risk``, the fact
the five-tier rules and the ``churn-risk`` tag rule read. The app then reclassifies on the
write path (``apply_classification``), so a tier change caused by churn is explained like any
other, and :meth:`ChurnUpdate.summary` says why the risk moved.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import date, datetime

import attrs

from leadtocash.aftersales.ids import TicketId
from leadtocash.aftersales.sla_policy import SlaTarget
from leadtocash.aftersales.ticket import Ticket
from leadtocash.contracts.invoices import Invoice, days_overdue, outstanding
from leadtocash.durations import Duration, DurationUnit, WorkingCalendar, earlier, local_day
from leadtocash.errors import FieldError, ValidationError
from leadtocash.model import Customer, CustomerId
from leadtocash.money import Money
from leadtocash.signals import RiskLevel

__all__ = [
    "LOW_SATISFACTION_CODE",
    "OVERDUE_RECEIVABLE_CODE",
    "RULE_INVALID_CODE",
    "SLA_BREACHES_CODE",
    "BreachFact",
    "ChurnAssessment",
    "ChurnFacts",
    "ChurnFinding",
    "ChurnRule",
    "ChurnRules",
    "ChurnSignal",
    "ChurnUpdate",
    "LowSatisfactionRule",
    "OverdueReceivable",
    "OverdueReceivableRule",
    "RatingFact",
    "SlaBreachRule",
    "apply_churn",
    "churn_facts",
    "default_churn_rules",
    "overdue_receivables",
]

#: Error code of an invalid churn rule table.
RULE_INVALID_CODE = "churn.rule_invalid"
#: Message codes of the findings (their details fill the placeholders).
SLA_BREACHES_CODE = "churn.sla_breaches"
LOW_SATISFACTION_CODE = "churn.low_satisfaction"
OVERDUE_RECEIVABLE_CODE = "churn.overdue_receivable"

_DAYS_30 = Duration(30, DurationUnit.CALENDAR_DAYS)
_DAYS_90 = Duration(90, DurationUnit.CALENDAR_DAYS)


class ChurnSignal(enum.StrEnum):
    """What a churn rule looks at."""

    SLA_BREACHES = "sla_breaches"
    LOW_SATISFACTION = "low_satisfaction"
    OVERDUE_RECEIVABLE = "overdue_receivable"


# -- facts --------------------------------------------------------------------------------------


@attrs.frozen
class BreachFact:
    """One SLA target a ticket of the customer missed, and when it fell due."""

    ticket_id: TicketId
    target: SlaTarget
    at: datetime


@attrs.frozen
class RatingFact:
    """One satisfaction rating the customer gave, and when."""

    ticket_id: TicketId
    score: int
    at: datetime


@attrs.frozen
class OverdueReceivable:
    """An amount the customer owes past its due date (one invoice)."""

    invoice_id: str
    due_on: date
    outstanding: Money


def _tuple(value: Iterable[object]) -> tuple[object, ...]:
    return tuple(value)


@attrs.frozen
class ChurnFacts:
    """Everything the churn rules read about one customer."""

    customer_id: CustomerId
    breaches: tuple[BreachFact, ...] = attrs.field(default=(), converter=_tuple)
    ratings: tuple[RatingFact, ...] = attrs.field(default=(), converter=_tuple)
    overdue: tuple[OverdueReceivable, ...] = attrs.field(default=(), converter=_tuple)


def churn_facts(
    customer_id: CustomerId,
    tickets: Iterable[Ticket],
    overdue: Iterable[OverdueReceivable] = (),
) -> ChurnFacts:
    """The facts of ``customer_id`` from its tickets (others are ignored) and overdue items."""
    breaches: list[BreachFact] = []
    ratings: list[RatingFact] = []
    for ticket in tickets:
        if ticket.customer_id != customer_id:
            continue
        breaches += [BreachFact(ticket.id, b.target, b.due_at) for b in ticket.breaches]
        if ticket.satisfaction is not None:
            rating = ticket.satisfaction
            ratings.append(RatingFact(ticket.id, rating.score, rating.rated_at))
    return ChurnFacts(customer_id, tuple(breaches), tuple(ratings), tuple(overdue))


def overdue_receivables(invoices: Iterable[Invoice], on: date) -> tuple[OverdueReceivable, ...]:
    """The issued invoices with something outstanding past their due date on ``on``."""
    return tuple(
        OverdueReceivable(invoice.id, invoice.due_date, outstanding(invoice))
        for invoice in invoices
        if invoice.due_date is not None and days_overdue(invoice, on) > 0
    )


# -- rules --------------------------------------------------------------------------------------


@attrs.frozen
class ChurnFinding:
    """A rule that holds: its tag and risk, and why (a message ``code`` with its details)."""

    signal: ChurnSignal
    tag: str
    risk: RiskLevel
    code: str
    details: tuple[tuple[str, str], ...]
    explanation: str


@attrs.frozen
class _Window:
    """Where a rule's look-back window starts."""

    now: datetime
    timezone: str
    calendar: WorkingCalendar | None

    def since(self, within: Duration) -> datetime:
        return earlier(self.now, within, timezone=self.timezone, calendar=self.calendar)

    @property
    def today(self) -> date:
        return local_day(self.now, self.timezone)


@attrs.frozen
class SlaBreachRule:
    """At least ``min_breaches`` SLA breaches within ``within`` (default: 2 in 30 days)."""

    tag: str = "sla-breaches"
    min_breaches: int = 2
    within: Duration = _DAYS_30
    risk: RiskLevel = RiskLevel.MEDIUM

    @property
    def signal(self) -> ChurnSignal:
        """What the rule looks at."""
        return ChurnSignal.SLA_BREACHES

    def finding(self, facts: ChurnFacts, window: _Window) -> ChurnFinding | None:
        """The finding when the rule holds for ``facts``."""
        since = window.since(self.within)
        count = sum(1 for b in facts.breaches if since < b.at <= window.now)
        if count < self.min_breaches:
            return None
        text = f"{count} SLA breaches within {self.within.amount} {self.within.unit.value}"
        details = (("count", str(count)), ("within", str(self.within.amount)))
        code = SLA_BREACHES_CODE
        return ChurnFinding(self.signal, self.tag, self.risk, code, details, text)


@attrs.frozen
class LowSatisfactionRule:
    """Mean satisfaction of the ratings within ``within`` at most ``at_most`` (default 2, 90d)."""

    tag: str = "low-csat"
    at_most: int = 2
    within: Duration = _DAYS_90
    risk: RiskLevel = RiskLevel.MEDIUM

    @property
    def signal(self) -> ChurnSignal:
        """What the rule looks at."""
        return ChurnSignal.LOW_SATISFACTION

    def finding(self, facts: ChurnFacts, window: _Window) -> ChurnFinding | None:
        """The finding when the rule holds for ``facts``."""
        since = window.since(self.within)
        scores = [r.score for r in facts.ratings if since < r.at <= window.now]
        if not scores or sum(scores) > self.at_most * len(scores):
            return None
        mean = f"{sum(scores) / len(scores):.1f}"
        text = f"mean satisfaction {mean} of {len(scores)} ratings (at most {self.at_most})"
        details = (("mean", mean), ("count", str(len(scores))), ("at_most", str(self.at_most)))
        code = LOW_SATISFACTION_CODE
        return ChurnFinding(self.signal, self.tag, self.risk, code, details, text)


@attrs.frozen
class OverdueReceivableRule:
    """Something overdue for more than ``days`` calendar days (default 60)."""

    tag: str = "overdue-receivable"
    days: int = 60
    risk: RiskLevel = RiskLevel.HIGH

    @property
    def signal(self) -> ChurnSignal:
        """What the rule looks at."""
        return ChurnSignal.OVERDUE_RECEIVABLE

    def finding(self, facts: ChurnFacts, window: _Window) -> ChurnFinding | None:
        """The finding when the rule holds for ``facts``."""
        late = [o for o in facts.overdue if (window.today - o.due_on).days > self.days]
        if not late:
            return None
        worst = max((window.today - o.due_on).days for o in late)
        invoices = ", ".join(sorted(o.invoice_id for o in late))
        text = f"{len(late)} receivable(s) overdue more than {self.days} days ({invoices})"
        details = (("count", str(len(late))), ("days", str(self.days)), ("worst", str(worst)))
        code = OVERDUE_RECEIVABLE_CODE
        return ChurnFinding(self.signal, self.tag, self.risk, code, details, text)


#: Any churn rule.
ChurnRule = SlaBreachRule | LowSatisfactionRule | OverdueReceivableRule


def default_churn_rules() -> tuple[ChurnRule, ...]:
    """≥ 2 breaches in 30 days, mean CSAT ≤ 2 in 90 days (medium); overdue > 60 days (high)."""
    return (SlaBreachRule(), LowSatisfactionRule(), OverdueReceivableRule())


def _rule_errors(rules: tuple[ChurnRule, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, SlaBreachRule | LowSatisfactionRule | OverdueReceivableRule):
            errors.append(FieldError(where, RULE_INVALID_CODE, "expected a churn rule"))
            continue
        tag = rule.tag
        if not isinstance(tag, str) or not tag.strip() or tag != tag.strip():
            errors.append(FieldError(f"{where}.tag", RULE_INVALID_CODE, "a tag is non-blank text"))
        elif tag in seen:
            errors.append(FieldError(f"{where}.tag", RULE_INVALID_CODE, f"{tag!r} used twice"))
        seen.add(tag)
        if not isinstance(rule.risk, RiskLevel) or rule.risk is RiskLevel.NONE:
            errors.append(FieldError(f"{where}.risk", RULE_INVALID_CODE, "a risk above none"))
        bounds = {
            SlaBreachRule: ("min_breaches", 1, None),
            LowSatisfactionRule: ("at_most", 1, 5),
            OverdueReceivableRule: ("days", 0, None),
        }[type(rule)]
        name, low, high = bounds
        value = getattr(rule, name)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < low
            or (high is not None and value > high)
        ):
            message = f"{name} must be a whole number from {low}" + (f" to {high}" if high else "")
            errors.append(FieldError(f"{where}.{name}", RULE_INVALID_CODE, message))
        within = getattr(rule, "within", None)
        if within is not None and within.off:
            message = "the look-back window must be longer than 0"
            errors.append(FieldError(f"{where}.within", RULE_INVALID_CODE, message))
    return errors


def _rules(value: Iterable[ChurnRule]) -> tuple[ChurnRule, ...]:
    return tuple(value)


@attrs.frozen
class ChurnAssessment:
    """The churn rules' verdict on one customer at one instant."""

    customer_id: CustomerId
    at: datetime
    risk: RiskLevel
    tags: frozenset[str]
    findings: tuple[ChurnFinding, ...]

    def explain(self) -> str:
        """One English line: the risk and each finding (``no churn signal`` when none)."""
        if not self.findings:
            return "after-sales risk none: no churn signal"
        reasons = "; ".join(f"{f.tag}: {f.explanation}" for f in self.findings)
        return f"after-sales risk {self.risk.value}: {reasons}"


@attrs.frozen
class ChurnRules:
    """The organisation's churn rules; construction validates them (ValidationError by path)."""

    rules: tuple[ChurnRule, ...] = attrs.field(factory=default_churn_rules, converter=_rules)

    def __attrs_post_init__(self) -> None:
        errors = _rule_errors(self.rules)
        if errors:
            raise ValidationError(errors)

    @property
    def tags(self) -> frozenset[str]:
        """The tags the rules own (set and cleared by :func:`apply_churn` only)."""
        return frozenset(rule.tag for rule in self.rules)

    def assess(
        self,
        facts: ChurnFacts,
        now: datetime,
        *,
        timezone: str = "Asia/Shanghai",
        calendar: WorkingCalendar | None = None,
    ) -> ChurnAssessment:
        """Which rules hold for ``facts`` at ``now``; the risk is the highest of theirs."""
        window = _Window(now, timezone, calendar)
        findings = tuple(
            found for rule in self.rules if (found := rule.finding(facts, window)) is not None
        )
        risk = max((f.risk for f in findings), key=lambda r: r.rank, default=RiskLevel.NONE)
        tags = frozenset(f.tag for f in findings)
        return ChurnAssessment(facts.customer_id, now, risk, tags, findings)


@attrs.frozen
class ChurnUpdate:
    """A customer before and after its churn signals were applied."""

    before: Customer
    after: Customer
    assessment: ChurnAssessment

    @property
    def risk_changed(self) -> bool:
        """True when the after-sales risk moved."""
        return self.before.signals.after_sales_risk is not self.after.signals.after_sales_risk

    @property
    def tags_added(self) -> frozenset[str]:
        """Churn tags the rules added."""
        return self.after.tags - self.before.tags

    @property
    def tags_removed(self) -> frozenset[str]:
        """Churn tags the rules removed."""
        return self.before.tags - self.after.tags

    @property
    def changed(self) -> bool:
        """True when the risk or the tags changed (then reclassify and save)."""
        return self.risk_changed or self.before.tags != self.after.tags

    def summary(self) -> str:
        """One line for audit reasons: ``after-sales risk none → medium (sla-breaches: …)``."""
        before = self.before.signals.after_sales_risk.value
        after = self.after.signals.after_sales_risk.value
        reasons = "; ".join(f"{f.tag}: {f.explanation}" for f in self.assessment.findings)
        text = (
            f"after-sales risk {before} → {after}"
            if self.risk_changed
            else f"after-sales risk {after} kept"
        )
        if reasons:
            text += f" ({reasons})"
        added = ", ".join(f"+{t}" for t in sorted(self.tags_added))
        removed = ", ".join(f"-{t}" for t in sorted(self.tags_removed))
        tags = ", ".join(part for part in (added, removed) if part)
        return f"{text}; tags {tags}" if tags else text


def apply_churn(customer: Customer, assessment: ChurnAssessment, rules: ChurnRules) -> ChurnUpdate:
    """``customer`` with the churn tags and ``signals.after_sales_risk`` of ``assessment``.

    Tags the rules own are replaced; every other tag is kept. The customer comes back as the
    same object when nothing changes.
    """
    if assessment.customer_id != customer.id:
        raise ValidationError.single(
            "customer_id", "churn.customer_mismatch", "the assessment is for another customer"
        )
    tags = (customer.tags - rules.tags) | assessment.tags
    risk = assessment.risk
    if tags == customer.tags and risk is customer.signals.after_sales_risk:
        return ChurnUpdate(customer, customer, assessment)
    signals = attrs.evolve(customer.signals, after_sales_risk=risk)
    return ChurnUpdate(customer, attrs.evolve(customer, tags=tags, signals=signals), assessment)
