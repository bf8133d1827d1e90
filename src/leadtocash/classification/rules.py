"""The ordered tier rule table (五级分类规则) and the validator that keeps it monotone.

Rules run top-down and the first rule whose conditions all hold gives the tier. A table is
accepted only when adding information or confirming a demand signal can never lower the tier
and every tier is reachable; the argument is in docs/classification.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from itertools import pairwise
from typing import Any

import attrs

from leadtocash.classification.conditions import (
    NOT_MONOTONE_CODE,
    OVERLAP_CODE,
    RULE_INVALID_CODE,
    UNKNOWN_FIELD_CODE,
    Condition,
    ConditionalRow,
    Operator,
    as_tuple,
    condition_from_config,
    condition_to_config,
    implies,
    implies_all,
    name_errors,
    rule_path,
    when_errors,
)
from leadtocash.classification.facts import DEFAULT_COMPLETENESS_FIELDS, INFORMATION_FIELDS, Facts
from leadtocash.classification.paths import path_error
from leadtocash.errors import FieldError, ValidationError
from leadtocash.model import Customer, Tier
from leadtocash.signals import RiskLevel

__all__ = ["TIERS", "TierRule", "TierRules", "better_tier", "default_rules", "tier_rank"]

EMPTY_TIER_CODE = "classification.empty_tier"

#: The tiers from best (A) to worst (E).
TIERS: tuple[Tier, ...] = (Tier.A, Tier.B, Tier.C, Tier.D, Tier.E)


def tier_rank(tier: Tier) -> int:
    """0 for A (best) up to 4 for E (worst)."""
    return TIERS.index(tier)


def better_tier(tier: Tier) -> Tier | None:
    """The next better tier (None for A)."""
    rank = tier_rank(tier)
    return TIERS[rank - 1] if rank else None


@attrs.frozen
class TierRule(ConditionalRow):
    """One row of the table: when every condition holds, the customer gets ``tier``."""

    name: str
    tier: Tier
    when: tuple[Condition, ...] = attrs.field(default=(), converter=as_tuple)
    description: str = ""


def _rule_errors(rules: Sequence[TierRule]) -> list[FieldError]:
    errors: list[FieldError] = []
    names: set[str] = set()
    for index, rule in enumerate(rules):
        where = rule_path(index, getattr(rule, "name", None))
        if not isinstance(rule, TierRule):
            errors.append(FieldError(where, RULE_INVALID_CODE, "expected a TierRule"))
            continue
        errors += name_errors(rule.name, index, where, names)
        if not isinstance(rule.tier, Tier):
            message = f"rule {rule.name!r}: no tier"
            errors.append(FieldError(f"{where}.tier", RULE_INVALID_CODE, message))
        errors += when_errors(rule, where, monotone=True)
    return errors


def _completeness_errors(paths: Sequence[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, path in enumerate(paths):
        where = f"completeness_fields[{index}]"
        problem = path_error(Customer, path)
        if problem is not None:
            errors.append(FieldError(where, UNKNOWN_FIELD_CODE, problem))
        elif path not in INFORMATION_FIELDS:
            message = (
                f"{path} is not an information field (it can be emptied by an improvement), "
                f"so completeness could fall; use one of {', '.join(sorted(INFORMATION_FIELDS))}"
            )
            errors.append(FieldError(where, NOT_MONOTONE_CODE, message))
        elif path in paths[:index]:
            errors.append(FieldError(where, RULE_INVALID_CODE, f"{path} is listed twice"))
    return errors


def _table_errors(rules: Sequence[TierRule]) -> list[FieldError]:
    """Order, totality, reachability, empty tiers and nesting of a structurally valid table."""
    errors: list[FieldError] = []
    for prev, rule in pairwise(rules):
        if tier_rank(rule.tier) < tier_rank(prev.tier):
            message = (
                f"rule {rule.name!r} (tier {rule.tier}) comes after rule {prev.name!r} "
                f"(tier {prev.tier}); rules must run from tier A to tier E, or confirming a "
                "signal could lower the tier"
            )
            errors.append(FieldError(f"rules.{rule.name}", NOT_MONOTONE_CODE, message))
    if not rules or rules[-1].when:
        where = f"rules.{rules[-1].name}" if rules else "rules"
        message = (
            "the last rule must have no conditions (a catch-all) so every customer gets a tier"
        )
        errors.append(FieldError(where, RULE_INVALID_CODE, message))
    reachable: list[TierRule] = []
    for index, rule in enumerate(rules):
        shadow = next((r for r in rules[:index] if implies_all(rule.when, r.when)), None)
        if shadow is None:
            reachable.append(rule)
            continue
        message = (
            f"rule {rule.name!r} (tier {rule.tier}) never fires: every customer it matches "
            f"already matches rule {shadow.name!r} (tier {shadow.tier}) above it"
        )
        errors.append(FieldError(f"rules.{rule.name}", OVERLAP_CODE, message))
    by_tier = {tier: [r for r in reachable if r.tier is tier] for tier in TIERS}
    for tier in TIERS:
        if not by_tier[tier]:
            message = f"no reachable rule gives tier {tier}; every tier needs one"
            errors.append(FieldError(f"tiers.{tier}", EMPTY_TIER_CODE, message))
    for better, worse in pairwise(TIERS):
        if not by_tier[worse]:
            continue
        for rule in by_tier[better]:
            if any(implies_all(rule.when, w.when) for w in by_tier[worse]):
                continue
            closest = min(by_tier[worse], key=lambda w: _gap(rule.when, w.when))
            lacking = "; ".join(
                c.describe() for c in closest.when if not any(implies(s, c) for s in rule.when)
            )
            message = (
                f"rule {rule.name!r} (tier {better}) demands less than every tier-{worse} rule "
                f"(contradictory ranges); compared with {closest.name!r} it lacks: {lacking}"
            )
            errors.append(FieldError(f"rules.{rule.name}", OVERLAP_CODE, message))
    return errors


def _gap(stronger: tuple[Condition, ...], weaker: tuple[Condition, ...]) -> int:
    return sum(1 for w in weaker if not any(implies(s, w) for s in stronger))


def default_rules() -> tuple[TierRule, ...]:
    """The default table: A ≈ qualified, funded, decision maker known, closing within a month."""
    valid = Condition("invalid", Operator.IS_FALSE)
    need = Condition("need_confirmed", Operator.IS_TRUE)
    return (
        TierRule(
            "hot",
            Tier.A,
            (
                need,
                Condition("budget", Operator.PRESENT),
                Condition("decision_maker_identified", Operator.IS_TRUE),
                Condition("expected_close", Operator.WITHIN_DAYS, 30),
                Condition("after_sales_risk", Operator.AT_MOST, RiskLevel.LOW),
                valid,
            ),
            "qualified, funded, decision maker known, closing within a month",
        ),
        TierRule(
            "warm",
            Tier.B,
            (
                need,
                Condition("expected_close", Operator.WITHIN_DAYS, 90),
                Condition("after_sales_risk", Operator.AT_MOST, RiskLevel.MEDIUM),
                valid,
            ),
            "need confirmed, closing within a quarter",
        ),
        TierRule(
            "nurture-timeline",
            Tier.C,
            (need, Condition("expected_close", Operator.WITHIN_DAYS, 180), valid),
            "need confirmed, closing within half a year",
        ),
        TierRule(
            "nurture-engaged",
            Tier.C,
            (need, Condition("last_engagement_at", Operator.WITHIN_DAYS, 30), valid),
            "need confirmed and engaged in the last 30 days",
        ),
        TierRule("latent", Tier.D, (valid,), "valid, no confirmed demand yet"),
        TierRule("invalid", Tier.E, (), "marked invalid or dead"),
    )


@attrs.frozen
class TierRules:
    """The validated, ordered tier rule table and what its completeness score counts.

    Construction validates: an invalid or non-monotone table raises ValidationError naming
    the rule, so a table that exists is a table that is safe to use.
    """

    rules: tuple[TierRule, ...] = attrs.field(factory=default_rules, converter=as_tuple)
    completeness_fields: tuple[str, ...] = attrs.field(
        default=DEFAULT_COMPLETENESS_FIELDS, converter=as_tuple
    )

    def __attrs_post_init__(self) -> None:
        errors = _rule_errors(self.rules) + _completeness_errors(self.completeness_fields)
        if not errors:
            errors = _table_errors(self.rules)
        if errors:
            raise ValidationError(errors)

    def first_match(self, facts: Facts) -> TierRule:
        """The rule that fires for ``facts`` (the catch-all when nothing else matches)."""
        return next(rule for rule in self.rules if rule.matches(facts))

    def rules_for(self, tier: Tier) -> tuple[TierRule, ...]:
        """The rules giving ``tier``, in table order."""
        return tuple(rule for rule in self.rules if rule.tier is tier)

    def rule(self, name: str) -> TierRule:
        """The rule called ``name``."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise ValidationError.single(f"rules.{name}", UNKNOWN_FIELD_CODE, "no such rule")

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> TierRules:
        """Load a table from plain data (JSON/TOML/YAML), e.g.::

        {"rules": [{"name": "hot", "tier": "A",
                    "when": {"need_confirmed": "is_true", "expected_close": {"within_days": 30}}},
                   ...,
                   {"name": "invalid", "tier": "E", "when": {}}],
         "completeness_fields": ["phones", "signals.budget"]}
        """
        errors: list[FieldError] = []
        rules: list[TierRule] = []
        raw_rules = data.get("rules", ())
        if isinstance(raw_rules, str | bytes) or not isinstance(raw_rules, Iterable):
            raise ValidationError.single("rules", RULE_INVALID_CODE, "expected a list of rules")
        for index, raw in enumerate(raw_rules):
            rule = _rule_from_config(index, raw, errors)
            if rule is not None:
                rules.append(rule)
        unknown = sorted(set(data) - {"rules", "completeness_fields"})
        errors += [
            FieldError(key, UNKNOWN_FIELD_CODE, f"unknown setting {key!r}") for key in unknown
        ]
        if errors:
            raise ValidationError(errors)
        fields = data.get("completeness_fields", DEFAULT_COMPLETENESS_FIELDS)
        return cls(tuple(rules), tuple(fields))

    def to_config(self) -> dict[str, Any]:
        """Plain data that :meth:`from_config` reads back to an equal table."""
        return {
            "rules": [
                {
                    "name": rule.name,
                    "tier": rule.tier.value,
                    "when": {c.fact: condition_to_config(c) for c in rule.when},
                    **({"description": rule.description} if rule.description else {}),
                }
                for rule in self.rules
            ],
            "completeness_fields": list(self.completeness_fields),
        }


def _rule_from_config(index: int, raw: object, errors: list[FieldError]) -> TierRule | None:
    if not isinstance(raw, Mapping):
        errors.append(FieldError(f"rules[{index}]", RULE_INVALID_CODE, "expected a mapping"))
        return None
    where = rule_path(index, raw.get("name"))
    unknown = sorted(set(raw) - {"name", "tier", "when", "description"})
    for key in unknown:
        errors.append(FieldError(f"{where}.{key}", UNKNOWN_FIELD_CODE, f"unknown key {key!r}"))
    try:
        tier = Tier(str(raw.get("tier")))
    except ValueError:
        message = f"tier must be one of A-E, got {raw.get('tier')!r}"
        errors.append(FieldError(f"{where}.tier", RULE_INVALID_CODE, message))
        return None
    when = raw.get("when") or {}
    if not isinstance(when, Mapping):
        errors.append(FieldError(f"{where}.when", RULE_INVALID_CODE, "expected fact: condition"))
        return None
    name = raw.get("name")
    conditions: list[Condition] = []
    for fact, spec in when.items():
        try:
            conditions.append(condition_from_config(str(fact), spec, where=f"{where}.when"))
        except ValidationError as exc:
            label = f"rule {name!r}" if isinstance(name, str) else f"rule {index}"
            errors.extend(attrs.evolve(e, message=f"{label}: {e.message}") for e in exc.errors)
    return TierRule(
        name if isinstance(name, str) else "",
        tier,
        tuple(conditions),
        str(raw.get("description", "")),
    )
