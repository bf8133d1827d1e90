"""Conditions over named facts: evaluation, implication, validation and plain-data config.

A condition is data, ``Condition("expected_close", Operator.WITHIN_DAYS, 30)``, evaluated
against :class:`~leadtocash.classification.facts.Facts` computed for a given ``now``. The
facts a condition may name come from the facts it is evaluated on (``specs()``): customer
facts for tiers and tags, lead facts for the lead score (``classification.lead_score``).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs

from leadtocash.classification.facts import FACTS, FactSource, FactSpec, FactValue
from leadtocash.errors import FieldError, ValidationError
from leadtocash.money import Money
from leadtocash.signals import RiskLevel

__all__ = [
    "MONOTONE_OPERATORS",
    "Condition",
    "ConditionCheck",
    "ConditionValue",
    "ConditionalRow",
    "Operator",
    "as_tuple",
    "condition_from_config",
    "condition_problems",
    "condition_to_config",
    "implies",
    "implies_all",
    "name_errors",
    "rule_path",
    "when_errors",
]

#: Error codes of rule configuration problems.
RULE_INVALID_CODE = "classification.rule_invalid"
NOT_MONOTONE_CODE = "classification.not_monotone"
UNKNOWN_FIELD_CODE = "field.unknown"
OVERLAP_CODE = "classification.overlap"


class Operator(enum.StrEnum):
    """How a condition tests its fact."""

    IS_TRUE = "is_true"
    IS_FALSE = "is_false"
    PRESENT = "present"
    ABSENT = "absent"
    AT_LEAST = "at_least"
    AT_MOST = "at_most"
    WITHIN_DAYS = "within_days"
    OLDER_THAN_DAYS = "older_than_days"
    ONE_OF = "one_of"


#: What a condition compares with: a count, an amount, a risk level, a number of days, the
#: texts a text fact may equal (``one_of``), nothing.
ConditionValue = int | Money | RiskLevel | tuple[str, ...] | None

_NO_VALUE = frozenset({Operator.IS_TRUE, Operator.IS_FALSE, Operator.PRESENT, Operator.ABSENT})
_DAYS = frozenset({Operator.WITHIN_DAYS, Operator.OLDER_THAN_DAYS})
_OPERATORS: Mapping[str, frozenset[Operator]] = {
    "flag": frozenset({Operator.IS_TRUE, Operator.IS_FALSE}),
    "count": frozenset({Operator.PRESENT, Operator.ABSENT, Operator.AT_LEAST, Operator.AT_MOST}),
    "money": frozenset({Operator.PRESENT, Operator.ABSENT, Operator.AT_LEAST, Operator.AT_MOST}),
    "level": frozenset({Operator.AT_LEAST, Operator.AT_MOST}),
    "date": frozenset(
        {Operator.PRESENT, Operator.ABSENT, Operator.WITHIN_DAYS, Operator.OLDER_THAN_DAYS}
    ),
    "instant": frozenset(
        {Operator.PRESENT, Operator.ABSENT, Operator.WITHIN_DAYS, Operator.OLDER_THAN_DAYS}
    ),
    "text": frozenset({Operator.PRESENT, Operator.ABSENT, Operator.ONE_OF}),
}

#: Operators that stay true when a fact improves, by polarity (True = positive fact). Only
#: these may appear in tier rules; see docs/classification.md for the argument.
MONOTONE_OPERATORS: Mapping[bool, frozenset[Operator]] = {
    True: frozenset({Operator.IS_TRUE, Operator.PRESENT, Operator.AT_LEAST, Operator.WITHIN_DAYS}),
    False: frozenset({Operator.IS_FALSE, Operator.AT_MOST}),
}


@attrs.frozen
class Condition:
    """One test of one named fact, e.g. budget at least 100000 CNY."""

    fact: str
    op: Operator
    value: ConditionValue = None

    def holds(self, facts: FactSource) -> bool:
        """True when the condition is met by ``facts`` (unknown facts never meet a bound)."""
        if self.fact not in facts.specs():
            raise ValidationError.single(self.fact, UNKNOWN_FIELD_CODE, "unknown fact")
        actual = facts.value(self.fact)
        op = self.op
        if op is Operator.IS_TRUE:
            return actual is True
        if op is Operator.IS_FALSE:
            return actual is False
        if op is Operator.PRESENT:
            return actual is not None
        if op is Operator.ABSENT:
            return actual is None
        if op in _DAYS:
            return _days_hold(op, actual, _int(self.value), facts)
        if op is Operator.ONE_OF:
            return isinstance(actual, str) and actual.casefold() in _texts(self.value)
        order = _compare(actual, self.value)
        if order is None:
            return False
        return order >= 0 if op is Operator.AT_LEAST else order <= 0

    def describe(self, specs: Mapping[str, FactSpec] = FACTS) -> str:
        """A short English phrase for the condition ("expected close within 30 days");
        ``specs`` gives the facts' labels (customer facts unless told)."""
        label = specs[self.fact].label if self.fact in specs else self.fact
        shown = _show(self.value)
        return {
            Operator.IS_TRUE: label,
            Operator.IS_FALSE: f"not {label}",
            Operator.PRESENT: f"{label} known",
            Operator.ABSENT: f"{label} unknown",
            Operator.AT_LEAST: f"{label} at least {shown}",
            Operator.AT_MOST: f"{label} at most {shown}",
            Operator.WITHIN_DAYS: f"{label} within {shown} days",
            Operator.OLDER_THAN_DAYS: f"{label} older than {shown} days",
            Operator.ONE_OF: f"{label} one of {shown}",
        }.get(self.op, f"{label} {self.op} {shown}")


@attrs.frozen
class ConditionCheck:
    """A condition, whether it was met, and the fact value it saw (the explanation's atoms)."""

    condition: Condition
    met: bool
    actual: FactValue

    @classmethod
    def of(cls, condition: Condition, facts: FactSource) -> ConditionCheck:
        """Check ``condition`` against ``facts``."""
        return cls(condition, condition.holds(facts), facts.value(condition.fact))

    def describe(self, specs: Mapping[str, FactSpec] = FACTS) -> str:
        """English: the condition, and the value seen when it was not met."""
        if self.met:
            return self.condition.describe(specs)
        return f"{self.condition.describe(specs)} (now: {_show(self.actual)})"


class ConditionalRow:
    """A rule-table row (a tier rule, a score rule): it applies when every condition in
    ``when`` holds, and explains itself condition by condition."""

    __slots__ = ()
    when: tuple[Condition, ...]

    def check(self, facts: FactSource) -> tuple[ConditionCheck, ...]:
        """Each condition with whether ``facts`` meet it."""
        return tuple(ConditionCheck.of(c, facts) for c in self.when)

    def matches(self, facts: FactSource) -> bool:
        """True when every condition holds (a row without conditions always applies)."""
        return all(c.holds(facts) for c in self.when)


def as_tuple(value: Iterable[Any]) -> tuple[Any, ...]:
    """attrs converter: any iterable as a tuple (rule tables keep their order)."""
    return tuple(value)


def rule_path(index: int, name: object) -> str:
    """Where a rule's errors point: ``rules.<name>`` when it is named, else ``rules[<i>]``."""
    return f"rules.{name}" if isinstance(name, str) and name.strip() else f"rules[{index}]"


def name_errors(name: object, index: int, where: str, names: set[str]) -> list[FieldError]:
    """A rule's name must be given and unique in its table (``names`` collects them)."""
    if not isinstance(name, str) or not name.strip():
        return [FieldError(where, RULE_INVALID_CODE, f"rule {index} needs a name")]
    if name in names:
        return [FieldError(where, RULE_INVALID_CODE, f"rule {name!r} is defined twice")]
    names.add(name)
    return []


def when_errors(
    row: ConditionalRow,
    where: str,
    *,
    monotone: bool,
    specs: Mapping[str, FactSpec] = FACTS,
    also: Callable[[str, Condition], list[FieldError]] | None = None,
) -> list[FieldError]:
    """Each condition of a row valid against ``specs`` and at most one per fact (a table's
    own check of each valid condition, ``also``, at its path)."""
    errors: list[FieldError] = []
    label = f"rule {getattr(row, 'name', None)!r}"
    seen: set[str] = set()
    for condition in row.when:
        fact = getattr(condition, "fact", "?")
        path = f"{where}.when.{fact}"
        problems = condition_problems(condition, monotone=monotone, specs=specs)
        errors += [FieldError(path, code, f"{label}: {message}") for code, message in problems]
        if fact in seen:
            message = f"{label}: two conditions on {fact} overlap; keep one bound per fact"
            errors.append(FieldError(path, OVERLAP_CODE, message))
        seen.add(fact)
        if not problems and also is not None:
            errors += also(path, condition)
    return errors


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _int(value: ConditionValue) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _texts(value: ConditionValue) -> frozenset[str]:
    """The texts of a ``one_of`` value, case-folded (comparison ignores case)."""
    if not isinstance(value, tuple):
        return frozenset()
    return frozenset(v.casefold() for v in value if isinstance(v, str))


def _days_hold(op: Operator, actual: FactValue, days: int, facts: FactSource) -> bool:
    """Dates look ahead (close within N days from today); instants look back from now."""
    if isinstance(actual, datetime):
        cutoff = facts.now - timedelta(days=days)
        return actual >= cutoff if op is Operator.WITHIN_DAYS else actual < cutoff
    if isinstance(actual, date):
        if op is Operator.WITHIN_DAYS:
            return facts.today <= actual <= facts.today + timedelta(days=days)
        return actual < facts.today - timedelta(days=days)
    return False


def _compare(actual: FactValue | ConditionValue, bound: ConditionValue) -> int | None:
    """-1/0/1 comparing ``actual`` with ``bound``; None when they cannot be compared."""
    left: Decimal | int
    right: Decimal | int
    if isinstance(actual, Money) and isinstance(bound, Money):
        if actual.currency != bound.currency:
            return None
        left, right = actual.amount, bound.amount
    elif isinstance(actual, RiskLevel) and isinstance(bound, RiskLevel):
        left, right = actual.rank, bound.rank
    elif isinstance(actual, int) and isinstance(bound, int) and _is_int(actual) and _is_int(bound):
        left, right = actual, bound
    else:
        return None
    return (left > right) - (left < right)


def _show(value: object) -> str:
    if value is None:
        return "unknown"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat(timespec="minutes")
    if isinstance(value, tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


# -- implication --------------------------------------------------------------------------------


def implies(stronger: Condition, weaker: Condition) -> bool:
    """True when ``stronger`` being met guarantees ``weaker`` is met (sound, not complete)."""
    if stronger.fact != weaker.fact:
        return False
    a, b = stronger.op, weaker.op
    if a is b:
        if a in _NO_VALUE:
            return True
        if a is Operator.ONE_OF:
            return _texts(stronger.value) <= _texts(weaker.value)
        order = _compare(stronger.value, weaker.value)
        if a is Operator.AT_LEAST:
            return order is not None and order >= 0
        if a is Operator.AT_MOST:
            return order is not None and order <= 0
        if a is Operator.WITHIN_DAYS:
            return _int(stronger.value) <= _int(weaker.value)
        return _int(stronger.value) >= _int(weaker.value)  # OLDER_THAN_DAYS
    # Every bound is false on an unknown value, so any bound implies "known".
    return b is Operator.PRESENT and a not in _NO_VALUE


def implies_all(stronger: tuple[Condition, ...], weaker: tuple[Condition, ...]) -> bool:
    """True when the conjunction ``stronger`` guarantees every condition of ``weaker``."""
    return all(any(implies(s, w) for s in stronger) for w in weaker)


# -- validation ---------------------------------------------------------------------------------


def _value_problem(spec: FactSpec, condition: Condition) -> str | None:
    op, value = condition.op, condition.value
    if op in _NO_VALUE:
        return None if value is None else f"{op} takes no value"
    if op in _DAYS:
        ok = _is_int(value) and _int(value) >= 0
        return None if ok else f"{op} needs a whole number of days >= 0"
    if op is Operator.ONE_OF:
        ok = (
            isinstance(value, tuple)
            and bool(value)
            and all(isinstance(v, str) and v.strip() for v in value)
        )
        return None if ok else f"{op} needs a non-empty list of non-blank texts"
    if spec.type == "money":
        if not isinstance(value, Money) or value.amount < 0:
            return f"{op} needs an amount of money >= 0"
        return None
    if spec.type == "level":
        return None if isinstance(value, RiskLevel) else f"{op} needs a risk level"
    if not _is_int(value) or _int(value) < 0:
        return f"{op} needs a whole number >= 0"
    if condition.fact == "completeness" and _int(value) > 100:
        return "completeness is a percentage (0-100)"
    return None


def condition_problems(
    condition: Condition, *, monotone: bool, specs: Mapping[str, FactSpec] = FACTS
) -> list[tuple[str, str]]:
    """``(code, message)`` for everything wrong with ``condition`` (empty when it is valid).

    ``monotone`` also rejects operators that can turn false when a fact improves (tier rules);
    ``specs`` are the facts it may name (customer facts unless told).
    """
    if not isinstance(condition, Condition):
        return [(RULE_INVALID_CODE, f"expected a Condition, got {type(condition).__name__}")]
    spec = specs.get(condition.fact)
    if spec is None:
        known = ", ".join(sorted(specs))
        return [(UNKNOWN_FIELD_CODE, f"unknown fact {condition.fact!r} (known: {known})")]
    if not isinstance(condition.op, Operator):
        return [(RULE_INVALID_CODE, f"unknown operator {condition.op!r}")]
    if condition.op not in _OPERATORS[spec.type]:
        allowed = ", ".join(sorted(_OPERATORS[spec.type]))
        return [
            (RULE_INVALID_CODE, f"{condition.op} does not apply to {condition.fact} ({allowed})")
        ]
    problem = _value_problem(spec, condition)
    if problem is not None:
        return [(RULE_INVALID_CODE, f"{condition.fact}: {problem}")]
    if monotone and condition.op not in MONOTONE_OPERATORS[spec.positive]:
        better = "higher/known/true/more recent" if spec.positive else "lower/false"
        return [
            (
                NOT_MONOTONE_CODE,
                f"{condition.describe(specs)!r} can turn false when {condition.fact} improves "
                f"({better}), so adding information could lower the tier",
            )
        ]
    return []


# -- plain-data config ------------------------------------------------------------------------


def _parse_money(raw: object) -> Money:
    if isinstance(raw, Money):
        return raw
    if isinstance(raw, str):
        amount, _, currency = raw.strip().partition(" ")
        return Money(amount, currency.strip())
    if isinstance(raw, Mapping):
        return Money(raw["amount"], raw["currency"])
    raise ValueError(f"{raw!r} is not an amount like '100000 CNY'")


def _parse_value(
    fact: str, op: Operator, raw: object, specs: Mapping[str, FactSpec]
) -> ConditionValue:
    spec = specs.get(fact)
    if op in _NO_VALUE or spec is None:
        return None if raw is None or raw is True else _raw(raw)
    if op is Operator.ONE_OF:
        if isinstance(raw, str):
            return (raw,)
        return tuple(raw) if isinstance(raw, list | tuple) else _raw(raw)
    if op in _DAYS or spec.type == "count":
        return _raw(raw)
    if spec.type == "money":
        return _parse_money(raw)
    return RiskLevel(raw) if isinstance(raw, str) else _raw(raw)


def _raw(raw: object) -> ConditionValue:
    # Invalid raw values are kept (typed as the union) so that validation names the rule.
    return raw  # type: ignore[return-value]


def condition_from_config(
    fact: str, spec: object, *, where: str, specs: Mapping[str, FactSpec] = FACTS
) -> Condition:
    """Read ``fact: "is_true"`` or ``fact: {"at_least": 50}``; errors name ``where.fact``.

    ``specs`` are the facts the condition may name (customer facts unless told).
    """
    path = f"{where}.{fact}"
    if isinstance(spec, Mapping) and len(spec) > 1:
        message = f"{fact}: one operator per fact (two bounds on one fact overlap)"
        raise ValidationError.single(path, OVERLAP_CODE, message)
    try:
        if isinstance(spec, str):
            return Condition(fact, Operator(spec))
        if isinstance(spec, Mapping) and len(spec) == 1:
            ((op_name, raw),) = spec.items()
            op = Operator(op_name)
            return Condition(fact, op, _parse_value(fact, op, raw, specs))
        raise ValueError(f"expected an operator name or {{operator: value}}, got {spec!r}")
    except ValidationError as exc:
        raise ValidationError.single(path, RULE_INVALID_CODE, f"{fact}: {exc.message}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise ValidationError.single(path, RULE_INVALID_CODE, f"{fact}: {exc}") from exc


def condition_to_config(condition: Condition) -> Any:
    """The plain-data form :func:`condition_from_config` reads back."""
    if condition.value is None:
        return condition.op.value
    value = condition.value
    if isinstance(value, tuple):
        return {condition.op.value: list(value)}
    shown: object = str(value) if isinstance(value, Money | RiskLevel) else value
    return {condition.op.value: shown}
