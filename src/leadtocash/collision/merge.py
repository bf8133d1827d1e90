"""Merge planning for two duplicate customers (pure; the application layer carries it out).

``plan_merge`` picks the survivor, builds the merged survivor, lists what the application must
move from the loser to the survivor (follow-ups, contacts, opportunities, converted leads …),
which dedup keys change hands, and keeps full before-snapshots of both customers so the audit
entry holds everything needed to undo the merge.

Survivor rule (first that decides):

1. ``prefer`` — an explicit choice (e.g. an admin's) of one of the two ids;
2. the customer **with an owner** beats one without — the rep working the account keeps it
   (the spirit of 防撞单: whoever had it first keeps it);
3. the **older** customer (earlier ``created_at``);
4. the lexicographically **smaller id** (deterministic tie-break).

Merged fields: the survivor's name, owner and id; the USCC, address, zone and pool of the
survivor or else of the loser (two *different* USCCs are two legal entities: refused with
``collision.merge_conflict``); phones and e-mails united (survivor's first, duplicates by
canonical form dropped); tags united; the hotter tier (A before E); locked if either is; the
earlier ``created_at`` (customer since) and the later ``last_follow_up_at``; the deal facts
of the deals that move with the merge (``won`` if either was won, the furthest open stage, the
later ``last_opportunity_at``) and of the contracts, which move too (an active contract if
either has one, the later contract dates); ``updated_at`` is ``now``.
``version`` stays the survivor's (storage bumps it on save).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TypeVar

import attrs

from leadtocash.collision.keys import DedupKey, customer_keys
from leadtocash.errors import RuleViolation, ValidationError
from leadtocash.fields import DEFAULT_REGION, parse_email, parse_phone
from leadtocash.model import Contact, Customer, CustomerId, FollowUp, RepId, Tier, utc

__all__ = [
    "MERGED_CODE",
    "MERGE_CONFLICT_CODE",
    "MergeMove",
    "MergePlan",
    "SurvivorRule",
    "check_not_merged",
    "choose_survivor",
    "plan_merge",
    "retarget_contact",
    "retarget_follow_up",
]

#: The stable error code of a refused merge.
MERGE_CONFLICT_CODE = "collision.merge_conflict"
#: The stable error code of a command on a customer merged into another.
MERGED_CODE = "customer.merged"


def check_not_merged(customer: Customer) -> None:
    """Refuse to change, own or attach records to a merged-away customer: it is an archive
    of the duplicate (its keys given up); the survivor is the customer (``customer.merged``,
    naming the survivor)."""
    if customer.merged_into is not None:
        raise RuleViolation(
            f"customer {customer.id} was merged into {customer.merged_into}",
            code=MERGED_CODE,
            details={"id": customer.id, "merged_into": customer.merged_into},
        )


class SurvivorRule(enum.StrEnum):
    """Which rule picked the survivor."""

    PREFERRED = "preferred"
    OWNED = "owned"
    OLDER = "older"
    ID = "id"


@attrs.frozen(order=True)
class MergeMove:
    """One record attached to the loser (``kind`` e.g. ``follow_up``) to re-point."""

    kind: str
    id: str
    from_customer: CustomerId
    to_customer: CustomerId

    def reversed(self) -> MergeMove:
        """The move that undoes this one."""
        return attrs.evolve(self, from_customer=self.to_customer, to_customer=self.from_customer)


@attrs.frozen
class MergePlan:
    """Everything a merge changes, plus the snapshots that make it reversible."""

    rule: SurvivorRule
    merged: Customer
    survivor_before: Customer
    loser_snapshot: Customer
    moves: tuple[MergeMove, ...]
    added_keys: frozenset[DedupKey]
    released_keys: frozenset[DedupKey]
    at: datetime = attrs.field(validator=utc)

    @property
    def survivor_id(self) -> CustomerId:
        """The id that remains."""
        return self.merged.id

    @property
    def loser_id(self) -> CustomerId:
        """The id that is retired (deleted or archived by the application)."""
        return self.loser_snapshot.id

    @property
    def displaced_owner_id(self) -> RepId | None:
        """The loser's owner when it differs from the survivor's (to notify or approve)."""
        loser_owner = self.loser_snapshot.owner_id
        return loser_owner if loser_owner not in (None, self.merged.owner_id) else None

    def reverse_moves(self) -> tuple[MergeMove, ...]:
        """The moves that undo this plan's moves."""
        return tuple(move.reversed() for move in self.moves)


def choose_survivor(
    a: Customer, b: Customer, *, prefer: CustomerId | None = None
) -> tuple[Customer, Customer, SurvivorRule]:
    """``(survivor, loser, rule)`` by the module's survivor rule."""
    if a.id == b.id:
        raise RuleViolation(
            f"cannot merge customer {a.id!r} with itself",
            code=MERGE_CONFLICT_CODE,
            details={"customer_id": a.id},
        )
    if prefer is not None:
        if prefer not in (a.id, b.id):
            raise ValidationError.single(
                "prefer", "merge.prefer", f"{prefer!r} is neither {a.id!r} nor {b.id!r}"
            )
        return (a, b, SurvivorRule.PREFERRED) if prefer == a.id else (b, a, SurvivorRule.PREFERRED)
    if (a.owner_id is None) != (b.owner_id is None):
        return (a, b, SurvivorRule.OWNED) if a.owner_id is not None else (b, a, SurvivorRule.OWNED)
    if a.created_at != b.created_at:
        return (
            (a, b, SurvivorRule.OLDER)
            if a.created_at < b.created_at
            else (b, a, SurvivorRule.OLDER)
        )
    return (a, b, SurvivorRule.ID) if a.id < b.id else (b, a, SurvivorRule.ID)


def _canonical(parse: Callable[[str], str], value: str) -> str:
    try:
        return parse(value)
    except ValidationError:
        return value.strip().lower()


def _union(
    first: Iterable[str], second: Iterable[str], canonical: Callable[[str], str]
) -> tuple[str, ...]:
    seen: set[str] = set()
    out: list[str] = []
    for value in (*first, *second):
        key = _canonical(canonical, value)
        if key not in seen:
            seen.add(key)
            out.append(value)
    return tuple(out)


_Known = TypeVar("_Known", datetime, int)


def _later(a: _Known | None, b: _Known | None) -> _Known | None:
    """The greater of the two known values (the later time, the furthest stage rank)."""
    if a is None or b is None:
        return b if a is None else a
    return max(a, b)


def plan_merge(
    a: Customer,
    b: Customer,
    *,
    now: datetime,
    prefer: CustomerId | None = None,
    attached: Iterable[tuple[str, str]] = (),
    region: str = DEFAULT_REGION,
) -> MergePlan:
    """Plan merging duplicates ``a`` and ``b``; ``attached`` names the loser's records.

    The application passes what hangs off the *loser* (``("follow_up", id)``, ``("contact",
    id)``, ``("opportunity", id)`` …, in any order) and gets them back as ``MergeMove`` items
    in a stable order. Two different USCCs raise ``RuleViolation`` ``collision.merge_conflict``.
    """
    survivor, loser, rule = choose_survivor(a, b, prefer=prefer)
    if survivor.uscc and loser.uscc and survivor.uscc != loser.uscc:
        raise RuleViolation(
            f"customers {survivor.id!r} and {loser.id!r} have different USCCs: "
            "they are different legal entities",
            code=MERGE_CONFLICT_CODE,
            details={
                "survivor_id": survivor.id,
                "loser_id": loser.id,
                "survivor_uscc": survivor.uscc,
                "loser_uscc": loser.uscc,
            },
        )
    hotter = min(survivor.tier, loser.tier, key=lambda t: list(Tier).index(t))
    merged = attrs.evolve(
        survivor,
        created_at=min(survivor.created_at, loser.created_at),
        uscc=survivor.uscc or loser.uscc,
        phones=_union(survivor.phones, loser.phones, lambda p: parse_phone(p, region=region)),
        emails=_union(survivor.emails, loser.emails, parse_email),
        address=survivor.address or loser.address,
        zone_id=survivor.zone_id or loser.zone_id,
        pool_id=survivor.pool_id
        if survivor.owner_id is not None
        else (survivor.pool_id or loser.pool_id),
        tier=hotter,
        tags=survivor.tags | loser.tags,
        locked=survivor.locked or loser.locked,
        last_follow_up_at=_later(survivor.last_follow_up_at, loser.last_follow_up_at),
        # The loser's deals move to the survivor, and their facts with them.
        won=survivor.won or loser.won,
        open_opportunity_stage=_later(
            survivor.open_opportunity_stage, loser.open_opportunity_stage
        ),
        last_opportunity_at=_later(survivor.last_opportunity_at, loser.last_opportunity_at),
        # The loser's contracts move to the survivor too: their facts protect it from reclaim
        # (the contract services keep them up to date from now on).
        has_active_contract=survivor.has_active_contract or loser.has_active_contract,
        last_contract_at=_later(survivor.last_contract_at, loser.last_contract_at),
        last_contract_end_at=_later(survivor.last_contract_end_at, loser.last_contract_end_at),
        updated_at=now,
    )
    before_keys = customer_keys(survivor, region=region)
    after_keys = customer_keys(merged, region=region)
    moves = tuple(
        sorted(MergeMove(kind, ident, loser.id, survivor.id) for kind, ident in set(attached))
    )
    return MergePlan(
        rule=rule,
        merged=merged,
        survivor_before=survivor,
        loser_snapshot=loser,
        moves=moves,
        added_keys=after_keys - before_keys,
        released_keys=customer_keys(loser, region=region),
        at=now,
    )


def retarget_follow_up(follow_up: FollowUp, plan: MergePlan) -> FollowUp:
    """``follow_up`` re-pointed to the survivor if it was on the loser (else unchanged)."""
    if follow_up.customer_id == plan.loser_id:
        return attrs.evolve(follow_up, customer_id=plan.survivor_id)
    return follow_up


def retarget_contact(contact: Contact, plan: MergePlan) -> Contact:
    """``contact`` moved to the survivor if it belonged to the loser (else unchanged)."""
    if contact.customer_id == plan.loser_id:
        return attrs.evolve(contact, customer_id=plan.survivor_id)
    return contact
