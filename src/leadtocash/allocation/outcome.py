"""What allocation returns: assignments that explain themselves, refusals that say why."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from fractions import Fraction

import attrs

from leadtocash.allocation.eligibility import (
    LeadProfile,
    Reason,
    RepEligibility,
    RepState,
    check_eligibility,
)
from leadtocash.allocation.ledger import FairnessLedger
from leadtocash.allocation.policies import AllocationPolicy
from leadtocash.errors import RuleViolation
from leadtocash.i18n import has_message, message, placeholders
from leadtocash.model import RepId

__all__ = [
    "NO_ELIGIBLE_REP",
    "AllocationResult",
    "Assignment",
    "DeferredRun",
    "Explanation",
    "NoEligibleRep",
    "Refusal",
]

#: Stable code of a refused lead.
NO_ELIGIBLE_REP = "allocation.no_eligible_rep"

_SHOWN = ("zone.", "skills.", "rule.included")


@attrs.frozen
class Explanation:
    """Why this rep got this lead: policy, eligibility reasons, deficit before, caps after.

    ``counts`` holds the caps as data, ``(kind, used, cap)`` with kind ``today`` or ``owned``,
    so :meth:`text` can write them in any language; ``caps`` is the same in English.
    """

    policy: str
    rep_id: RepId
    reasons: tuple[Reason, ...]
    deficit: str
    caps: tuple[str, ...] = ()
    rule: str | None = None
    counts: tuple[tuple[str, int, int], ...] = ()

    @property
    def deficit_value(self) -> Fraction:
        """Entitlement − received just before the pick (this lead's share included), exact."""
        return Fraction(self.deficit)

    def text(self, locale: str | None = None) -> str:
        """One line in ``locale`` (default English, the audit's language), e.g.
        ``rep r7: deficit 0.83, eligible by zone East, 12/20 today (fair)`` or
        ``销售 r7：欠额 0.83，符合条件：战区 East，今日 12/20（公平分配）``."""
        loc = locale or "en"
        value = self.deficit_value
        deficit = Decimal(value.numerator) / Decimal(value.denominator)
        facts = [message("explanation.deficit", loc, deficit=deficit)]
        shown = [_reason_text(r, loc) for r in self.reasons if r.code.startswith(_SHOWN)]
        if shown:
            facts.append(message("explanation.eligible_by", loc, reasons=shown))
        if self.rule is not None:
            facts.append(message("explanation.rule", loc, rule=self.rule))
        if self.counts:
            facts.extend(
                message(f"explanation.{kind}", loc, used=used, cap=cap)
                for kind, used, cap in self.counts
            )
        else:
            facts.extend(self.caps)
        joined = message("explanation.separator", loc).join(facts)
        return message(
            "explanation.line", loc, rep_id=self.rep_id, facts=joined, policy=self.policy
        )


def _reason_text(reason: Reason, locale: str) -> str:
    """A reason in ``locale`` when its details fill the translated text, else its message."""
    code = f"explanation.{reason.code}"
    details = dict(reason.details)
    if not has_message(code, locale) or not placeholders(code, locale) <= set(details):
        return reason.message
    return message(code, locale, **details)


@attrs.frozen
class Assignment:
    """One lead given to one rep, with its explanation."""

    lead_id: str
    rep_id: RepId
    explanation: Explanation


@attrs.frozen
class Refusal:
    """A lead nobody may receive; it stays unassigned. ``reps`` says why, rep by rep."""

    lead_id: str
    reps: tuple[RepEligibility, ...]
    code: str = NO_ELIGIBLE_REP

    def error(self) -> NoEligibleRep:
        """The same refusal as an exception."""
        return NoEligibleRep(self)


class NoEligibleRep(RuleViolation):
    """No rep may receive the lead; ``details["reasons"]`` maps rep id to reason codes."""

    code = NO_ELIGIBLE_REP

    def __init__(self, refusal: Refusal) -> None:
        reasons = {
            r.rep_id: [x.code for x in r.reasons if not x.code.endswith((".ok", ".match"))]
            for r in refusal.reps
        }
        super().__init__(
            f"no eligible rep for lead {refusal.lead_id!r}",
            details={"lead_id": refusal.lead_id, "reasons": reasons},
        )
        self.refusal = refusal


def _caps(rep: RepState) -> tuple[str, ...]:
    caps = []
    if rep.daily_cap is not None:
        caps.append(f"{rep.today}/{rep.daily_cap} today")
    if rep.capacity is not None:
        caps.append(f"{rep.owned}/{rep.capacity} owned")
    return tuple(caps)


def _counts(rep: RepState) -> tuple[tuple[str, int, int], ...]:
    counts = []
    if rep.daily_cap is not None:
        counts.append(("today", rep.today, rep.daily_cap))
    if rep.capacity is not None:
        counts.append(("owned", rep.owned, rep.capacity))
    return tuple(counts)


@attrs.frozen(eq=False)
class DeferredRun:
    """A heap run whose deficits are recomputed on demand from a snapshot taken at its start.

    ``start`` is the index of its first lead, ``count`` its length, ``clock`` the segment's
    leads before it; ``entitled``, ``shares`` (by rank) and ``received`` are over
    ``denominator``.
    """

    start: int
    count: int
    clock: int
    denominator: int
    entitled: Sequence[int]
    shares: Mapping[int, int]
    received: Sequence[int]


@attrs.frozen(eq=False)
class Trace:
    """Compact per-lead facts recorded by the engine; explanations are built from them on demand.

    ``picks`` holds each lead's rep index (``None``: refused); ``deficits`` the exact deficit of
    each lead picked one by one, ``runs`` those of the leads picked in heap runs.
    """

    leads: Sequence[LeadProfile]
    states: tuple[RepState, ...]
    ids: Sequence[RepId]
    picks: Sequence[int | None]
    deficits: Mapping[int, Fraction]
    runs: Sequence[DeferredRun] = ()

    def resolved_deficits(self) -> dict[int, Fraction]:
        """The exact deficit before each assigned lead's pick, by lead index."""
        out = dict(self.deficits)
        for run in self.runs:
            received = list(run.received)
            for offset in range(run.count):
                index = run.start + offset
                rank = self.picks[index]
                assert rank is not None
                clock = run.clock + offset + 1
                numerator = run.entitled[rank] + run.shares[rank] * clock
                out[index] = Fraction(numerator - received[rank] * run.denominator, run.denominator)
                received[rank] += 1
        return out


@attrs.frozen(eq=False)
class AllocationResult:
    """New ledger, updated rep states and, per lead, who got it (``None`` = refused)."""

    policy: AllocationPolicy
    ledger: FairnessLedger
    reps: tuple[RepState, ...]
    trace: Trace = attrs.field(repr=False)

    @property
    def picks(self) -> tuple[RepId | None, ...]:
        """Per input lead, the rep it went to, or ``None`` when refused."""
        ids = self.trace.ids
        return tuple(None if j is None else ids[j] for j in self.trace.picks)

    def counts(self) -> dict[RepId, int]:
        """Leads given to each rep by this call (reps with none included, as 0)."""
        counts = {rep.rep_id: 0 for rep in self.trace.states}
        ids = self.trace.ids
        for j in self.trace.picks:
            if j is not None:
                counts[ids[j]] = counts.get(ids[j], 0) + 1
        return counts

    def outcomes(self) -> tuple[Assignment | Refusal, ...]:
        """Per input lead, its assignment (explained) or its refusal (reasons per rep)."""
        trace = self.trace
        states = {s.rep_id: s for s in trace.states}
        deficits = trace.resolved_deficits()
        out: list[Assignment | Refusal] = []
        for index, (lead, j) in enumerate(zip(trace.leads, trace.picks, strict=True)):
            scope = self.policy.scope(lead)
            allowed = None if scope is None else scope[1]
            if j is None:
                reps = tuple(check_eligibility(lead, s, allowed) for s in states.values())
                out.append(Refusal(lead.lead_id, reps))
                continue
            rep_id = trace.ids[j]
            before = states[rep_id]
            reasons = check_eligibility(lead, before, allowed).reasons
            after = attrs.evolve(
                before,
                today=before.today + 1,
                owned=before.owned + 1,
                open_leads=before.open_leads + 1,
            )
            states[rep_id] = after
            deficit = str(deficits[index])
            rule = None if scope is None else scope[0]
            explanation = Explanation(
                self.policy.name, rep_id, reasons, deficit, _caps(after), rule, _counts(after)
            )
            out.append(Assignment(lead.lead_id, rep_id, explanation))
        return tuple(out)

    def assignments(self) -> tuple[Assignment, ...]:
        """The explained assignments, in lead order."""
        return tuple(o for o in self.outcomes() if isinstance(o, Assignment))

    def refusals(self) -> tuple[Refusal, ...]:
        """The refused leads, in lead order."""
        return tuple(o for o in self.outcomes() if isinstance(o, Refusal))
