"""Public-pool use cases: claim, assign, release, transfer, lock, follow-up, reads.

Every operation runs through ``AppContext.execute``: authorized, atomic, audited with actor and
reason, retried on storage conflicts. Counters (rep books, daily claims) are aggregates saved
in the same commit, so limits hold under any interleaving. Every customer change recomputes
its derived reclaim schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.dedup import collision_report
from leadtocash.app.signals import signal_provisional
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.collision import candidate_keys, raise_if_blocked
from leadtocash.durations import local_day
from leadtocash.errors import (
    DuplicateKey,
    FieldError,
    NotFound,
    PermissionDenied,
    RuleViolation,
    ValidationError,
)
from leadtocash.events import (
    CustomerAddedToPool,
    CustomerLockChanged,
    FollowUpLogged,
    OwnershipChanged,
)
from leadtocash.fields import collect_field, parse_email, parse_phone, parse_uscc
from leadtocash.model import (
    Collaborator,
    CollaboratorAccess,
    Customer,
    CustomerId,
    FollowUp,
    FollowUpId,
    FollowUpKind,
    PoolId,
    RepId,
    SalesRep,
    Tier,
    ZoneId,
)
from leadtocash.pool.book import (
    DailyClaims,
    OwnershipAction,
    OwnershipChange,
    RepBook,
    daily_claims_id,
)
from leadtocash.pool.ownership import (
    OwnershipFacts,
    check_capacity,
    check_claim,
    check_owned,
    check_unowned,
    require_reason,
    returned_to_pool,
    taken_by,
)
from leadtocash.pool.reclaim import with_schedule
from leadtocash.pool.rules import Pool, PoolRules
from leadtocash.pool.visibility import visible_customer
from leadtocash.scopes import ScopeTarget, customer_target

__all__ = ["PoolService"]


def _phone(raw: str, path: str) -> str:
    return parse_phone(raw, path=path)


def _email(raw: str, path: str) -> str:
    return parse_email(raw, path=path)


def _uscc(raw: str, path: str) -> str:
    return parse_uscc(raw, path=path)


#: Saves a customer whose facts changed and returns its audit change (see ``restaged``).
Restager = Callable[[UnitOfWork, Customer, Customer], list[Change]]


def rep_of(principal: Principal) -> RepId:
    """The principal's sales-rep id; PermissionDenied ``pool.not_a_rep`` when there is none."""
    if principal.rep_id is None:
        raise PermissionDenied(
            f"{principal.user_id} is not a sales rep",
            code="pool.not_a_rep",
            details={"user_id": principal.user_id},
        )
    return principal.rep_id


@attrs.frozen
class PoolService:
    """Operations on public pools and the customers in them."""

    ctx: AppContext
    #: Reclassifies customers whose facts change (wired by the facade to the classifier).
    restager: Restager | None = None
    #: The pool each rep last claimed from: a guess of what the next claim reads, so that
    #: it can read the customer, the pool and the rep's counters in one store call. Only a
    #: read-ahead hint; a wrong guess costs one more read, never a wrong result.
    _claim_pools: dict[RepId, PoolId] = attrs.field(factory=dict, init=False, eq=False)

    # -- shared steps ---------------------------------------------------------------------------
    def rules_of(self, uow: UnitOfWork, pool_id: PoolId | None) -> PoolRules:
        """The rules of ``pool_id`` (default, all-off rules for customers outside pools)."""
        if pool_id is None:
            return PoolRules()
        return uow.repository(Pool).get(pool_id).rules

    def scheduled(self, uow: UnitOfWork, customer: Customer) -> Customer:
        """``customer`` with its reclaim schedule recomputed under its pool's rules."""
        return self.rescheduled(customer, self.rules_of(uow, customer.pool_id))

    def rescheduled(self, customer: Customer, rules: PoolRules) -> Customer:
        """``customer`` rescheduled under ``rules``; logs when the result is provisional."""
        after = with_schedule(
            customer, rules, timezone=self.ctx.timezone, calendar=self.ctx.calendar
        )
        signal_provisional(customer, after)
        return after

    def _book(self, uow: UnitOfWork, rep_id: RepId) -> RepBook:
        return uow.repository(RepBook).find(rep_id) or RepBook(rep_id)

    def rebook(self, uow: UnitOfWork, before: Customer, after: Customer) -> None:
        """Keep rep books in step with a customer change (owner, won or locked changed)."""
        books: dict[RepId, RepBook] = {}
        if before.owner_id is not None:
            books[before.owner_id] = self._book(uow, before.owner_id).adjust(before, -1)
        if after.owner_id is not None:
            current = books.get(after.owner_id) or self._book(uow, after.owner_id)
            books[after.owner_id] = current.adjust(after, +1)
        for book in books.values():
            uow.repository(RepBook).save(book)

    def _facts(
        self, uow: UnitOfWork, rep_id: RepId, counter: DailyClaims | None = None
    ) -> OwnershipFacts:
        return OwnershipFacts(
            now=self.ctx.clock.now(),
            timezone=self.ctx.timezone,
            book=self._book(uow, rep_id),
            claims_today=counter.count if counter else 0,
            claims_today_by_tier=counter.by_tier if counter else {},
            calendar=self.ctx.calendar,
        )

    def _active_rep(self, uow: UnitOfWork, rep_id: RepId, pool: Pool | None) -> SalesRep:
        rep = uow.reps.find(rep_id)
        if rep is None:
            raise NotFound("sales_rep", rep_id)
        if not rep.active:
            raise RuleViolation(
                f"rep {rep_id} is not active", code="pool.rep_inactive", details={"rep_id": rep_id}
            )
        if (
            pool is not None
            and pool.zone_id is not None
            and rep.zone_id not in (None, pool.zone_id)
        ):
            raise RuleViolation(
                f"rep {rep_id} is in zone {rep.zone_id}, pool {pool.id} in {pool.zone_id}",
                code="pool.zone_mismatch",
                details={"rep_id": rep_id, "rep_zone": rep.zone_id, "pool_zone": pool.zone_id},
            )
        return rep

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
    ) -> tuple[Customer, list[Change]]:
        """Stage an ownership change: customer, books, history line and event."""
        now = self.ctx.clock.now()
        after = self.scheduled(uow, after)
        uow.customers.save(after)
        self.rebook(uow, before, after)
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
        audit = Change("customer", after.id, before, after, reason, override)
        return after, [audit]

    def restaged(self, uow: UnitOfWork, before: Customer, after: Customer) -> list[Change]:
        """Save a customer whose facts changed, reclassified when a classifier is wired in.

        Returns the one audit change for the customer (the classifier's, naming the rule that
        fired, when its tier or tags moved).
        """
        if self.restager is not None:
            return self.restager(uow, before, after)
        uow.customers.save(after)
        return [Change("customer", before.id, before, after)]

    def visible(self, customer: Customer, principal: Principal) -> Customer:
        """``customer`` as ``principal`` may see it (contact fields and budget masked)."""
        return visible_customer(customer, principal, self.ctx.policy)

    def guard(
        self, uow: UnitOfWork, principal: Principal, customer: Customer, *, write: bool
    ) -> str:
        """Data-scope check on one customer (PermissionDenied ``auth.out_of_scope``)."""
        return self.ctx.guard(uow, principal, customer_target(customer), write=write)

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
        """Managers within their scope, the owner, and (if allowed) write collaborators."""
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

    # -- pools and customers --------------------------------------------------------------------
    def create_pool(
        self,
        principal: Principal,
        name: str,
        *,
        zone_id: ZoneId | None = None,
        product_line: str | None = None,
        rules: PoolRules | None = None,
        pool_id: PoolId | None = None,
    ) -> Pool:
        """Create a pool with its rules."""
        pool = Pool(
            id=pool_id or PoolId(self.ctx.ids.new_id("pool")),
            name=name,
            zone_id=zone_id,
            product_line=product_line,
            rules=rules or PoolRules(),
        )

        def command(uow: UnitOfWork) -> tuple[Pool, list[Change]]:
            self.guard_pool(uow, principal, pool, write=True)
            uow.repository(Pool).add(pool)
            return pool, [Change("pool", pool.id, None, pool)]

        return attrs.evolve(self.ctx.execute(principal, Action.POOL_MANAGE, command), version=1)

    def add_customer(
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
        if errors:
            raise ValidationError(errors)
        now = self.ctx.clock.now()
        customer = Customer(
            id=CustomerId(self.ctx.ids.new_id("customer")),
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

        keys = candidate_keys(name=customer.name, phones=customer.phones,
                              emails=customer.emails, uscc=customer.uscc)  # fmt: skip

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            raise_if_blocked(collision_report(uow, self.ctx.collision, principal, keys))
            if pool_id is not None:
                self.rules_of(uow, pool_id)  # the pool must exist
                uow.record(CustomerAddedToPool(now, customer.id, pool_id))
            uow.customers.add(customer)
            return customer, [Change("customer", customer.id, None, customer)]

        try:
            stored = self.ctx.execute(principal, Action.CUSTOMER_CREATE, command)
        except DuplicateKey as exc:  # a concurrent creation won the unique key
            raise RuleViolation(
                f"another customer already holds {exc.key!r}",
                code="collision.duplicate",
                details={"key": exc.key, "existing": {"kind": exc.kind, "id": exc.existing_id}},
            ) from exc
        return self.visible(attrs.evolve(stored, version=1), principal)

    # -- ownership operations -------------------------------------------------------------------
    def claim(self, principal: Principal, customer_id: str) -> Customer:
        """A rep claims (领取) a customer from its pool for themself."""
        rep_id = rep_of(principal)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            now = self.ctx.clock.now()
            day = local_day(now, self.ctx.timezone)
            guess = self._claim_pools.get(rep_id)
            uow.preload(
                (Customer, customer_id),
                (RepBook, rep_id),
                (Pool, guess),
                (DailyClaims, None if guess is None else daily_claims_id(guess, rep_id, day)),
            )
            customer = uow.customers.get(customer_id)
            check_unowned(customer)
            if customer.pool_id is None:
                raise RuleViolation(
                    f"customer {customer.id} is in no pool", code="pool.not_in_pool",
                    details={"customer_id": customer.id},
                )  # fmt: skip
            self._claim_pools[rep_id] = customer.pool_id
            counter_id = daily_claims_id(customer.pool_id, rep_id, day)
            uow.preload((Pool, customer.pool_id), (DailyClaims, counter_id))
            pool = uow.repository(Pool).get(customer.pool_id)
            if pool.zone_id is not None and principal.zone_id not in (None, pool.zone_id):
                raise RuleViolation(
                    f"pool {pool.id} belongs to zone {pool.zone_id}",
                    code="pool.zone_mismatch",
                    details={"pool_zone": pool.zone_id, "rep_zone": principal.zone_id},
                )
            counters = uow.repository(DailyClaims)
            counter = counters.find(counter_id) or DailyClaims(counter_id, pool.id, rep_id, day)
            check_claim(customer, rep_id, pool.rules, self._facts(uow, rep_id, counter))
            counters.save(counter.counted(customer))
            return self.move(
                uow, principal, customer, taken_by(customer, rep_id, now), OwnershipAction.CLAIM
            )

        return self.visible(self.ctx.execute(principal, Action.POOL_CLAIM, command), principal)

    def _check_override(self, principal: Principal, override: bool, reason: str | None) -> None:
        if override:
            self.ctx.policy.check(principal, Action.POOL_OVERRIDE)
            require_reason(reason)

    def assign(
        self,
        principal: Principal,
        customer_id: str,
        rep_id: RepId,
        *,
        reason: str | None = None,
        override: bool = False,
    ) -> Customer:
        """A manager assigns (分配) a pool customer to a rep; ``override`` skips capacity."""
        self._check_override(principal, override, reason)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            check_unowned(customer)
            uow.preload((Pool, customer.pool_id), (SalesRep, rep_id), (RepBook, rep_id))
            self.guard(uow, principal, customer, write=True)
            pool = uow.repository(Pool).get(customer.pool_id) if customer.pool_id else None
            self._active_rep(uow, rep_id, pool)
            rules = pool.rules if pool else PoolRules()
            check_capacity(rules, self._facts(uow, rep_id), override=override)
            after = taken_by(customer, rep_id, self.ctx.clock.now())
            return self.move(
                uow, principal, customer, after, OwnershipAction.ASSIGN,
                reason=reason, override=override,
            )  # fmt: skip

        return self.visible(self.ctx.execute(principal, Action.POOL_ASSIGN, command), principal)

    def release(self, principal: Principal, customer_id: str, reason: str) -> Customer:
        """The owner (or a manager) releases (退回) a customer to the pool; reason required."""
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            owner = check_owned(customer)
            uow.preload((Pool, customer.pool_id), (RepBook, owner), (SalesRep, owner))
            self.owner_or_manager(uow, principal, customer)
            if customer.locked:
                raise RuleViolation(
                    f"customer {customer.id} is locked; unlock it first",
                    code="pool.customer_locked", details={"customer_id": customer.id},
                )  # fmt: skip
            rules = self.rules_of(uow, customer.pool_id)
            target = rules.release_to or customer.pool_id
            if target is None:
                raise RuleViolation(
                    f"customer {customer.id} has no pool to go back to",
                    code="pool.not_in_pool", details={"customer_id": customer.id},
                )  # fmt: skip
            after = returned_to_pool(customer, target, self.ctx.clock.now())
            return self.move(uow, principal, customer, after, OwnershipAction.RELEASE, reason=why)

        return self.visible(self.ctx.execute(principal, Action.POOL_RELEASE, command), principal)

    def transfer(
        self,
        principal: Principal,
        customer_id: str,
        to_rep: RepId,
        reason: str,
        *,
        to_pool: PoolId | None = None,
        override: bool = False,
    ) -> Customer:
        """Move (转移) an owned customer to another rep, optionally into another zone's pool."""
        why = require_reason(reason)
        self._check_override(principal, override, why)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            owner = check_owned(customer)
            uow.preload(
                (Pool, to_pool or customer.pool_id), (SalesRep, owner), (SalesRep, to_rep),
                (RepBook, owner), (RepBook, to_rep),
            )  # fmt: skip
            self.guard(uow, principal, customer, write=True)
            if owner == to_rep and to_pool in (None, customer.pool_id):
                raise RuleViolation(
                    f"customer {customer.id} already belongs to {to_rep}",
                    code="pool.same_owner", details={"customer_id": customer.id},
                )  # fmt: skip
            pool_id = to_pool or customer.pool_id
            pool = uow.repository(Pool).get(pool_id) if pool_id else None
            self._active_rep(uow, to_rep, pool)
            rules = pool.rules if pool else PoolRules()
            if owner != to_rep:
                check_capacity(rules, self._facts(uow, to_rep), override=override)
            now = self.ctx.clock.now()
            after = attrs.evolve(taken_by(customer, to_rep, now), pool_id=pool_id)
            if pool is not None and pool.zone_id is not None:
                after = attrs.evolve(after, zone_id=pool.zone_id)
            return self.move(
                uow, principal, customer, after, OwnershipAction.TRANSFER,
                reason=why, override=override,
            )  # fmt: skip

        return self.visible(self.ctx.execute(principal, Action.POOL_TRANSFER, command), principal)

    def set_lock(
        self, principal: Principal, customer_id: str, locked: bool, reason: str
    ) -> Customer:
        """Lock (锁定: never reclaimed) or unlock an owned customer; reason required."""
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            check_owned(customer)
            self.guard(uow, principal, customer, write=True)
            if customer.locked == locked:
                return customer, []
            now = self.ctx.clock.now()
            after = self.scheduled(uow, attrs.evolve(customer, locked=locked, updated_at=now))
            uow.customers.save(after)
            self.rebook(uow, customer, after)
            uow.record(CustomerLockChanged(now, customer.id, locked))
            return after, [Change("customer", customer.id, customer, after, why)]

        return self.visible(self.ctx.execute(principal, Action.POOL_LOCK, command), principal)

    def log_follow_up(
        self,
        principal: Principal,
        customer_id: str,
        *,
        kind: FollowUpKind = FollowUpKind.CALL,
        note: str = "",
    ) -> FollowUp:
        """The owner logs a follow-up (跟进): it extends protection and resets "no follow-up"."""
        rep_id = rep_of(principal)

        def command(uow: UnitOfWork) -> tuple[FollowUp, list[Change]]:
            customer = uow.customers.get(customer_id)
            check_owned(customer)
            self.owner_or_manager(uow, principal, customer, collaborators=True)
            now = self.ctx.clock.now()
            follow_up = FollowUp(
                id=FollowUpId(self.ctx.ids.new_id("follow_up")),
                rep_id=rep_id,
                at=now,
                kind=kind,
                customer_id=customer.id,
                note=note,
            )
            uow.follow_ups.add(follow_up)
            engaged = attrs.evolve(customer.signals, last_engagement_at=now)
            after = self.scheduled(
                uow,
                attrs.evolve(
                    customer,
                    last_follow_up_at=now,
                    follow_ups_since_claim=customer.follow_ups_since_claim + 1,
                    signals=engaged,
                    updated_at=now,
                ),
            )
            uow.record(FollowUpLogged(now, customer.id, rep_id, follow_up.id))
            return follow_up, [
                Change("follow_up", follow_up.id, None, follow_up),
                *self.restaged(uow, customer, after),
            ]

        return self.ctx.execute(principal, Action.FOLLOW_UP_LOG, command)

    def set_collaborator(
        self,
        principal: Principal,
        customer_id: str,
        rep_id: RepId,
        access: CollaboratorAccess | None,
        reason: str,
    ) -> Customer:
        """Add, change (``access``) or remove (``None``) a collaborator (多战区协同跟进)."""
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            self.guard(uow, principal, customer, write=True)
            uow.reps.get(rep_id)
            others = tuple(c for c in customer.collaborators if c.rep_id != rep_id)
            added = () if access is None else (Collaborator(rep_id, access),)
            after = attrs.evolve(customer, collaborators=others + added)
            if after == customer:
                return customer, []
            uow.customers.save(after)
            return after, [Change("customer", customer.id, customer, after, why)]

        return self.visible(
            self.ctx.execute(principal, Action.CUSTOMER_COLLABORATORS, command), principal
        )

    # -- reads --------------------------------------------------------------------------------
    def get_customer(self, principal: Principal, customer_id: str) -> Customer:
        """One customer, contact fields masked unless the caller owns or manages it."""

        def query(uow: UnitOfWork) -> Customer:
            customer = uow.customers.get(customer_id)
            self.guard(uow, principal, customer, write=False)
            return customer

        return self.visible(self.ctx.read(principal, Action.CUSTOMER_READ, query), principal)

    def list_pool(
        self,
        principal: Principal,
        pool_id: PoolId,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> Page[Customer]:
        """One page of the unowned customers in a pool (masked), by id."""

        def query(uow: UnitOfWork) -> Page[Customer]:
            self.guard_pool(uow, principal, uow.repository(Pool).get(pool_id), write=False)
            return uow.customers.query("pool", equals=pool_id, after=after, limit=limit)

        page = self.ctx.read(principal, Action.CUSTOMER_READ, query)
        return Page(
            tuple(self.visible(c, principal) for c in page.items),
            page.next_cursor,
        )

    def history(self, principal: Principal, customer_id: str) -> list[OwnershipChange]:
        """The customer's ownership history, oldest first."""

        def query(uow: UnitOfWork) -> list[OwnershipChange]:
            self.guard(uow, principal, uow.customers.get(customer_id), write=False)
            repo = uow.repository(OwnershipChange)
            found: list[OwnershipChange] = []
            cursor = None
            while True:
                page = repo.query(
                    "customer", at_least=f"{customer_id}|", below=f"{customer_id}}}",
                    after=cursor, limit=200,
                )  # fmt: skip
                found.extend(page.items)
                if page.next_cursor is None:
                    return found
                cursor = page.next_cursor

        return self.ctx.read(principal, Action.CUSTOMER_READ, query)
