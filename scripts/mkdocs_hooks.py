"""mkdocs hooks of the documentation site (mkdocs.yml ``hooks:``).

``<!-- facade:services -->`` on a page becomes one mkdocstrings section per service attribute
of :class:`leadtocash.LeadToCash` (``crm.leads`` → ``LeadService`` …), read from the facade's
annotations at build time, so the API reference lists every service without being edited.
"""

from __future__ import annotations

import inspect
from typing import Any

MARKER = "<!-- facade:services -->"


def facade_services() -> list[tuple[str, str]]:
    """``(attribute, dotted class path)`` of each service of the facade, in declaration order."""
    import leadtocash.app as app

    found = []
    for attribute, annotation in inspect.get_annotations(app.LeadToCash).items():
        name = annotation if isinstance(annotation, str) else annotation.__name__
        if attribute != "ctx" and name.endswith("Service") and hasattr(app, name):
            found.append((attribute, f"leadtocash.app.{name}"))
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
