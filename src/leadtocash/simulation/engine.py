"""The simulated sales organisation, day by day, through the public API only.

Every action is a facade call by a principal with a role, as a real app would make it: the
capture form (system), zone managers (fair allocation, approvals), reps (claims, follow-ups,
signals, opportunities, quotes, contracts), finance (invoices, receipts), service agents
(tickets) and the nightly sweeps (system). The clock is a :class:`FakeClock` moved forward
through the day; ids are sequential; every random choice comes from the seed.
"""

from __future__ import annotations

import functools
import random
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import attrs

from leadtocash.access import Principal, Role
from leadtocash.aftersales import TicketPriority
from leadtocash.allocation import FairnessLedger
from leadtocash.app import LeadToCash
from leadtocash.contracts import InvoiceKind, LineInput, MilestoneBasis, MilestoneSpec, ProductId
from leadtocash.durations import WorkingCalendar
from leadtocash.errors import LeadToCashError, RuleViolation
from leadtocash.model import FollowUpKind, PoolId, RepId, SalesRep, ZoneId
from leadtocash.money import Money
from leadtocash.pipeline import DEFAULT_LOST_REASONS
from leadtocash.simulation.config import SimulationConfig
from leadtocash.simulation.stream import INBOUND, StreamLead
from leadtocash.testing import FakeClock

__all__ = ["ADMIN", "FINANCE", "SYSTEM", "Metrics", "Simulation", "zone_ids"]

ADMIN = Principal("ops-admin", roles=frozenset({Role.ADMIN}))
SYSTEM = Principal("scheduler", roles=frozenset({Role.SYSTEM}))
FINANCE = Principal("finance-1", roles=frozenset({Role.FINANCE}))
INTAKE = Principal("capture-form", roles=frozenset({Role.SYSTEM}))
SERVICE = Principal("service-desk", roles=frozenset({Role.SERVICE}))
CNY = "CNY"
#: Phases reported to the progress callback, in order.
PHASES = ("setup", "days", "report")
Progress = Callable[[str, int, int], None]


def zone_ids(zones: int) -> list[str]:
    """The zones' ids: east, west, north, south, then zone-5 …"""
    names = ["east", "west", "north", "south", "central"]
    return [names[n] if n < len(names) else f"zone-{n + 1}" for n in range(zones)]


@attrs.define
class Metrics:
    """What happened, counted as it happened (the report reads the store for the rest)."""

    captured: int = 0
    duplicate_leads: int = 0
    duplicate_customers: int = 0
    customers: int = 0
    assigned: int = 0
    claims: int = 0
    released: int = 0
    reclaimed: int = 0
    warned: int = 0
    follow_ups: int = 0
    tier_changes: int = 0
    opportunities: int = 0
    won: int = 0
    lost: int = 0
    contracts: int = 0
    invoices: int = 0
    receipts: int = 0
    tickets: int = 0
    sla_breaches: int = 0
    sla_warnings: int = 0
    renewals: int = 0
    masked_reads: int = 0
    unmasked_reads: int = 0
    refusals: Counter[str] = attrs.field(factory=Counter)
    duplicates_by_channel: Counter[str] = attrs.field(factory=Counter)
    captured_by_channel: Counter[str] = attrs.field(factory=Counter)
    first_contact_hours: list[float] = attrs.field(factory=list)
    #: Per allocation round: (day, fair, round robin, random) max |received − entitlement|.
    fairness: list[tuple[int, float, float, float]] = attrs.field(factory=list)
    #: Per day: (day, reclaimed that night, customers in pools, cash collected so far).
    daily: list[tuple[int, int, int, Decimal]] = attrs.field(factory=list)
    ledgers: dict[str, FairnessLedger] = attrs.field(factory=dict)


@attrs.define
class _Deal:
    """A won deal on its way to cash."""

    contract_id: str
    customer_id: str
    owner: Principal
    contact_id: str
    zone: str


@attrs.define
class _Counterfactual:
    """Round robin and weighted random over the same allocation rounds, for comparison."""

    weights: dict[str, int]
    entitled: dict[str, Fraction] = attrs.field(factory=dict)
    robin: Counter[str] = attrs.field(factory=Counter)
    chance: Counter[str] = attrs.field(factory=Counter)
    cursor: int = 0

    def give(self, reps: Sequence[str], n: int, rng: random.Random) -> None:
        total = sum(self.weights[r] for r in reps)
        for _ in range(n):
            for rep in reps:
                self.entitled[rep] = self.entitled.get(rep, Fraction(0)) + Fraction(
                    self.weights[rep], total
                )
            self.robin[reps[self.cursor % len(reps)]] += 1
            self.cursor += 1
            self.chance[rng.choices(reps, weights=[self.weights[r] for r in reps])[0]] += 1

    def deviation(self, received: Counter[str]) -> float:
        return float(max((abs(received[r] - e) for r, e in self.entitled.items()), default=0))


class Simulation:
    """One run: build the organisation, then play ``config.days`` days of the stream."""

    def __init__(
        self,
        crm: LeadToCash,
        clock: FakeClock,
        config: SimulationConfig,
        stream: Sequence[StreamLead],
        calendar: WorkingCalendar,
        *,
        timezone: str = "Asia/Shanghai",
    ) -> None:
        self.crm, self.clock, self.config, self.calendar = crm, clock, config, calendar
        self.stream = list(stream)
        self.tz = ZoneInfo(timezone)
        self.rng = random.Random(f"run:{config.seed}")
        self.metrics = Metrics()
        self.zones = zone_ids(config.zones)
        self.reps: dict[str, list[Principal]] = {}
        self.managers: dict[str, Principal] = {}
        self.diligence: dict[str, float] = {}
        self.weights: dict[str, int] = {}
        self.owner: dict[str, str] = {}  # customer → rep
        self.book: dict[str, set[str]] = defaultdict(set)  # rep → customers
        self.zone_of: dict[str, str] = {}  # customer → zone
        self.arrived: dict[str, datetime] = {}  # customer → lead capture time (first contact)
        self.pending: dict[str, list[str]] = defaultdict(list)  # zone → inbound to allocate
        self.opps: dict[str, tuple[str, str, str]] = {}  # open deal → customer, contact, rep
        self.contacts: dict[str, str] = {}  # customer → contact
        self.active: list[_Deal] = []
        self.agenda: dict[date, list[Callable[[], None]]] = defaultdict(list)
        self.received: Counter[str] = Counter()
        self.counterfactual: dict[str, _Counterfactual] = {}
        self.cash = Decimal(0)

    # -- set-up --------------------------------------------------------------------------------
    def at(self, day: date, hour: int, minute: int = 0) -> None:
        """Move the clock to ``hour:minute`` local time on ``day`` (never backwards)."""
        instant = datetime.combine(day, time(hour, minute), self.tz).astimezone(UTC)
        if instant > self.clock.now():
            self.clock.set(instant)

    def setup(self) -> None:
        """Zones with their pools and managers, reps (weights 1–3), products, a service agent."""
        crm, rules = self.crm, self.config.rules.pool_rules()
        per_zone = [self.config.reps // len(self.zones)] * len(self.zones)
        for n in range(self.config.reps % len(self.zones)):
            per_zone[n] += 1
        serial = 0
        for zone, count in zip(self.zones, per_zone, strict=True):
            crm.pools.create_pool(
                ADMIN, f"{zone} pool", zone_id=ZoneId(zone), rules=rules, pool_id=PoolId(zone)
            )
            self.managers[zone] = Principal(
                f"manager-{zone}", roles=frozenset({Role.ZONE_MANAGER}), zone_id=ZoneId(zone)
            )
            self.reps[zone] = []
            for _ in range(count):
                serial += 1
                rep_id = RepId(f"rep-{serial:02d}")
                weight = self.rng.choice((1, 1, 2, 2, 3))
                crm.reps.register(
                    ADMIN,
                    SalesRep(
                        id=rep_id, name=f"销售 {serial:02d}", zone_id=ZoneId(zone), weight=weight
                    ),
                )
                self.weights[rep_id] = weight
                self.diligence[rep_id] = self.rng.uniform(0.35, 1.0)
                self.reps[zone].append(
                    Principal(
                        f"user-{rep_id}",
                        roles=frozenset({Role.REP}),
                        rep_id=rep_id,
                        zone_id=ZoneId(zone),
                    )
                )
            self.counterfactual[zone] = _Counterfactual(
                {str(p.rep_id): self.weights[str(p.rep_id)] for p in self.reps[zone]}
            )
        crm.reps.register(ADMIN, SalesRep(id=RepId("agent-1"), name="客服 1", weight=0))
        crm.products.create_product(ADMIN, "LIC", "软件许可", "套", Money("1000.00", CNY))
        crm.products.create_product(
            ADMIN, "SVC", "实施服务", "人天", Money("2000.00", CNY), Decimal("0.06")
        )

    # -- the days ------------------------------------------------------------------------------
    def run(self, progress: Progress | None = None) -> Metrics:
        """Play every day of the stream; ``progress(phase, done, total)`` after each day."""
        self.setup()
        leads = iter(self.stream)
        upcoming = next(leads, None)
        for d in range(self.config.days):
            day = self.config.start + timedelta(d)
            working = self.calendar.is_working_day(day)
            self.at(day, 8)
            for cutoff, allocate in ((14, working), (20, False)):
                limit = datetime.combine(day, time(cutoff), self.tz).astimezone(UTC)
                while upcoming is not None and upcoming.at < limit:
                    self.clock.set(max(upcoming.at, self.clock.now()))
                    self.capture(upcoming)
                    upcoming = next(leads, None)
                if allocate:
                    self.at(day, cutoff)
                    self.allocate(d)
            if working:
                self.at(day, 15)
                self.work(day)
            self.at(day, 17)
            for action in self.agenda.pop(day, []):
                action()
            if working:
                self.tickets(day)
            self.at(day, 21)
            reclaimed = self.nightly(day)
            in_pools = len(self.zone_of) - len(self.owner)
            self.metrics.daily.append((d, reclaimed, in_pools, self.cash))
            if progress is not None:
                progress("days", d + 1, self.config.days)
        while upcoming is not None:  # leads dated after the last day are not played
            upcoming = next(leads, None)
        return self.metrics

    def capture(self, lead: StreamLead) -> None:
        """Intake: the duplicate check (防撞单) → a new customer in its zone's pool.

        Inbound channels queue for the managers' fair allocation; the rest wait to be claimed.
        A blocking hit (the same company under another spelling) is refused and counted.
        """
        m = self.metrics
        m.captured += 1
        m.captured_by_channel[lead.channel] += 1
        try:
            customer, _warnings = self.crm.collisions.create_customer(
                INTAKE,
                lead.company_name,
                pool_id=PoolId(lead.zone),
                phones=[lead.phone],
                emails=[lead.email],
                zone_id=ZoneId(lead.zone),
            )
        except RuleViolation as exc:
            m.duplicate_customers += 1
            m.duplicates_by_channel[lead.channel] += 1
            m.refusals[exc.code] += 1
            return
        except LeadToCashError as exc:  # a malformed payload
            m.refusals[exc.code] += 1
            return
        m.customers += 1
        self.zone_of[customer.id] = lead.zone
        self.arrived[customer.id] = lead.at
        if lead.channel in INBOUND:
            self.pending[lead.zone].append(customer.id)

    def allocate(self, d: int) -> None:
        """Zone managers hand the waiting inbound customers out fairly (the pool's ledger)."""
        for zone in self.zones:
            waiting = [c for c in self.pending.pop(zone, []) if c not in self.owner]
            if not waiting:
                continue
            report = self.crm.allocation.allocate(
                self.managers[zone], PoolId(zone), waiting, seed=self.config.seed * 1000 + d
            )
            self.metrics.ledgers[zone] = report.ledger
            for assignment in report.assignments:
                self.take(assignment.lead_id, assignment.rep_id)
                self.received[assignment.rep_id] += 1
            self.metrics.assigned += len(report.assignments)
            self.metrics.refusals.update(r.code for r in report.refusals)
            # what round robin and weighted random would have done with the same customers
            eligible = sorted({str(p.rep_id) for p in self.reps[zone]})
            other = self.counterfactual[zone]
            other.give(eligible, len(report.assignments), self.rng)
            ledger = report.ledger
            fair = max(
                (abs(ledger.entitlement(e.rep_id) - e.received) for e in ledger.entries),
                default=Fraction(0),
            )
            self.metrics.fairness.append(
                (d, float(fair), other.deviation(other.robin), other.deviation(other.chance))
            )

    def take(self, customer_id: str, rep_id: str) -> None:
        self.owner[customer_id] = rep_id
        self.book[rep_id].add(customer_id)

    def drop(self, customer_id: str) -> None:
        rep = self.owner.pop(customer_id, None)
        if rep is not None:
            self.book[rep].discard(customer_id)

    def work(self, day: date) -> None:
        """A working afternoon: claims from the pool, follow-ups, signals, deals."""
        for zone in self.zones:
            reps = self.reps[zone]
            viewer = reps[0]
            page = self.crm.pools.list_pool(viewer, PoolId(zone), limit=60).items
            for customer in page:
                masked = any("*" in p for p in customer.phones)
                self.metrics.masked_reads += masked
                self.metrics.unmasked_reads += not masked
            open_ids = [c.id for c in page if c.owner_id is None]
            for rep in reps:
                wants = self.rng.random() < self.diligence[str(rep.rep_id)]
                for customer_id in self.rng.sample(open_ids, k=min(len(open_ids), wants * 2)):
                    self.claim(rep, customer_id)
                    if customer_id in self.owner:
                        open_ids.remove(customer_id)
                self.follow_up(rep, day)
        self.progress_deals(day)

    def claim(self, rep: Principal, customer_id: str) -> None:
        try:
            self.crm.pools.claim(rep, customer_id)
        except LeadToCashError as exc:
            self.metrics.refusals[exc.code] += 1
            return
        self.metrics.claims += 1
        self.take(customer_id, str(rep.rep_id))

    def follow_up(self, rep: Principal, day: date) -> None:
        """A rep's calls of the day: new customers first, then the book, as diligence allows."""
        rep_id = str(rep.rep_id)
        book = sorted(self.book[rep_id])
        # a diligent rep calls each customer about once a week; a careless one loses some
        budget = round(len(book) * self.diligence[rep_id] / 5 + self.rng.random())
        fresh = [c for c in book if c in self.arrived][:budget]
        rest = [c for c in book if c not in self.arrived]
        chosen = fresh + self.rng.sample(rest, k=min(len(rest), budget - len(fresh)))
        for customer_id in chosen:
            try:
                self.crm.pools.log_follow_up(
                    rep, customer_id, kind=FollowUpKind.CALL, note="电话跟进"
                )
            except LeadToCashError as exc:  # reclaimed or moved meanwhile
                self.metrics.refusals[exc.code] += 1
                self.drop(customer_id)
                continue
            self.metrics.follow_ups += 1
            arrived = self.arrived.pop(customer_id, None)
            if arrived is not None:
                hours = (self.clock.now() - arrived).total_seconds() / 3600
                self.metrics.first_contact_hours.append(hours)
            if self.rng.random() < 0.12:
                self.qualify(rep, customer_id, day)

    def qualify(self, rep: Principal, customer_id: str, day: date) -> None:
        """A confirmed need moves the tier up; half of those become an opportunity."""
        budget = Money(Decimal(self.rng.randrange(20, 400) * 1000), CNY)
        result = self.crm.classification.update_signals(
            rep,
            customer_id,
            need_confirmed=True,
            budget=budget,
            decision_maker_identified=self.rng.random() < 0.6,
            reason="需求确认 need confirmed",
        )
        self.metrics.tier_changes += result.before.tier != result.after.tier
        if customer_id in self.contacts or self.rng.random() < 0.5:
            return
        contact = self.crm.contacts.add_contact(
            rep, customer_id, "采购负责人", phone=None, decision_maker=True
        )
        self.contacts[customer_id] = contact.id
        opp = self.crm.pipeline.create_opportunity(
            rep,
            customer_id,
            name=f"项目 {customer_id}",
            amount=budget,
            close_date=day + timedelta(days=self.rng.randrange(20, 90)),
            contact_id=contact.id,
        )
        self.opps[opp.id] = (customer_id, contact.id, str(rep.rep_id))
        self.metrics.opportunities += 1

    def progress_deals(self, day: date) -> None:
        """Open opportunities move through the stages; a win becomes a signed contract."""
        for opp_id in sorted(self.opps):
            customer_id, contact_id, rep_id = self.opps[opp_id]
            if self.owner.get(customer_id) != rep_id:  # reclaimed with the deal open: it stalls
                continue
            rep = self.principal(rep_id)
            roll = self.rng.random()
            try:
                view = self.crm.pipeline.get_opportunity(rep, opp_id)
                if view.stage == "signing" and roll < 0.25:
                    self.crm.pipeline.win(rep, opp_id)
                    del self.opps[opp_id]
                    self.metrics.won += 1
                    self.sign(rep, customer_id, contact_id, opp_id, view.amount, day)
                elif roll > 0.96:
                    reason = self.rng.choice(DEFAULT_LOST_REASONS)
                    self.crm.pipeline.lose(rep, opp_id, reason)
                    del self.opps[opp_id]
                    self.metrics.lost += 1
                elif view.stage != "signing" and roll < 0.15:
                    self.crm.pipeline.advance(rep, opp_id)
            except LeadToCashError as exc:
                self.metrics.refusals[exc.code] += 1

    def principal(self, rep_id: str) -> Principal:
        for reps in self.reps.values():
            for rep in reps:
                if rep.rep_id == rep_id:
                    return rep
        raise KeyError(rep_id)

    def sign(
        self,
        rep: Principal,
        customer_id: str,
        contact_id: str,
        opp_id: str,
        amount: Money | None,
        day: date,
    ) -> None:
        """Quote → contract (manager approves) → signed; delivery and cash on the agenda."""
        value = amount.amount if amount is not None else Decimal(50_000)
        licences = max(1, int(value * Decimal("0.7") / 1000))
        days_of_service = max(1, int(value * Decimal("0.3") / 2000))
        quote = self.crm.quotes.draft(
            rep,
            customer_id,
            CNY,
            [
                LineInput(Decimal(licences), ProductId("LIC")),
                LineInput(Decimal(days_of_service), ProductId("SVC")),
            ],
            opportunity_id=opp_id,
        )
        self.crm.quotes.send(rep, quote.id)
        self.crm.quotes.accept(rep, quote.id)
        plan = [
            MilestoneSpec("预付款", percent=Decimal(30), due_date=day + timedelta(days=15)),
            MilestoneSpec(
                "验收款",
                percent=Decimal(70),
                basis=MilestoneBasis.FULL_DELIVERY,
                days_after_delivery=30,
            ),
        ]
        term = self.rng.choice((45, 90, 365, 365))
        contract = self.crm.contracts.from_quote(
            rep, quote.id, plan=plan, ends_on=day + timedelta(days=term)
        )
        self.crm.contracts.submit(rep, contract.id)
        zone = self.zone_of[customer_id]
        self.crm.contracts.approve(self.managers[zone], contract.id, "价格在授权范围内")
        self.crm.contracts.sign(rep, contract.id)
        self.metrics.contracts += 1
        deal = _Deal(contract.id, customer_id, rep, contact_id, zone)
        self.active.append(deal)
        self.later(day, self.rng.randrange(3, 15), lambda: self.deliver(deal))

    def later(self, day: date, days: int, action: Callable[[], None]) -> None:
        self.agenda[day + timedelta(days=max(1, days))].append(action)

    def deliver(self, deal: _Deal) -> None:
        """Everything delivered and accepted; finance invoices each milestone."""
        today = self.clock.now().astimezone(self.tz).date()
        contract = self.crm.contracts.get(deal.owner, deal.contract_id)
        lines = {line.line_no: line.quantity for line in contract.lines}
        contract = self.crm.contracts.record_delivery(deal.owner, deal.contract_id, lines, today)
        delivery = contract.deliveries[-1]
        contract = self.crm.contracts.accept_delivery(
            deal.owner, deal.contract_id, delivery.id, today
        )
        for milestone in contract.plan:
            invoice = self.crm.billing.draft_invoice(
                FINANCE,
                deal.contract_id,
                InvoiceKind.SPECIAL,
                milestone.amount,
                milestone_id=milestone.id,
            )
            due = milestone.due_date or today + timedelta(days=30)
            issued = self.crm.billing.issue_invoice(
                FINANCE, invoice.id, issued_on=today, due_date=max(due, today)
            )
            self.metrics.invoices += 1
            delay = self.payment_delay(due, today)
            if delay is not None:
                amount = issued.amount
                self.later(today, delay, functools.partial(self.pay, deal, amount))

    def payment_delay(self, due: date, today: date) -> int | None:
        """Most customers pay near the due date, some late, a few not within the run."""
        roll = self.rng.random()
        if roll < 0.12:
            return None
        slack = self.rng.randrange(-10, 10) if roll < 0.7 else self.rng.randrange(10, 75)
        return max(1, (due - today).days + slack)

    def pay(self, deal: _Deal, amount: Money) -> None:
        """Money arrives: finance registers, confirms and allocates it (核销)."""
        today = self.clock.now().astimezone(self.tz).date()
        receipt = self.crm.billing.register_receipt(
            FINANCE,
            deal.customer_id,
            amount,
            today,
            f"BANK-{self.metrics.receipts + 1:06d}",
            "客户对公账户",
            contract_id=deal.contract_id,
        )
        self.crm.billing.confirm_receipt(FINANCE, receipt.id)
        self.crm.billing.allocate_receipt(FINANCE, receipt.id)
        self.metrics.receipts += 1
        self.cash += amount.amount

    def tickets(self, day: date) -> None:
        """Customers under contract call the service desk now and then."""
        for deal in self.active:
            if self.rng.random() >= 0.03:
                continue
            ticket = self.crm.tickets.open(
                SERVICE,
                deal.customer_id,
                deal.contact_id,
                subject="系统无法登录",
                category="software",
                channel="phone",
                priority=self.rng.choice((TicketPriority.P2, TicketPriority.P3, TicketPriority.P4)),
                contract_id=deal.contract_id,
                assignee_id="agent-1",
            )
            self.metrics.tickets += 1
            start = self.rng.choice((0, 0, 0, 1, 3))
            solve = start + self.rng.choice((0, 1, 1, 2, 6))
            if start == 0:
                self.ticket_step(ticket.id, "start")
            else:
                self.later(day, start, functools.partial(self.ticket_step, ticket.id, "start"))
            self.later(day, solve, functools.partial(self.ticket_step, ticket.id, "resolve"))

    def ticket_step(self, ticket_id: str, step: str) -> None:
        try:
            if step == "start":
                self.crm.tickets.start(SERVICE, ticket_id)
            else:
                self.crm.tickets.resolve(SERVICE, ticket_id)
                self.crm.tickets.close(SERVICE, ticket_id, score=self.rng.choice((3, 4, 5, 5, 2)))
        except LeadToCashError as exc:
            self.metrics.refusals[exc.code] += 1

    def nightly(self, day: date) -> int:
        """The scheduler's sweeps: reclaim (every night, holidays too), reminders, SLA, renewals."""
        m = self.metrics
        report = self.crm.reclaim.sweep(SYSTEM)
        for customer_id in report.reclaimed:
            self.drop(customer_id)
        m.reclaimed += len(report.reclaimed)
        m.warned += len(report.warned)
        self.crm.billing.due_reminders(SYSTEM)
        self.crm.quotes.expire_due(SYSTEM)
        sla = self.crm.tickets.sweep_sla(SYSTEM)
        m.sla_breaches += len(sla.breached)
        m.sla_warnings += len(sla.warned)
        if day.weekday() == 6:
            m.renewals += len(self.crm.renewals.sweep(SYSTEM).created)
        return len(report.reclaimed)
