"""Customer tags (标签): free tags people set, and system tags rules set and clear.

A tag named by a :class:`TagRule` is a *system* tag: rules add it when one of its rules holds
and remove it otherwise. Every other tag is *free* and system rules never touch it; people
may not set a system tag by hand (it would be silently overwritten at the next evaluation).
Tags need no monotonicity, so tag rules may use every operator (``churn-risk`` is "risk at
least medium").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from leadtocash.classification.conditions import (
    OVERLAP_CODE,
    RULE_INVALID_CODE,
    Condition,
    Operator,
    condition_from_config,
    condition_problems,
    condition_to_config,
)
from leadtocash.classification.facts import Facts
from leadtocash.errors import FieldError, ValidationError
from leadtocash.money import Money
from leadtocash.signals import RiskLevel

__all__ = ["TagRule", "TagRules", "default_tag_rules"]

RESERVED_TAG_CODE = "tag.reserved"


def _conditions(value: Iterable[Condition]) -> tuple[Condition, ...]:
    return tuple(value)


@attrs.frozen
class TagRule:
    """System tag ``tag`` applies while every condition holds (several rules per tag = any)."""

    tag: str
    when: tuple[Condition, ...] = attrs.field(converter=_conditions)
    description: str = ""

    def matches(self, facts: Facts) -> bool:
        """True when every condition holds."""
        return all(c.holds(facts) for c in self.when)


def default_tag_rules() -> tuple[TagRule, ...]:
    """high-value, churn-risk, multi-zone and dormant."""
    return (
        TagRule(
            "high-value",
            (Condition("budget", Operator.AT_LEAST, Money(1_000_000, "CNY")),),
            "budget of at least 1,000,000 CNY",
        ),
        TagRule(
            "churn-risk",
            (Condition("after_sales_risk", Operator.AT_LEAST, RiskLevel.MEDIUM),),
            "after-sales risk medium or high",
        ),
        TagRule(
            "multi-zone",
            (Condition("zone_count", Operator.AT_LEAST, 2),),
            "followed up from two or more zones (多战区协同跟进)",
        ),
        TagRule(
            "dormant",
            (Condition("last_engagement_at", Operator.OLDER_THAN_DAYS, 90),),
            "last engagement more than 90 days ago",
        ),
    )


def _tag_errors(rules: tuple[TagRule, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, rule in enumerate(rules):
        tag = getattr(rule, "tag", None)
        named = isinstance(tag, str) and bool(tag.strip()) and tag == tag.strip()
        where = f"tags.{tag}[{index}]" if named else f"tags[{index}]"
        if not isinstance(rule, TagRule):
            errors.append(FieldError(where, RULE_INVALID_CODE, "expected a TagRule"))
            continue
        if not named:
            message = "a tag is non-blank text without surrounding spaces"
            errors.append(FieldError(where, RULE_INVALID_CODE, message))
        if not rule.when:
            message = f"tag rule {tag!r} needs at least one condition"
            errors.append(FieldError(where, RULE_INVALID_CODE, message))
        seen: set[str] = set()
        for condition in rule.when:
            fact = getattr(condition, "fact", "?")
            path = f"{where}.when.{fact}"
            for code, message in condition_problems(condition, monotone=False):
                errors.append(FieldError(path, code, f"tag rule {tag!r}: {message}"))
            if fact in seen:
                message = f"tag rule {tag!r}: two conditions on {fact} overlap"
                errors.append(FieldError(path, OVERLAP_CODE, message))
            seen.add(fact)
    return errors


def _rules(value: Iterable[TagRule]) -> tuple[TagRule, ...]:
    return tuple(value)


@attrs.frozen
class TagRules:
    """The system tag rules; construction validates them (ValidationError naming the tag)."""

    rules: tuple[TagRule, ...] = attrs.field(factory=default_tag_rules, converter=_rules)

    def __attrs_post_init__(self) -> None:
        errors = _tag_errors(self.rules)
        if errors:
            raise ValidationError(errors)

    @property
    def system_tags(self) -> frozenset[str]:
        """Every tag the rules own."""
        return frozenset(rule.tag for rule in self.rules)

    def tags_for(self, facts: Facts) -> frozenset[str]:
        """The system tags that apply to ``facts``."""
        return frozenset(rule.tag for rule in self.rules if rule.matches(facts))

    def apply(self, tags: frozenset[str], facts: Facts) -> frozenset[str]:
        """``tags`` with system tags recomputed from ``facts``; free tags are kept as they are."""
        return self.free_tags(tags) | self.tags_for(facts)

    def free_tags(self, tags: Iterable[str]) -> frozenset[str]:
        """The tags of ``tags`` that no rule owns."""
        return frozenset(tags) - self.system_tags

    def edit_free(
        self, tags: frozenset[str], *, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> frozenset[str]:
        """``tags`` with free tags added/removed; system tags may not be set by hand."""
        adding, removing = tuple(add), tuple(remove)
        errors: list[FieldError] = []
        for kind, values in (("add", adding), ("remove", removing)):
            for index, tag in enumerate(values):
                path = f"{kind}[{index}]"
                if not isinstance(tag, str) or not tag.strip() or tag != tag.strip():
                    errors.append(FieldError(path, "field.required", "a tag is non-blank text"))
                elif tag in self.system_tags:
                    message = f"{tag!r} is a system tag; rules set and clear it"
                    errors.append(FieldError(path, RESERVED_TAG_CODE, message))
        if errors:
            raise ValidationError(errors)
        return (tags | frozenset(adding)) - frozenset(removing)

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> TagRules:
        """Load ``{"tags": [{"tag": "high-value", "when": {"budget": {...}}}, ...]}``."""
        errors: list[FieldError] = []
        rules: list[TagRule] = []
        for index, raw in enumerate(data.get("tags", ())):
            if not isinstance(raw, Mapping):
                errors.append(FieldError(f"tags[{index}]", RULE_INVALID_CODE, "expected a mapping"))
                continue
            where = f"tags.{raw.get('tag')}[{index}]"
            when = raw.get("when") or {}
            conditions: list[Condition] = []
            if not isinstance(when, Mapping):
                errors.append(FieldError(where, RULE_INVALID_CODE, "expected fact: condition"))
                continue
            for fact, spec in when.items():
                try:
                    conditions.append(condition_from_config(str(fact), spec, where=where))
                except ValidationError as exc:
                    label = f"tag rule {raw.get('tag')!r}"
                    errors.extend(
                        attrs.evolve(e, message=f"{label}: {e.message}") for e in exc.errors
                    )
            tag = raw.get("tag")
            description = str(raw.get("description", ""))
            rules.append(TagRule(tag if isinstance(tag, str) else "", conditions, description))
        if errors:
            raise ValidationError(errors)
        return cls(tuple(rules))

    def to_config(self) -> dict[str, Any]:
        """Plain data that :meth:`from_config` reads back to equal rules."""
        return {
            "tags": [
                {
                    "tag": rule.tag,
                    "when": {c.fact: condition_to_config(c) for c in rule.when},
                    **({"description": rule.description} if rule.description else {}),
                }
                for rule in self.rules
            ]
        }
