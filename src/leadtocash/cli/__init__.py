"""The ``leadtocash`` console script: migrate, sweep, relay, verify-audit, import.

Needs the ``cli`` extra (click and rich): ``pip install 'leadtocash[cli]'``. Without it the
command prints ``store.missing_extra`` naming the extra and exits with status 2. Exit status:
0 ok, 1 findings (audit faults, rejected import rows, failed deliveries), 2 usage and typed
errors (the error's stable code is printed). See docs/cli.md.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from leadtocash.errors import MissingExtra

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> None:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    try:
        from leadtocash.cli.commands import cli
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("click", "rich"):
            raise
        error = MissingExtra("cli", needed_for="the leadtocash command", module=exc.name)
        print(f"error [{error.code}]: {error.message}", file=sys.stderr)
        raise SystemExit(2) from None
    cli.main(args=list(argv) if argv is not None else None, prog_name="leadtocash")
