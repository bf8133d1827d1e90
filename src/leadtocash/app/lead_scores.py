"""Lead scores (线索评分): the scoring step of the lead write path, explanations, rescoring.

Every command that saves a lead passes it through :meth:`LeadScoring.scored` in its own unit
of work, so the stored score always matches the lead and the organisation's score rules as
of the change (its engagement counted from the lead's follow-ups). When the rules change,
``crm.settings.update`` stores a pending :class:`~leadtocash.classification.LeadRescore` in
the same commit and rescores every lead page by page; a stopped run is finished by
``crm.lead_scores.recompute``, which also refreshes time-dependent points (recency) when
run as a periodic job.
"""

from __future__ import annotations

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.documents import batch_size
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.classification import (
    LEAD_FACTS,
    RESCORE_ID,
    ConditionCheck,
    Engagement,
    LeadFacts,
    LeadRescore,
    ScoreRule,
    ScoreRules,
    lead_facts,
    same_score,
    score_facts,
)
from leadtocash.model import FollowUp, Lead
from leadtocash.scopes import lead_target
from leadtocash.scoring import LeadScore

__all__ = [
    "LeadScoreService",
    "LeadScoring",
    "RescoreReport",
    "RuleCheck",
    "ScoreExplanation",
]

_PAGE = 500


@attrs.frozen
class RuleCheck:
    """One score rule against one lead: fired or not, and each condition's check."""

    rule: ScoreRule
    fired: bool
    checks: tuple[ConditionCheck, ...]

    def describe(self) -> str:
        """English: the rule, its points, and the conditions (with the values seen if unmet)."""
        mark = "fired" if self.fired else "not fired"
        conditions = "; ".join(c.describe(LEAD_FACTS) for c in self.checks) or "every lead"
        return (
            f"{self.rule.name} ({self.rule.component} {self.rule.points:+d}, {mark}): {conditions}"
        )


@attrs.frozen
class ScoreExplanation:
    """A lead's score now, the stored one, the facts read and every rule's check."""

    lead_id: str
    score: LeadScore
    stored: LeadScore | None
    facts: LeadFacts
    rules: tuple[RuleCheck, ...]

    @property
    def stale(self) -> bool:
        """True when the stored score differs from the score now (rules or time moved)."""
        return not same_score(self.stored, self.score)

    def explain(self) -> str:
        """The score's explanation, then the rules that did not fire and why."""
        unmet = [r.describe() for r in self.rules if not r.fired]
        lines = [self.score.explain()]
        if unmet:
            lines.append("not fired:")
            lines += [f"  {line}" for line in unmet]
        return "\n".join(lines)


@attrs.frozen
class RescoreReport:
    """What a rescore run did: pages read, leads whose score changed, whether it finished."""

    pages: int = 0
    changed: int = 0
    finished: bool = True


@attrs.frozen
class LeadScoring:
    """The lead write path's scoring step and the paged rescore every caller shares."""

    ctx: AppContext

    @property
    def rules(self) -> ScoreRules:
        """The organisation's lead score rules in force."""
        return self.ctx.settings.lead_score

    def engagement(
        self, uow: UnitOfWork, lead_id: str, extra: tuple[FollowUp, ...] = ()
    ) -> Engagement:
        """The lead's follow-ups counted (stored ones and ``extra`` staged in this unit)."""
        found: dict[str, FollowUp] = {f.id: f for f in extra}
        cursor: tuple[str, str] | None = None
        while True:
            page = uow.follow_ups.query_group("target", lead_id, after=cursor, limit=_PAGE)
            for follow_up in page.items:
                found.setdefault(follow_up.id, follow_up)
            if page.next_cursor is None:
                return Engagement.of(found.values())
            cursor = page.next_cursor

    def facts(self, uow: UnitOfWork, lead: Lead, extra: tuple[FollowUp, ...] = ()) -> LeadFacts:
        """The lead's facts now, as the score rules see them."""
        return lead_facts(
            lead,
            self.engagement(uow, lead.id, extra),
            self.ctx.clock.now(),
            timezone=self.ctx.timezone,
            completeness_fields=self.rules.completeness_fields,
        )

    def scored(self, uow: UnitOfWork, lead: Lead, extra: tuple[FollowUp, ...] = ()) -> Lead:
        """``lead`` with its score recomputed (call it on every lead about to be saved)."""
        return attrs.evolve(lead, score=score_facts(self.facts(uow, lead, extra), self.rules))

    def rescored(
        self,
        uow: UnitOfWork,
        before: Lead | None,
        lead: Lead,
        extra: tuple[FollowUp, ...] = (),
    ) -> Lead:
        """``lead`` rescored, keeping ``before``'s stored score when it says the same (so a
        write path can still tell an unchanged lead by equality)."""
        after = self.scored(uow, lead, extra)
        if before is not None and same_score(before.score, after.score):
            return attrs.evolve(after, score=before.score)
        return after

    def request(self, uow: UnitOfWork, reason: str, rules: ScoreRules | None = None) -> LeadRescore:
        """Stage a rescore of every lead under ``rules`` (default: those in force) in ``uow``,
        restarting a pending one."""
        jobs = uow.repository(LeadRescore)
        now, version = self.ctx.clock.now(), (rules or self.rules).version
        job = jobs.find(RESCORE_ID)
        if job is None:
            pending = LeadRescore(RESCORE_ID, now, reason, version)
            jobs.add(pending)
        else:
            pending = job.restarted(now, reason, version)
            jobs.save(pending)
        return pending

    def run(
        self,
        principal: Principal,
        action: Action,
        *,
        page: int = _PAGE,
        max_pages: int | None = None,
    ) -> RescoreReport:
        """Advance the pending rescore page by page (each page one commit); what it did."""
        batch_size(page, "page")
        changed, pages = 0, 0
        while max_pages is None or pages < max_pages:

            def command(uow: UnitOfWork) -> tuple[tuple[int, bool], list[Change]]:
                jobs = uow.repository(LeadRescore)
                job = jobs.find(RESCORE_ID)
                if job is None or job.done:
                    return (0, True), []
                found = uow.leads.query("created", after=job.after, limit=page)
                changes: list[Change] = []
                why = f"lead score rules changed ({job.reason}): score recomputed"
                for lead in found.items:
                    after = self.scored(uow, lead)
                    if same_score(lead.score, after.score):
                        continue
                    uow.leads.save(after)
                    changes.append(Change("lead", lead.id, lead, after, why))
                jobs.save(job.advanced(found.next_cursor, len(changes)))
                return (len(changes), found.next_cursor is None), changes

            count, finished = self.ctx.execute(principal, action, command)
            changed, pages = changed + count, pages + 1
            if finished:
                return RescoreReport(pages, changed, True)
        return RescoreReport(pages, changed, False)


@attrs.frozen
class LeadScoreService:
    """Explains lead scores and rescores every lead (after a rule change, or periodically)."""

    ctx: AppContext
    scoring: LeadScoring = attrs.field(
        init=False, default=attrs.Factory(lambda self: LeadScoring(self.ctx), takes_self=True)
    )

    def explain(self, principal: Principal, lead_id: str) -> ScoreExplanation:
        """The lead's score now with every rule's check, beside the stored score."""

        def query(uow: UnitOfWork) -> ScoreExplanation:
            lead = uow.leads.get(lead_id)
            self.ctx.guard(uow, principal, lead_target(lead), write=False)
            facts = self.scoring.facts(uow, lead)
            rules = self.scoring.rules
            checks = tuple(
                RuleCheck(rule, rule.matches(facts), rule.check(facts)) for rule in rules.rules
            )
            return ScoreExplanation(lead.id, score_facts(facts, rules), lead.score, facts, checks)

        return self.ctx.read(principal, Action.LEAD_READ, query)

    def recompute(
        self,
        principal: Principal,
        *,
        reason: str | None = None,
        page: int = _PAGE,
        max_pages: int | None = None,
    ) -> RescoreReport:
        """Finish the pending rescore, or (with ``reason``) start a fresh one over every lead.

        Each page commits on its own with the job's progress and one audit entry per lead
        whose score changed; ``max_pages`` bounds this call (the rest stays pending). Run it
        periodically with a reason to refresh points that depend on time (recency).
        """
        batch_size(page, "page")
        self.ctx.policy.check(principal, Action.LEAD_RESCORE)
        if reason is not None:

            def command(uow: UnitOfWork) -> tuple[None, list[Change]]:
                self.scoring.request(uow, reason)
                return None, []

            self.ctx.execute(principal, Action.LEAD_RESCORE, command)
        return self.scoring.run(principal, Action.LEAD_RESCORE, page=page, max_pages=max_pages)
