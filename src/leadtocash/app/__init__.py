"""Application layer: use cases that load through a unit of work, call the domain and commit.

``LeadToCash`` is the small facade an embedding app creates once with its ports.
"""

from __future__ import annotations

import attrs

from leadtocash.access import RolePolicy
from leadtocash.app.aggregates import (
    QUERIED_INDEXES,
    SPECS,
    AggregateSpec,
    sortable_int,
    sortable_time,
    spec_for,
)
from leadtocash.app.allocation import AllocationReport, AllocationService
from leadtocash.app.billing import BillingService, ReminderReport
from leadtocash.app.churn import ChurnReport, ChurnService
from leadtocash.app.classification import ClassificationService
from leadtocash.app.collision import CollisionService, CustomerImportReport, CustomerImportRow
from leadtocash.app.contacts import ContactService, ReminderSweep
from leadtocash.app.context import AppContext, Change
from leadtocash.app.contracts import ContractService
from leadtocash.app.customer_screens import Customer360, CustomerService, PersonalData, Section
from leadtocash.app.documents import CashPolicies
from leadtocash.app.erasure import ErasureResult
from leadtocash.app.lead_pools import LeadPoolService
from leadtocash.app.lead_scores import LeadScoreService, RescoreReport, ScoreExplanation
from leadtocash.app.leads import ImportReport, ImportRow, LeadService
from leadtocash.app.listing import CustomerFilter, CustomerSort, LeadFilter, LeadSort
from leadtocash.app.maintenance import MaintenanceService, ReindexReport
from leadtocash.app.org import OrgService
from leadtocash.app.pipeline import PipelineService
from leadtocash.app.pool import PoolService
from leadtocash.app.quotes import ExpiryReport, ProductService, QuoteService
from leadtocash.app.receivables import ReceivablesService
from leadtocash.app.reclaim import UNSET, ReclaimService, RecomputeReport, SweepReport
from leadtocash.app.recycle_bin import BinEntry, PurgeReport, RecycleBinService, Restored
from leadtocash.app.relay import Backoff, FailedAttempt, OutboxRelay, RelayReport
from leadtocash.app.renewals import RenewalReport, RenewalService
from leadtocash.app.reps import RepService
from leadtocash.app.service import ServicePolicies
from leadtocash.app.settings import (
    SettingsService,
    given_settings,
    settings_in_force,
    stored_settings,
)
from leadtocash.app.tickets import SlaSweepReport, TicketService
from leadtocash.app.unit_of_work import Page, Repository, UnitOfWork, run_with_retries
from leadtocash.classification import RequiredFields, TagRules, TierRules
from leadtocash.collision import CollisionPolicy
from leadtocash.durations import WorkingCalendar
from leadtocash.events import event_types
from leadtocash.intake import IntakeRules
from leadtocash.ports.clock import Clock, IdSource
from leadtocash.ports.storage import Store
from leadtocash.serialization import warm_up

__all__ = [
    "QUERIED_INDEXES",
    "SPECS",
    "UNSET",
    "AggregateSpec",
    "AllocationReport",
    "AllocationService",
    "AppContext",
    "Backoff",
    "BillingService",
    "BinEntry",
    "CashPolicies",
    "Change",
    "ChurnReport",
    "ChurnService",
    "ClassificationService",
    "CollisionService",
    "ContactService",
    "ContractService",
    "Customer360",
    "CustomerFilter",
    "CustomerImportReport",
    "CustomerImportRow",
    "CustomerService",
    "CustomerSort",
    "ErasureResult",
    "ExpiryReport",
    "FailedAttempt",
    "ImportReport",
    "ImportRow",
    "LeadFilter",
    "LeadPoolService",
    "LeadScoreService",
    "LeadService",
    "LeadSort",
    "LeadToCash",
    "MaintenanceService",
    "OrgService",
    "OutboxRelay",
    "Page",
    "PersonalData",
    "PipelineService",
    "PoolService",
    "ProductService",
    "PurgeReport",
    "QuoteService",
    "ReceivablesService",
    "ReclaimService",
    "RecomputeReport",
    "RecycleBinService",
    "ReindexReport",
    "RelayReport",
    "ReminderReport",
    "ReminderSweep",
    "RenewalReport",
    "RenewalService",
    "RepService",
    "Repository",
    "RescoreReport",
    "Restored",
    "ScoreExplanation",
    "Section",
    "ServicePolicies",
    "SettingsService",
    "SlaSweepReport",
    "SweepReport",
    "TicketService",
    "UnitOfWork",
    "run_with_retries",
    "sortable_int",
    "sortable_time",
    "spec_for",
]


@attrs.frozen(init=False)
class LeadToCash:
    """The facade: build once with your store, clock and id source; call its services."""

    ctx: AppContext
    leads: LeadService
    customers: CustomerService
    contacts: ContactService
    reps: RepService
    org: OrgService
    pools: PoolService
    lead_pools: LeadPoolService
    reclaim: ReclaimService
    pipeline: PipelineService
    collisions: CollisionService
    classification: ClassificationService
    lead_scores: LeadScoreService
    allocation: AllocationService
    settings: SettingsService
    products: ProductService
    quotes: QuoteService
    contracts: ContractService
    billing: BillingService
    receivables: ReceivablesService
    tickets: TicketService
    churn: ChurnService
    renewals: RenewalService
    recycle_bin: RecycleBinService
    maintenance: MaintenanceService

    def __init__(
        self,
        store: Store,
        clock: Clock,
        ids: IdSource,
        *,
        policy: RolePolicy | None = None,
        intake: IntakeRules | None = None,
        timezone: str = "Asia/Shanghai",
        calendar: WorkingCalendar | None = None,
        collision: CollisionPolicy | None = None,
        tier_rules: TierRules | None = None,
        tag_rules: TagRules | None = None,
        required_fields: RequiredFields | None = None,
        cash: CashPolicies | None = None,
        service: ServicePolicies | None = None,
    ) -> None:
        given = given_settings(
            intake=intake,
            collision=collision,
            tier_rules=tier_rules,
            tag_rules=tag_rules,
            required_fields=required_fields,
            cash=cash,
            service=service,
        )
        ctx = AppContext(
            store=store,
            clock=clock,
            ids=ids,
            policy=policy or RolePolicy(),
            timezone=timezone,
            calendar=calendar,
        )
        with ctx.unit_of_work() as uow:  # the organisation's stored rules win; a clash raises
            ctx.cell.current = settings_in_force(stored_settings(uow), given)
        # Services share the context (ports, policies, the organisation's rules) and the
        # customer write path it defines; none holds or calls another.
        self.__attrs_init__(
            ctx=ctx,
            leads=LeadService(ctx),
            customers=CustomerService(ctx),
            contacts=ContactService(ctx),
            reps=RepService(ctx),
            org=OrgService(ctx),
            pools=PoolService(ctx),
            lead_pools=LeadPoolService(ctx),
            reclaim=ReclaimService(ctx),
            pipeline=PipelineService(ctx),
            collisions=CollisionService(ctx),
            classification=ClassificationService(ctx),
            lead_scores=LeadScoreService(ctx),
            allocation=AllocationService(ctx),
            settings=SettingsService(ctx),
            products=ProductService(ctx),
            quotes=QuoteService(ctx),
            contracts=ContractService(ctx),
            billing=BillingService(ctx),
            receivables=ReceivablesService(ctx),
            tickets=TicketService(ctx),
            churn=ChurnService(ctx),
            renewals=RenewalService(ctx),
            recycle_bin=RecycleBinService(ctx),
            maintenance=MaintenanceService(ctx),
        )

    def unit_of_work(self) -> UnitOfWork:
        """A unit of work on the configured store (for custom use cases)."""
        return self.ctx.unit_of_work()

    @staticmethod
    def warm_up() -> None:
        """Build the converters of every stored record and event now (~0.2–0.3 s, once per
        process), so that a server's first commands cost what later ones do.

        Without it the first commands of a process pay for that work (a first claim ~20–30 ms
        instead of ~1 ms). Optional; call it at start-up, before taking requests.
        """
        warm_up([spec.type for spec in SPECS] + list(event_types().values()))
