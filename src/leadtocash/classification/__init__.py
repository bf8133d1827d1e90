"""Five-tier customer classification (五级客户分类), tags, required fields and completeness.

Tiers A–E come from an ordered, validated rule table over named facts (demand signals and
information completeness); ``classify`` explains which rule fired and what is missing for the
next tier. The validator guarantees monotonicity: adding information or confirming a demand
signal never lowers the tier (docs/classification.md).
"""

from leadtocash.classification.conditions import (
    MONOTONE_OPERATORS,
    Condition,
    ConditionCheck,
    ConditionValue,
    Operator,
    implies,
    implies_all,
)
from leadtocash.classification.engine import (
    Classification,
    Reclassification,
    apply_classification,
    classify,
)
from leadtocash.classification.events import TierChanged
from leadtocash.classification.facts import (
    DEFAULT_COMPLETENESS_FIELDS,
    FACTS,
    INFORMATION_FIELDS,
    Facts,
    FactSpec,
    FactType,
    FactValue,
    facts_of,
)
from leadtocash.classification.paths import completeness, is_filled
from leadtocash.classification.report import NONE_KEY, TierDistribution, tier_distribution
from leadtocash.classification.required import (
    FieldRequirements,
    RequiredFields,
    default_requirements,
)
from leadtocash.classification.rules import (
    TIERS,
    TierRule,
    TierRules,
    better_tier,
    default_rules,
    tier_rank,
)
from leadtocash.classification.tags import TagRule, TagRules, default_tag_rules
from leadtocash.signals import DemandSignals, RiskLevel

__all__ = [
    "DEFAULT_COMPLETENESS_FIELDS",
    "FACTS",
    "INFORMATION_FIELDS",
    "MONOTONE_OPERATORS",
    "NONE_KEY",
    "TIERS",
    "Classification",
    "Condition",
    "ConditionCheck",
    "ConditionValue",
    "DemandSignals",
    "FactSpec",
    "FactType",
    "FactValue",
    "Facts",
    "FieldRequirements",
    "Operator",
    "Reclassification",
    "RequiredFields",
    "RiskLevel",
    "TagRule",
    "TagRules",
    "TierChanged",
    "TierDistribution",
    "TierRule",
    "TierRules",
    "apply_classification",
    "better_tier",
    "classify",
    "completeness",
    "default_requirements",
    "default_rules",
    "default_tag_rules",
    "facts_of",
    "implies",
    "implies_all",
    "is_filled",
    "tier_distribution",
    "tier_rank",
]
