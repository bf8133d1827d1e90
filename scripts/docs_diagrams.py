"""Regenerate every state diagram of docs/ from the live state machines.

Each ``<!-- generated:NAME -->`` … ``<!-- /generated:NAME -->`` block of a page under docs/
is replaced by the mermaid text of machine NAME: ``lead`` and ``opportunity`` (pipeline),
``quote``, ``contract`` and ``invoice`` (contract to cash), ``ticket`` (after-sales).
Usage: ``python scripts/docs_diagrams.py`` (rewrite) or ``--check`` (exit 1 naming the stale
pages). tests/unit/test_docs_diagrams.py runs the check.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leadtocash.aftersales import diagrams as aftersales
from leadtocash.contracts import diagrams as contracts
from leadtocash.pipeline import diagrams as pipeline

DOCS = Path(__file__).resolve().parents[1] / "docs"


def all_diagrams() -> dict[str, str]:
    """Every machine's mermaid text by block name."""
    return {**pipeline.diagrams(), **contracts.diagrams(), **aftersales.diagrams()}


def main() -> int:
    """Rewrite (or check) the generated blocks of every page; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail instead of rewriting")
    args = parser.parse_args()
    drawn, stale = all_diagrams(), []
    for page in sorted(DOCS.rglob("*.md")):
        current = page.read_text("utf-8")
        fresh = pipeline.render_blocks(current, drawn)
        if fresh == current:
            continue
        stale.append(page)
        if not args.check:
            page.write_text(fresh, "utf-8")
    if args.check and stale:
        names = ", ".join(str(p.relative_to(DOCS.parent)) for p in stale)
        print(f"stale diagrams in {names}: run python scripts/docs_diagrams.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
