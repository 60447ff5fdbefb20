"""A witness of the hub's access log, as Certificate Transparency's clients keep heads (README,
"The access log: tree heads, damage, witnesses"): the largest signed tree head seen, kept in a
file you name (JSON of asb.v1.AuditWitness, the file ``asbctl audit head --out`` writes and
``asbctl audit verify --witness`` reads), against which every head the hub shows — on every
answer of asb-audit and every alert pull of asb-notify (``Response.tree_head``) — is checked
with an RFC 9162 consistency proof. A hub that forks its log (two logs for two viewers) or
truncates it (entries it signed for are gone) is caught: :class:`WitnessFailed`, whose message
begins "FORK:" or "TRUNCATED:".

The check is the one asbctl makes (common/auditlog/witness.h):

1. an empty head (tree_size 0) is skipped; the head's Ed25519 signature must verify with the
   trusted key (the one given, else the file's, else — first use only — asb-audit's);
2. no file yet: the head is saved;
3. same size as the kept head: the roots must be equal (else FORK); otherwise asb-audit gives
   the consistency proof between the two sizes (any principal may ask): OUT_OF_RANGE while the
   new head is the smaller means the log no longer holds the kept one (TRUNCATED); a proof that
   does not verify is a FORK;
4. a larger head replaces the kept one (a temporary file, then a rename).
"""

import os
import tempfile
from datetime import datetime, timezone

from google.protobuf import json_format

from . import errors
from ._proto import audit_pb2
from .auditlog import check_signature, hash_children, load_public_key


class WitnessFailed(errors.DataLoss):
    """The hub showed a signed tree head that cannot belong to the log of the kept one: a fork
    or a truncation (the message says which), or a head the trusted key does not verify."""


def verify_consistency(first, second, first_hash, second_hash, proof):
    """True if `proof` (a list of 32-byte hashes) proves that the tree of `second` leaves with
    root `second_hash` extends the tree of `first` leaves with root `first_hash` (RFC 9162
    §2.1.4.2). 0 < first <= second."""
    if first == second:
        return not proof and first_hash == second_hash
    if first == 0 or first > second:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # an exact power of two: its root is the first node
        path.insert(0, first_hash)
    if not path:
        return False
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            if not fn & 1:
                while True:
                    fn >>= 1
                    sn >>= 1
                    if fn & 1 or fn == 0:
                        break
        else:
            sr = hash_children(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def _describe(sth):
    at = datetime.fromtimestamp(sth.timestamp_ms / 1000, tz=timezone.utc)
    return (f"size {sth.tree_size}, signed {at.strftime('%Y-%m-%dT%H:%M:%SZ')}, "
            f"root {sth.root_hash.hex()[:16]}…")


def read_witness(path):
    """The AuditWitness in file `path` (or a bare SignedTreeHead in JSON, as asbctl also
    takes); None if there is no file. WitnessFailed if it is not a witness file."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    witness = audit_pb2.AuditWitness()
    try:
        json_format.Parse(text, witness)
        if witness.HasField("tree_head"):
            return witness
    except json_format.ParseError:
        pass
    sth = audit_pb2.SignedTreeHead()
    try:
        json_format.Parse(text, sth)
    except json_format.ParseError:
        sth.Clear()
    if sth.tree_size == 0:
        raise WitnessFailed(f"{path}: not a witness file (an asb.v1.AuditWitness or "
                            "SignedTreeHead in JSON, as `asbctl audit head --out` writes)")
    witness = audit_pb2.AuditWitness(format_version=1)
    witness.tree_head.CopyFrom(sth)
    return witness


def write_witness(path, witness):
    """Writes `witness` to `path` atomically (owner-only)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".witness-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json_format.MessageToJson(witness))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class Witness:
    """Keeps the largest signed tree head a hub has shown, in `path`, and checks each new one
    against it. `consistency(m, n)` returns asb-audit's consistency proof from m to n entries
    (a list of hashes; raises OutOfRange if the log has fewer than n), `public_key_pem()` the
    key asb-audit publishes (used only when neither `trusted_key_pem` nor the file names one),
    `hub` names the hub in the file. Not thread-safe."""

    def __init__(self, path, consistency, public_key_pem=None, trusted_key_pem=None, hub=""):
        self.path = str(path)
        self._consistency = consistency
        self._public_key_pem = public_key_pem
        self._trusted = trusted_key_pem
        self._hub = hub
        self._last_checked = None

    def kept(self):
        """The SignedTreeHead kept (None before the first)."""
        witness = read_witness(self.path)
        return witness.tree_head if witness else None

    def see(self, head):
        """Checks `head` (an asb.v1.SignedTreeHead) against the kept one; keeps it if larger.
        Raises WitnessFailed on a fork, a truncation or a signature that does not verify."""
        if head.tree_size == 0:
            return
        serialized = head.SerializeToString()
        if serialized == self._last_checked:
            return
        kept = read_witness(self.path)
        if (kept is not None and self._trusted and kept.public_key_pem
                and kept.public_key_pem != self._trusted):
            raise WitnessFailed(f"the witness file {self.path} was kept for another signing key "
                                "than the one trusted now")
        pem = self._trusted or (kept.public_key_pem if kept is not None else "")
        if not pem:
            if self._public_key_pem is None:
                raise WitnessFailed("no tree-head signing key to check the hub's heads with")
            pem = self._public_key_pem()
        try:
            check_signature(head, load_public_key(pem))
        except errors.VerificationFailed as e:
            raise WitnessFailed(f"the hub showed a tree head that the key kept in {self.path} "
                                f"does not verify ({e.message}): another hub, or its signing "
                                "key was replaced") from None
        keep = kept is None
        if kept is not None:
            old = kept.tree_head
            if old.tree_size == head.tree_size:
                if old.root_hash != head.root_hash:
                    raise WitnessFailed(
                        f"FORK: the hub signed two different logs of the same size: the head "
                        f"seen now ({_describe(head)}) and the one kept in {self.path} "
                        f"({_describe(old)})")
            else:
                small, large = (old, head) if old.tree_size < head.tree_size else (head, old)
                try:
                    proof = list(self._consistency(small.tree_size, large.tree_size))
                except errors.OutOfRange:
                    if head.tree_size < old.tree_size:
                        raise WitnessFailed(
                            f"TRUNCATED: the log no longer holds the signed tree head kept in "
                            f"{self.path} ({_describe(old)}): the hub shows {head.tree_size} "
                            f"entries, so entries {head.tree_size + 1}..{old.tree_size} it "
                            "signed for are gone") from None
                    raise
                if not verify_consistency(small.tree_size, large.tree_size, small.root_hash,
                                          large.root_hash, proof):
                    raise WitnessFailed(
                        f"FORK: the log of the head seen now ({_describe(head)}) is not an "
                        f"extension of the one kept in {self.path} ({_describe(old)}) or the "
                        "other way round: entries signed before were rewritten")
                keep = head.tree_size > old.tree_size
        if keep:
            witness = audit_pb2.AuditWitness(format_version=1, hub=self._hub,
                                             public_key_pem=pem)
            witness.tree_head.CopyFrom(head)
            witness.saved_at.GetCurrentTime()
            write_witness(self.path, witness)
        self._last_checked = serialized
