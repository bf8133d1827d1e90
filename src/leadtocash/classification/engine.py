"""``classify``: the tier of a customer, the rule that fired, and what to do next.

Pure: everything it needs (rules, ``now``, the org time zone) is passed in; it never reads
the wall clock.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from leadtocash.classification.conditions import ConditionCheck
from leadtocash.classification.facts import Facts, facts_of
from leadtocash.classification.required import FieldRequirements
from leadtocash.classification.rules import TierRule, TierRules, better_tier, tier_rank
from leadtocash.classification.tags import TagRules
from leadtocash.model import Customer, Tier
from leadtocash.signals import DemandSignals

__all__ = ["Classification", "Reclassification", "apply_classification", "classify"]


@attrs.frozen
class Classification:
    """A tier with its explanation: the rule that fired, the conditions it matched, and the
    unmet conditions (and empty required fields) between the customer and the next tier up.
    """

    tier: Tier
    rule: TierRule
    matched: tuple[ConditionCheck, ...]
    facts: Facts
    next_tier: Tier | None = None
    next_rule: TierRule | None = None
    missing: tuple[ConditionCheck, ...] = ()
    missing_fields: tuple[str, ...] = ()

    @property
    def to_do(self) -> tuple[str, ...]:
        """What to do next, in English: each unmet condition, then each empty required field."""
        steps = tuple(check.describe() for check in self.missing)
        return steps + tuple(f"fill in {path}" for path in self.missing_fields)

    def explain(self) -> str:
        """A short English explanation a rep can read."""
        matched = "; ".join(c.describe() for c in self.matched) or "no conditions (catch-all)"
        lines = [f"tier {self.tier} by rule {self.rule.name!r}: {matched}"]
        if self.next_tier is not None and self.next_rule is not None:
            lines.append(
                f"to reach tier {self.next_tier} (rule {self.next_rule.name!r}): "
                + "; ".join(self.to_do)
            )
        return "\n".join(lines)

    def without_budget(self) -> Classification:
        """This classification with the budget hidden (None) from its facts and checks, for
        principals who may not see amounts; conditions (the rule's thresholds) stay."""

        def hide(checks: tuple[ConditionCheck, ...]) -> tuple[ConditionCheck, ...]:
            return tuple(
                attrs.evolve(c, actual=None) if c.condition.fact == "budget" else c for c in checks
            )

        return attrs.evolve(
            self,
            facts=attrs.evolve(self.facts, budget=None),
            matched=hide(self.matched),
            missing=hide(self.missing),
        )


def classify(
    customer: Customer,
    signals: DemandSignals,
    rules: TierRules,
    now: datetime,
    *,
    timezone: str = "Asia/Shanghai",
    requirements: FieldRequirements | None = None,
) -> Classification:
    """Classify ``customer`` as if it had ``signals`` (usually ``customer.signals``) at ``now``.

    ``timezone`` decides which calendar day "today" is for expected close dates;
    ``requirements`` (customer field requirements) adds the required fields of the next tier
    that are still empty to the explanation.
    """
    facts = facts_of(
        customer,
        signals,
        now,
        timezone=timezone,
        completeness_fields=rules.completeness_fields,
    )
    rule = rules.first_match(facts)
    next_tier = better_tier(rule.tier)
    next_rule: TierRule | None = None
    missing: tuple[ConditionCheck, ...] = ()
    missing_fields: tuple[str, ...] = ()
    if next_tier is not None:
        candidates = [
            (r, tuple(c for c in r.check(facts) if not c.met))
            for r in rules.rules
            if r.tier is next_tier  # only the next tier's rules are explained
        ]
        if candidates:
            next_rule, missing = min(candidates, key=lambda pair: len(pair[1]))
        if requirements is not None:
            same = signals is customer.signals  # the usual case: no copy to make
            profile = customer if same else attrs.evolve(customer, signals=signals)
            missing_fields = requirements.missing(profile, tier=next_tier)
    return Classification(
        tier=rule.tier,
        rule=rule,
        matched=rule.check(facts),
        facts=facts,
        next_tier=next_tier,
        next_rule=next_rule,
        missing=missing,
        missing_fields=missing_fields,
    )


@attrs.frozen
class Reclassification:
    """A customer before and after classification (tier and system tags recomputed)."""

    before: Customer
    after: Customer
    classification: Classification

    @property
    def tier_changed(self) -> bool:
        """True when the tier moved."""
        return self.before.tier is not self.after.tier

    @property
    def improved(self) -> bool:
        """True when the tier moved up (towards A)."""
        return tier_rank(self.after.tier) < tier_rank(self.before.tier)

    @property
    def tags_added(self) -> frozenset[str]:
        """Tags the rules added."""
        return self.after.tags - self.before.tags

    @property
    def tags_removed(self) -> frozenset[str]:
        """Tags the rules removed."""
        return self.before.tags - self.after.tags

    @property
    def changed(self) -> bool:
        """True when the tier or the tags changed."""
        return self.tier_changed or self.before.tags != self.after.tags

    def summary(self) -> str:
        """One line for audit reasons: ``tier D → B by rule 'warm'; tags +high-value``."""
        rule = self.classification.rule.name
        if self.tier_changed:
            text = f"tier {self.before.tier} → {self.after.tier} by rule {rule!r}"
        else:
            text = f"tier {self.after.tier} kept by rule {rule!r}"
        added = ", ".join(f"+{t}" for t in sorted(self.tags_added))
        removed = ", ".join(f"-{t}" for t in sorted(self.tags_removed))
        tags = ", ".join(part for part in (added, removed) if part)
        return f"{text}; tags {tags}" if tags else text


def apply_classification(
    customer: Customer,
    rules: TierRules,
    tags: TagRules,
    now: datetime,
    *,
    timezone: str = "Asia/Shanghai",
    requirements: FieldRequirements | None = None,
) -> Reclassification:
    """``customer`` with its tier and system tags recomputed from its own facts at ``now``."""
    result = classify(
        customer, customer.signals, rules, now, timezone=timezone, requirements=requirements
    )
    tagged = tags.apply(customer.tags, result.facts)
    if result.tier is customer.tier and tagged == customer.tags:
        after = customer  # nothing moved (most reclassifications): no copy to make
    else:
        after = attrs.evolve(customer, tier=result.tier, tags=tagged)
    return Reclassification(customer, after, result)
