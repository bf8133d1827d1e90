"""The lead score rule table (线索评分规则): validated, explainable, monotone where it says so.

Every rule whose conditions all hold adds its points (a whole number, -100..100) to its
component (source, completeness, engagement, fit); the score is the sum clamped to 0..100,
stored with the breakdown, the rules that fired and the version of the rule set. Conditions
are the classification conditions (:mod:`leadtocash.classification.conditions`) over the
lead facts of :mod:`leadtocash.classification.lead_facts`.

A component named in ``monotone`` keeps its promise by validation: each of its rules either
adds points under conditions that stay true when a fact improves (a field filled, one more
follow-up, a more recent one) or takes points away under conditions that can only turn
false then. Adding information or engagement therefore never lowers that component, nor the
clamped total when only such facts improve (property-tested).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from leadtocash.classification.conditions import (
    MONOTONE_OPERATORS,
    NOT_MONOTONE_CODE,
    RULE_INVALID_CODE,
    UNKNOWN_FIELD_CODE,
    Condition,
    ConditionalRow,
    Operator,
    as_tuple,
    condition_from_config,
    condition_to_config,
    name_errors,
    rule_path,
    when_errors,
)
from leadtocash.classification.lead_facts import (
    DEFAULT_LEAD_COMPLETENESS_FIELDS,
    LEAD_FACTS,
    Engagement,
    LeadFacts,
    lead_facts,
)
from leadtocash.classification.paths import path_error
from leadtocash.errors import FieldError, ValidationError
from leadtocash.model import Lead
from leadtocash.scoring import MAX_SCORE, ComponentScore, LeadScore, ScoreComponent, ScoredRule

__all__ = [
    "MAX_RULE_POINTS",
    "RESCORE_ID",
    "LeadRescore",
    "ScoreRule",
    "ScoreRules",
    "default_score_rules",
    "same_score",
    "score_facts",
    "score_lead",
]

#: The most points one rule may add or take away.
MAX_RULE_POINTS = 100
OUT_OF_RANGE_CODE = "field.out_of_range"

#: Operators that can only turn false when a fact improves, by polarity: the conditions under
#: which a rule of a monotone component may take points away.
_FALLING: Mapping[bool, frozenset[Operator]] = {
    True: frozenset(
        {Operator.IS_FALSE, Operator.ABSENT, Operator.AT_MOST, Operator.OLDER_THAN_DAYS}
    ),
    False: frozenset({Operator.IS_TRUE, Operator.AT_LEAST}),
}

_MONOTONE_DEFAULT = frozenset({ScoreComponent.COMPLETENESS, ScoreComponent.ENGAGEMENT})


@attrs.frozen
class ScoreRule(ConditionalRow):
    """One row: when every condition holds, ``points`` go to ``component``."""

    name: str
    component: ScoreComponent
    points: int
    when: tuple[Condition, ...] = attrs.field(default=(), converter=as_tuple)
    description: str = ""

    def reason(self) -> str:
        """English: what the rule tests ("channel one of referral; phone known")."""
        return "; ".join(c.describe(LEAD_FACTS) for c in self.when) or "every lead"


def _monotone_problem(rule: ScoreRule, condition: Condition) -> str | None:
    """Why ``condition`` breaks the monotonicity of ``rule``'s component (None: it does not)."""
    spec = LEAD_FACTS[condition.fact]
    if rule.points > 0 and condition.op not in MONOTONE_OPERATORS[spec.positive]:
        return (
            f"{condition.describe(LEAD_FACTS)!r} can turn false when {condition.fact} improves, "
            f"so more information or engagement could lower the {rule.component} component"
        )
    if rule.points < 0 and condition.op not in _FALLING[spec.positive]:
        return (
            f"{condition.describe(LEAD_FACTS)!r} can turn true when {condition.fact} improves, "
            f"so taking points there could lower the {rule.component} component"
        )
    return None


def _monotone_check(rule: ScoreRule, label: str) -> Callable[[str, Condition], list[FieldError]]:
    """The check of a monotone component's valid conditions (no points taken on improvement)."""

    def check(path: str, condition: Condition) -> list[FieldError]:
        if not isinstance(rule.points, int):
            return []
        problem = _monotone_problem(rule, condition)
        return (
            [] if problem is None else [FieldError(path, NOT_MONOTONE_CODE, f"{label}: {problem}")]
        )

    return check


def _rule_errors(
    rules: Sequence[ScoreRule], monotone: frozenset[ScoreComponent]
) -> list[FieldError]:
    errors: list[FieldError] = []
    names: set[str] = set()
    for index, rule in enumerate(rules):
        where = rule_path(index, getattr(rule, "name", None))
        if not isinstance(rule, ScoreRule):
            errors.append(FieldError(where, RULE_INVALID_CODE, "expected a ScoreRule"))
            continue
        label = f"rule {rule.name!r}"
        errors += name_errors(rule.name, index, where, names)
        if not isinstance(rule.component, ScoreComponent):
            message = f"{label}: component must be one of {', '.join(ScoreComponent)}"
            errors.append(FieldError(f"{where}.component", RULE_INVALID_CODE, message))
        points = rule.points
        if isinstance(points, bool) or not isinstance(points, int):
            message = f"{label}: points must be a whole number"
            errors.append(FieldError(f"{where}.points", RULE_INVALID_CODE, message))
        elif points == 0 or abs(points) > MAX_RULE_POINTS:
            message = (
                f"{label}: points must be between -{MAX_RULE_POINTS} and {MAX_RULE_POINTS} "
                f"and not 0, got {points}"
            )
            errors.append(FieldError(f"{where}.points", OUT_OF_RANGE_CODE, message))
        errors += when_errors(
            rule, where, monotone=False, specs=LEAD_FACTS,
            also=_monotone_check(rule, label) if rule.component in monotone else None,
        )  # fmt: skip
    return errors


def _completeness_errors(paths: Sequence[str]) -> list[FieldError]:
    errors: list[FieldError] = []
    for index, path in enumerate(paths):
        where = f"completeness_fields[{index}]"
        problem = path_error(Lead, path)
        if problem is not None:
            errors.append(FieldError(where, UNKNOWN_FIELD_CODE, problem))
        elif path == "score":
            message = "the score cannot count itself"
            errors.append(FieldError(where, RULE_INVALID_CODE, message))
        elif path in paths[:index]:
            errors.append(FieldError(where, RULE_INVALID_CODE, f"{path} is listed twice"))
    return errors


def default_score_rules() -> tuple[ScoreRule, ...]:
    """The default table: up to 25 points for source, completeness, engagement and fit."""

    def rule(name: str, component: ScoreComponent, points: int, *when: Condition) -> ScoreRule:
        return ScoreRule(name, component, points, when)

    src, full = ScoreComponent.SOURCE, ScoreComponent.COMPLETENESS
    eng, fit = ScoreComponent.ENGAGEMENT, ScoreComponent.FIT
    return (
        rule("referral", src, 20, Condition("channel", Operator.ONE_OF, ("referral",))),
        rule(
            "warm-channel",
            src,
            10,
            Condition("channel", Operator.ONE_OF, ("event", "web_form", "call")),
        ),
        rule("campaign", src, 5, Condition("campaign", Operator.PRESENT)),
        rule("duplicate", src, -20, Condition("duplicate", Operator.IS_TRUE)),
        rule("contact-name", full, 5, Condition("has_contact_name", Operator.IS_TRUE)),
        rule("phone", full, 5, Condition("has_phone", Operator.IS_TRUE)),
        rule("e-mail", full, 5, Condition("has_email", Operator.IS_TRUE)),
        rule("credit-code", full, 5, Condition("has_uscc", Operator.IS_TRUE)),
        rule("profile", full, 5, Condition("completeness", Operator.AT_LEAST, 75)),
        rule("followed-up", eng, 5, Condition("follow_ups", Operator.AT_LEAST, 1)),
        rule("followed-up-3", eng, 5, Condition("follow_ups", Operator.AT_LEAST, 3)),
        rule("met", eng, 10, Condition("meetings", Operator.AT_LEAST, 1)),
        rule("recent", eng, 5, Condition("last_follow_up_at", Operator.WITHIN_DAYS, 14)),
        rule("mid-size", fit, 10, Condition("employees", Operator.AT_LEAST, 50)),
        rule("large", fit, 5, Condition("employees", Operator.AT_LEAST, 500)),
        rule("industry", fit, 5, Condition("industry", Operator.PRESENT)),
        rule("product-line", fit, 5, Condition("product_line", Operator.PRESENT)),
    )


def _components(value: Iterable[Any]) -> frozenset[ScoreComponent]:
    return frozenset(value)


@attrs.frozen
class ScoreRules:
    """The validated lead score table, its monotone components and what completeness counts.

    Construction validates: a bad table raises ValidationError naming the rule and key.
    ``version`` fingerprints the table (the same rules give the same version anywhere).
    """

    rules: tuple[ScoreRule, ...] = attrs.field(factory=default_score_rules, converter=as_tuple)
    monotone: frozenset[ScoreComponent] = attrs.field(
        default=_MONOTONE_DEFAULT, converter=_components
    )
    completeness_fields: tuple[str, ...] = attrs.field(
        default=DEFAULT_LEAD_COMPLETENESS_FIELDS, converter=as_tuple
    )

    def __attrs_post_init__(self) -> None:
        errors: list[FieldError] = []
        for item in self.monotone:
            if not isinstance(item, ScoreComponent):
                message = f"unknown component {item!r}"
                errors.append(FieldError("monotone", RULE_INVALID_CODE, message))
        errors += _rule_errors(self.rules, self.monotone)
        errors += _completeness_errors(self.completeness_fields)
        if errors:
            raise ValidationError(errors)

    @property
    def version(self) -> str:
        """A 12-hex-digit fingerprint of the table's config (stored with every score)."""
        text = json.dumps(self.to_config(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]

    def rule(self, name: str) -> ScoreRule:
        """The rule called ``name``."""
        for rule in self.rules:
            if rule.name == name:
                return rule
        raise ValidationError.single(f"rules.{name}", UNKNOWN_FIELD_CODE, "no such rule")

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> ScoreRules:
        """Load a table from plain data (JSON/TOML/YAML), e.g.::

        {"rules": [{"name": "referral", "component": "source", "points": 20,
                    "when": {"channel": {"one_of": ["referral"]}}},
                   {"name": "met", "component": "engagement", "points": 10,
                    "when": {"meetings": {"at_least": 1}}}],
         "monotone": ["completeness", "engagement"],
         "completeness_fields": ["phone", "email", "industry"]}

        Every problem is reported at once, each naming its key (``rules.met.points``).
        """
        if not isinstance(data, Mapping):
            raise ValidationError.single("lead_score", RULE_INVALID_CODE, "expected a mapping")
        errors: list[FieldError] = []
        rules: list[ScoreRule] = []
        raw_rules = data.get("rules", ())
        if isinstance(raw_rules, str | bytes) or not isinstance(raw_rules, Iterable):
            raise ValidationError.single("rules", RULE_INVALID_CODE, "expected a list of rules")
        for index, raw in enumerate(raw_rules):
            found = _rule_from_config(index, raw, errors)
            if found is not None:
                rules.append(found)
        unknown = sorted(set(data) - {"rules", "monotone", "completeness_fields"})
        errors += [
            FieldError(key, UNKNOWN_FIELD_CODE, f"unknown setting {key!r}") for key in unknown
        ]
        monotone: list[ScoreComponent] = []
        for item in data.get("monotone", sorted(_MONOTONE_DEFAULT)):
            try:
                monotone.append(ScoreComponent(item))
            except ValueError:
                message = f"unknown component {item!r}; use {', '.join(ScoreComponent)}"
                errors.append(FieldError("monotone", RULE_INVALID_CODE, message))
        fields = data.get("completeness_fields", DEFAULT_LEAD_COMPLETENESS_FIELDS)
        if isinstance(fields, str) or not isinstance(fields, Iterable):
            message = "expected a list of field paths"
            errors.append(FieldError("completeness_fields", RULE_INVALID_CODE, message))
            fields = ()
        try:
            table = cls(tuple(rules), frozenset(monotone), tuple(fields))
        except ValidationError as exc:
            errors += exc.errors
        if errors:
            raise ValidationError(errors)
        return table

    def to_config(self) -> dict[str, Any]:
        """Plain data that :meth:`from_config` reads back to an equal table."""
        return {
            "rules": [
                {
                    "name": rule.name,
                    "component": rule.component.value,
                    "points": rule.points,
                    "when": {c.fact: condition_to_config(c) for c in rule.when},
                    **({"description": rule.description} if rule.description else {}),
                }
                for rule in self.rules
            ],
            "monotone": sorted(c.value for c in self.monotone),
            "completeness_fields": list(self.completeness_fields),
        }


def _rule_from_config(index: int, raw: object, errors: list[FieldError]) -> ScoreRule | None:
    if not isinstance(raw, Mapping):
        errors.append(FieldError(f"rules[{index}]", RULE_INVALID_CODE, "expected a mapping"))
        return None
    where = rule_path(index, raw.get("name"))
    name = raw.get("name")
    label = f"rule {name!r}" if isinstance(name, str) else f"rule {index}"
    for key in sorted(set(raw) - {"name", "component", "points", "when", "description"}):
        errors.append(FieldError(f"{where}.{key}", UNKNOWN_FIELD_CODE, f"unknown key {key!r}"))
    try:
        component = ScoreComponent(str(raw.get("component")))
    except ValueError:
        message = f"{label}: component must be one of {', '.join(ScoreComponent)}, got "
        errors.append(
            FieldError(
                f"{where}.component", RULE_INVALID_CODE, message + repr(raw.get("component"))
            )
        )
        return None
    points = raw.get("points")
    if isinstance(points, bool) or not isinstance(points, int):
        message = f"{label}: points must be a whole number, got {points!r}"
        errors.append(FieldError(f"{where}.points", RULE_INVALID_CODE, message))
        return None
    when = raw.get("when") or {}
    if not isinstance(when, Mapping):
        errors.append(FieldError(f"{where}.when", RULE_INVALID_CODE, "expected fact: condition"))
        return None
    conditions: list[Condition] = []
    for fact, spec in when.items():
        try:
            conditions.append(
                condition_from_config(str(fact), spec, where=f"{where}.when", specs=LEAD_FACTS)
            )
        except ValidationError as exc:
            errors.extend(attrs.evolve(e, message=f"{label}: {e.message}") for e in exc.errors)
    return ScoreRule(
        name if isinstance(name, str) else "",
        component,
        points,
        tuple(conditions),
        str(raw.get("description", "")),
    )


def score_facts(facts: LeadFacts, rules: ScoreRules) -> LeadScore:
    """The score ``rules`` give ``facts``: fired rules, per-component points, clamped total."""
    fired = tuple(
        ScoredRule(rule.name, rule.component, rule.points, rule.reason())
        for rule in rules.rules
        if rule.matches(facts)
    )
    components = tuple(
        ComponentScore(c, sum(r.points for r in fired if r.component is c)) for c in ScoreComponent
    )
    raw = sum(r.points for r in fired)
    return LeadScore(
        total=max(0, min(MAX_SCORE, raw)),
        raw=raw,
        components=components,
        fired=fired,
        rules_version=rules.version,
        scored_at=facts.now,
    )


def score_lead(
    lead: Lead,
    engagement: Engagement,
    rules: ScoreRules,
    now: datetime,
    *,
    timezone: str = "Asia/Shanghai",
) -> LeadScore:
    """Score ``lead`` with its ``engagement`` (its follow-ups) at ``now``; pure."""
    facts = lead_facts(
        lead, engagement, now, timezone=timezone, completeness_fields=rules.completeness_fields
    )
    return score_facts(facts, rules)


#: The id of the one lead rescore job of an organisation.
RESCORE_ID = "lead_score"


@attrs.frozen
class LeadRescore:
    """The pending recomputation of every lead's score after the score rules changed.

    Stored in the same commit as the rule change and advanced page by page (``after`` is the
    last lead done), so a process that stops midway leaves work the next run finishes, never
    leads silently keeping scores from the old rules (like the pools' ``ScheduleRecompute``).
    ``after`` is the cursor (index value, lead id) of the last lead done.
    """

    id: str
    requested_at: datetime
    reason: str
    rules_version: str
    after: tuple[str, str] | None = None
    done: bool = False
    pages: int = 0
    changed: int = 0
    version: int = 0

    def restarted(self, at: datetime, reason: str, rules_version: str) -> LeadRescore:
        """The job begun again from the first lead (the rules changed once more)."""
        return attrs.evolve(
            self,
            requested_at=at,
            reason=reason,
            rules_version=rules_version,
            after=None,
            done=False,
        )

    def advanced(self, cursor: tuple[str, str] | None, changed: int) -> LeadRescore:
        """The job after one more page; done when ``cursor`` is None (no page left)."""
        return attrs.evolve(
            self,
            after=cursor if cursor is not None else self.after,
            done=cursor is None,
            pages=self.pages + 1,
            changed=self.changed + changed,
        )


def same_score(a: LeadScore | None, b: LeadScore | None) -> bool:
    """True when two scores say the same (``scored_at`` aside)."""
    if a is None or b is None:
        return a is b
    return attrs.evolve(a, scored_at=b.scored_at) == b
