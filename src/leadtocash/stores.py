"""Open a store from a URL: ``leadtocash.connect("sqlite:///crm.db")``.

=================================  ===========================================================
URL                                store
=================================  ===========================================================
``sqlite:///crm.db``               the SQLite reference adapter on ``crm.db`` (relative path;
                                   ``sqlite:////var/lib/crm.db`` is absolute); WAL journal,
                                   ``synchronous=FULL`` unless ``?synchronous=NORMAL``
``sqlite:///:memory:``             a private throwaway SQLite database (a temporary file,
                                   removed when the store is closed or the process exits)
``postgresql://user@host/db``      the PostgreSQL reference adapter with a connection pool
                                   (``postgres://`` too); needs the ``postgres`` extra
``memory://``                      a new, empty :class:`~leadtocash.testing.InMemoryStore`
=================================  ===========================================================

Query options: ``strands`` and ``digest_every`` (audit, every store); ``synchronous``,
``timeout``, ``pool_size`` (SQLite); ``schema``, ``min_size``, ``max_size``, ``timeout``
(PostgreSQL; every other parameter, e.g. ``sslmode``, goes to libpq).

``connect`` opens a store that already has its schema; ``connect(url, create_schema=True)``
(what ``leadtocash migrate URL`` runs) creates or migrates it first, idempotently. Failures are
typed, with stable codes, and write nothing: ``store.unknown_scheme`` / ``store.invalid_url``
(:class:`~leadtocash.StoreURLError`), ``store.missing_extra`` naming the extra to install
(:class:`~leadtocash.MissingExtra`), ``store.unreachable``
(:class:`~leadtocash.StoreUnreachable`), ``store.no_schema``
(:class:`~leadtocash.StoreNotReady`).

The SQLite and PostgreSQL stores are the reference adapters of the ``leadtocash_adapters``
package (shipped in the wheel; source in ``examples/leadtocash_adapters``); this module imports
them only when a URL asks for one, so the library itself never touches a database driver.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import attrs

from leadtocash.errors import (
    MissingExtra,
    StorageError,
    StorageUnavailable,
    StoreNotReady,
    StoreUnreachable,
    StoreURLError,
)
from leadtocash.ports.storage import Store

__all__ = ["SCHEMES", "StoreURL", "connect", "schema_version"]

_log = logging.getLogger(__name__)

#: The URL schemes :func:`connect` understands (``postgres`` is an alias of ``postgresql``).
SCHEMES = ("sqlite", "postgresql", "postgres", "memory")

_AUDIT_OPTIONS = ("strands", "digest_every")
_SQLITE_OPTIONS = (*_AUDIT_OPTIONS, "synchronous", "timeout", "pool_size")
_POSTGRES_OPTIONS = (*_AUDIT_OPTIONS, "schema", "min_size", "max_size", "timeout")
_INT_OPTIONS = frozenset({"strands", "digest_every", "pool_size", "min_size", "max_size"})
_FLOAT_OPTIONS = frozenset({"timeout"})
_SYNCHRONOUS = ("OFF", "NORMAL", "FULL", "EXTRA")


@attrs.frozen
class StoreURL:
    """A parsed store URL: the scheme, the SQLite path or libpq DSN, and the store's options."""

    scheme: str
    target: str
    options: Mapping[str, Any] = attrs.field(factory=dict)

    @classmethod
    def parse(cls, url: str) -> StoreURL:
        """Parse ``url``; :class:`~leadtocash.StoreURLError` names what is wrong with it."""
        if not isinstance(url, str) or "://" not in url:
            raise StoreURLError(
                f"not a store URL: {_shown(url)!r} (expected e.g. sqlite:///crm.db, "
                "postgresql://user@host/db or memory://)",
                code="store.invalid_url",
                details={"url": _shown(url), "schemes": list(SCHEMES)},
            )
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise StoreURLError(
                f"unknown store URL scheme {scheme!r}: use one of {', '.join(SCHEMES)}",
                code="store.unknown_scheme",
                details={"scheme": scheme, "schemes": list(SCHEMES)},
            )
        query = parse_qsl(parts.query, keep_blank_values=True)
        if scheme == "memory":
            return cls("memory", "", _options(query, _AUDIT_OPTIONS, url))
        if scheme == "sqlite":
            if parts.netloc:
                raise StoreURLError(
                    f"a sqlite URL has no host: write sqlite:///relative.db or "
                    f"sqlite:////absolute/path.db, not {_shown(url)!r}",
                    code="store.invalid_url",
                    details={"url": _shown(url)},
                )
            path = unquote(parts.path[1:] if parts.path.startswith("/") else parts.path)
            if not path:
                raise StoreURLError(
                    "a sqlite URL needs a database path: sqlite:///crm.db or sqlite:///:memory:",
                    code="store.invalid_url",
                    details={"url": _shown(url)},
                )
            return cls("sqlite", path, _options(query, _SQLITE_OPTIONS, url))
        ours = [(k, v) for k, v in query if k in _POSTGRES_OPTIONS]
        libpq = [(k, v) for k, v in query if k not in _POSTGRES_OPTIONS]
        dsn = urlunsplit(("postgresql", parts.netloc, parts.path, urlencode(libpq), ""))
        return cls("postgresql", dsn, _options(ours, _POSTGRES_OPTIONS, url))

    def redacted(self) -> str:
        """The URL without its password (for messages and logs)."""
        if self.scheme == "memory":
            return "memory://"
        if self.scheme == "sqlite":
            return f"sqlite:///{self.target}"
        return _shown(self.target)


def _shown(url: object) -> str:
    """``url`` with any password replaced by ``***``."""
    text = str(url)
    try:
        parts = urlsplit(text)
        if parts.password is None:
            return text
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return text


def _options(query: list[tuple[str, str]], allowed: tuple[str, ...], url: str) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for key, raw in query:
        if key not in allowed:
            raise StoreURLError(
                f"unknown option {key!r} in {_shown(url)!r}; allowed: {', '.join(allowed)}",
                code="store.invalid_url",
                details={"option": key, "allowed": list(allowed)},
            )
        try:
            value: Any = (
                int(raw) if key in _INT_OPTIONS else float(raw) if key in _FLOAT_OPTIONS else raw
            )
        except ValueError:
            raise StoreURLError(
                f"option {key}={raw!r} in the store URL is not a number",
                code="store.invalid_url",
                details={"option": key, "value": raw},
            ) from None
        if key == "synchronous" and str(value).upper() not in _SYNCHRONOUS:
            raise StoreURLError(
                f"synchronous={raw!r}: use one of {', '.join(_SYNCHRONOUS)}",
                code="store.invalid_url",
                details={"option": key, "value": raw},
            )
        options[key] = value
    return options


def _missing(exc: ImportError, extra: str, needed_for: str) -> MissingExtra:
    """A failed adapter import as ``store.missing_extra`` naming the extra to install."""
    if "pq wrapper" in str(exc):  # psycopg without libpq and without its binary build
        return MissingExtra("postgres-binary", needed_for=needed_for, module="libpq")
    return MissingExtra(extra, needed_for=needed_for, module=exc.name)


def connect(url: str, *, create_schema: bool = False) -> Store:
    """Open the store that ``url`` names (see the module docstring for URLs and errors).

    ``create_schema=True`` creates or migrates the schema first (idempotent); without it the
    store must already have its schema (``store.no_schema`` otherwise, nothing written).
    """
    parsed = StoreURL.parse(url)
    if parsed.scheme == "memory":
        from leadtocash.testing.memory import InMemoryStore

        return InMemoryStore(**parsed.options)
    if parsed.scheme == "sqlite":
        store = _sqlite(parsed, create_schema=create_schema)
    else:
        store = _postgres(parsed, create_schema=create_schema)
    _log.debug("opened %s", parsed.redacted())
    return store


def _not_ready(exc: StorageError, shown: str) -> StoreNotReady | None:
    """The adapters' "wrong schema version" error as ``store.no_schema`` (else None)."""
    if "found" not in exc.details or not ({"needed", "expected"} & set(exc.details)):
        return None
    found = exc.details["found"]
    return StoreNotReady(
        f"{shown} has {'no schema' if found is None else f'schema version {found}'}: "
        f"run `leadtocash migrate {shown}` (or connect with create_schema=True)",
        details={"url": shown, "found": found},
    )


def _sqlite(parsed: StoreURL, *, create_schema: bool) -> Store:
    try:
        from leadtocash_adapters import sqlite_store as module
    except ImportError as exc:
        raise _missing(exc, "sqlite", "a sqlite:// store") from exc
    options = dict(parsed.options)
    shown = parsed.redacted()
    if parsed.target == ":memory:":
        scratch = tempfile.mkdtemp(prefix="leadtocash-memory-")
        options.setdefault("synchronous", "OFF")
        try:
            store: Store = module.SQLiteStore.open(
                Path(scratch) / "memory.db", create_schema=True, **options
            )
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        weakref.finalize(store, shutil.rmtree, scratch, ignore_errors=True)
        return store
    path = Path(parsed.target)
    if not path.parent.is_dir():
        raise StoreUnreachable(
            f"{shown}: the directory {os.fspath(path.parent)!r} does not exist",
            code="store.unreachable",
            details={"url": shown, "path": os.fspath(path)},
        )
    if not create_schema and not path.exists():
        raise StoreNotReady(
            f"{shown}: no database file at {os.fspath(path)!r}; create it with "
            f"`leadtocash migrate {shown}`",
            details={"url": shown, "path": os.fspath(path), "found": None},
        )
    try:
        opened: Store = module.SQLiteStore.open(path, create_schema=create_schema, **options)
    except StorageUnavailable as exc:
        raise StoreUnreachable(f"{shown}: {exc.message}", details=exc.details) from exc
    except StorageError as exc:
        ready = _not_ready(exc, shown)
        if ready is None:
            raise
        raise ready from exc
    except ValueError as exc:  # a bad option value (synchronous=..., strands=0)
        raise StoreURLError(f"{shown}: {exc}", details={"url": shown}) from exc
    return opened


def _postgres(parsed: StoreURL, *, create_schema: bool) -> Store:
    try:
        from leadtocash_adapters import postgres_store as module
    except ImportError as exc:
        raise _missing(exc, "postgres", "a postgresql:// store") from exc
    shown = parsed.redacted()
    try:
        store: Store = module.PostgresStore.connect(
            parsed.target, create_schema=create_schema, **parsed.options
        )
    except StorageUnavailable as exc:
        raise StoreUnreachable(
            f"{shown} is unreachable: {exc.message}", details={"url": shown, **exc.details}
        ) from exc
    except StorageError as exc:
        ready = _not_ready(exc, shown)
        if ready is None:
            raise
        raise ready from exc
    except Exception as exc:  # a bad option value, or a DSN the driver cannot parse
        if not isinstance(exc, ValueError) and not type(exc).__module__.startswith("psycopg"):
            raise
        raise StoreURLError(f"{shown}: {exc}", details={"url": shown}) from exc
    return store


@runtime_checkable
class _Versioned(Protocol):
    def schema_version(self) -> int | None: ...


def schema_version(store: Store) -> int | None:
    """The schema version a store reports (None for stores without one, like memory://)."""
    return store.schema_version() if isinstance(store, _Versioned) else None
