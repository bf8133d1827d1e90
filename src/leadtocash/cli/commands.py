"""The commands of the ``leadtocash`` console script (click + rich); see docs/cli.md."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadtocash.access import Principal, Role
from leadtocash.app import LeadToCash, OutboxRelay, RelayReport
from leadtocash.app.auditing import verify_store_audit
from leadtocash.audit_processes import ParallelAudit
from leadtocash.errors import LeadToCashError
from leadtocash.model import PoolId
from leadtocash.ports.notify import Notifier
from leadtocash.ports.storage import Store
from leadtocash.stores import StoreURL, connect, schema_version
from leadtocash.system import RandomIds, SystemClock

__all__ = ["cli"]

#: Exit statuses: 0 ok, 1 findings, 2 usage and typed errors.
OK, FINDINGS, USAGE = 0, 1, 2

_SYSTEM = Principal("leadtocash-cli", roles=frozenset({Role.SYSTEM}))
_ADMIN = Principal("leadtocash-cli", roles=frozenset({Role.ADMIN}))


def _out() -> Console:
    """Standard output; markup off, so codes like ``[store.no_schema]`` and paths print as is."""
    return Console(highlight=False, markup=False, soft_wrap=True)


def _err() -> Console:
    return Console(stderr=True, highlight=False, markup=False, soft_wrap=True)


class _Group(click.Group):
    """Prints a library error with its stable code and exits with status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LeadToCashError as error:
            _err().print(f"error [{error.code}]: {error.message}", style="bold red")
            ctx.exit(USAGE)


def _shown(url: str) -> str:
    try:
        return StoreURL.parse(url).redacted()
    except LeadToCashError:
        return url


@contextmanager
def _store(url: str, *, create_schema: bool = False) -> Iterator[Store]:
    store = connect(url, create_schema=create_schema)
    try:
        yield store
    finally:
        store.close()


@click.group(cls=_Group)
@click.version_option(package_name="leadtocash", prog_name="leadtocash")
@click.option("-v", "--verbose", count=True, help="-v: INFO logs (sweeps, relay); -vv: DEBUG.")
def cli(verbose: int) -> None:
    """Operate a leadtocash store: create its schema, run the sweeps and the outbox relay,
    verify the audit log, import customers.

    URL names the store: sqlite:///crm.db, sqlite:////abs/crm.db, postgresql://user@host/db,
    memory://. Exit status: 0 ok, 1 findings, 2 usage or a typed error (its code is printed).
    """
    if verbose:
        logging.basicConfig(
            level=logging.DEBUG if verbose > 1 else logging.INFO,
            format="%(name)s: %(message)s",
            handlers=[RichHandler(console=_err(), show_path=False)],
        )


@cli.command()
@click.argument("url")
def migrate(url: str) -> None:
    """Create the store's schema or migrate it to this version (idempotent)."""
    with _store(url, create_schema=True) as store:
        version = schema_version(store)
    shown = _shown(url)
    if version is None:
        _out().print(f"✓ {shown}: in-memory store, no schema to migrate", style="green")
    else:
        _out().print(f"✓ {shown}: schema version {version}", style="green")


@cli.command()
@click.argument("url")
@click.option("--batch", default=500, show_default=True, help="Items read per index page.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True, help="Day edges.")
def sweep(url: str, batch: int, timezone: str) -> None:
    """Run what is due now: reclaim (warnings first), payment reminders, quote expiry, SLA,
    the recycle bin's purge.

    Each item is its own unit of work; items skipped (changed meanwhile) are due again at the
    next sweep. Run it from cron or a scheduler every few minutes.
    """
    with _store(url) as store:
        crm = LeadToCash(store=store, clock=SystemClock(), ids=RandomIds(), timezone=timezone)
        steps: list[tuple[str, Callable[[], tuple[str, int]]]] = [
            ("reclaim", lambda: _reclaim(crm, batch)),
            ("payment reminders", lambda: _reminders(crm, batch)),
            ("quote expiry", lambda: _expiry(crm, batch)),
            ("SLA", lambda: _sla(crm, batch)),
            ("recycle bin purge", lambda: _purge(crm, batch)),
        ]
        rows: list[tuple[str, str, int]] = []
        with Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=_err(),
            transient=True,
        ) as progress:
            task = progress.add_task("sweeping", total=len(steps))
            for name, step in steps:
                progress.update(task, description=name)
                done, skipped = step()
                rows.append((name, done, skipped))
                progress.advance(task)
    table = Table(title=f"sweep of {_shown(url)}")
    table.add_column("step")
    table.add_column("done")
    table.add_column("skipped", justify="right")
    for name, done, skipped in rows:
        table.add_row(name, done, str(skipped))
    _out().print(table)


def _reclaim(crm: LeadToCash, batch: int) -> tuple[str, int]:
    report = crm.reclaim.sweep(_SYSTEM, batch=batch)
    return f"{len(report.reclaimed)} reclaimed, {len(report.warned)} warned", len(report.skipped)


def _reminders(crm: LeadToCash, batch: int) -> tuple[str, int]:
    report = crm.billing.due_reminders(_SYSTEM, batch=batch)
    return f"{len(report.sent)} sent, {len(report.closed)} closed", len(report.skipped)


def _expiry(crm: LeadToCash, batch: int) -> tuple[str, int]:
    report = crm.quotes.expire_due(_SYSTEM, batch=batch)
    return f"{len(report.expired)} expired", len(report.skipped)


def _sla(crm: LeadToCash, batch: int) -> tuple[str, int]:
    report = crm.tickets.sweep_sla(_SYSTEM, batch=batch)
    done = f"{len(report.warned)} warned, {len(report.breached)} breached"
    return done, len(report.skipped)


def _purge(crm: LeadToCash, batch: int) -> tuple[str, int]:
    report = crm.recycle_bin.purge_due(_SYSTEM, limit=batch)
    return f"{len(report.purged)} purged", 0


def _notifier(
    webhook: str | None,
    secret: str | None,
    smtp: str | None,
    sender: str | None,
    to: tuple[str, ...],
    starttls: bool,
    username: str | None,
    password: str | None,
) -> Notifier:
    if (webhook is None) == (smtp is None):
        raise click.UsageError("choose one notifier: --webhook URL or --smtp HOST[:PORT]")
    try:
        if webhook is not None:
            if not secret:
                raise click.UsageError("--webhook needs --secret (or LEADTOCASH_WEBHOOK_SECRET)")
            from leadtocash_adapters.webhook_notifier import WebhookNotifier

            return WebhookNotifier(webhook, secret)
        assert smtp is not None
        if not sender or not to:
            raise click.UsageError("--smtp needs --sender and at least one --to")
        host, _, port = smtp.partition(":")
        from leadtocash_adapters.smtp_notifier import SmtpNotifier

        return SmtpNotifier(
            host, int(port or 25), sender=sender, recipients=list(to), starttls=starttls,
            username=username, password=password,
        )  # fmt: skip
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc


@cli.command()
@click.argument("url")
@click.option("--webhook", metavar="URL", help="POST each message, HMAC-signed, to URL.")
@click.option("--secret", envvar="LEADTOCASH_WEBHOOK_SECRET", help="The webhook's HMAC key.")
@click.option("--smtp", metavar="HOST[:PORT]", help="Send each message as an e-mail.")
@click.option("--sender", help="The e-mails' From address.")
@click.option("--to", multiple=True, help="A recipient (repeat for more).")
@click.option("--starttls", is_flag=True, help="Upgrade the SMTP connection with STARTTLS.")
@click.option("--username", envvar="LEADTOCASH_SMTP_USER", help="SMTP login.")
@click.option("--password", envvar="LEADTOCASH_SMTP_PASSWORD", help="SMTP password.")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@click.option("--interval", default=5.0, show_default=True, help="Seconds between rounds.")
@click.option("--batch", default=100, show_default=True, help="Messages per round.")
def relay(
    url: str,
    webhook: str | None,
    secret: str | None,
    smtp: str | None,
    sender: str | None,
    to: tuple[str, ...],
    starttls: bool,
    username: str | None,
    password: str | None,
    once: bool,
    interval: float,
    batch: int,
) -> None:
    """Deliver the outbox through a webhook or SMTP, at least once, until Ctrl-C.

    A message is marked delivered only after the notifier accepted it: a stop at any moment
    loses nothing (a message sent but not yet marked is sent again; receivers dedupe on its
    idempotency key). Ctrl-C finishes the current round and exits; a second Ctrl-C aborts at
    once, with the same guarantee. Exit 1 when a delivery failed (it is retried later).
    """
    notifier = _notifier(webhook, secret, smtp, sender, to, starttls, username, password)
    stop = threading.Event()
    total = RelayReport(rounds=0)
    with _store(url) as store, _stop_on_sigint(stop):
        pump = OutboxRelay(store, notifier, SystemClock(), batch_size=batch)
        if once:
            total = pump.drain()
        else:
            _err().print(f"relaying {_shown(url)} every {interval:g}s; Ctrl-C stops")
            while not stop.is_set():
                report = pump.run_once()
                total = total + report
                if report.idle or report.failures:
                    stop.wait(interval)
    out = _out()
    out.print(
        f"{len(total.delivered)} delivered, {len(total.failures)} failed attempts "
        f"in {total.rounds} rounds"
    )
    for failure in total.failures[-10:]:
        out.print(f"  {failure.message_id}: {failure.error} (retry at {failure.retry_at})")
    if total.failures:
        raise SystemExit(FINDINGS)


@contextmanager
def _stop_on_sigint(stop: threading.Event) -> Iterator[None]:
    """The first Ctrl-C sets ``stop`` (the round in flight finishes); the second aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        _err().print("stopping after this round (Ctrl-C again to abort)")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@cli.command("verify-audit")
@click.argument("url")
@click.option("--workers", default=4, show_default=True, help="Strands read in parallel.")
@click.option(
    "--processes",
    default=0,
    show_default=True,
    type=click.IntRange(min=0),
    help="Processes checking hashes (0: one per CPU, at most 4; 1: this process only).",
)
def verify_audit(url: str, workers: int, processes: int) -> None:
    """Verify every audit strand and digest; exit 1 naming the first bad entry per strand."""
    if processes == 1 or url.startswith("memory:"):  # a memory:// store lives in this process
        with _store(url) as store:
            report = verify_store_audit(store, workers=workers)
    else:
        with _store(url) as store:  # a bad URL is refused here, as by every command
            strands = store.audit_strands
        report = ParallelAudit(url, strands, processes or None).result()
    out = _out()
    summary = f"{report.entries} entries on {report.strands} strands, {report.digests} digests"
    if report.ok:
        out.print(f"✓ audit log of {_shown(url)} verifies: {summary}", style="green")
        return
    table = Table(title=f"audit faults in {_shown(url)} ({summary})")
    for column in ("strand", "position", "entry", "digest", "problem"):
        table.add_column(column)
    for fault in report.faults:
        table.add_row(
            *(
                "-" if value is None else str(value)
                for value in (fault.strand, fault.strand_seq, fault.entry_id, fault.digest)
            ),
            fault.problem,
        )
    out.print(table)
    raise SystemExit(FINDINGS)


@cli.command()
@click.argument("url")
@click.option("--kind", "kinds", multiple=True, help="Only this aggregate kind (repeatable).")
@click.option("--batch", default=200, show_default=True, help="Records per unit of work.")
def reindex(url: str, kinds: tuple[str, ...], batch: int) -> None:
    """Rebuild every record's indexes and keys after an upgrade (records unchanged, audited).

    Safe to run while the application runs (each batch is a versioned commit) and to run
    again after an interruption.
    """
    with _store(url) as store:
        crm = LeadToCash(store=store, clock=SystemClock(), ids=RandomIds())
        report = crm.maintenance.reindex(_ADMIN, kinds=kinds or None, batch=batch)
    _counts(f"reindexed {_shown(url)}: {report.total} records", ("kind", "records"),
            report.records)  # fmt: skip


@cli.command("complete-merges")
@click.argument("url")
@click.option("--batch", default=500, show_default=True, help="Archives read per page.")
def complete_merges(url: str, batch: int) -> None:
    """Move what merges by an earlier version left with merged-away duplicates (contracts,
    invoices, receipts, credit…) to their survivors; audited, safe to run again."""
    with _store(url) as store:
        crm = LeadToCash(store=store, clock=SystemClock(), ids=RandomIds())
        report = crm.collisions.complete_merges(_ADMIN, batch=batch)
    out = _counts(f"merges completed in {_shown(url)}: {report.total} records moved",
                  ("duplicate", "records moved"), report.moved)  # fmt: skip
    for archive in report.skipped:
        out.print(f"skipped {archive}: its survivor is in the recycle bin, or it changed meanwhile")


def _counts(title: str, headers: tuple[str, str], counts: Mapping[str, int]) -> Console:
    """Print a table of counts by name; the console, for more lines."""
    out = _out()
    table = Table(title=title)
    table.add_column(headers[0])
    table.add_column(headers[1], justify="right")
    for name, count in counts.items():
        table.add_row(name, str(count))
    out.print(table)
    return out


@cli.command("import")
@click.argument("url")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--pool", "pool_id", help="Put the new customers in this pool.")
@click.option("--timezone", default="Asia/Shanghai", show_default=True, help="Day edges.")
def import_customers(url: str, file: Path, pool_id: str | None, timezone: str) -> None:
    """Import customers from a CSV file (columns name, phones, emails, uscc, address).

    Every row goes through the duplicate check (防撞单); a bad or duplicate row never stops the
    good ones. Exit 1 when a row was rejected or a duplicate.
    """
    try:
        text = file.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(f"{file} is not UTF-8 text: {exc}", param_hint="FILE") from exc
    with _store(url) as store:
        crm = LeadToCash(store=store, clock=SystemClock(), ids=RandomIds(), timezone=timezone)
        report = crm.collisions.import_customers_csv(
            _ADMIN, text, pool_id=PoolId(pool_id) if pool_id else None
        )
    out = _out()
    created, duplicates, rejected = (report.count(s) for s in ("created", "duplicate", "rejected"))
    out.print(f"{created} created, {duplicates} duplicates, {rejected} rejected")
    for row in report.rows:
        if row.duplicate_of is not None:
            out.print(f"  row {row.index + 1}: duplicate of {row.duplicate_of}")
        for error in row.errors:
            out.print(f"  row {row.index + 1}: {error.path} [{error.code}] {error.message}")
    if duplicates or rejected:
        raise SystemExit(FINDINGS)


from leadtocash.cli.simulate import replay_command, simulate_command  # noqa: E402

cli.add_command(simulate_command)
cli.add_command(replay_command)
