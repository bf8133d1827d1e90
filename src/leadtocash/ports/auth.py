"""Authentication port: turns a credential (API key, bearer token) into a Principal."""

from __future__ import annotations

from typing import Protocol

from leadtocash.access import Principal

__all__ = ["Authenticator"]


class Authenticator(Protocol):
    """Verifies a credential; raises AuthenticationFailed for anything it cannot trust."""

    def authenticate(self, credential: str) -> Principal:
        """The principal behind ``credential``; never returns for bad input (raises instead)."""
        ...
