"""The one write path for a customer change (客户变更): everything that follows, in one place.

Every service that changes a customer stages the change here, inside its own unit of work:
:meth:`CustomerWrites.stage` reclassifies the customer (tier and system tags, with the
organisation's rules from the context), recomputes its reclaim schedule under its pool's
rules, saves it, keeps the owners' books in step, stages a ``TierChanged`` event when the
tier or tags moved, and returns the one audit change. Ownership moves add their history line
and ``OwnershipChanged`` event through :meth:`CustomerWrites.move`. Services never call each
other; they share this object (and the context it reads its rules from).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from operator import attrgetter

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.dedup import collision_report
from leadtocash.app.documents import all_pages
from leadtocash.app.signals import signal_provisional
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.classification import Reclassification, TierChanged, apply_classification
from leadtocash.collision import (
    CollisionReport,
    candidate_keys,
    check_not_merged,
    raise_if_blocked,
)
from leadtocash.errors import (
    DuplicateKey,
    FieldError,
    NotFound,
    PermissionDenied,
    RuleViolation,
    ValidationError,
)
from leadtocash.events import CustomerAddedToPool, OwnershipChanged
from leadtocash.fields import (
    collect_field,
    length_errors,
    parse_email,
    parse_phone,
    parse_uscc,
)
from leadtocash.model import (
    CollaboratorAccess,
    Customer,
    CustomerId,
    PoolId,
    RepId,
    SalesRep,
    Tier,
    ZoneId,
)
from leadtocash.pool.book import OwnershipAction, OwnershipChange, RepBook, book_place
from leadtocash.pool.membership import check_member
from leadtocash.pool.reclaim import with_schedule
from leadtocash.pool.rules import Pool, PoolRules
from leadtocash.pool.visibility import visible_customer
from leadtocash.scopes import ScopeTarget, customer_target
from leadtocash.validators import replace

__all__ = ["CustomerWrites", "StagedCustomer", "rep_of"]


def _phone(raw: str, path: str) -> str:
    return parse_phone(raw, path=path)


def _email(raw: str, path: str) -> str:
    return parse_email(raw, path=path)


def _uscc(raw: str, path: str) -> str:
    return parse_uscc(raw, path=path)


def rep_of(principal: Principal) -> RepId:
    """The principal's sales-rep id; PermissionDenied ``pool.not_a_rep`` when there is none."""
    if principal.rep_id is None:
        raise PermissionDenied(
            f"{principal.user_id} is not a sales rep",
            code="pool.not_a_rep",
            details={"user_id": principal.user_id},
        )
    return principal.rep_id


def with_archives(uow: UnitOfWork, customer: Customer) -> list[Customer]:
    """The customer, then every customer merged into it, at any depth (a duplicate merged
    into one that was merged on in turn): the records whose documents and people are the
    company's."""
    found = [customer]
    i = 0
    while i < len(found):
        found += all_pages(uow.customers, "merged_into", equals=found[i].id)
        i += 1
    return found


def all_pools(uow: UnitOfWork) -> list[Pool]:
    """Every customer pool of the organisation, by name (an organisation has tens, not more)."""
    return all_pages(uow.repository(Pool), "name", at_least="")


#: Customer fields that are bookkeeping, not facts the tier and tag rules read.
_NOT_FACTS = frozenset(
    {
        "owner_id", "owner_since", "previous_owner_id", "pool_id", "pool_entered_at",
        "pool_cycles", "follow_ups_since_claim", "reclaim_due_at", "reclaim_rule", "warn_at",
        "warned_due_at", "reclaim_provisional", "locked", "collaborators", "updated_at",
        "version", "deleted",
    }
)  # fmt: skip
_FACTS = attrgetter(*(f.name for f in attrs.fields(Customer) if f.name not in _NOT_FACTS))


def _facts_changed(before: Customer, after: Customer) -> bool:
    """Whether a field the classification reads differs between ``before`` and ``after``."""
    return bool(_FACTS(before) != _FACTS(after))


@attrs.frozen
class StagedCustomer:
    """What staging a customer change did: the saved customer, its reclassification, audit."""

    after: Customer
    reclassification: Reclassification | None
    changes: tuple[Change, ...]


@attrs.frozen
class CustomerWrites:
    """Stages customer changes and answers the reads every customer command needs."""

    ctx: AppContext

    # -- reads every command needs -------------------------------------------------------------
    def rules_of(self, uow: UnitOfWork, pool_id: PoolId | None) -> PoolRules:
        """The rules of ``pool_id`` (default, all-off rules for customers outside pools).

        What is decided from them (a reclaim schedule, a claim) rests on the pool as read: the
        commit expects it unchanged, so a rule change committed meanwhile re-runs the command
        on the new rules (``UnitOfWork.expect_unchanged``).
        """
        if pool_id is None:
            return PoolRules()
        pool = uow.repository(Pool).get(pool_id)
        uow.expect_unchanged(pool)
        return pool.rules

    def visible(self, customer: Customer, principal: Principal) -> Customer:
        """``customer`` as ``principal`` may see it (contact fields and budget masked)."""
        return visible_customer(customer, principal, self.ctx.policy)

    def guard(
        self, uow: UnitOfWork, principal: Principal, customer: Customer, *, write: bool
    ) -> str:
        """Data-scope check on one customer (PermissionDenied ``auth.out_of_scope``); a
        ``write`` commits only if the customer is unchanged (``AppContext.guard``'s
        ``record``), so what it decides on the customer's owner and scope still holds."""
        target = customer_target(customer)
        return self.ctx.guard(uow, principal, target, write=write, record=customer)

    def guard_member(self, uow: UnitOfWork, principal: Principal, customer: Customer) -> str:
        """Read-scope check on one customer; a caller who reaches an unowned pool customer only
        through its pool must be a member of that pool (PermissionDenied ``pool.not_member``)."""
        reason = self.guard(uow, principal, customer, write=False)
        if reason == "pool" and customer.pool_id is not None and not principal.is_manager:
            pool = uow.repository(Pool).get(customer.pool_id)
            check_member(pool.id, pool.members, self.ctx.member(uow, principal))
        return reason

    def readable(self, uow: UnitOfWork, principal: Principal, customer: Customer) -> bool:
        """Whether :meth:`guard_member` lets ``principal`` read ``customer`` (for lists)."""
        try:
            self.guard_member(uow, principal, customer)
        except PermissionDenied:
            return False
        return True

    def guard_pool(self, uow: UnitOfWork, principal: Principal, pool: Pool, *, write: bool) -> str:
        """Data-scope check on a pool (its zone)."""
        target = ScopeTarget("pool", pool.id, zone=pool.zone_id, in_pool=True)
        return self.ctx.guard(uow, principal, target, write=write)

    def owner_or_manager(
        self,
        uow: UnitOfWork,
        principal: Principal,
        customer: Customer,
        *,
        collaborators: bool = False,
    ) -> None:
        """Managers within their scope, the owner, and (if allowed) write collaborators (the
        commit then expects the customer unchanged)."""
        uow.expect_unchanged(customer)
        if principal.is_manager:
            self.guard(uow, principal, customer, write=True)
            return
        rep = principal.rep_id
        writers = {c.rep_id for c in customer.collaborators if c.access is CollaboratorAccess.WRITE}
        if rep is None or not (rep == customer.owner_id or (collaborators and rep in writers)):
            raise PermissionDenied(
                f"{principal.user_id} does not own customer {customer.id}",
                code="pool.not_owner",
                details={"customer_id": customer.id, "user_id": principal.user_id},
            )

    def rep(self, uow: UnitOfWork, rep_id: RepId) -> SalesRep:
        """The rep, or NotFound; whether it may take customers is the domain's call."""
        rep = uow.reps.find(rep_id)
        if rep is None:
            raise NotFound("sales_rep", rep_id)
        return rep

    def company(self, uow: UnitOfWork, customer_id: str, *, binned: bool = False) -> list[Customer]:
        """The customer, then each customer it was merged into (the survivor, which may have
        been merged on in turn; the last is the company's record). A survivor in the recycle
        bin ends the chain; with ``binned`` it is in the chain, and the customer itself may
        be in the bin too (NotFound only when there is no such record)."""
        find = uow.customers.find_any if binned else uow.customers.find
        first = find(customer_id)
        if first is None:
            raise NotFound("customer", customer_id)
        found = [first]
        while (survivor_id := found[-1].merged_into) is not None:
            survivor = find(survivor_id)
            if survivor is None:
                break
            found.append(survivor)
        return found

    def book(self, uow: UnitOfWork, rep_id: RepId) -> RepBook:
        """The rep's book of owned customers (empty when the rep owns none yet)."""
        return uow.repository(RepBook).find(rep_id) or RepBook(rep_id)

    def build(
        self,
        customer_id: CustomerId,
        name: str,
        *,
        pool_id: PoolId | None,
        phones: Sequence[str] = (),
        emails: Sequence[str] = (),
        uscc: str | None = None,
        address: str | None = None,
        zone_id: ZoneId | None = None,
        tier: Tier = Tier.D,
    ) -> Customer:
        """A new customer from raw fields; one ValidationError names every bad field."""
        errors: list[FieldError] = []
        clean_phones = [
            collect_field(errors, _phone, p, f"phones[{i}]") for i, p in enumerate(phones)
        ]
        clean_emails = [
            collect_field(errors, _email, e, f"emails[{i}]") for i, e in enumerate(emails)
        ]
        clean_uscc = collect_field(errors, _uscc, uscc, "uscc")
        if not name or not name.strip():
            errors.append(FieldError("name", "field.required", "name is required"))
        errors += length_errors({"name": name, "address": address})
        if errors:
            raise ValidationError(errors)
        now = self.ctx.clock.now()
        return Customer(
            id=customer_id,
            name=name.strip(),
            created_at=now,
            updated_at=now,
            uscc=clean_uscc,
            phones=tuple(p for p in clean_phones if p),
            emails=tuple(e for e in clean_emails if e),
            address=address,
            zone_id=zone_id,
            pool_id=pool_id,
            pool_entered_at=now if pool_id else None,
            tier=tier,
        )

    def stage_new(
        self,
        uow: UnitOfWork,
        principal: Principal,
        customer: Customer,
        *,
        checked: CollisionReport | None = None,
    ) -> tuple[Customer, list[Change]]:
        """Stage a built customer after the duplicate check: the staged customer, its changes.

        ``checked`` is the report of a check the caller made in this same unit of work (it
        is not made twice); storage's unique keys still close the race at commit.
        """
        if checked is None:
            keys = candidate_keys(name=customer.name, phones=customer.phones,
                                  emails=customer.emails, uscc=customer.uscc)  # fmt: skip
            checked = collision_report(uow, self.ctx.collision, principal, keys)
        raise_if_blocked(checked)
        if customer.pool_id is not None:
            self.rules_of(uow, customer.pool_id)  # the pool must exist
            uow.record(CustomerAddedToPool(customer.created_at, customer.id, customer.pool_id))
        staged = self.stage(uow, None, customer)
        return staged.after, list(staged.changes)

    def create(
        self,
        principal: Principal,
        name: str,
        *,
        pool_id: PoolId | None,
        phones: Sequence[str] = (),
        emails: Sequence[str] = (),
        uscc: str | None = None,
        address: str | None = None,
        zone_id: ZoneId | None = None,
        tier: Tier = Tier.D,
    ) -> Customer:
        """Create a customer in a pool (or outside any), validating every contact field."""
        self.ctx.policy.check(principal, Action.CUSTOMER_CREATE)
        customer = self.build(
            CustomerId(self.ctx.ids.new_id("customer")), name, pool_id=pool_id, phones=phones,
            emails=emails, uscc=uscc, address=address, zone_id=zone_id, tier=tier,
        )  # fmt: skip

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            return self.stage_new(uow, principal, customer)

        return self.visible(self.run_create(principal, command), principal)

    def run_create(
        self, principal: Principal, command: Callable[[UnitOfWork], tuple[Customer, list[Change]]]
    ) -> Customer:
        """Run a command that creates a customer (``customer.create``); a unique key that a
        concurrent creation won first is RuleViolation ``collision.duplicate``, naming it."""
        try:
            return self.ctx.execute(principal, Action.CUSTOMER_CREATE, command)
        except DuplicateKey as exc:  # a concurrent creation won the unique key
            raise RuleViolation(
                f"another customer already holds {exc.key!r}",
                code="collision.duplicate",
                details={"key": exc.key, "existing": {"kind": exc.kind, "id": exc.existing_id}},
            ) from exc

    # -- the write path ------------------------------------------------------------------------
    def rescheduled(self, customer: Customer, rules: PoolRules) -> Customer:
        """``customer`` rescheduled under ``rules``; logs when the result is provisional."""
        after = with_schedule(
            customer, rules, timezone=self.ctx.timezone, calendar=self.ctx.calendar
        )
        signal_provisional(customer, after)
        return after

    def scheduled(self, uow: UnitOfWork, customer: Customer) -> Customer:
        """``customer`` with its reclaim schedule recomputed under its pool's rules."""
        return self.rescheduled(customer, self.rules_of(uow, customer.pool_id))

    def _rebook(self, uow: UnitOfWork, before: Customer | None, after: Customer) -> None:
        """Keep rep books in step with a customer change (owner, won or locked changed).

        A customer in the recycle bin counts in no book (deleting it frees the room). A change
        that keeps the customer's place in the books (most: follow-ups, signals, stages)
        reads and saves no book, since the counts would come back unchanged.
        """
        if book_place(before) == book_place(after):
            return
        books: dict[RepId, RepBook] = {}
        if before is not None and before.owner_id is not None and before.deleted is None:
            books[before.owner_id] = self.book(uow, before.owner_id).adjust(before, -1)
        if after.owner_id is not None and after.deleted is None:
            current = books.get(after.owner_id) or self.book(uow, after.owner_id)
            books[after.owner_id] = current.adjust(after, +1)
        for book in books.values():
            uow.repository(RepBook).save(book)

    def stage(
        self,
        uow: UnitOfWork,
        before: Customer | None,
        candidate: Customer,
        *,
        reason: str | None = None,
        override: bool = False,
        summarize: bool = False,
        classify: bool | None = None,
        now: datetime | None = None,
        archive: bool = False,
    ) -> StagedCustomer:
        """Stage ``candidate`` (``before`` with its new facts, or a new customer).

        Reclassifies when a fact the tier rules read changed (``classify`` True forces it,
        False skips it: an explicit tier set by hand), reschedules, saves (adds when
        ``before`` is None), rebooks, and stages a ``TierChanged`` event when the tier or
        system tags moved. Ownership, pool and schedule bookkeeping are no classification
        facts, so claims and releases do not pay for a reclassification. The audit change's
        reason is ``reason``, followed by the classification summary when the tier or tags
        moved (or always, with ``summarize``).
        Nothing is saved and no change is returned when nothing changed. ``now`` is the
        command's time (default: the clock's). A customer merged into another (an archive)
        is refused (``customer.merged``) unless ``archive``: a change its own documents cause
        (those a merge by an earlier version left with it) or an erasure.
        """
        if before is not None and not archive:
            check_not_merged(before)
        now = self.ctx.clock.now() if now is None else now
        result = None
        classified = candidate
        if classify is None:
            classify = before is None or _facts_changed(before, candidate)
        if classify:
            result = apply_classification(
                candidate,
                self.ctx.tier_rules,
                self.ctx.tag_rules,
                now,
                timezone=self.ctx.timezone,
                requirements=self.ctx.required_fields.entities.get("customer"),
            )
            classified = result.after
        after = self.scheduled(uow, classified)
        if before is not None and after == before:
            unchanged = None if result is None else attrs.evolve(result, before=before)
            return StagedCustomer(before, unchanged, ())
        if before is not None and after.updated_at != now:
            after = replace(after, updated_at=now)
        if before is None:
            uow.customers.add(after)
        else:
            uow.customers.save(after)
        self._rebook(uow, before, after)
        change = Change("customer", after.id, before, after, reason, override)
        if result is None:
            return StagedCustomer(after, None, (change,))
        outcome = Reclassification(before or candidate, after, result.classification)
        moved = after.tier is not candidate.tier or after.tags != candidate.tags
        if moved:
            uow.record(
                TierChanged(
                    now,
                    after.id,
                    candidate.tier,
                    after.tier,
                    result.classification.rule.name,
                    after.owner_id,
                    tuple(sorted(after.tags - candidate.tags)),
                    tuple(sorted(candidate.tags - after.tags)),
                )
            )
        if moved or summarize:
            signals_moved = before is not None and candidate.signals != before.signals
            what = "signals" if signals_moved else "facts"
            summary = outcome.summary() if moved else f"{what} updated; {outcome.summary()}"
            change = attrs.evolve(change, reason=f"{reason}: {summary}" if reason else summary)
        return StagedCustomer(after, outcome, (change,))

    def move(
        self,
        uow: UnitOfWork,
        principal: Principal,
        before: Customer,
        after: Customer,
        action: OwnershipAction,
        *,
        reason: str | None = None,
        override: bool = False,
        now: datetime | None = None,
    ) -> tuple[Customer, list[Change]]:
        """Stage an ownership change: the customer (through ``stage``), history line, event.

        ``now`` is the command's time (default: the clock's): a command that stamped ``after``
        with it has the customer saved without another copy.
        """
        now = self.ctx.clock.now() if now is None else now
        staged = self.stage(uow, before, after, reason=reason, override=override, now=now)
        after = staged.after
        change = OwnershipChange(
            id=self.ctx.ids.new_id("ownership"),
            customer_id=after.id,
            action=action,
            at=now,
            actor_id=principal.user_id,
            from_rep=before.owner_id,
            to_rep=after.owner_id,
            from_pool=before.pool_id,
            to_pool=after.pool_id,
            reason=reason,
            override=override,
        )
        uow.repository(OwnershipChange).add(change)
        uow.record(
            OwnershipChanged(
                now, after.id, action.value, before.owner_id, after.owner_id, after.pool_id, reason
            )
        )
        return after, list(staged.changes)
