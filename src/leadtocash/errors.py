"""The one error hierarchy: every failure has a stable string ``code`` and structured details.

Callers branch on ``code`` (stable across releases and locales); ``details`` carries the facts
behind the refusal (limit, count, field paths, allowed triggers) as plain data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import attrs

__all__ = [
    "AuthenticationFailed",
    "ConcurrencyConflict",
    "DuplicateKey",
    "FieldError",
    "InvalidTransition",
    "LeadToCashError",
    "MissingExtra",
    "NotFound",
    "PermissionDenied",
    "RuleViolation",
    "StorageError",
    "StorageUnavailable",
    "StoreNotReady",
    "StoreURLError",
    "StoreUnreachable",
    "ValidationError",
]


@attrs.frozen
class FieldError:
    """One bad field: its dotted path, a stable reason code and a human message."""

    path: str
    code: str
    message: str


class LeadToCashError(Exception):
    """Base of every error the library raises on purpose."""

    code: str = "leadtocash.error"
    retryable: bool = False

    def __init__(
        self, message: str, *, code: str | None = None, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"[{self.code}] {self.message}"


class ValidationError(LeadToCashError):
    """Bad input: lists every offending field path at once, so a form can show them all."""

    code = "validation.invalid"

    def __init__(self, errors: Sequence[FieldError], *, code: str | None = None) -> None:
        if not errors:
            raise ValueError("ValidationError needs at least one FieldError")
        self.errors: tuple[FieldError, ...] = tuple(errors)
        listing = "; ".join(f"{e.path}: {e.message}" for e in self.errors)
        super().__init__(
            f"invalid input ({listing})",
            code=code,
            details={"fields": [attrs.asdict(e) for e in self.errors]},
        )

    @property
    def paths(self) -> tuple[str, ...]:
        """The offending field paths, in the order they were found."""
        return tuple(e.path for e in self.errors)

    @classmethod
    def single(cls, path: str, code: str, message: str) -> ValidationError:
        """Shortcut for a one-field error."""
        return cls([FieldError(path, code, message)])


class NotFound(LeadToCashError):
    """The named aggregate does not exist (or the caller may not know it exists)."""

    code = "storage.not_found"

    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"{kind} {ident!r} not found", details={"kind": kind, "id": ident})
        self.kind = kind
        self.ident = ident


class AuthenticationFailed(LeadToCashError):
    """Credentials were missing, malformed, expired or wrong."""

    code = "auth.authentication_failed"


class PermissionDenied(LeadToCashError):
    """The principal is known but may not perform this action on this target."""

    code = "auth.permission_denied"


class RuleViolation(LeadToCashError):
    """A business rule refused the command (limits, cooldowns, collisions); details say why."""

    code = "rule.violation"


class InvalidTransition(LeadToCashError):
    """A state-machine trigger is not legal from the current state."""

    code = "state.invalid_transition"

    def __init__(self, entity: str, state: str, trigger: str, allowed: Sequence[str]) -> None:
        super().__init__(
            f"{entity} in state {state!r} cannot {trigger!r}; allowed: {', '.join(allowed) or '-'}",
            details={
                "entity": entity,
                "state": state,
                "trigger": trigger,
                "allowed": list(allowed),
            },
        )
        self.state = state
        self.trigger = trigger
        self.allowed = tuple(allowed)


class StorageError(LeadToCashError):
    """Base of storage failures; adapters translate driver errors into this family."""

    code = "storage.error"


class ConcurrencyConflict(StorageError):
    """Another unit of work changed an aggregate first; nothing was saved. Safe to retry."""

    code = "storage.concurrency_conflict"
    retryable = True


class DuplicateKey(StorageError):
    """A unique (dedup) key is already taken by another record; nothing was saved."""

    code = "storage.duplicate_key"

    def __init__(self, kind: str, key: str, existing_id: str | None) -> None:
        super().__init__(
            f"{kind} key {key!r} already used by {existing_id or 'another record'}",
            details={"kind": kind, "key": key, "existing_id": existing_id},
        )
        self.kind = kind
        self.key = key
        self.existing_id = existing_id


class StorageUnavailable(StorageError):
    """The storage engine could not be reached or failed transiently. Safe to retry."""

    code = "storage.unavailable"
    retryable = True


class StoreURLError(StorageError):
    """A store URL that names no store: unknown scheme (``store.unknown_scheme``), bad form."""

    code = "store.invalid_url"


class StoreUnreachable(StorageUnavailable):
    """The store named by a URL cannot be reached (server down, directory missing)."""

    code = "store.unreachable"


class StoreNotReady(StorageError):
    """The store exists but has no schema (or an older one): run ``leadtocash migrate URL``."""

    code = "store.no_schema"


class MissingExtra(LeadToCashError, ImportError):
    """An optional part needs an extra that is not installed; ``details["extra"]`` names it.

    Also an :class:`ImportError`, so ``from … import`` of a guarded name fails the usual way.
    """

    code = "store.missing_extra"

    def __init__(self, extra: str, *, needed_for: str, module: str | None = None) -> None:
        super().__init__(
            f"{needed_for} needs the {extra!r} extra: pip install 'leadtocash[{extra}]'"
            + (f" (module {module!r} is missing)" if module else ""),
            details={"extra": extra, "needed_for": needed_for, "module": module},
        )
        self.extra = extra
