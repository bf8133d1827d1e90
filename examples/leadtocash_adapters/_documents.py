"""The reference adapters' memo of parsed record documents (shared by SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["DocumentMemo"]


class DocumentMemo:
    """A record's document parsed once per distinct text: the very object of the last read
    when a read finds the same text.

    Most reads find a record as this process last saw it (a pool, a rep's book, a counter):
    comparing the text is far cheaper than parsing it, and handing out the same object lets
    the aggregate cache compare documents by identity. Any other text (a new version, a row
    edited under the same version) is parsed afresh. Documents are read-only
    (``StoredRecord.data`` is a Mapping), so sharing one is safe. Holds the ``size`` most
    recently read records.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._documents: dict[tuple[str, str], tuple[str, Any]] = {}

    def parse(self, kind: str, ident: str, text: str) -> Any:
        """``text`` (the document of record ``kind``/``ident``) parsed, or as parsed before."""
        key = (kind, ident)
        documents = self._documents
        known = documents.get(key)
        if known is not None and known[0] == text:
            return known[1]
        data = json.loads(text)
        documents.pop(key, None)  # re-inserted last: the newest entries are evicted last
        documents[key] = (text, data)
        while len(documents) > self._size:
            try:
                del documents[next(iter(documents))]
            except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                break
        return data
