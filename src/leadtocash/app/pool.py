"""Public-pool use cases: claim, assign, release, transfer, lock, follow-up, reads.

Pool membership (成员范围) decides who sees a pool and claims from it; a rep opens pool
customers unmasked within the pool's daily browsing quota (:meth:`PoolService.open_customer`).

Every operation runs through ``AppContext.execute``: authorized, atomic, audited with actor and
reason, retried on storage conflicts. Counters (rep books, daily claims) are aggregates saved
in the same commit, so limits hold under any interleaving. Every customer change recomputes
its derived reclaim schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.contacts import check_follow_up_text, complete_plans
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites, all_pools, rep_of
from leadtocash.app.release_targets import check_release_target
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.durations import local_day
from leadtocash.events import (
    CustomerLockChanged,
    FollowUpLogged,
)
from leadtocash.model import (
    Collaborator,
    CollaboratorAccess,
    Customer,
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
from leadtocash.pool.browsing import DailyBrowses, browse_counter_id, decide_browse
from leadtocash.pool.membership import Member, PoolMembers, check_member, sees_pool
from leadtocash.pool.ownership import (
    OwnershipFacts,
    already_owned,
    check_available_rep,
    check_in_pool,
    check_owned,
    check_pool_zone,
    check_unowned,
    decide_assign,
    decide_claim,
    decide_release,
    decide_transfer,
    require_reason,
)
from leadtocash.pool.rules import Pool, PoolRules
from leadtocash.pool.visibility import can_see_contact
from leadtocash.scopes import ScopeTarget

__all__ = ["PoolService"]


def _owned(uow: UnitOfWork, customer_id: str) -> bool:
    """True when the customer exists, is not in the recycle bin and has an owner, as its
    stored document says (read without building the customer)."""
    found = uow.customers.fields_of([customer_id], ("owner_id", "deleted"))
    return bool(found) and found[0][0] is not None and found[0][1] is None


@attrs.frozen
class PoolService:
    """Operations on public pools and the customers in them."""

    ctx: AppContext
    #: The customer write path (reclassify, reschedule, save, rebook, audit) shared by services.
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )
    #: The pool each rep last claimed from: a guess of what the next claim reads, so that
    #: it can read the customer, the pool and the rep's counters in one store call. Only a
    #: read-ahead hint; a wrong guess costs one more read, never a wrong result.
    _claim_pools: dict[RepId, PoolId] = attrs.field(factory=dict, init=False, eq=False)

    # -- shared steps ---------------------------------------------------------------------------
    def _facts(self, uow: UnitOfWork, rep_id: RepId, now: datetime | None = None) -> OwnershipFacts:
        return OwnershipFacts(
            now=self.ctx.clock.now() if now is None else now,
            timezone=self.ctx.timezone,
            book=self.customers.book(uow, rep_id),
            calendar=self.ctx.calendar,
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
        members: PoolMembers | None = None,
    ) -> Pool:
        """Create a pool with its rules and members (default: everyone)."""
        pool = Pool(
            id=pool_id or PoolId(self.ctx.ids.new_id("pool")),
            name=name,
            zone_id=zone_id,
            product_line=product_line,
            rules=rules or PoolRules(),
            members=members or PoolMembers(),
        )

        def command(uow: UnitOfWork) -> tuple[Pool, list[Change]]:
            self.customers.guard_pool(uow, principal, pool, write=True)
            check_release_target(uow, pool.id, pool.rules)
            uow.repository(Pool).add(pool)
            return pool, [Change("pool", pool.id, None, pool)]

        return self.ctx.execute(principal, Action.POOL_MANAGE, command)

    def set_members(
        self, principal: Principal, pool_id: PoolId, members: PoolMembers, reason: str
    ) -> Pool:
        """Set who may see and claim from a pool (成员范围; empty = everyone); reason required."""
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[Pool, list[Change]]:
            pool = uow.repository(Pool).get(pool_id)
            self.customers.guard_pool(uow, principal, pool, write=True)
            if pool.members == members:
                return pool, []
            after = attrs.evolve(pool, members=members)
            uow.repository(Pool).save(after)
            return after, [Change("pool", pool.id, pool, after, reason=why)]

        return self.ctx.execute(principal, Action.POOL_MANAGE, command)

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
        return self.customers.create(
            principal, name, pool_id=pool_id, phones=phones, emails=emails, uscc=uscc,
            address=address, zone_id=zone_id, tier=tier,
        )  # fmt: skip

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
                (SalesRep, rep_id),
                (Pool, guess),
                (DailyClaims, None if guess is None else daily_claims_id(guess, rep_id, day)),
            )
            # A customer someone owns is refused without being built (most refusals).
            customer = None if _owned(uow, customer_id) else uow.customers.get(customer_id)
            pool, counter = None, None
            if customer is not None and customer.pool_id is not None and customer.owner_id is None:
                self._claim_pools[rep_id] = customer.pool_id
                counter_id = daily_claims_id(customer.pool_id, rep_id, day)
                uow.preload((Pool, customer.pool_id), (DailyClaims, counter_id))
                pool = uow.repository(Pool).get(customer.pool_id)
                counter = uow.repository(DailyClaims).find(counter_id) or DailyClaims(
                    counter_id, pool.id, rep_id, day
                )
            # The organisation model says where the rep works now and their own daily limit
            # (a rep it does not know yet: the principal's zone); a rep who left may not
            # claim, and the principal's zone (from authentication) must fit the pool too.
            rep = uow.reps.find(rep_id)
            zone = principal.zone_id if rep is None else rep.zone_id
            limit = None
            if rep is not None:
                if not rep.active:
                    check_available_rep(rep)
                check_pool_zone(pool, rep_id, principal.zone_id)
                limit = rep.daily_claim_limit
            if customer is None:
                raise already_owned(customer_id)
            if pool is None:  # taken, or in no pool: refused as decide_claim would, book unread
                check_unowned(customer)
                check_in_pool(customer)
            team = principal.team_id if rep is None else rep.team_id or principal.team_id
            member = Member(rep_id, zone, team, principal.roles)  # where crm.org places the rep
            facts = self._facts(uow, rep_id, now)
            claim = decide_claim(
                customer, rep_id, zone, pool, counter, facts, rep_limit=limit, member=member
            )
            uow.repository(DailyClaims).save(claim.counter)
            return self.customers.move(
                uow, principal, customer, claim.customer, OwnershipAction.CLAIM, now=now
            )

        return self.customers.visible(
            self.ctx.execute(principal, Action.POOL_CLAIM, command), principal
        )

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
        """A manager assigns (分配) a pool customer to a rep the pool admits; an authorized
        ``override`` (reason required) skips membership and capacity."""
        self._check_override(principal, override, reason)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            check_unowned(customer)
            uow.preload((Pool, customer.pool_id), (SalesRep, rep_id), (RepBook, rep_id))
            self.customers.guard(uow, principal, customer, write=True)
            pool = uow.repository(Pool).get(customer.pool_id) if customer.pool_id else None
            rep = self.customers.rep(uow, rep_id)
            facts = self._facts(uow, rep_id)
            after = decide_assign(customer, rep, pool, facts, override=override)
            return self.customers.move(
                uow, principal, customer, after, OwnershipAction.ASSIGN,
                reason=reason, override=override,
            )  # fmt: skip

        return self.customers.visible(
            self.ctx.execute(principal, Action.POOL_ASSIGN, command), principal
        )

    def release(self, principal: Principal, customer_id: str, reason: str) -> Customer:
        """The owner (or a manager) releases (退回) a customer to the pool; reason required."""
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            owner = check_owned(customer)
            uow.preload((Pool, customer.pool_id), (RepBook, owner), (SalesRep, owner))
            self.customers.owner_or_manager(uow, principal, customer)
            rules = self.customers.rules_of(uow, customer.pool_id)
            after = decide_release(customer, rules, self.ctx.clock.now())
            return self.customers.move(
                uow, principal, customer, after, OwnershipAction.RELEASE, reason=why
            )

        return self.customers.visible(
            self.ctx.execute(principal, Action.POOL_RELEASE, command), principal
        )

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
            self.customers.guard(uow, principal, customer, write=True)
            pool_id = to_pool or customer.pool_id
            pool = uow.repository(Pool).get(pool_id) if pool_id else None
            rep = self.customers.rep(uow, to_rep)
            after = decide_transfer(
                customer, rep, pool, self._facts(uow, to_rep), override=override
            )
            return self.customers.move(
                uow, principal, customer, after, OwnershipAction.TRANSFER,
                reason=why, override=override,
            )  # fmt: skip

        return self.customers.visible(
            self.ctx.execute(principal, Action.POOL_TRANSFER, command), principal
        )

    def set_lock(
        self, principal: Principal, customer_id: str, locked: bool, reason: str
    ) -> Customer:
        """Lock (锁定: never reclaimed) or unlock an owned customer; reason required."""
        why = require_reason(reason)

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            check_owned(customer)
            self.customers.guard(uow, principal, customer, write=True)
            if customer.locked == locked:
                return customer, []
            now = self.ctx.clock.now()
            staged = self.customers.stage(
                uow, customer, attrs.evolve(customer, locked=locked), reason=why
            )
            uow.record(CustomerLockChanged(now, customer.id, locked))
            return staged.after, list(staged.changes)

        return self.customers.visible(
            self.ctx.execute(principal, Action.POOL_LOCK, command), principal
        )

    def log_follow_up(
        self,
        principal: Principal,
        customer_id: str,
        *,
        kind: FollowUpKind = FollowUpKind.CALL,
        note: str = "",
        next_at: datetime | None = None,
        plan: str = "",
    ) -> FollowUp:
        """The owner logs a follow-up (跟进): it extends protection and resets "no follow-up".

        ``next_at`` and ``plan`` set the next follow-up (跟进计划; the reminder sweep reminds
        the rep when it is due); logging a follow-up completes the customer's open plans.
        """
        rep_id = rep_of(principal)
        check_follow_up_text(note, plan, next_at)

        def command(uow: UnitOfWork) -> tuple[FollowUp, list[Change]]:
            customer = uow.customers.get(customer_id)
            check_owned(customer)
            self.customers.owner_or_manager(uow, principal, customer, collaborators=True)
            now = self.ctx.clock.now()
            follow_up = FollowUp(
                id=FollowUpId(self.ctx.ids.new_id("follow_up")),
                rep_id=rep_id,
                at=now,
                kind=kind,
                customer_id=customer.id,
                note=note,
                next_at=next_at,
                plan=plan,
            )
            done = complete_plans(uow, customer.id, now)
            uow.follow_ups.add(follow_up)
            engaged = attrs.evolve(customer.signals, last_engagement_at=now)
            candidate = attrs.evolve(
                customer,
                last_follow_up_at=now,
                follow_ups_since_claim=customer.follow_ups_since_claim + 1,
                signals=engaged,
            )
            uow.record(FollowUpLogged(now, customer.id, rep_id, follow_up.id))
            staged = self.customers.stage(uow, customer, candidate, summarize=True)
            logged = Change("follow_up", follow_up.id, None, follow_up)
            return follow_up, [logged, *done, *staged.changes]

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
            self.customers.guard(uow, principal, customer, write=True)
            uow.reps.get(rep_id)
            others = tuple(c for c in customer.collaborators if c.rep_id != rep_id)
            added = () if access is None else (Collaborator(rep_id, access),)
            candidate = attrs.evolve(customer, collaborators=others + added)
            staged = self.customers.stage(uow, customer, candidate, reason=why)
            return staged.after, list(staged.changes)

        return self.customers.visible(
            self.ctx.execute(principal, Action.CUSTOMER_COLLABORATORS, command), principal
        )

    # -- reads --------------------------------------------------------------------------------
    def get_customer(self, principal: Principal, customer_id: str) -> Customer:
        """One customer, contact fields masked unless the caller owns or manages it."""

        def query(uow: UnitOfWork) -> Customer:
            customer = uow.customers.get(customer_id)
            self.customers.guard_member(uow, principal, customer)
            return customer

        return self.customers.visible(
            self.ctx.read(principal, Action.CUSTOMER_READ, query), principal
        )

    def list_pool(
        self,
        principal: Principal,
        pool_id: PoolId,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> Page[Customer]:
        """One page of the unowned customers in a pool (masked), by id; members only
        (managers by their data scope): others get PermissionDenied ``pool.not_member``."""

        def query(uow: UnitOfWork) -> Page[Customer]:
            pool = uow.repository(Pool).get(pool_id)
            self.customers.guard_pool(uow, principal, pool, write=False)
            if not principal.is_manager:
                check_member(pool.id, pool.members, self.ctx.member(uow, principal))
            return uow.customers.query("pool", equals=pool_id, after=after, limit=limit)

        page = self.ctx.read(principal, Action.CUSTOMER_READ, query)
        return Page(
            tuple(self.customers.visible(c, principal) for c in page.items),
            page.next_cursor,
        )

    def list_pools(self, principal: Principal) -> list[Pool]:
        """The pools the caller sees, by name: managers those in their data scope, everyone
        else the pools in scope whose membership admits them."""

        def query(uow: UnitOfWork) -> list[Pool]:
            return [
                p for p in all_pools(uow)
                if sees_pool(p.members, self.ctx.positioned(uow, principal))
                and self.ctx.in_scope(uow, principal, _pool_target(p))
            ]  # fmt: skip

        return self.ctx.read(principal, Action.CUSTOMER_READ, query)

    def open_customer(self, principal: Principal, customer_id: str) -> Customer:
        """Open one customer with its contact fields (phones, e-mails, address) unmasked.

        A pool customer is opened by a member of its pool within the pool's daily browsing
        quota (``rules.browse_quota``, per team, zone or role; counted per organisation day,
        once per customer a day); past it, RuleViolation ``pool.browse_quota_exceeded`` and
        nothing is counted. Owners, collaborators and managers are never counted. Every
        unmasked open is audited (a disclosure entry; a counted one also audits the counter).
        """

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            customer = uow.customers.get(customer_id)
            self.customers.guard_member(uow, principal, customer)
            changes: list[Change] = []
            if not can_see_contact(customer, principal):
                rep_id = rep_of(principal)
                check_unowned(customer)
                pool_id = check_in_pool(customer)
                now = self.ctx.clock.now()
                day = local_day(now, self.ctx.timezone)
                counter_id = browse_counter_id(pool_id, rep_id, day)
                uow.preload((Pool, pool_id), (DailyBrowses, counter_id))
                pool = uow.repository(Pool).get(pool_id)
                counter = uow.repository(DailyBrowses).find(counter_id) or DailyBrowses(
                    counter_id, pool_id, rep_id, day
                )
                after = decide_browse(
                    customer, self.ctx.member(uow, principal), pool, counter,
                    now=now, timezone=self.ctx.timezone,
                )  # fmt: skip
                if after != counter:
                    uow.repository(DailyBrowses).save(after)
                    before = None if counter.version == 0 else counter
                    changes.append(Change("daily_browses", after.id, before, after))
            revealed = _reveals(customer)
            if revealed:
                via = "pools.open_customer"
                record = {"via": via, "customers": {customer.id: revealed}}
                changes.append(Change("disclosure", principal.user_id, None, record, reason=via))
            return customer, changes

        raw = self.ctx.execute(principal, Action.POOL_BROWSE, command)
        shown = self.customers.visible(raw, principal)  # the budget stays hidden when it is
        return attrs.evolve(shown, phones=raw.phones, emails=raw.emails, address=raw.address)

    def history(self, principal: Principal, customer_id: str) -> list[OwnershipChange]:
        """The customer's ownership history, oldest first."""

        def query(uow: UnitOfWork) -> list[OwnershipChange]:
            self.customers.guard(uow, principal, uow.customers.get(customer_id), write=False)
            return uow.repository(OwnershipChange).whole_group("customer", customer_id)

        return self.ctx.read(principal, Action.CUSTOMER_READ, query)


def _pool_target(pool: Pool) -> ScopeTarget:
    return ScopeTarget("pool", pool.id, zone=pool.zone_id, in_pool=True)


def _reveals(customer: Customer) -> list[str]:
    """The contact fields of ``customer`` that hold a value (what an unmasked open shows)."""
    fields = (("phones", customer.phones), ("emails", customer.emails),
              ("address", customer.address))  # fmt: skip
    return [name for name, value in fields if value]
