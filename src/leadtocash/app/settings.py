"""The organisation's settings: read them, change them (versioned, audited), reload them.

The facade loads the stored settings when it is built; ``update`` commits a new version with
an audit entry (who, before → after, reason) and puts it in force for every service of this
process at once. Other processes pick it up with ``reload`` (or when they restart).
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from leadtocash.access import Action, Principal
from leadtocash.aftersales.policies import ServicePolicies
from leadtocash.app.context import AppContext, Change
from leadtocash.app.lead_scores import LeadScoring
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.classification import RequiredFields, ScoreRules, TagRules, TierRules
from leadtocash.collision import CollisionPolicy
from leadtocash.contracts.policies import CashPolicies
from leadtocash.errors import FieldError, ValidationError
from leadtocash.intake import IntakeRules
from leadtocash.pool.ownership import require_reason
from leadtocash.recycle import RecycleRules
from leadtocash.settings import SETTINGS_ID, OrganisationSettings

__all__ = ["SettingsService", "given_settings", "settings_in_force", "stored_settings"]


def given_settings(**values: object) -> dict[str, object]:
    """The settings a caller named (those not None), by field name."""
    return {name: value for name, value in values.items() if value is not None}


def stored_settings(uow: UnitOfWork) -> OrganisationSettings | None:
    """The organisation's stored settings, if they were ever changed."""
    return uow.repository(OrganisationSettings).find(SETTINGS_ID)


def settings_in_force(
    stored: OrganisationSettings | None, given: Mapping[str, object]
) -> OrganisationSettings:
    """The settings to run with: the stored ones, else ``given`` over the defaults.

    A value given to the facade that differs from the stored one is refused
    (``settings.conflict``, naming the field) instead of one silently winning.
    """
    if stored is None:
        return OrganisationSettings(**given)  # type: ignore[arg-type]
    clash = [name for name, value in given.items() if getattr(stored, name) != value]
    if clash:
        raise ValidationError(
            [
                FieldError(
                    name,
                    "settings.conflict",
                    "differs from the stored settings; change it with crm.settings.update",
                )
                for name in clash
            ]
        )
    return stored


@attrs.frozen
class SettingsService:
    """Reads and changes the organisation's rules; every change is versioned and audited."""

    ctx: AppContext

    def get(self, principal: Principal) -> OrganisationSettings:
        """The settings in force (tier, tag, required-field, intake, collision, recycle, cash and
        service rules)."""
        self.ctx.policy.check(principal, Action.CUSTOMER_READ)
        return self.ctx.settings

    def update(
        self,
        principal: Principal,
        reason: str,
        *,
        tier_rules: TierRules | None = None,
        tag_rules: TagRules | None = None,
        lead_score: ScoreRules | None = None,
        required_fields: RequiredFields | None = None,
        intake: IntakeRules | None = None,
        collision: CollisionPolicy | None = None,
        recycle: RecycleRules | None = None,
        cash: CashPolicies | None = None,
        service: ServicePolicies | None = None,
    ) -> OrganisationSettings:
        """Change some of the settings (admin); in force for this process at once.

        New ``lead_score`` rules store a pending lead rescore in the same commit, then rescore
        every lead page by page (``crm.lead_scores.recompute`` finishes a stopped run).
        """
        why = require_reason(reason)
        changes = given_settings(
            tier_rules=tier_rules,
            tag_rules=tag_rules,
            lead_score=lead_score,
            required_fields=required_fields,
            intake=intake,
            collision=collision,
            recycle=recycle,
            cash=cash,
            service=service,
        )

        def command(uow: UnitOfWork) -> tuple[OrganisationSettings, list[Change]]:
            stored = stored_settings(uow)
            base = stored or self.ctx.settings
            after = attrs.evolve(base, **changes)  # type: ignore[arg-type]
            if stored is not None and after == stored:
                return stored, []
            after = attrs.evolve(after, updated_at=self.ctx.clock.now())
            if after.lead_score != base.lead_score:
                LeadScoring(self.ctx).request(uow, why, after.lead_score)
            repo = uow.repository(OrganisationSettings)
            if stored is None:
                repo.add(after)  # the first change stores the settings (version 0 until now)
            else:
                repo.save(after)
            return after, [Change("organisation_settings", SETTINGS_ID, stored, after, why)]

        before = self.ctx.settings.lead_score
        self.ctx.cell.current = self.ctx.execute(principal, Action.SETTINGS_MANAGE, command)
        if self.ctx.settings.lead_score != before:
            LeadScoring(self.ctx).run(principal, Action.SETTINGS_MANAGE)
        return self.ctx.settings

    def reload(self, principal: Principal) -> OrganisationSettings:
        """Put the stored settings in force (after another process changed them)."""
        self.ctx.policy.check(principal, Action.CUSTOMER_READ)
        with self.ctx.unit_of_work() as uow:
            stored = stored_settings(uow)
        if stored is not None:
            self.ctx.cell.current = stored
        return self.ctx.settings
