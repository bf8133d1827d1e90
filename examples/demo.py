"""leadtocash demo: a month in a sales organisation, on the embedded SQLite store.

Two zones with public pools, twelve reps, leads from web forms, customers claimed, followed up,
released and automatically reclaimed over 20 working days, notifications relayed from the
outbox, and a closing report (in Chinese or English). Deterministic for a given ``--seed``.

    python examples/demo.py [--db demo.sqlite3] [--days 20] [--seed 7] [--lang zh-CN|en]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from leadtocash import (
    Customer,
    Duration,
    FollowUpKind,
    LeadToCash,
    LeadToCashError,
    PoolId,
    PoolRules,
    Principal,
    RepId,
    Role,
    SalesRep,
    ValidationError,
    ZoneId,
    verify_audit_chain,
)
from leadtocash.app import CustomerFilter, OutboxRelay
from leadtocash.pool import TierDurations
from leadtocash.testing import FakeClock, RecordingNotifier, SequentialIds
from leadtocash_adapters.sqlite_store import SQLiteStore

SHANGHAI = ZoneInfo("Asia/Shanghai")
ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
SWEEPER = Principal("sweeper", roles=frozenset({Role.SYSTEM}))
# Monday 2 March 2026, 09:00 in Shanghai.
START = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ZONES = {"east": 7, "west": 5}

RULES = PoolRules(
    daily_claim_limit=4,
    capacity=25,
    reclaim_cooldown=Duration.days(3),
    new_in_pool_cooldown=Duration.hours(2),
    no_follow_up=TierDurations(Duration.working_days(5)),
    not_won=TierDurations(Duration.days(45)),
    warn_before=Duration.working_days(1),
)

LABELS = {
    "en": {
        "title": "leadtocash demo — {days} working days, {reps} reps, {customers} customers",
        "leads": "Leads captured: {ok} (rejected payloads: {bad}, e.g. {example})",
        "allocated": "Fair allocation on day 1 (east pool, {n} customers): {counts}; e.g. {why}",
        "header": "rep        zone  owned  claims  follow-ups  lost to reclaim  refusals",
        "refusals": "Refusals by code",
        "totals": "Totals: {claims} claims, {reclaimed} reclaimed, {warned} warnings, "
        "{released} released",
        "audit": "Audit log: {n} entries, hash chain {status}",
        "outbox": "Notifications relayed from the outbox: {n} ({topics})",
        "db": "Database: {path}",
        "ok": "verified",
        "broken": "BROKEN at entry {i}",
    },
    "zh-CN": {
        "title": "leadtocash 演示 — {days} 个工作日，{reps} 名销售，{customers} 个客户",
        "leads": "录入线索：{ok} 条（被拒绝 {bad} 条，例如 {example}）",
        "allocated": "第 1 天公平分配（东区公海，{n} 个客户）：{counts}；例如 {why}",
        "header": "销售       战区  私海   领取    跟进        被回收           被拒绝",
        "refusals": "拒绝原因（错误码）",
        "totals": "合计：领取 {claims} 次，回收 {reclaimed} 个，"
        "预警 {warned} 次，退回 {released} 个",
        "audit": "审计日志：{n} 条，哈希链{status}",
        "outbox": "发件箱已投递通知：{n} 条（{topics}）",
        "db": "数据库：{path}",
        "ok": "校验通过",
        "broken": "在第 {i} 条断裂",
    },
}


def my_customers(crm: LeadToCash, principal: Principal) -> list[Customer]:
    """Every customer ``principal`` owns, read page by page through the authorized API."""
    found: list[Customer] = []
    cursor = None
    while True:
        page = crm.customers.list(
            principal, CustomerFilter(owner=principal.rep_id), after=cursor, limit=200
        )
        found.extend(page.items)
        if page.next_cursor is None:
            return found
        cursor = page.next_cursor


def build(crm: LeadToCash, rng: random.Random, customers: int) -> dict[str, list[Principal]]:
    """Zones, pools, reps and customers; returns the rep principals per zone."""
    reps: dict[str, list[Principal]] = {}
    for zone, count in ZONES.items():
        crm.pools.create_pool(
            ADMIN, f"{zone} pool", zone_id=ZoneId(zone), rules=RULES, pool_id=PoolId(zone)
        )
        reps[zone] = []
        for n in range(count):
            rep_id = RepId(f"{zone}-{n + 1:02d}")
            crm.reps.register(
                ADMIN, SalesRep(id=rep_id, name=f"{zone} rep {n + 1}", zone_id=ZoneId(zone))
            )
            principal = Principal(
                f"user-{rep_id}", roles=frozenset({Role.REP}), rep_id=rep_id, zone_id=ZoneId(zone)
            )
            reps[zone].append(principal)
    for n in range(customers):
        zone = "east" if n % 5 < 3 else "west"
        crm.pools.add_customer(
            ADMIN,
            rng.choice("华东西中新") + rng.choice("科达信创") + f"{n:03d} 有限公司",
            pool_id=PoolId(zone),
            phones=[f"+86139{n:08d}"],
            zone_id=ZoneId(zone),
        )
    return reps


def capture_leads(crm: LeadToCash, rng: random.Random) -> tuple[int, int, str]:
    """Web-form leads, some malformed: the valid ones are stored, the rest are reported."""
    ok = bad = 0
    example = ""
    intern = Principal("web-form", roles=frozenset({Role.SYSTEM}))
    for n in range(40):
        payload: dict[str, object] = {
            "channel": "web_form",
            "company_name": f"潜在客户 {n}",
            "phone": f"138{n:08d}" if n % 7 else "12345",
            "email": f"buyer{n}@example.cn" if n % 9 else "not-an-email",
        }
        try:
            crm.leads.capture(intern, payload)
            ok += 1
        except ValidationError as exc:
            bad += 1
            example = example or ", ".join(exc.paths)
    return ok, bad, example


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    path = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "leadtocash-demo.sqlite3"
    if path.exists():
        path.unlink()
    store = SQLiteStore.open(path, create_schema=True)
    clock = FakeClock(START)
    crm = LeadToCash(store, clock, SequentialIds())
    labels = LABELS[args.lang]
    try:
        reps = build(crm, rng, args.customers)
        leads_ok, leads_bad, example = capture_leads(crm, rng)
        manager = Principal(
            "east-manager", roles=frozenset({Role.ZONE_MANAGER}), zone_id=ZoneId("east")
        )
        fresh = crm.pools.list_pool(manager, PoolId("east"), limit=len(reps["east"]) * 3 + 1)
        allocation = crm.allocation.allocate(
            manager, PoolId("east"), [c.id for c in fresh.items], seed=args.seed
        )
        stats: dict[str, Counter[str]] = defaultdict(Counter)
        refusals: Counter[str] = Counter()
        totals: Counter[str] = Counter()
        diligence = {p.rep_id: rng.uniform(0.2, 0.9) for zone in reps.values() for p in zone}
        day = 0
        while day < args.days:
            if clock.now().astimezone(SHANGHAI).weekday() >= 5:  # weekend: nobody works
                clock.advance(timedelta(days=1))
                continue
            day += 1
            for zone, principals in reps.items():
                pool = crm.pools.list_pool(ADMIN, PoolId(zone), limit=200).items
                for principal in principals:
                    rep = str(principal.rep_id)
                    for customer in rng.sample(pool, k=min(len(pool), rng.randint(0, 6))):
                        try:
                            crm.pools.claim(principal, customer.id)
                            stats[rep]["claims"] += 1
                            totals["claims"] += 1
                        except LeadToCashError as exc:
                            refusals[exc.code] += 1
                            stats[rep]["refusals"] += 1
                    mine = my_customers(crm, principal)
                    for customer in mine:
                        if rng.random() < diligence[principal.rep_id] / 3:
                            crm.pools.log_follow_up(principal, customer.id, kind=FollowUpKind.CALL)
                            stats[rep]["follow_ups"] += 1
                        elif rng.random() < 0.01:
                            reason = "客户暂无需求 no demand now"
                            crm.pools.release(principal, customer.id, reason)
                            totals["released"] += 1
            clock.advance(timedelta(hours=9))  # 18:00 local: nightly sweep
            report = crm.reclaim.sweep(SWEEPER)
            totals["reclaimed"] += len(report.reclaimed)
            totals["warned"] += len(report.warned)
            for cid in report.reclaimed:
                previous = crm.pools.get_customer(ADMIN, cid).previous_owner_id
                stats[str(previous)]["reclaimed"] += 1
            clock.advance(timedelta(hours=15))

        print(
            labels["title"].format(
                days=args.days, reps=sum(ZONES.values()), customers=args.customers
            )
        )
        print(labels["leads"].format(ok=leads_ok, bad=leads_bad, example=example))
        counts = ", ".join(f"{rep} {n}" for rep, n in sorted(allocation.counts().items()))
        why = allocation.assignments[0].explanation.text() if allocation.assignments else "-"
        print(labels["allocated"].format(n=len(allocation.assignments), counts=counts, why=why))
        print()
        print(labels["header"])
        for zone, principals in reps.items():
            for principal in principals:
                rep = str(principal.rep_id)
                owned = crm.customers.count(principal, CustomerFilter(owner=principal.rep_id))
                s = stats[rep]
                print(
                    f"{rep:<10} {zone:<5} {owned:>5}  {s['claims']:>6}  {s['follow_ups']:>10}  "
                    f"{s['reclaimed']:>15}  {s['refusals']:>8}"
                )
        print()
        codes = ", ".join(f"{c} ×{n}" for c, n in refusals.most_common())
        print(labels["refusals"] + ": " + codes)
        print(
            labels["totals"].format(
                **{k: totals[k] for k in ("claims", "reclaimed", "warned", "released")}
            )
        )
        log = store.audit_log(limit=1_000_000)
        broken = verify_audit_chain(log)
        status = labels["ok"] if broken is None else labels["broken"].format(i=broken)
        print(labels["audit"].format(n=len(log), status=status))
        notifier = RecordingNotifier()
        relay = OutboxRelay(store, notifier, clock, batch_size=500)
        relay.drain(max_rounds=1000)
        topics = Counter(notifier.topics())
        print(
            labels["outbox"].format(
                n=sum(topics.values()),
                topics=", ".join(f"{t} ×{n}" for t, n in topics.most_common()),
            )
        )
        print(labels["db"].format(path=path))
        return 0 if broken is None else 1
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--db", help="SQLite file to (re)create; default: a temp file")
    parser.add_argument("--days", type=int, default=20)
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--lang", choices=sorted(LABELS), default="zh-CN")
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
