"""Checking the hub's access log from outside (docs/protocol.md, "Verifying the access log"):
RFC 9162 Merkle hashing over the entries' canonical bytes, and the Ed25519 signatures of the
signed tree heads. The same bytes as common/auditlog (C++), which asb-audit writes:

- an entry's canonical bytes are its protobuf serialisation (fields in number order) without
  leaf_hash (field 5) and erased_by (field 6). An entry as stored (``AuditQueryRequest.stored``)
  is exactly those bytes followed by field 5 (and 6 if erased), so the canonical bytes are the
  stored bytes with those two fields taken out — no protobuf serialiser is needed to check them;
- leaf hash = SHA-256(0x00 || canonical bytes); node = SHA-256(0x01 || left || right); the root
  of n leaves splits at the largest power of two below n;
- a tree head's signature covers b"asbhub-audit-sth-v1" 0x00, big-endian uint64 tree_size,
  big-endian uint64 timestamp_ms, then the 32-byte root hash.

Ed25519 is checked with python3-cryptography (Debian's, built on OpenSSL like the hub): it reads
the PEM public key the hub publishes as it is; PyNaCl would need the raw 32 bytes dug out of it.
"""

import hashlib
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from . import errors
from ._proto import audit_pb2

HASH_SIZE = 32
SELF_ORIGIN = "audit/self"  # asb-audit's own records: only these record erasures and expiry
_SIGNING_LABEL = b"asbhub-audit-sth-v1\x00"
_LEAF_HASH_FIELD = 5
_ERASED_BY_FIELD = 6


def sha256(data):
    return hashlib.sha256(data).digest()


def hash_leaf(data):
    return sha256(b"\x00" + data)


def hash_children(left, right):
    return sha256(b"\x01" + left + right)


def _varint(data, pos):
    value, shift = 0, 0
    while True:
        if pos >= len(data) or shift > 63:
            raise ValueError("truncated varint")
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
        shift += 7


def canonical_bytes(stored):
    """An entry's canonical bytes: its stored bytes without fields 5 (leaf_hash) and 6
    (erased_by). ValueError if the bytes are not a well-formed protobuf message."""
    out = bytearray()
    pos = 0
    while pos < len(stored):
        start = pos
        tag, pos = _varint(stored, pos)
        number, wire_type = tag >> 3, tag & 7
        if wire_type == 0:
            _, pos = _varint(stored, pos)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 2:
            length, pos = _varint(stored, pos)
            pos += length
        elif wire_type == 5:
            pos += 4
        else:
            raise ValueError(f"wire type {wire_type}")
        if pos > len(stored) or number == 0:
            raise ValueError("truncated field")
        if number not in (_LEAF_HASH_FIELD, _ERASED_BY_FIELD):
            out += stored[start:pos]
    return bytes(out)


def signing_input(sth):
    """The bytes a SignedTreeHead's signature covers."""
    return _SIGNING_LABEL + struct.pack(">QQ", sth.tree_size, sth.timestamp_ms) + sth.root_hash


def load_public_key(pem):
    """The Ed25519 public key of a PEM text (the hub's AuditTreeHeadResponse.public_key_pem)."""
    key = load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the tree-head signing key is not an Ed25519 public key")
    return key


def check_signature(sth, key):
    """Raises VerificationFailed unless `sth` is signed by `key`."""
    if len(sth.root_hash) != HASH_SIZE:
        raise errors.VerificationFailed(
            f"tree head of size {sth.tree_size}: root hash is not 32 bytes")
    try:
        key.verify(sth.signature, signing_input(sth))
    except InvalidSignature:
        raise errors.VerificationFailed(
            f"tree head of size {sth.tree_size}: signature does not verify with the public key "
            "(forged, altered or another key)") from None


class CompactRange:
    """The right edge of a Merkle tree being appended to: one complete subtree per set bit of
    its size, largest first — enough to append the next leaf and compute the root."""

    def __init__(self, size=0, hashes=()):
        heights = [h for h in range(63, -1, -1) if size >> h & 1]
        hashes = list(hashes)
        if len(hashes) != len(heights) or any(len(h) != HASH_SIZE for h in hashes):
            raise errors.VerificationFailed(
                f"compact range of {size} entries: {len(hashes)} hashes instead of "
                f"{len(heights)} of 32 bytes")
        self.size = size
        self._nodes = list(zip(heights, hashes))

    def append(self, leaf):
        height, node = 0, leaf
        while self._nodes and self._nodes[-1][0] == height:
            node = hash_children(self._nodes.pop()[1], node)
            height += 1
        self._nodes.append((height, node))
        self.size += 1

    def root(self):
        if not self._nodes:
            return sha256(b"")
        node = self._nodes[-1][1]
        for _, left in reversed(self._nodes[:-1]):
            node = hash_children(left, node)
        return node


@dataclass
class VerifyReport:
    """What Auditor.verify() checked (it raises VerificationFailed when something fails)."""

    tree_size: int = 0  # entries the newest signed tree head covers
    root_hash: str = ""  # its root, hex
    timestamp_ms: int = 0  # when it was signed
    tree_heads: int = 0  # signed tree heads whose signature and root were checked
    entries_checked: int = 0  # entries re-hashed (or, erased, accounted for)
    expired_through: int = 0  # entries 1..this were deleted under retention
    erased: list = field(default_factory=list)  # (entry, erasure entry) pairs


class LogVerifier:
    """Re-derives the log from its entries, in index order, and checks every signed tree head
    (signatures already checked) as the entries pass its size. Not thread-safe."""

    def __init__(self, checkpoints, start=0, frontier=()):
        self._checkpoints = sorted(checkpoints, key=lambda s: s.tree_size)
        self._range = CompactRange(start, frontier)
        self._next = 0
        self._expected_expiry = start
        self.expiry_entry = 0
        self.erased = []
        self._claims = {}  # erasure entry -> entries that name it
        self._last_good = 0
        while self._next < len(self._checkpoints) and \
                self._checkpoints[self._next].tree_size <= start:
            sth = self._checkpoints[self._next]
            if sth.tree_size == start:
                if self._range.root() != sth.root_hash:
                    raise errors.VerificationFailed(
                        f"the hashes given for entries 1..{start} do not match the signed tree "
                        "head of that size")
                self._last_good = start
            self._next += 1
        if start and self._last_good != start:
            raise errors.VerificationFailed(
                f"entries 1..{start} expired, but no signed tree head of exactly that size is "
                "kept to verify the rest from")

    @property
    def size(self):
        return self._range.size

    def add_stored(self, stored):
        """Checks the next entry, as the log stores it."""
        expected = self._range.size + 1
        entry = audit_pb2.AuditEntry()
        try:
            entry.ParseFromString(stored)
            canonical = canonical_bytes(stored)
        except Exception:  # DecodeError or ValueError
            raise errors.VerificationFailed(
                f"entry {expected} was altered: its stored bytes do not parse", expected) from None
        if entry.index != expected:
            how = "is missing or moved" if entry.index > expected else "is out of order"
            raise errors.VerificationFailed(
                f"entry {expected} {how} (found entry {entry.index} in its place)", expected)
        if entry.erased_by:
            if entry.erased_by <= expected or len(entry.leaf_hash) != HASH_SIZE:
                raise errors.VerificationFailed(
                    f"entry {expected} was altered: it claims an impossible erasure", expected)
            # The stored leaf hash stands in for the erased contents; the erasure must list it.
            leaf = entry.leaf_hash
            self.erased.append((expected, entry.erased_by))
            self._claims.setdefault(entry.erased_by, []).append(expected)
        else:
            leaf = hash_leaf(canonical)
            if leaf != entry.leaf_hash:
                raise errors.VerificationFailed(
                    f"entry {expected} was altered: its contents do not match its leaf hash",
                    expected)
            if entry.origin == SELF_ORIGIN and entry.record.HasField("erasure"):
                self._confirm(entry)
        self._range.append(leaf)
        self._check_checkpoints()

    def _confirm(self, entry):
        erasure = entry.record.erasure
        kind = entry.record.kind
        if (kind == audit_pb2.AUDIT_KIND_EXPIRY and self._expected_expiry
                and erasure.expired_through == self._expected_expiry):
            self.expiry_entry = entry.index
        if kind != audit_pb2.AUDIT_KIND_ERASURE:
            return
        listed = set(erasure.entries)
        for claimed in self._claims.pop(entry.index, []):
            if claimed not in listed:
                raise errors.VerificationFailed(
                    f"entry {claimed} was altered: it is marked erased by entry {entry.index}, "
                    "which does not list it", claimed)

    def _check_checkpoints(self):
        size = self._range.size
        while self._next < len(self._checkpoints) and \
                self._checkpoints[self._next].tree_size <= size:
            sth = self._checkpoints[self._next]
            if sth.tree_size == size:
                if self._range.root() != sth.root_hash:
                    first = self._last_good + 1
                    raise errors.VerificationFailed(
                        f"entries {first}..{size} do not match the signed tree head of size "
                        f"{size} (an entry in that range was altered, removed or inserted "
                        "together with its leaf hash)", first)
                self._last_good = size
            self._next += 1

    def finish(self):
        """After the last entry: every signed tree head reached, every erasure confirmed, the
        expiry recorded."""
        if self._next < len(self._checkpoints):
            want = self._checkpoints[-1].tree_size
            raise errors.VerificationFailed(
                f"the log ends at entry {self._range.size} but a signed tree head covers {want} "
                "entries", self._range.size + 1)
        if self._claims:
            by, entries = min(self._claims.items())
            raise errors.VerificationFailed(
                f"entry {entries[0]} was altered: it is marked erased by entry {by}, which is "
                "not an erasure in this log", entries[0])
        if self._expected_expiry and not self.expiry_entry:
            raise errors.VerificationFailed(
                f"entries 1..{self._expected_expiry} are gone and no EXPIRY entry of the log "
                "accounts for them", 1)
