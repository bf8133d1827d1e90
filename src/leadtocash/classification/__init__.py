"""Five-tier customer classification (五级客户分类), tags, required fields and completeness.

Tiers A–E come from an ordered, validated rule table over named facts (demand signals and
information completeness); ``classify`` explains which rule fired and what is missing for the
next tier. The validator guarantees monotonicity: adding information or confirming a demand
signal never lowers the tier (docs/classification.md). The lead score (线索评分) reuses the
same conditions over lead facts: ``ScoreRules`` and ``score_lead``.
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
from leadtocash.classification.lead_facts import (
    DEFAULT_LEAD_COMPLETENESS_FIELDS,
    LEAD_FACTS,
    MEETING_KINDS,
    Engagement,
    LeadFacts,
    lead_facts,
)
from leadtocash.classification.lead_score import (
    MAX_RULE_POINTS,
    RESCORE_ID,
    LeadRescore,
    ScoreRule,
    ScoreRules,
    default_score_rules,
    same_score,
    score_facts,
    score_lead,
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
    "DEFAULT_LEAD_COMPLETENESS_FIELDS",
    "FACTS",
    "INFORMATION_FIELDS",
    "LEAD_FACTS",
    "MAX_RULE_POINTS",
    "MEETING_KINDS",
    "MONOTONE_OPERATORS",
    "NONE_KEY",
    "RESCORE_ID",
    "TIERS",
    "Classification",
    "Condition",
    "ConditionCheck",
    "ConditionValue",
    "DemandSignals",
    "Engagement",
    "FactSpec",
    "FactType",
    "FactValue",
    "Facts",
    "FieldRequirements",
    "LeadFacts",
    "LeadRescore",
    "Operator",
    "Reclassification",
    "RequiredFields",
    "RiskLevel",
    "ScoreRule",
    "ScoreRules",
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
    "default_score_rules",
    "default_tag_rules",
    "facts_of",
    "implies",
    "implies_all",
    "is_filled",
    "lead_facts",
    "same_score",
    "score_facts",
    "score_lead",
    "tier_distribution",
    "tier_rank",
]
