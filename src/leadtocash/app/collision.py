"""Anti-collision (防撞单) use cases: check, guarded creation, bulk import, merge.

Exact dedup keys are looked up through storage (lookup keys for every key, unique keys for the
ones the policy blocks on, so two concurrent creations of one company cannot both commit);
fuzzy candidates come from the ``name_prefix`` index. The pure rules live in
``leadtocash.collision``; this module fetches what they need and carries out their answer.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import attrs

from leadtocash.access import Action, Principal
from leadtocash.app.context import AppContext, Change
from leadtocash.app.customers import CustomerWrites
from leadtocash.app.dedup import DuplicatesReport, collision_report, find_duplicates
from leadtocash.app.documents import batch_size, index_ids
from leadtocash.app.imports import ImportCommitReport, ImportPlan, ImportService, csv_rows
from leadtocash.app.merge_moves import attached_records, move_record
from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.collision import (
    CollisionReport,
    MergePlan,
    Outcome,
    RecordKind,
    RecordRef,
    candidate_keys,
    plan_merge,
    raise_if_blocked,
)
from leadtocash.errors import (
    ConcurrencyConflict,
    FieldError,
    LeadToCashError,
    PermissionDenied,
    RuleViolation,
    ValidationError,
)
from leadtocash.model import Customer, CustomerId, PoolId, Tier, ZoneId

_log = logging.getLogger(__name__)

__all__ = ["CollisionService", "CustomerImportReport", "CustomerImportRow", "MergeCompletion"]


@attrs.frozen
class CustomerImportRow:
    """One import row: created (``customer_id``), duplicate of a record, or rejected."""

    index: int
    customer_id: CustomerId | None = None
    duplicate_of: RecordRef | None = None
    errors: tuple[FieldError, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def status(self) -> str:
        """``created``, ``duplicate`` or ``rejected``."""
        if self.customer_id is not None:
            return "created"
        return "duplicate" if self.duplicate_of is not None else "rejected"


@attrs.frozen
class MergeCompletion:
    """What :meth:`CollisionService.complete_merges` did: records moved per archive, and the
    archives skipped (out of the caller's scope, survivor in the recycle bin, conflicts)."""

    moved: Mapping[str, int]
    skipped: tuple[str, ...] = ()

    @property
    def total(self) -> int:
        """How many records moved (a credit ledger joined counts its two changes)."""
        return sum(self.moved.values())


@attrs.frozen
class CustomerImportReport:
    """Per-row results of a customer import; a bad row never aborts the good ones."""

    rows: tuple[CustomerImportRow, ...]

    def count(self, status: str) -> int:
        """How many rows ended with ``status``."""
        return sum(1 for row in self.rows if row.status == status)


@attrs.frozen
class CollisionService:
    """Duplicate checks around every customer creation, import and merge."""

    ctx: AppContext
    customers: CustomerWrites = attrs.field(
        init=False, default=attrs.Factory(lambda self: CustomerWrites(self.ctx), takes_self=True)
    )
    _imports: ImportService = attrs.field(
        init=False,
        default=attrs.Factory(
            lambda self: ImportService(self.ctx, self.customers), takes_self=True
        ),
    )

    # -- checking -------------------------------------------------------------------------------
    def check_customer(
        self,
        principal: Principal,
        name: str,
        *,
        phones: Sequence[str] = (),
        emails: Sequence[str] = (),
        uscc: str | None = None,
    ) -> CollisionReport:
        """Pre-check a customer a user is about to create (blocking hits and warnings)."""
        keys = candidate_keys(name=name, phones=phones, emails=emails, uscc=uscc)
        policy = self.ctx.collision
        return self.ctx.read(
            principal,
            Action.CUSTOMER_READ,
            lambda uow: collision_report(uow, policy, principal, keys),
        )

    def check_existing(self, principal: Principal, customer_id: str) -> CollisionReport:
        """Other records colliding with a stored customer (e.g. before a claim)."""

        def query(uow: UnitOfWork) -> CollisionReport:
            customer = uow.customers.get(customer_id)
            self.customers.guard(uow, principal, customer, write=False)
            keys = candidate_keys(
                name=customer.name, phones=customer.phones, emails=customer.emails,
                uscc=customer.uscc,
            )  # fmt: skip
            me = RecordRef(RecordKind.CUSTOMER, customer.id)
            return collision_report(uow, self.ctx.collision, principal, keys, exclude=[me])

        return self.ctx.read(principal, Action.CUSTOMER_READ, query)

    def find_duplicates(
        self, principal: Principal, *, after: tuple[str, str] | None = None, limit: int = 500
    ) -> DuplicatesReport:
        """查重: one page of the book (``limit`` customers from ``after``) checked the way a new
        record is; colliding records grouped with a merge or link suggestion. Follow
        ``next_cursor`` until it is None to cover the whole book."""
        policy = self.ctx.collision
        return self.ctx.read(
            principal,
            Action.CUSTOMER_READ,
            lambda uow: find_duplicates(uow, policy, principal, after=after, limit=limit),
        )

    # -- import files (dry run, then batched resumable commit) ----------------------------------
    def plan_import(
        self,
        principal: Principal,
        data: bytes,
        *,
        filename: str | None = None,
        encoding: str | None = None,
        mapping: Mapping[str, str | None] | None = None,
        sheet: str | None = None,
    ) -> ImportPlan:
        """Dry run of a customer file (CSV in UTF-8/GB18030, or .xlsx): every row ok, rejected
        (each bad field named) or a duplicate; nothing is written. See ``app.imports``."""
        return self._imports.plan(
            principal, data, filename=filename, encoding=encoding, mapping=mapping, sheet=sheet
        )

    def commit_import(
        self,
        principal: Principal,
        plan: ImportPlan,
        *,
        import_id: str,
        pool_id: PoolId | None,
        batch_size: int = 500,
        strict: bool = True,
    ) -> ImportCommitReport:
        """Write a planned import in atomic batches; call again with the same ``import_id`` to
        resume after a failure (written batches are skipped)."""
        return self._imports.commit(
            principal, plan, import_id=import_id, pool_id=pool_id, batch_size=batch_size,
            strict=strict,
        )  # fmt: skip

    # -- guarded creation -----------------------------------------------------------------------
    def create_customer(
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
    ) -> tuple[Customer, CollisionReport]:
        """Create a customer unless a blocking duplicate exists; warnings come back with it.

        A blocking hit raises ``RuleViolation`` ``collision.duplicate`` naming the existing
        record (masked when the caller may not see it). Storage's unique keys close the race:
        of two concurrent creations of one company exactly one commits, the other gets the
        same ``collision.duplicate``.
        """
        keys = candidate_keys(name=name, phones=phones, emails=emails, uscc=uscc)
        self.ctx.policy.check(principal, Action.CUSTOMER_READ)  # the check reads the book
        policy = self.ctx.collision
        reports: list[CollisionReport] = []

        def command(uow: UnitOfWork) -> tuple[Customer, list[Change]]:
            # One unit of work: the check, then the creation on what the check read.
            report = collision_report(uow, policy, principal, keys)
            raise_if_blocked(report)
            reports[:] = [report]
            customer = self.customers.build(
                CustomerId(self.ctx.ids.new_id("customer")), name, pool_id=pool_id,
                phones=phones, emails=emails, uscc=uscc, address=address, zone_id=zone_id,
                tier=tier,
            )  # fmt: skip
            return self.customers.stage_new(uow, principal, customer, checked=report)

        stored = self.customers.run_create(principal, command)
        return self.customers.visible(stored, principal), reports[0]

    def import_customers(
        self,
        principal: Principal,
        rows: Iterable[Mapping[str, object]],
        *,
        pool_id: PoolId | None,
    ) -> CustomerImportReport:
        """Create each row as a customer; the report says per row what happened."""
        self.ctx.policy.check(principal, Action.CUSTOMER_CREATE)
        results = []
        for index, row in enumerate(rows):
            results.append(self._import_row(principal, index, row, pool_id))
        return CustomerImportReport(tuple(results))

    def import_customers_csv(
        self, principal: Principal, text: str, *, pool_id: PoolId | None
    ) -> CustomerImportReport:
        """Import CSV with columns name, phones, emails (``;``-separated), uscc, address."""
        table = csv_rows(text, path="text")
        header = table[0] if table else []
        reader = (dict(zip(header, row, strict=False)) for row in table[1:] if row)
        rows = [
            {
                "name": (raw.get("name") or "").strip(),
                "phones": _split(raw.get("phones")),
                "emails": _split(raw.get("emails")),
                "uscc": (raw.get("uscc") or "").strip() or None,
                "address": (raw.get("address") or "").strip() or None,
            }
            for raw in reader
        ]
        return self.import_customers(principal, rows, pool_id=pool_id)

    def _import_row(
        self, principal: Principal, index: int, row: Mapping[str, object], pool_id: PoolId | None
    ) -> CustomerImportRow:
        name, phones, emails, uscc, address = _row_fields(row)
        try:
            report = self.check_customer(principal, name, phones=phones, emails=emails, uscc=uscc)
            if report.blocked:
                return CustomerImportRow(index, duplicate_of=report.records(Outcome.BLOCK)[0])
            customer = self.customers.create(
                principal, name, pool_id=pool_id, phones=phones, emails=emails, uscc=uscc,
                address=address,
            )  # fmt: skip
        except ValidationError as exc:
            prefix = f"rows[{index}]."
            errors = tuple(attrs.evolve(e, path=prefix + e.path) for e in exc.errors)
            return CustomerImportRow(index, errors=errors)
        except RuleViolation as exc:  # lost a race for a unique key to a concurrent creation
            if exc.code != "collision.duplicate":
                raise
            existing = exc.details["existing"]
            ref = RecordRef(RecordKind(existing["kind"]), str(existing["id"]))
            return CustomerImportRow(index, duplicate_of=ref)
        return CustomerImportRow(
            index,
            customer_id=customer.id,
            warnings=tuple(hit.describe() for hit in report.warnings),
        )

    # -- merge ----------------------------------------------------------------------------------
    def merge(
        self,
        principal: Principal,
        first_id: str,
        second_id: str,
        reason: str,
        *,
        prefer: CustomerId | None = None,
    ) -> MergePlan:
        """Merge two duplicate customers in one unit of work; the audit entry keeps both.

        Right after it, one more unit of work moves what was filed under the loser while the
        merge ran (a document whose command read the loser before the merge committed and
        committed first); any later command that names the loser finds it merged, because
        commands that file a document under a customer commit only if it is unchanged. Should
        that sweep fail, :meth:`complete_merges` moves what it left.
        """
        if not reason or not reason.strip():
            raise ValidationError.single("reason", "field.required", "a reason is required")

        def command(uow: UnitOfWork) -> tuple[MergePlan, list[Change]]:
            first, second = uow.customers.get(first_id), uow.customers.get(second_id)
            if first.id == second.id or first.merged_into or second.merged_into:
                raise RuleViolation(
                    "merge needs two distinct, unmerged customers",
                    code="collision.merge_invalid",
                    details={"first": first.id, "second": second.id},
                )
            self.customers.guard(uow, principal, first, write=True)
            self.customers.guard(uow, principal, second, write=True)
            plan = self._plan(uow, first, second, prefer)
            archived = attrs.evolve(
                plan.loser_snapshot,
                merged_into=plan.survivor_id,
                owner_id=None,
                updated_at=plan.at,
            )
            # The loser first: archiving releases its keys before the survivor takes them.
            loser = self.customers.stage(
                uow, plan.loser_snapshot, archived, reason=reason, classify=False
            )
            survivor = self.customers.stage(uow, plan.survivor_before, plan.merged, reason=reason)
            moved = [
                change
                for move in plan.moves
                for change in move_record(
                    uow, move.kind, move.id, (plan.loser_id, plan.survivor_id), reason
                )
            ]
            changes = [*survivor.changes, *loser.changes, *moved]
            return plan, changes

        plan = self.ctx.execute(principal, Action.CUSTOMER_MERGE, command)
        try:
            self._complete_one(principal, plan.loser_id)
        except LeadToCashError as exc:  # the merge itself stands
            _log.warning("records filed under %s during its merge stay for complete_merges: %s",
                         plan.loser_id, exc)  # fmt: skip
        return plan

    def complete_merges(self, principal: Principal, *, batch: int = 500) -> MergeCompletion:
        """Move what merges recorded by an earlier version left with the archived duplicates
        (their quotes, contracts, invoices, receipts, credit…) to the company's survivor.

        Run once after upgrading a store (``leadtocash complete-merges URL``): reads the
        ``merged_into`` index (only archives), one unit of work per archive with records to
        move, each move audited as a merge's is (reason ``merge into <survivor> completed``).
        Archives outside the caller's scope, or whose survivor is in the recycle bin, are
        skipped. Running it again moves nothing.
        """
        batch_size(batch, "batch")
        self.ctx.policy.check(principal, Action.CUSTOMER_MERGE)
        moved: dict[str, int] = {}
        skipped: list[str] = []
        for archive_id in index_ids(self.ctx, Customer, "merged_into", page=batch):
            try:
                count = self._complete_one(principal, archive_id)
            except (PermissionDenied, ConcurrencyConflict):
                count = None
            if count is None:
                skipped.append(archive_id)
            elif count:
                moved[archive_id] = count
        return MergeCompletion(moved, tuple(skipped))

    def _complete_one(self, principal: Principal, archive_id: str) -> int | None:
        """Records moved off one archive; None when its survivor is in the recycle bin."""

        def command(uow: UnitOfWork) -> tuple[int | None, list[Change]]:
            survivor = self.customers.company(uow, archive_id)[-1]
            if survivor.merged_into is not None:  # the chain ends in the recycle bin
                return None, []
            self.customers.guard(uow, principal, survivor, write=True)
            reason = f"merge into {survivor.id} completed"
            move = (CustomerId(archive_id), survivor.id)
            changes = [
                change
                for kind, ident in attached_records(uow, archive_id)
                for change in move_record(uow, kind, ident, move, reason)
            ]
            return len(changes), changes

        return self.ctx.execute(principal, Action.CUSTOMER_MERGE, command)

    def _plan(
        self, uow: UnitOfWork, first: Customer, second: Customer, prefer: CustomerId | None
    ) -> MergePlan:
        probe = plan_merge(first, second, now=self.ctx.clock.now(), prefer=prefer)
        attached = attached_records(uow, probe.loser_id)
        return plan_merge(first, second, now=probe.at, prefer=prefer, attached=attached)


def _split(raw: str | None) -> list[str]:
    return [part.strip() for part in (raw or "").split(";") if part.strip()]


def _row_fields(
    row: Mapping[str, object],
) -> tuple[str, list[str], list[str], str | None, str | None]:
    def text(key: str) -> str | None:
        value = row.get(key)
        return value.strip() or None if isinstance(value, str) else None

    def many(key: str) -> list[str]:
        value = row.get(key)
        if isinstance(value, str):
            return _split(value)
        if isinstance(value, list | tuple):
            return [str(v) for v in value]
        return []

    return text("name") or "", many("phones"), many("emails"), text("uscc"), text("address")
