"""Regenerate the mermaid diagrams in docs/pipeline.md from the live state machines.

Usage: ``python scripts/pipeline_docs.py`` (rewrite) or ``--check`` (exit 1 when stale).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leadtocash.pipeline.diagrams import diagrams, render_blocks

PAGE = Path(__file__).resolve().parents[1] / "docs" / "pipeline.md"


def main() -> int:
    """Rewrite (or check) the generated blocks; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail instead of rewriting")
    args = parser.parse_args()
    current = PAGE.read_text("utf-8")
    fresh = render_blocks(current, diagrams())
    if fresh == current:
        return 0
    if args.check:
        print(f"{PAGE} is stale: run python scripts/pipeline_docs.py", file=sys.stderr)
        return 1
    PAGE.write_text(fresh, "utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
