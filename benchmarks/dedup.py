"""Anti-collision (防撞单) on a realistic book: precision, recall and speed, against a baseline.

A seeded generator (``leadtocash.testing.dedup_book``) makes a book of companies (default
1,000,000; ``--quick`` 20,000): Chinese names with regions (``深圳市`` prefix or ``（深圳）``
bracket), 2–4 character brands shared by sibling companies, industries and legal forms,
branches and groups, 8 % English names; phones typed in a dozen formats, e-mails, USCCs with
valid check digits. Each company is one customer, stored through the unit of work in the
in-memory reference store (exact keys and fuzzy blocking keys as lookup keys).

Then it checks candidate records that are not in the book through the facade
(``crm.collisions.check_customer``, as a manager, default policy):

* labelled **duplicates** of book companies — ``identical``, ``format`` (width, punctuation,
  spacing, case, legal-form spelling, bracket moved), ``typo``, ``traditional``, ``pinyin``
  (half with the pinyin spelling in the book and the Han name checked, half the other way) —
  each with some of the company's contact data typed differently;
* labelled **distinct** companies that look alike — ``same_brand`` (腾讯科技 vs 腾讯音乐),
  ``other_region``, ``branch``, ``group``, ``shared_phone``, ``unrelated``.

A hit on a record of the candidate's own company is a true positive, any other hit a false one.

* ``precision`` / ``recall``: blocking hits; recall over the ``identical`` and ``format``
  duplicates (the variants exact keys are for), ``block_recall_all`` over every duplicate.
* ``fuzzy_precision`` / ``fuzzy_recall``: records *flagged* (blocked or warned) — what the
  user is told — over every duplicate.
* ``baseline_*``: what WukongCRM/CordysCRM do, an identical name string or an identical phone
  string blocks, on the same candidates (recall over the same denominators).
* ``exact_lookups_per_s``: checks with exact keys only (fuzzy and variants off);
  ``fuzzy_checks_per_s`` and ``fuzzy_check_ms_p99``: full checks (exact + blocking-key fuzzy
  candidates + variants), one at a time on one core.
* The in-memory book is frozen out of the garbage collector's reach (``gc.freeze``) before
  the timed checks: a full collection over a 1M-record heap is not the check's cost. The
  figures are reported both ways: ``unfrozen`` times as many freshly drawn checks after
  ``gc.unfreeze()`` (other names, so the name caches are as cold as in the first pass).
* ``gc``: the collector's work *inside* the timed checks (``gc.callbacks``): collections per
  generation, their total CPU time, how many checks ran one, and the CPU p99 of the checks
  with their collections' time taken out. Young-generation collections cost more on a large
  heap (each visits the old objects the young ones point to, scattered over gigabytes), so
  they are part of what a check costs in this in-process store, not noise.
* ``fuzzy_check_cpu_ms_p50`` / ``_p99``: the same checks' own CPU time (``thread_time``),
  which other work on a shared machine does not inflate; ``load_average`` at the end.
* ``bytes_per_customer``: tracemalloc growth while storing the first 20,000 customers in a
  fresh store (record, indexes, unique and lookup keys), divided by their number.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import time
import tracemalloc
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from leadtocash import Customer, CustomerId, LeadToCash, Principal, Role
from leadtocash.collision import CollisionPolicy, Outcome, normalize_company_name
from leadtocash.errors import ValidationError
from leadtocash.fields import parse_email, parse_phone, parse_uscc
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds
from leadtocash.testing.dedup_book import (
    DISTINCT_KINDS,
    FORMAT_KINDS,
    BookCompany,
    Record,
    distinct_company,
    format_name,
    generate_company,
    name_variant,
    record_of,
)

NOW = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
MANAGER = Principal("bench", roles=frozenset({Role.ADMIN}))
DUPLICATE_MIX = {"identical": 20, "format": 35, "typo": 20, "traditional": 13, "pinyin": 12}
DISTINCT_MIX = {
    "same_brand": 25,
    "other_region": 15,
    "branch": 10,
    "group": 5,
    "shared_phone": 10,
    "unrelated": 35,
}
SIBLING_SHARE = 0.2  # a new company reuses an existing Chinese brand (腾讯科技, 腾讯音乐 …)
PINYIN_BOOK_SHARE = 0.03  # Chinese companies whose book record is spelled in pinyin
MEMORY_SAMPLE = 20_000
CHUNK = 20_000


def _canonical(values: Iterable[str], parse: object) -> tuple[str, ...]:
    out = []
    for value in values:
        try:
            out.append(parse(value))  # type: ignore[operator]
        except ValidationError:
            continue
    return tuple(out)


def generate_book(
    rng: random.Random, size: int
) -> tuple[list[BookCompany], list[Record], dict[str, int], list[bool]]:
    """``size`` companies with unique normalized names, their records, the name→index map and
    which records are spelled in pinyin."""
    companies: list[BookCompany] = []
    records: list[Record] = []
    by_key: dict[str, int] = {}
    pinyin: list[bool] = []
    han_brands: list[str] = []
    spelled_keys: set[str] = set()
    while len(companies) < size:
        brand = rng.choice(han_brands) if han_brands and rng.random() < SIBLING_SHARE else None
        company = generate_company(rng, brand=brand)
        key = normalize_company_name(company.registered_name)
        if key in by_key:
            continue
        spelled_pinyin = company.script == "han" and rng.random() < PINYIN_BOOK_SHARE
        if spelled_pinyin:
            name = name_variant(rng, company, "pinyin")
        elif rng.random() < 0.35:
            name = format_name(rng, company)
        else:
            name = company.registered_name
        spelled = normalize_company_name(name)
        if spelled in spelled_keys:  # two companies with one pinyin: keep the book unique
            continue
        spelled_keys.add(spelled)
        by_key[key] = len(companies)
        companies.append(company)
        records.append(record_of(rng, company, name))
        pinyin.append(spelled_pinyin)
        if company.script == "han":
            han_brands.append(company.brand)
    return companies, records, by_key, pinyin


def customer_of(index: int, record: Record) -> Customer:
    uscc = _canonical([record.uscc] if record.uscc else [], parse_uscc)
    return Customer(
        id=CustomerId(f"c{index:07d}"),
        name=record.name,
        created_at=NOW,
        phones=_canonical(record.phones, parse_phone),
        emails=_canonical(record.emails, parse_email),
        uscc=uscc[0] if uscc else None,
    )


def load(crm: LeadToCash, records: list[Record]) -> None:
    for start in range(0, len(records), CHUNK):
        with crm.unit_of_work() as uow:
            for index in range(start, min(len(records), start + CHUNK)):
                uow.customers.add(customer_of(index, records[index]))
            uow.commit()


def bytes_per_customer(records: list[Record]) -> float:
    sample = records[:MEMORY_SAMPLE]
    customers = [customer_of(i, r) for i, r in enumerate(sample)]
    store = InMemoryStore()
    crm = LeadToCash(store, FakeClock(NOW), SequentialIds())
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    with crm.unit_of_work() as uow:
        for customer in customers:
            uow.customers.add(customer)
        uow.commit()
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    return (after - before) / len(sample)


def candidates(
    rng: random.Random,
    companies: list[BookCompany],
    by_key: dict[str, int],
    pinyin: list[bool],
    count: int,
) -> list[tuple[str, str, int, Record]]:
    """``(label, kind, company index or -1, record)``: ``count`` duplicates and distincts."""
    han = [i for i, c in enumerate(companies) if c.script == "han" and not pinyin[i]]
    plain = [i for i in range(len(companies)) if not pinyin[i]]
    in_pinyin = [i for i in range(len(companies)) if pinyin[i]]
    out: list[tuple[str, str, int, Record]] = []
    kinds, weights = zip(*DUPLICATE_MIX.items(), strict=True)
    for _ in range(count):
        kind = rng.choices(kinds, weights)[0]
        if kind == "pinyin" and in_pinyin and rng.random() < 0.5:
            index = rng.choice(in_pinyin)  # the book has the pinyin; check the Han name
            name = format_name(rng, companies[index])
        else:
            index = rng.choice(han if kind in ("traditional", "pinyin") else plain)
            name = name_variant(rng, companies[index], kind)
        out.append(("duplicate", kind, index, record_of(rng, companies[index], name)))
    kinds, weights = zip(*DISTINCT_MIX.items(), strict=True)
    while len(out) < 2 * count:
        kind = rng.choices(kinds, weights)[0]
        other = distinct_company(rng, companies[rng.choice(plain)], kind)
        if normalize_company_name(other.registered_name) in by_key:
            continue  # that company is in the book: not a distinct one
        name = name_variant(rng, other, rng.choice(FORMAT_KINDS))
        out.append(("distinct", kind, -1, record_of(rng, other, name)))
    rng.shuffle(out)
    return out


def _ms(sorted_seconds: list[float], quantile: float) -> float:
    return round(1000 * sorted_seconds[int(len(sorted_seconds) * quantile)], 3)


class CollectorClock:
    """The garbage collector's work inside the timed checks, via ``gc.callbacks``."""

    def __init__(self) -> None:
        self.by_generation: Counter[int] = Counter()
        self.total = 0.0
        self.in_check = 0.0
        self.checks_with_gc = 0
        self.cpu_without_gc: list[float] = []
        self._started = 0.0
        self._timing = False

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if not self._timing:
            return
        if phase == "start":
            self._started = time.thread_time()
            return
        spent = time.thread_time() - self._started
        self.by_generation[info["generation"]] += 1
        self.total += spent
        self.in_check += spent

    def start_check(self) -> None:
        self.in_check = 0.0
        self._timing = True

    def end_check(self, cpu_seconds: float) -> None:
        self._timing = False
        self.checks_with_gc += self.in_check > 0
        self.cpu_without_gc.append(cpu_seconds - self.in_check)

    def summary(self) -> dict[str, object]:
        return {
            "collections_by_generation": {str(g): n for g, n in sorted(self.by_generation.items())},
            "ms_total": round(1000 * self.total, 1),
            "checks_with_a_collection": self.checks_with_gc,
            "fuzzy_check_cpu_ms_p99_without_gc": _ms(sorted(self.cpu_without_gc), 0.99),
        }


class Tally:
    """True and false positives of one detector."""

    def __init__(self) -> None:
        self.tp = 0
        self.fp = 0
        self.found_by_kind: Counter[str] = Counter()
        self.false_by_kind: Counter[str] = Counter()

    def add(self, label: str, kind: str, truth: int, hits: set[int]) -> None:
        correct = truth >= 0 and truth in hits
        self.tp += correct
        wrong = len(hits) - correct
        self.fp += wrong
        if label == "duplicate" and correct:
            self.found_by_kind[kind] += 1
        if wrong:
            self.false_by_kind[kind] += 1

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    def recall(self, totals: Counter[str], kinds: Iterable[str]) -> float:
        kinds = list(kinds)
        total = sum(totals[k] for k in kinds)
        return sum(self.found_by_kind[k] for k in kinds) / total if total else 1.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 20,000-company book, for CI")
    parser.add_argument("--book", type=int, help="book size (default 1,000,000; quick 20,000)")
    parser.add_argument("--pairs", type=int, help="duplicates and as many distincts to check")
    parser.add_argument("--seed", type=int, default=25)
    args = parser.parse_args()
    size = args.book or (20_000 if args.quick else 1_000_000)
    pairs = args.pairs or (1_000 if args.quick else 5_000)
    rng = random.Random(args.seed)
    started = time.perf_counter()

    t0 = time.perf_counter()
    companies, records, by_key, pinyin = generate_book(rng, size)
    generate_seconds = time.perf_counter() - t0
    memory = bytes_per_customer(records)

    store = InMemoryStore()
    crm = LeadToCash(store, FakeClock(NOW), SequentialIds())
    exact_only = LeadToCash(
        store,
        FakeClock(NOW),
        SequentialIds(),
        collision=CollisionPolicy(fuzzy_threshold=None, variants=False),
    )
    t0 = time.perf_counter()
    load(crm, records)
    load_seconds = time.perf_counter() - t0
    # The book is long-lived: keep the collector from walking its millions of objects in the
    # middle of a timed check (a server's book lives in a database, not in its heap).
    gc.collect()
    gc.freeze()

    baseline_names: dict[str, set[int]] = defaultdict(set)
    baseline_phones: dict[str, set[int]] = defaultdict(set)
    for index, record in enumerate(records):
        baseline_names[record.name.strip()].add(index)
        for phone in record.phones:
            baseline_phones[phone.strip()].add(index)

    checks = candidates(rng, companies, by_key, pinyin, pairs)
    totals: Counter[str] = Counter(kind for _, kind, _, _ in checks)
    blocks, flagged, baseline = Tally(), Tally(), Tally()
    latencies: list[float] = []
    cpu: list[float] = []  # the check's own CPU time: what the wall time is on an idle core
    collector = CollectorClock()
    for _, _, _, record in checks[:50]:  # warm up: opencc and pypinyin load their tables
        crm.collisions.check_customer(MANAGER, record.name, phones=record.phones)
    gc.callbacks.append(collector.callback)
    for label, kind, truth, record in checks:
        collector.start_check()
        t0, c0 = time.perf_counter(), time.thread_time()
        report = crm.collisions.check_customer(
            MANAGER, record.name, phones=record.phones, emails=record.emails, uscc=record.uscc
        )
        cpu.append(time.thread_time() - c0)
        latencies.append(time.perf_counter() - t0)
        collector.end_check(cpu[-1])
        blocked = {int(h.record.id[1:]) for h in report.hits if h.outcome is Outcome.BLOCK}
        told = {int(h.record.id[1:]) for h in report.hits if h.outcome is not Outcome.ALLOW}
        blocks.add(label, kind, truth, blocked)
        flagged.add(label, kind, truth, told)
        same = set(baseline_names.get(record.name.strip(), ()))
        for phone in record.phones:
            same |= baseline_phones.get(phone.strip(), set())
        baseline.add(label, kind, truth, same)
    gc.callbacks.remove(collector.callback)

    # As many fresh checks (new names: caches as cold as for the first pass) with the book back
    # in the collector's reach.
    fresh = candidates(rng, companies, by_key, pinyin, pairs)
    gc.unfreeze()
    unfrozen_wall: list[float] = []
    unfrozen_cpu: list[float] = []
    for _, _, _, record in fresh:
        t0, c0 = time.perf_counter(), time.thread_time()
        crm.collisions.check_customer(
            MANAGER, record.name, phones=record.phones, emails=record.emails, uscc=record.uscc
        )
        unfrozen_wall.append(time.perf_counter() - t0)
        unfrozen_cpu.append(time.thread_time() - c0)
    unfrozen_wall.sort()
    unfrozen_cpu.sort()

    t0 = time.perf_counter()
    for _, _, _, record in checks:
        exact_only.collisions.check_customer(
            MANAGER, record.name, phones=record.phones, emails=record.emails, uscc=record.uscc
        )
    exact_seconds = time.perf_counter() - t0

    latencies.sort()
    cpu.sort()
    duplicates = list(DUPLICATE_MIX)
    print(
        json.dumps(
            {
                "benchmark": "dedup",
                "mode": "quick" if args.quick else "full",
                "book_size": size,
                "checked": {"duplicates": pairs, "distinct": pairs},
                "precision": round(blocks.precision, 4),
                "recall": round(blocks.recall(totals, FORMAT_KINDS), 4),
                "block_recall_all": round(blocks.recall(totals, duplicates), 4),
                "fuzzy_precision": round(flagged.precision, 4),
                "fuzzy_recall": round(flagged.recall(totals, duplicates), 4),
                "baseline_precision": round(baseline.precision, 4),
                "baseline_recall": round(baseline.recall(totals, FORMAT_KINDS), 4),
                "baseline_recall_all": round(baseline.recall(totals, duplicates), 4),
                "exact_lookups_per_s": round(len(checks) / exact_seconds, 1),
                "fuzzy_checks_per_s": round(len(latencies) / sum(latencies), 1),
                "fuzzy_check_ms_p50": round(1000 * latencies[len(latencies) // 2], 3),
                "fuzzy_check_ms_p99": round(1000 * latencies[int(len(latencies) * 0.99)], 3),
                "fuzzy_check_cpu_ms_p50": round(1000 * cpu[len(cpu) // 2], 3),
                "fuzzy_check_cpu_ms_p99": round(1000 * cpu[int(len(cpu) * 0.99)], 3),
                "gc": collector.summary(),
                "unfrozen": {
                    "fuzzy_check_ms_p50": _ms(unfrozen_wall, 0.5),
                    "fuzzy_check_ms_p99": _ms(unfrozen_wall, 0.99),
                    "fuzzy_check_cpu_ms_p50": _ms(unfrozen_cpu, 0.5),
                    "fuzzy_check_cpu_ms_p99": _ms(unfrozen_cpu, 0.99),
                },
                "load_average": [round(x, 2) for x in os.getloadavg()],
                "bytes_per_customer": round(memory),
                "recall_by_kind": {
                    k: {
                        "blocked": round(blocks.found_by_kind[k] / totals[k], 4),
                        "flagged": round(flagged.found_by_kind[k] / totals[k], 4),
                        "baseline": round(baseline.found_by_kind[k] / totals[k], 4),
                    }
                    for k in duplicates
                    if totals[k]
                },
                "false_alarm_rate_by_kind": {
                    k: {
                        "blocked": round(blocks.false_by_kind[k] / totals[k], 4),
                        "flagged": round(flagged.false_by_kind[k] / totals[k], 4),
                        "baseline": round(baseline.false_by_kind[k] / totals[k], 4),
                    }
                    for k in [*duplicates, *DISTINCT_KINDS]
                    if totals[k]
                },
                "mix": {"duplicates": DUPLICATE_MIX, "distinct": DISTINCT_MIX},
                "seconds": {
                    "generate": round(generate_seconds, 1),
                    "load": round(load_seconds, 1),
                    "total": round(time.perf_counter() - started, 1),
                },
                "seed": args.seed,
            },
            ensure_ascii=False,
        )
    )


if __name__ == "__main__":
    main()
