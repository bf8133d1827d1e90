"""Lead use cases: capture from a channel payload, bulk import, look up."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.unit_of_work import Page, UnitOfWork
from leadtocash.errors import FieldError, ValidationError
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

    def capture(
        self,
        principal: Principal,
        payload: Mapping[str, object],
        *,
        channel: Channel | None = None,
        path_prefix: str = "",
    ) -> Lead:
        """Validate a channel payload and store a new lead (audited, with a LeadCaptured event)."""
        self.ctx.policy.check(principal, Action.LEAD_CAPTURE)
        lead_id = LeadId(self.ctx.ids.new_id("lead"))
        now = self.ctx.clock.now()
        lead = lead_from_payload(
            payload,
            lead_id=lead_id,
            now=now,
            channel=channel,
            rules=self.ctx.intake,
            path_prefix=path_prefix,
        )

        def command(uow: UnitOfWork) -> tuple[Lead, list[Change]]:
            uow.leads.add(lead)
            uow.record(LeadCaptured(now, lead.id, lead.channel, lead.company_name))
            return lead, [Change("lead", lead.id, None, lead)]

        stored = self.ctx.execute(principal, Action.LEAD_CAPTURE, command)
        return stored

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
        """The lead with ``lead_id``; NotFound when there is none, out of scope if not yours."""

        def query(uow: UnitOfWork) -> Lead:
            lead = uow.leads.get(lead_id)
            self.ctx.guard(uow, principal, lead_target(lead), write=False)
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
            visible = tuple(
                lead for lead in page.items if self.ctx.in_scope(uow, principal, lead_target(lead))
            )
            return Page(visible, page.next_cursor)

        return self.ctx.read(principal, Action.LEAD_READ, query)
