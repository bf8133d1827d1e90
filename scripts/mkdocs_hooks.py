"""mkdocs hooks of the documentation site (mkdocs.yml ``hooks:``).

``<!-- facade:services -->`` on a page becomes one mkdocstrings section per service attribute
of :class:`leadtocash.LeadToCash` (``crm.leads`` → ``LeadService`` …), read from the facade's
source at build time (the source mkdocstrings documents), so the API reference lists every
service without being edited.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

MARKER = "<!-- facade:services -->"
APP = Path(__file__).resolve().parents[1] / "src" / "leadtocash" / "app" / "__init__.py"


def facade_services(source: Path = APP) -> list[tuple[str, str]]:
    """``(attribute, dotted class path)`` of each service of the facade, in declaration order."""
    tree = ast.parse(source.read_text("utf-8"))
    exported: set[str] = set()
    found: list[tuple[str, str]] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets
        ):
            exported = set(ast.literal_eval(node.value))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == "LeadToCash":
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                    name = ast.unparse(item.annotation).strip("'\"")
                    if name.endswith("Service") and name in exported:
                        found.append((item.target.id, f"leadtocash.app.{name}"))
    return found


def on_page_markdown(markdown: str, **_: Any) -> str:
    """Expand the services marker of a page (other pages pass through unchanged)."""
    if MARKER not in markdown:
        return markdown
    sections = [
        f"### `crm.{attribute}`\n\n::: {path}\n    options:\n      heading_level: 4\n"
        for attribute, path in facade_services()
    ]
    return markdown.replace(MARKER, "\n".join(sections))
