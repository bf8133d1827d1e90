"""The organisation's configurable rules as data (组织配置): one versioned, audited aggregate.

Tier rules, system-tag rules, lead score rules, required fields, intake rules and the
collision policy, the contract-to-cash policies (approval thresholds, invoicing, reminders) and
the after-sales policies (SLA targets, reopen window, churn rules, renewals, service hours) are
not constructor arguments that silently fall back to defaults: they are stored, changed
through an audited command (who changed what, before → after), and every path of the
application reads the same copy. Pool rules are stored on each pool.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from leadtocash.aftersales.policies import ServicePolicies
from leadtocash.classification import RequiredFields, ScoreRules, TagRules, TierRules
from leadtocash.collision import DEFAULT_POLICY, CollisionPolicy
from leadtocash.contracts.policies import CashPolicies
from leadtocash.intake import IntakeRules
from leadtocash.recycle import RecycleRules
from leadtocash.validators import utc

__all__ = ["SETTINGS_ID", "OrganisationSettings"]

#: The id of the one settings record of an organisation (a store holds one organisation).
SETTINGS_ID = "organisation"


@attrs.frozen
class OrganisationSettings:
    """The rules every command of the organisation applies; ``version`` counts changes."""

    id: str = SETTINGS_ID
    tier_rules: TierRules = attrs.field(factory=TierRules)
    tag_rules: TagRules = attrs.field(factory=TagRules)
    #: The lead score rules (线索评分规则); changing them rescores every lead in pages.
    lead_score: ScoreRules = attrs.field(factory=ScoreRules)
    required_fields: RequiredFields = attrs.field(factory=RequiredFields)
    intake: IntakeRules = attrs.field(factory=IntakeRules)
    collision: CollisionPolicy = DEFAULT_POLICY
    #: How long deleted records stay restorable in the recycle bin (回收站).
    recycle: RecycleRules = attrs.field(factory=RecycleRules)
    #: Quotes' approval threshold, contract approvers, invoicing ceiling and payment days,
    #: receivable reminders (报价审批, 开票, 催款).
    cash: CashPolicies = attrs.field(factory=CashPolicies)
    #: SLA targets, the reopen window, churn rules, renewals and service hours (售后).
    service: ServicePolicies = attrs.field(factory=ServicePolicies)
    updated_at: datetime | None = attrs.field(default=None, validator=utc)
    version: int = 0
