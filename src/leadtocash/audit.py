"""Audit entries on K hash-chained strands, sealed by chained Merkle digests.

Every state change writes one ``AuditEntry`` (who, what, target, before → after, reason, when)
in the same unit of work. There is no single global chain (it would serialize every commit of
the system on one row): an entry goes to one of ``K`` **strands**, chosen from its aggregate's
stream id (``target_kind:target_id``) by a stable hash (:func:`strand_of`), so one aggregate's
entries stay in order in one strand while commits touching other strands run side by side.
Within a strand the store numbers entries 1, 2, … (``strand_seq``) and chains them::

    content_hash = SHA-256(RFC 8785 canonical JSON of the entry's content)
    hash         = SHA-256(RFC 8785 canonical JSON of
                           {"content": content_hash, "prev_hash": …, "seq": strand_seq,
                            "strand": strand})

The link object has a fixed shape, so a store can compute ``hash`` where the strand head is
(in SQL, say) from ``content_hash`` alone, which the client computes before any lock.

A **digest** (:class:`AuditDigest`) seals the tips of all strands into a Merkle root
(RFC 6962 tree hashing), and digests are themselves hash-chained. After a digest, editing,
reordering or deleting an entry, truncating a strand or dropping a whole strand is detected by
:func:`verify_audit`; :func:`prove_inclusion` and :func:`verify_inclusion` give and check the
proof that one entry is covered by a digest (what an auditor asks for).

Logs written before strands existed (one global chain, ``hash = SHA-256(prev_hash ‖ sorted-key
JSON with seq and prev_hash)``) verify as strand 0: their entries carry
``format = LEGACY_FORMAT`` and new entries of strand 0 continue that chain.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from json.encoder import encode_basestring as _json_string
from typing import Any, Final

import attrs
import rfc8785

from leadtocash.model import utc

__all__ = [
    "COMMITMENT_KEY",
    "DEFAULT_STRANDS",
    "GENESIS_HASH",
    "LEGACY_FORMAT",
    "STRAND_FORMAT",
    "AuditDigest",
    "AuditEntry",
    "AuditFault",
    "AuditReport",
    "InclusionProof",
    "StrandTip",
    "canonical_json",
    "commitment",
    "entry_hash",
    "erase_personal",
    "link_hash",
    "make_digest",
    "merkle_path",
    "merkle_root",
    "new_salts",
    "prove_inclusion",
    "restore_personal",
    "seal_entries",
    "strand_of",
    "tips_of",
    "verify_audit",
    "verify_audit_chain",
    "verify_inclusion",
]

#: The ``prev_hash`` of the first entry of every strand, and of the first digest.
GENESIS_HASH: Final = "0" * 64
#: Strands a store uses unless told otherwise.
DEFAULT_STRANDS: Final = 16
#: Entries of the single global chain written before strands (they verify as strand 0).
LEGACY_FORMAT: Final = 1
#: Entries sealed on strands (RFC 8785 content hash, fixed-shape link).
STRAND_FORMAT: Final = 2

_SAFE_INTEGER: Final = 2**53
# The C JSON encoder gives RFC 8785's bytes for what _simple accepts (see canonical_json).
_FAST_JSON = json.JSONEncoder(
    sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
).encode
# The legacy chain's encoder (kept byte for byte so old logs still verify).
_LEGACY_JSON = json.JSONEncoder(sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode


# Values the C encoder writes exactly as RFC 8785 does, with nothing inside to check.
_LEAF_TYPES: Final = frozenset({str, bool, type(None)})


def _simple(value: object) -> bool:
    """True when the C encoder's output is already RFC 8785 canonical for ``value``.

    That holds for strings and string enums (both escape exactly ``"``, ``\\`` and controls,
    lowercase hex), booleans, None, integers a double represents exactly, lists, and objects
    with ASCII keys (sorting by code point then equals RFC 8785's sorting by UTF-16 code
    unit). Floats, Decimals, other keys and big integers take the ``rfc8785`` package's path.
    One loop over an explicit stack, leaves skipped without being pushed and an object's
    keys checked as one joined string: this runs on every audit entry's snapshots.
    """
    stack = [value]
    pop, push, leaves = stack.pop, stack.append, _LEAF_TYPES
    while stack:
        item = pop()
        kind = type(item)
        if kind is dict:
            for key in item:  # type: ignore[attr-defined]
                if type(key) is not str:
                    return False
            if not "".join(item).isascii():  # type: ignore[arg-type]
                return False
            for inner in item.values():  # type: ignore[attr-defined]
                if type(inner) not in leaves:
                    push(inner)
        elif kind is int:
            if not -_SAFE_INTEGER < item < _SAFE_INTEGER:  # type: ignore[operator]
                return False
        elif kind is list or kind is tuple:
            stack.extend(item)  # type: ignore[arg-type]
        elif kind not in leaves and not isinstance(item, str):  # a string enum is its string
            return False
    return True


def _normalized(value: Any) -> Any:
    """Mappings as dicts, sequences as lists, Decimals as strings; the rest unchanged."""
    if isinstance(value, Mapping):
        return {k: _normalized(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(v) for v in value]
    if isinstance(value, Decimal):
        return str(value)
    return value


def canonical_json(value: Any) -> bytes:
    """RFC 8785 (JSON Canonicalization Scheme) bytes of ``value``; Decimals as strings.

    NaN, infinities, integers beyond ±2⁵³ and non-string keys raise
    :class:`rfc8785.CanonicalizationError` (a ``ValueError``). The common case (strings,
    integers, booleans, ASCII keys) is encoded by the C JSON encoder, whose bytes are then
    exactly RFC 8785's; everything else goes through the ``rfc8785`` package.
    """
    if _simple(value):
        return _FAST_JSON(value).encode("utf-8")
    return rfc8785.dumps(_normalized(value))


# -- personal data: salted commitments ----------------------------------------------------
#: The key of the stand-in an entry's content hash covers instead of a personal value:
#: ``{"$commitment": hex}``; an erased value is stored as exactly this stand-in.
COMMITMENT_KEY: Final = "$commitment"
_SALT_BYTES: Final = 16


def new_salts(fields: Iterable[str], entropy: Callable[[int], bytes]) -> dict[str, str]:
    """A fresh salt (128 bits, hex) for each personal field of an audit entry.

    ``entropy(n)`` returns n random bytes: the OS CSPRNG in production (``os.urandom``, the
    application context's default); a predictable salt would let anyone holding an erased
    value's commitment guess the value back by trying every phone number.
    """
    names = list(fields)
    raw = entropy(_SALT_BYTES * len(names))
    return {
        name: raw[n * _SALT_BYTES : (n + 1) * _SALT_BYTES].hex() for n, name in enumerate(names)
    }


def commitment(salt: str, value: Any) -> str:
    """SHA-256 of the salt's bytes followed by the RFC 8785 bytes of ``value`` (hex)."""
    encoded = _json_string(value).encode("utf-8") if type(value) is str else canonical_json(value)
    return hashlib.sha256(bytes.fromhex(salt) + encoded).hexdigest()


def _is_stand_in(value: object) -> bool:
    return type(value) is dict and len(value) == 1 and COMMITMENT_KEY in value


def _committed(
    snapshot: Mapping[str, Any] | None, salts: Mapping[str, str], done: dict[str, tuple[Any, Any]]
) -> Mapping[str, Any] | None:
    """``snapshot`` with each salted, non-empty personal value replaced by its stand-in.

    ``done`` remembers each field's last value and stand-in, so an unchanged value in
    ``before`` and ``after`` is hashed once.
    """
    if snapshot is None:
        return None
    out: dict[str, Any] | None = None
    for name, salt in salts.items():
        value = snapshot.get(name)
        if not value or _is_stand_in(value):
            continue  # nothing personal (None, "", []), or erased already
        seen = done.get(name)
        if seen is not None and seen[0] == value:
            stand_in = seen[1]
        else:
            stand_in = {COMMITMENT_KEY: commitment(salt, value)}
            done[name] = (value, stand_in)
        if out is None:
            out = dict(snapshot)
        out[name] = stand_in
    return snapshot if out is None else out


def _personal_values(
    snapshot: Mapping[str, Any] | None, committed: Mapping[str, Any] | None, fields: Iterable[str]
) -> dict[str, Any]:
    """The values of ``snapshot`` that ``committed`` holds stand-ins for."""
    if snapshot is None or committed is None or committed is snapshot:
        return {}
    return {k: snapshot[k] for k in fields if k in snapshot and committed[k] is not snapshot[k]}


def restore_personal(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    personal: Mapping[str, Any] | None,
) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None, Mapping[str, str] | None]:
    """Snapshots as stored (stand-ins in place of personal values) and the stored erasable
    part (:meth:`AuditEntry.personal_record`) back into the entry's ``before``, ``after``
    and ``personal`` salts. Without a part (none, or erased), the stand-ins stay."""
    if not personal:
        return before, after, None

    def put(snapshot: Mapping[str, Any] | None, values: Any) -> Mapping[str, Any] | None:
        return snapshot if snapshot is None or not values else {**snapshot, **values}

    return (
        put(before, personal.get("before")),
        put(after, personal.get("after")),
        dict(personal["salts"]),
    )


def strand_of(stream_id: str, strands: int) -> int:
    """The strand (0 … ``strands`` − 1) of a stream id: stable across processes and engines."""
    if strands < 1:
        raise ValueError("a store has at least one strand")
    if strands == 1:
        return 0
    digest = hashlib.sha256(stream_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % strands


def link_hash(content_hash: str, prev_hash: str, strand: int, strand_seq: int) -> str:
    """The chain hash of a strand entry: SHA-256 of its RFC 8785 link object.

    The object's keys are fixed and sorted and its values are hex strings and integers, so
    its canonical text is this format string (a store may build it the same way in SQL).
    """
    text = (
        f'{{"content":"{content_hash}","prev_hash":"{prev_hash}",'
        f'"seq":{strand_seq},"strand":{strand}}}'
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


@attrs.frozen
class AuditEntry:
    """One audited state change; the store sets the sealing fields when it commits.

    ``strand``, ``strand_seq``, ``prev_hash`` and ``hash`` place it on its strand; ``seq`` is
    its position in the store's whole log (the order :meth:`Store.audit_log` pages in, not
    hashed: the strands and digests are what is tamper-evident).
    """

    id: str
    at: datetime = attrs.field(validator=utc)
    actor_id: str
    action: str
    target_kind: str
    target_id: str
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    reason: str | None = None
    override: bool = False
    seq: int = 0
    prev_hash: str = ""
    hash: str = ""
    strand: int = 0
    strand_seq: int = 0
    format: int = STRAND_FORMAT
    #: Salts of the personal fields of ``before`` / ``after`` (field name -> hex), or None.
    #: The content hash then covers ``{"$commitment": SHA-256(salt ‖ RFC 8785 value)}``
    #: instead of each non-empty value of those fields, so erasing a value (and its salt)
    #: leaves the hash intact (:func:`erase_personal`).
    personal: Mapping[str, str] | None = None

    @property
    def stream_id(self) -> str:
        """The aggregate's stream: ``target_kind:target_id`` (it picks the strand)."""
        return f"{self.target_kind}:{self.target_id}"

    def content(self) -> dict[str, Any]:
        """What the content hash covers: everything but the sealing fields."""
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor_id": self.actor_id,
            "action": self.action,
            "target_kind": self.target_kind,
            "target_id": self.target_id,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
            "override": self.override,
        }

    def canonical_content(self) -> tuple[bytes, bytes | None, bytes | None]:
        """The RFC 8785 bytes of :meth:`content`, and those of ``before`` and ``after``.

        Built from the snapshots' canonical bytes (the other members are a fixed set of
        ASCII keys, strings and a boolean), so a store can keep those bytes as the
        snapshots' stored JSON instead of encoding them once more. With personal fields the
        snapshots are those of :meth:`committed_snapshots` (stand-ins for the values).
        """
        return self._canonical(*self.committed_snapshots())

    def stored_parts(self) -> tuple[bytes, bytes | None, bytes | None, dict[str, Any] | None]:
        """:meth:`canonical_content` and :meth:`personal_record`, commitments computed once:
        what a store hashes and keeps (the snapshots' bytes, then the erasable part)."""
        if not self.personal:
            return (*self._canonical(self.before, self.after), None)
        before, after = self.committed_snapshots()
        return (*self._canonical(before, after), self._record(before, after))

    def _canonical(
        self, snap_before: Mapping[str, Any] | None, snap_after: Mapping[str, Any] | None
    ) -> tuple[bytes, bytes | None, bytes | None]:
        before = None if snap_before is None else canonical_json(snap_before)
        after = None if snap_after is None else canonical_json(snap_after)
        reason = "null" if self.reason is None else _json_string(self.reason)
        head = (
            f'{{"action":{_json_string(self.action)},"actor_id":{_json_string(self.actor_id)},'
            '"after":'
        )
        middle = f',"at":"{self.at.isoformat()}","before":'
        tail = (
            f',"id":{_json_string(self.id)},"override":{"true" if self.override else "false"},'
            f'"reason":{reason},"target_id":{_json_string(self.target_id)},'
            f'"target_kind":{_json_string(self.target_kind)}}}'
        )
        text = b"".join(
            (
                head.encode("utf-8"),
                b"null" if after is None else after,
                middle.encode("utf-8"),
                b"null" if before is None else before,
                tail.encode("utf-8"),
            )
        )
        return text, before, after

    def committed_snapshots(self) -> tuple[Mapping[str, Any] | None, Mapping[str, Any] | None]:
        """``before`` and ``after`` as hashed (and stored): personal values as stand-ins."""
        if not self.personal:
            return self.before, self.after
        done: dict[str, tuple[Any, Any]] = {}
        return (
            _committed(self.before, self.personal, done),
            _committed(self.after, self.personal, done),
        )

    def personal_record(self) -> dict[str, Any] | None:
        """The erasable part of the stored entry: the salts and the personal values the
        stored snapshots hold stand-ins for (None when there are none)."""
        if not self.personal:
            return None
        return self._record(*self.committed_snapshots())

    def _record(
        self, before: Mapping[str, Any] | None, after: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        fields = self.personal or {}
        record: dict[str, Any] = {"salts": dict(fields)}
        for side, snapshot, committed in (
            ("before", self.before, before),
            ("after", self.after, after),
        ):
            values = _personal_values(snapshot, committed, fields)
            if values:
                record[side] = values
        return record

    def content_hash(self) -> str:
        """SHA-256 of the RFC 8785 canonical content (computed before any lock is taken)."""
        return hashlib.sha256(self.canonical_content()[0]).hexdigest()

    def canonical(self) -> str:
        """The legacy chain's canonical text (``format == LEGACY_FORMAT`` entries only)."""
        body = {**self.content(), "seq": self.strand_seq, "prev_hash": self.prev_hash}
        return _LEGACY_JSON(body)


def erase_personal(entry: AuditEntry) -> AuditEntry:
    """``entry`` with every personal value replaced by its stand-in and the salts dropped.

    Its content hash, and so its chain hash, is unchanged: the strands still verify, and a
    changed stand-in is still found (its hash no longer matches).
    """
    if not entry.personal:
        return entry
    before, after = entry.committed_snapshots()
    return attrs.evolve(entry, before=before, after=after, personal=None)


def entry_hash(entry: AuditEntry) -> str:
    """The hash ``entry`` must carry, recomputed from its fields."""
    if entry.format == LEGACY_FORMAT:
        text = entry.prev_hash + entry.canonical()
        return hashlib.sha256(text.encode("utf-8")).hexdigest()
    return link_hash(entry.content_hash(), entry.prev_hash, entry.strand, entry.strand_seq)


def seal_entries(
    entries: Sequence[AuditEntry],
    *,
    strands: int,
    heads: Mapping[int, tuple[int, str]],
    content_hashes: Sequence[str] | None = None,
    first_seq: int | None = None,
) -> tuple[list[AuditEntry], dict[int, tuple[int, str]]]:
    """Seal ``entries`` (commit order) onto their strands.

    ``heads`` maps each strand the entries touch to its head ``(strand_seq, hash)`` (a strand
    missing from it is empty). Returns the sealed entries, in commit order, and the new heads
    of the strands touched. The caller must hold those strands' heads, taken in ascending
    strand order (``sorted({strand_of(e.stream_id, strands) for e in entries})``), which is
    the one global lock order that keeps concurrent commits free of deadlocks. With
    ``first_seq`` the entries also get their log positions ``first_seq``, ``first_seq + 1``…
    """
    hashes = content_hashes or [entry.content_hash() for entry in entries]
    moved: dict[int, tuple[int, str]] = {}
    sealed = []
    for n, (entry, content) in enumerate(zip(entries, hashes, strict=True)):
        strand = strand_of(entry.stream_id, strands)
        seq, prev = moved.get(strand) or heads.get(strand) or (0, GENESIS_HASH)
        digest = link_hash(content, prev, strand, seq + 1)
        moved[strand] = (seq + 1, digest)
        sealed.append(
            attrs.evolve(
                entry,
                seq=entry.seq if first_seq is None else first_seq + n,
                strand=strand,
                strand_seq=seq + 1,
                prev_hash=prev,
                hash=digest,
                format=STRAND_FORMAT,
            )
        )
    return sealed, moved


# -- digests ---------------------------------------------------------------------------------
@attrs.frozen
class StrandTip:
    """The last entry of a strand when a digest was sealed (``seq`` 0: the strand was empty)."""

    strand: int
    seq: int
    hash: str

    def leaf(self) -> bytes:
        """The Merkle leaf hash of this tip (RFC 6962: SHA-256 of 0x00 ‖ data)."""
        data = canonical_json({"hash": self.hash, "seq": self.seq, "strand": self.strand})
        return hashlib.sha256(b"\x00" + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(count: int) -> int:
    """The largest power of two below ``count`` (RFC 6962's split point)."""
    k = 1
    while k * 2 < count:
        k *= 2
    return k


def _root(leaves: Sequence[bytes]) -> bytes:
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(_root(leaves[:k]), _root(leaves[k:]))


def merkle_root(tips: Sequence[StrandTip]) -> str:
    """The RFC 6962 Merkle tree hash of the tips' leaves, in strand order."""
    return _root([tip.leaf() for tip in tips]).hex()


def merkle_path(tips: Sequence[StrandTip], index: int) -> tuple[tuple[str, str], ...]:
    """The audit path of leaf ``index``: ``(side, hash)`` pairs from the leaf up, where side
    ``"L"`` means the sibling is on the left."""
    leaves = [tip.leaf() for tip in tips]
    path: list[tuple[str, str]] = []

    def walk(nodes: Sequence[bytes], at: int) -> None:
        if len(nodes) <= 1:
            return
        k = _split(len(nodes))
        if at < k:
            walk(nodes[:k], at)
            path.append(("R", _root(nodes[k:]).hex()))
        else:
            walk(nodes[k:], at - k)
            path.append(("L", _root(nodes[:k]).hex()))

    walk(leaves, index)
    return tuple(path)


def _path_root(leaf: bytes, path: Iterable[tuple[str, str]]) -> str:
    node = leaf
    for side, sibling in path:
        other = bytes.fromhex(sibling)
        node = _node(other, node) if side == "L" else _node(node, other)
    return node.hex()


@attrs.frozen
class AuditDigest:
    """The tips of all strands sealed into a Merkle root, chained onto the previous digest."""

    seq: int
    tips: tuple[StrandTip, ...]
    root: str
    prev_hash: str
    hash: str

    def expected_hash(self) -> str:
        """The hash this digest must carry, recomputed from its root, seq and prev_hash."""
        link = {
            "prev_hash": self.prev_hash,
            "root": self.root,
            "seq": self.seq,
            "strands": len(self.tips),
        }
        return hashlib.sha256(canonical_json(link)).hexdigest()

    def tip(self, strand: int) -> StrandTip | None:
        """The tip recorded for ``strand`` (None when the digest has no such strand)."""
        return self.tips[strand] if 0 <= strand < len(self.tips) else None


def make_digest(tips: Sequence[StrandTip], *, previous: AuditDigest | None = None) -> AuditDigest:
    """The digest after ``previous`` over ``tips`` (one per strand, in strand order)."""
    ordered = tuple(sorted(tips, key=lambda t: t.strand))
    if [t.strand for t in ordered] != list(range(len(ordered))):
        raise ValueError("a digest holds one tip per strand 0 … K-1")
    draft = AuditDigest(
        seq=1 if previous is None else previous.seq + 1,
        tips=ordered,
        root=merkle_root(ordered),
        prev_hash=GENESIS_HASH if previous is None else previous.hash,
        hash="",
    )
    return attrs.evolve(draft, hash=draft.expected_hash())


def tips_of(heads: Mapping[int, tuple[int, str]], strands: int) -> list[StrandTip]:
    """One tip per strand from ``strand -> (seq, hash)`` heads (missing strands are empty)."""
    return [StrandTip(s, *(heads.get(s) or (0, GENESIS_HASH))) for s in range(strands)]


# -- verification ----------------------------------------------------------------------------
@attrs.frozen
class AuditFault:
    """What is wrong, and where: a strand's first bad entry, or a digest.

    ``strand`` is None for a fault of the digest chain itself; ``strand_seq`` is the position
    in the strand where the fault shows (the entry there, or where an entry is missing),
    ``entry_id`` the entry found there (None when it is missing).
    """

    problem: str
    strand: int | None = None
    strand_seq: int | None = None
    entry_id: str | None = None
    digest: int | None = None
    index: int | None = None  # position in the list handed to the verifier

    def __str__(self) -> str:
        where = []
        if self.strand is not None:
            where.append(f"strand {self.strand}")
        if self.strand_seq is not None:
            where.append(f"entry #{self.strand_seq}")
        if self.entry_id is not None:
            where.append(f"({self.entry_id})")
        if self.digest is not None:
            where.append(f"digest {self.digest}")
        return f"{' '.join(where)}: {self.problem}"


@attrs.frozen
class AuditReport:
    """The outcome of :func:`verify_audit`: at most one fault per strand, plus digest faults."""

    entries: int
    strands: int
    digests: int
    faults: tuple[AuditFault, ...]

    @property
    def ok(self) -> bool:
        """True when nothing is wrong."""
        return not self.faults

    def first_bad(self, strand: int) -> AuditFault | None:
        """The fault reported for ``strand`` (None when it verifies)."""
        return next((f for f in self.faults if f.strand == strand), None)


def _check_strand(
    strand: int, items: Sequence[tuple[int, AuditEntry]]
) -> tuple[AuditFault | None, dict[int, str]]:
    """The first bad entry of one strand (entries as given, with their list positions), and
    the hash at each strand_seq up to it."""
    prev, expected = GENESIS_HASH, 1
    good: dict[int, str] = {}
    for index, entry in items:
        problem = None
        if entry.strand_seq != expected:
            problem = (
                f"expected entry #{expected} here, found #{entry.strand_seq}"
                if entry.strand_seq > expected
                else f"entry #{entry.strand_seq} out of order (expected #{expected})"
            )
        elif entry.prev_hash != prev:
            problem = "previous hash does not match the entry before it"
        elif entry.hash != entry_hash(entry):
            problem = "content does not match its hash (edited)"
        if problem is not None:
            fault = AuditFault(problem, strand, expected, entry.id, index=index)
            return fault, good
        good[expected] = entry.hash
        prev, expected = entry.hash, expected + 1
    return None, good


def verify_audit(
    entries: Sequence[AuditEntry],
    digests: Sequence[AuditDigest] = (),
    *,
    strands: int | None = None,
    map_strands: Callable[..., Iterable[Any]] = map,
) -> AuditReport:
    """Check every strand and the digests; report the first bad entry of each strand.

    ``entries`` are the store's entries (any interleaving of strands; within a strand in
    stored order), ``digests`` its digests in order. Each strand must chain from genesis
    without gap; each digest must chain onto the one before, its root must match its tips,
    and each tip must be an entry of its strand with that exact hash: a strand shorter than a
    digest says (truncated, or dropped when it has no entry left) is a fault as well.
    ``map_strands`` may be an executor's ``map`` to check strands in parallel.
    """
    count = strands
    if count is None:
        count = max([len(d.tips) for d in digests] + [e.strand + 1 for e in entries] + [1])
    by_strand: dict[int, list[tuple[int, AuditEntry]]] = {s: [] for s in range(count)}
    faults: list[AuditFault] = []
    for index, entry in enumerate(entries):
        if not 0 <= entry.strand < count:
            faults.append(
                AuditFault(f"strand {entry.strand} out of range", None, None, entry.id, index=index)
            )
            continue
        by_strand[entry.strand].append((index, entry))
    results = list(map_strands(lambda s: _check_strand(s, by_strand[s]), range(count)))
    digest_faults = _check_digests(digests, count)
    faults.extend(digest_faults)
    for strand, (fault, good) in enumerate(results):
        if fault is None:
            fault = _against_digests(strand, good, by_strand[strand], digests)
        if fault is not None:
            faults.append(fault)
    return AuditReport(len(entries), count, len(digests), tuple(faults))


def _check_digests(digests: Sequence[AuditDigest], strands: int) -> list[AuditFault]:
    faults = []
    prev = GENESIS_HASH
    for number, digest in enumerate(digests, start=1):
        problem = None
        if digest.seq != number:
            problem = f"digest #{digest.seq} found where #{number} belongs"
        elif digest.prev_hash != prev:
            problem = "previous digest hash does not match (digest chain broken)"
        elif digest.root != merkle_root(digest.tips):
            problem = "Merkle root does not match its tips (forged)"
        elif digest.hash != digest.expected_hash():
            problem = "digest hash does not match its contents (forged)"
        elif len(digest.tips) > strands:
            problem = f"digest covers {len(digest.tips)} strands, the log has {strands}"
        if problem is not None:
            faults.append(AuditFault(problem, digest=digest.seq))
            break
        prev = digest.hash
    return faults


def _against_digests(
    strand: int,
    good: Mapping[int, str],
    items: Sequence[tuple[int, AuditEntry]],
    digests: Sequence[AuditDigest],
) -> AuditFault | None:
    """A strand that chains well must still hold every tip the digests recorded for it."""
    last = len(good)
    for digest in digests:
        tip = digest.tip(strand)
        if tip is None or tip.seq == 0:
            continue
        if tip.seq > last:
            problem = (
                f"strand dropped: digest {digest.seq} recorded {tip.seq} entries, none left"
                if last == 0
                else f"strand truncated: digest {digest.seq} recorded {tip.seq} entries, "
                f"{last} left"
            )
            return AuditFault(problem, strand, last + 1, None, digest=digest.seq)
        if good[tip.seq] != tip.hash:
            index, entry = items[tip.seq - 1]
            return AuditFault(
                f"entry differs from what digest {digest.seq} sealed (rewritten)",
                strand, tip.seq, entry.id, digest=digest.seq, index=index,
            )  # fmt: skip
    return None


def verify_audit_chain(entries: Sequence[AuditEntry]) -> int | None:
    """The index in ``entries`` of the first bad entry over all strands, or None.

    ``entries`` is a store's log in any interleaving of strands (for example
    ``store.audit_log(...)``); digests are not consulted (see :func:`verify_audit`).
    """
    report = verify_audit(entries)
    indexes = [f.index for f in report.faults if f.index is not None]
    return min(indexes) if indexes else None


# -- inclusion proofs ------------------------------------------------------------------------
@attrs.frozen
class InclusionProof:
    """That an entry is covered by a digest: the strand links from the entry to the tip the
    digest sealed, and the Merkle path from that tip to the digest's root.

    ``chain`` holds, for each later entry of the strand up to the tip, its content hash
    (or, for an entry of the legacy chain, the entry itself, whose hash covers all of it).
    Proving against the first digest after the entry keeps the chain short.
    """

    strand: int
    strand_seq: int
    chain: tuple[str | AuditEntry, ...]
    tip: StrandTip
    path: tuple[tuple[str, str], ...]
    digest: AuditDigest


def prove_inclusion(
    entry: AuditEntry, later: Sequence[AuditEntry], digest: AuditDigest
) -> InclusionProof:
    """The proof that sealed ``entry`` is covered by ``digest``.

    ``later`` are the entries of the same strand after it, in order, at least up to the tip
    the digest recorded; ValueError when the digest does not cover the entry.
    """
    tip = digest.tip(entry.strand)
    if tip is None or tip.seq < entry.strand_seq:
        raise ValueError(f"digest {digest.seq} does not cover entry {entry.id!r}")
    needed = [e for e in later if entry.strand_seq < e.strand_seq <= tip.seq]
    if [e.strand_seq for e in needed] != list(range(entry.strand_seq + 1, tip.seq + 1)):
        raise ValueError("the strand's entries up to the digest's tip are needed")
    chain = tuple(e if e.format == LEGACY_FORMAT else e.content_hash() for e in needed)
    return InclusionProof(
        entry.strand, entry.strand_seq, chain, tip,
        merkle_path(digest.tips, entry.strand), digest,
    )  # fmt: skip


def verify_inclusion(entry: AuditEntry, proof: InclusionProof) -> bool:
    """True when ``proof`` shows that ``entry``, as given, is covered by ``proof.digest``."""
    digest = proof.digest
    if (entry.strand, entry.strand_seq) != (proof.strand, proof.strand_seq):
        return False
    if entry.hash != entry_hash(entry):
        return False
    current, seq = entry.hash, entry.strand_seq
    for item in proof.chain:
        seq += 1
        if isinstance(item, AuditEntry):
            if (item.strand_seq, item.prev_hash) != (seq, current) or item.strand != entry.strand:
                return False
            current = entry_hash(item)
        else:
            current = link_hash(item, current, entry.strand, seq)
    if proof.tip != StrandTip(entry.strand, seq, current):
        return False
    if digest.tip(entry.strand) != proof.tip:
        return False
    if _path_root(proof.tip.leaf(), proof.path) != digest.root:
        return False
    return digest.hash == digest.expected_hash()
