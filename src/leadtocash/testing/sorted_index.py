"""A small bucketed sorted set of ``(value, id)`` pairs for the in-memory store's indexes.

Insert and remove cost O(√n)-ish (bisect inside buckets of bounded size), range scans are
ordered; enough for in-memory books of millions of customers.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterator

__all__ = ["SortedPairs"]

Pair = tuple[str, str]
_BUCKET = 512


class SortedPairs:
    """Ordered set of (value, id) pairs."""

    def __init__(self) -> None:
        self._buckets: list[list[Pair]] = []
        self._maxes: list[Pair] = []
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def add(self, pair: Pair) -> None:
        """Insert ``pair`` (no-op if present)."""
        if not self._buckets:
            self._buckets.append([pair])
            self._maxes.append(pair)
            self._size = 1
            return
        b = bisect_left(self._maxes, pair)
        if b == len(self._buckets):
            b -= 1
        bucket = self._buckets[b]
        i = bisect_left(bucket, pair)
        if i < len(bucket) and bucket[i] == pair:
            return
        insort(bucket, pair)
        self._maxes[b] = bucket[-1]
        self._size += 1
        if len(bucket) > 2 * _BUCKET:
            self._buckets[b : b + 1] = [bucket[:_BUCKET], bucket[_BUCKET:]]
            self._maxes[b : b + 1] = [bucket[_BUCKET - 1], bucket[-1]]

    def discard(self, pair: Pair) -> None:
        """Remove ``pair`` if present."""
        b = bisect_left(self._maxes, pair)
        if b == len(self._buckets):
            return
        bucket = self._buckets[b]
        i = bisect_left(bucket, pair)
        if i == len(bucket) or bucket[i] != pair:
            return
        del bucket[i]
        self._size -= 1
        if bucket:
            self._maxes[b] = bucket[-1]
        else:
            del self._buckets[b]
            del self._maxes[b]

    def iter_from(self, start: Pair | None, *, inclusive: bool = True) -> Iterator[Pair]:
        """Pairs >= ``start`` (or > when not inclusive) in ascending order."""
        if start is None:
            b, i = 0, 0
        else:
            b = bisect_left(self._maxes, start)
            if b == len(self._buckets):
                return
            find = bisect_left if inclusive else bisect_right
            i = find(self._buckets[b], start)
        for bucket in self._buckets[b:]:
            yield from bucket[i:]
            i = 0
