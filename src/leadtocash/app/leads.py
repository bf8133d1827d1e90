"""Lead use cases: capture from a channel payload, bulk import, look up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customer_screens import UNCHANGED, exact_key, name_search_page, read_scope
from leadtocash.app.dedup import collision_report
from leadtocash.app.lead_scores import LeadScoring
from leadtocash.app.lead_writes import all_lead_pools, check_lead_member
from leadtocash.app.listing import (
    DEFAULT_PAGE,
    LeadFilter,
    LeadSort,
    Scope,
    lead_query,
    lead_search_queries,
    page_limit,
    pool_member_filter,
)
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.collision import Outcome, lead_keys
from leadtocash.errors import FieldError, PermissionDenied, ValidationError
from leadtocash.events import LeadCaptured
from leadtocash.intake import lead_from_payload
from leadtocash.model import Channel, Lead, LeadId
from leadtocash.scopes import lead_target

__all__ = ["ImportReport", "ImportRow", "LeadService"]


@attrs.frozen
class ImportRow:
    """The outcome of one import row: the created lead id or the field errors."""

    index: int
    lead_id: LeadId | None = None
    errors: tuple[FieldError, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the row created a lead."""
        return self.lead_id is not None


@attrs.frozen
class ImportReport:
    """Per-row results of a bulk import; bad rows never abort good ones."""

    rows: tuple[ImportRow, ...]

    @property
    def created(self) -> int:
        """How many rows created a lead."""
        return sum(1 for r in self.rows if r.ok)

    @property
    def rejected(self) -> int:
        """How many rows were rejected."""
        return sum(1 for r in self.rows if not r.ok)


@attrs.frozen
class LeadService:
    """Capture, import and read leads."""

    ctx: AppContext
    scoring: LeadScoring = attrs.field(
        init=False, default=attrs.Factory(lambda self: LeadScoring(self.ctx), takes_self=True)
    )

    def capture(
        self,
        principal: Principal,
        payload: Mapping[str, object],
        *,
        channel: Channel | None = None,
        path_prefix: str = "",
    ) -> Lead:
        """Validate a channel payload and store a new lead (audited, with a LeadCaptured event).

        The lead is checked against open leads and customers like a new customer is; when a
        key the policy blocks on is already held, the lead is still stored, with
        ``duplicate_of`` naming that record (``"customer:<id>"`` / ``"lead:<id>"``).
        """
        self.ctx.policy.check(principal, Action.LEAD_CAPTURE)
        now = self.ctx.clock.now()
        checked = lead_from_payload(
            payload,
            lead_id=LeadId("unassigned"),
            now=now,
            channel=channel,
            rules=self.ctx.intake,
            path_prefix=path_prefix,
        )
        # The id is taken only once the payload is valid: a rejected capture consumes none.
        lead = attrs.evolve(checked, id=LeadId(self.ctx.ids.new_id("lead")))

        def command(uow: UnitOfWork) -> tuple[Lead, list[Change]]:
            linked = self.scoring.scored(uow, self._linked(uow, principal, lead))
            uow.leads.add(linked)
            uow.record(LeadCaptured(now, linked.id, linked.channel, linked.company_name))
            return linked, [Change("lead", linked.id, None, linked)]

        stored = self.ctx.execute(principal, Action.LEAD_CAPTURE, command)
        return stored

    def _linked(self, uow: UnitOfWork, principal: Principal, lead: Lead) -> Lead:
        """``lead`` linked to the record it duplicates (a blocking hit among open leads and
        customers, under the organisation's collision policy); stored either way, never
        dropped. Warnings (phone, e-mail, similar names) do not link."""
        try:
            keys = lead_keys(lead)
        except ValidationError:  # the payload was validated; a key that still fails is absent
            return lead
        report = collision_report(uow, self.ctx.collision, principal, keys)
        blocking = report.records(Outcome.BLOCK)
        if not blocking:
            return lead
        first = blocking[0]
        return attrs.evolve(lead, duplicate_of=f"{first.kind.value}:{first.id}")

    def import_rows(
        self,
        principal: Principal,
        rows: Iterable[Mapping[str, object]],
        *,
        channel: Channel = Channel.IMPORT,
    ) -> ImportReport:
        """Capture each row as its own lead; the report says per row what happened."""
        self.ctx.policy.check(principal, Action.LEAD_IMPORT)
        results = []
        for index, row in enumerate(rows):
            try:
                lead = self.capture(principal, row, channel=channel, path_prefix=f"rows[{index}].")
            except ValidationError as exc:
                results.append(ImportRow(index, errors=exc.errors))
            else:
                results.append(ImportRow(index, lead_id=lead.id))
        return ImportReport(tuple(results))

    def get(self, principal: Principal, lead_id: str) -> Lead:
        """The lead with ``lead_id``; NotFound when there is none, ``auth.out_of_scope`` outside
        the caller's data scope, ``pool.not_member`` for an unowned lead the caller reaches
        only through a lead pool that does not admit them."""

        def query(uow: UnitOfWork) -> Lead:
            lead = uow.leads.get(lead_id)
            check_lead_member(self.ctx, uow, principal, lead)  # lead-pool members only
            return lead

        return self.ctx.read(principal, Action.LEAD_READ, query)

    def by_status(
        self,
        principal: Principal,
        status: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = 50,
    ) -> Page[Lead]:
        """One page of leads in ``status`` within the caller's scope, by id (keyset paging).

        Out-of-scope leads are dropped from the page, so a page may hold fewer than ``limit``;
        follow ``next_cursor`` until it is None.
        """

        def query(uow: UnitOfWork) -> Page[Lead]:
            page = uow.leads.query("status", equals=status, after=after, limit=limit)
            visible = tuple(lead for lead in page.items if self._readable(uow, principal, lead))
            return Page(visible, page.next_cursor)

        return self.ctx.read(principal, Action.LEAD_READ, query)

    # -- screens: edit, list, count, search (issue #24) ----------------------------------------
    def edit(
        self,
        principal: Principal,
        lead_id: str,
        *,
        company_name: str = UNCHANGED,
        contact_name: str | None = UNCHANGED,
        phone: str | None = UNCHANGED,
        email: str | None = UNCHANGED,
        uscc: str | None = UNCHANGED,
        zone_id: str | None = UNCHANGED,
        campaign: str | None = UNCHANGED,
        note: str | None = UNCHANGED,
        industry: str | None = UNCHANGED,
        employees: int | None = UNCHANGED,
    ) -> Lead:
        """Edit a lead's fields (its owner, or a manager in scope; unowned leads by anyone in
        scope); validated like a capture, audited as ``lead.update``; the score follows."""
        given = {
            key: value
            for key, value in (
                ("company_name", company_name), ("contact_name", contact_name),
                ("phone", phone), ("email", email), ("uscc", uscc), ("zone_id", zone_id),
                ("campaign", campaign), ("note", note), ("industry", industry),
                ("employees", employees),
            )
            if value is not UNCHANGED
        }  # fmt: skip

        def command(uow: UnitOfWork) -> tuple[Lead, list[Change]]:
            before = uow.leads.get(lead_id)
            self.ctx.guard(uow, principal, lead_target(before), write=True)
            payload = {
                "company_name": before.company_name, "contact_name": before.contact_name,
                "phone": before.phone, "email": before.email, "uscc": before.uscc,
                "zone_id": before.zone_id, "campaign": before.campaign, "note": before.note,
                "industry": before.industry, "employees": before.employees,
                **given,
            }  # fmt: skip
            rules = attrs.evolve(self.ctx.intake, reject_unknown_fields=False, required={})
            checked = lead_from_payload(
                {k: v for k, v in payload.items() if v is not None},
                lead_id=before.id, now=before.created_at, channel=before.channel, rules=rules,
            )  # fmt: skip
            fields = {k: getattr(checked, k) for k in payload}
            after = attrs.evolve(before, **fields)
            if after == before:
                return before, []
            after = attrs.evolve(after, updated_at=self.ctx.clock.now())
            after = self.scoring.scored(uow, after)
            uow.leads.save(after)
            return after, [Change("lead", after.id, before, after)]

        return self.ctx.execute(principal, Action.LEAD_UPDATE, command)

    def _scope(self, uow: UnitOfWork, principal: Principal) -> Scope:
        pools = all_lead_pools(uow)
        return read_scope(
            self.ctx, uow, principal, collaborators=False, unowned_index="unowned_zone",
            members=lambda p: pool_member_filter(pools, p, "unowned_pool", no_pool=True),
        )  # fmt: skip

    def _readable(self, uow: UnitOfWork, principal: Principal, lead: Lead) -> bool:
        """Whether a single read of ``lead`` would let ``principal`` see it (scope, pool)."""
        try:
            check_lead_member(self.ctx, uow, principal, lead)
        except PermissionDenied:
            return False
        return True

    def list(
        self,
        principal: Principal,
        filters: LeadFilter | None = None,
        *,
        sort: LeadSort = LeadSort.CREATED,
        after: tuple[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Page[Lead]:
        """One page of the leads the caller may see, filtered and sorted (keyset paging)."""
        size = page_limit(limit)
        wanted = filters or LeadFilter()

        def query(uow: UnitOfWork) -> Page[Lead]:
            base = lead_query(wanted, sort, self._scope(uow, principal))
            return uow.leads.select(attrs.evolve(base, after=after, limit=size))

        return self.ctx.read(principal, Action.LEAD_READ, query)

    def count(self, principal: Principal, filters: LeadFilter | None = None) -> int:
        """How many leads :meth:`list` pages through with ``filters``."""
        wanted = filters or LeadFilter()

        def query(uow: UnitOfWork) -> int:
            base = lead_query(wanted, LeadSort.CREATED, self._scope(uow, principal))
            return uow.leads.count(base)

        return self.ctx.read(principal, Action.LEAD_READ, query)

    def search(
        self,
        principal: Principal,
        text: str,
        *,
        after: tuple[str, str] | None = None,
        limit: int = DEFAULT_PAGE,
    ) -> Page[Lead]:
        """One page of the leads the caller may see by phone, e-mail or USCC (exact normalized
        key: one page) or by a prefix of the company name, then of its pinyin (keyset paging:
        pass ``next_cursor`` back as ``after``)."""
        size = page_limit(limit)

        def query(uow: UnitOfWork) -> Page[Lead]:
            key = exact_key(text)
            if key is not None:
                found = uow.leads.get_many(uow.leads.find_ids_by_key(key, limit=size))
                shown = tuple(lead for lead in found if self._readable(uow, principal, lead))
                return Page(shown, None)
            queries = lead_search_queries(text, self._scope(uow, principal))
            found, cursor = name_search_page(
                uow.leads, queries, after, size, lambda lead: lead.company_name
            )
            return Page(tuple(found), cursor)

        return self.ctx.read(principal, Action.LEAD_READ, query)
