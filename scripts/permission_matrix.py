"""Regenerate docs/permissions.md from the policy (``--check`` fails when it is stale)."""

from __future__ import annotations

import sys
from pathlib import Path

from leadtocash.scopes import permission_matrix_markdown

TARGET = Path(__file__).resolve().parents[1] / "docs" / "permissions.md"


def main() -> int:
    text = permission_matrix_markdown()
    if "--check" in sys.argv:
        current = TARGET.read_text("utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET} is stale: run python scripts/permission_matrix.py")
            return 1
        return 0
    TARGET.write_text(text, "utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
