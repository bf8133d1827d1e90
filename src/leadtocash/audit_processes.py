"""A store's audit log verified in several processes (``leadtocash verify-audit``, and the
simulator while its report and charts are drawn).

Verifying means recomputing every entry's hash (CPU work, which threads cannot share), so
the strands are split between worker processes: each opens the store file itself, reads the
digests and its strands, and checks them with :func:`leadtocash.audit.verify_audit`; the
answers are joined into one :class:`~leadtocash.audit.AuditReport`. Every entry of every
strand is checked, as :func:`leadtocash.verify_store_audit` does in one process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

import attrs

from leadtocash.app.auditing import all_digests, read_strand
from leadtocash.audit import AuditFault, AuditReport, verify_audit
from leadtocash.stores import connect

__all__ = ["ParallelAudit", "main", "verify_part"]

_PAGE = 10_000
#: Processes by default at most (each worker starts an interpreter of its own).
_MAX_WORKERS = 4


@attrs.frozen
class _Part:
    """What one worker found: its entries counted, the store's strands and digests, faults."""

    entries: int
    strands: int
    digests: int
    faults: tuple[AuditFault, ...]


def verify_part(url: str, strands: Sequence[int], chain: bool) -> _Part:
    """Verify ``strands`` of the store at ``url`` against all its digests.

    Faults of other strands (their entries were not read here) are left to their workers;
    faults of the digest chain itself are kept only with ``chain`` (one worker reports them).
    """
    store = connect(url)
    try:
        digests = all_digests(store, _PAGE)
        count = store.audit_strands
        entries = [entry for strand in strands for entry in read_strand(store, strand, _PAGE)]
    finally:
        store.close()
    report = verify_audit(entries, digests, strands=count)
    mine = set(strands)
    faults = tuple(f for f in report.faults if f.strand in mine or (chain and f.strand is None))
    return _Part(len(entries), count, len(digests), faults)


class ParallelAudit:
    """Verification of the store at ``url``, its strands split ``processes`` ways (default:
    one per CPU, at most 4): the other parts start in worker processes at once, the first
    part runs in this process when :meth:`result` is called (start it once the run has
    committed its last entry; without other CPUs everything is verified here)."""

    def __init__(self, url: str, strands: int, processes: int | None = None) -> None:
        workers = max(1, min(processes or min(os.cpu_count() or 1, _MAX_WORKERS), strands))
        self._url = url
        self._parts = [list(range(k, strands, workers)) for k in range(workers)]
        self._workers: list[subprocess.Popen[str]] = []
        for part in self._parts[1:]:
            command = [sys.executable, "-m", __name__, url, ",".join(map(str, part))]
            try:
                worker = subprocess.Popen(
                    command,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    text=True,
                    env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
                )
            except OSError:  # no interpreter to start: every part is verified here
                for started in self._workers:
                    started.kill()
                    started.wait()
                self._workers = []
                self._parts = [list(range(strands))]
                break
            self._workers.append(worker)

    def _collect(self, worker: subprocess.Popen[str], part: list[int]) -> _Part:
        out, _ = worker.communicate()
        if worker.returncode == 0:
            try:
                return _decode(out)
            except (ValueError, KeyError, TypeError):
                pass
        return verify_part(self._url, part, False)  # the worker failed: verify it here

    def result(self) -> AuditReport:
        """The joined report: entries of every strand, the chain's faults, then each strand's."""
        try:
            parts = [verify_part(self._url, self._parts[0], True)]
            for worker, part in zip(self._workers, self._parts[1:], strict=True):
                parts.append(self._collect(worker, part))
        finally:
            for worker in self._workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
        chain = [f for part in parts for f in part.faults if f.strand is None]
        strands = sorted(
            (f for part in parts for f in part.faults if f.strand is not None),
            key=lambda f: f.strand or 0,
        )
        first = parts[0]
        return AuditReport(
            sum(p.entries for p in parts), first.strands, first.digests, (*chain, *strands)
        )


def _encode(part: _Part) -> str:
    return json.dumps(attrs.asdict(part))


def _decode(text: str) -> _Part:
    data = json.loads(text)
    faults = tuple(AuditFault(**fault) for fault in data["faults"])
    return _Part(int(data["entries"]), int(data["strands"]), int(data["digests"]), faults)


def main(argv: Sequence[str]) -> int:
    """``python -m leadtocash.audit_processes URL 1,3,5``: that part, as JSON on stdout."""
    url, strands = argv
    part = verify_part(url, [int(s) for s in strands.split(",") if s], False)
    sys.stdout.write(_encode(part))
    return 0


if __name__ == "__main__":  # pragma: no cover - run as a worker process
    raise SystemExit(main(sys.argv[1:]))
