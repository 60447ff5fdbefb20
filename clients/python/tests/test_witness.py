"""The Python client as a witness of the access log: RFC 9162 consistency proofs checked
against an independent tree, forks and truncations caught from a kept head, and a partner's
alert pulls and an auditor's answers keeping one witness file against the real hub."""

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from google.protobuf import json_format

import asbhub
from asbhub import audit_pb2
from asbhub.auditlog import hash_children, hash_leaf, sha256, signing_input
from asbhub.witness import Witness, WitnessFailed, read_witness, verify_consistency
from conftest import demo_events, wait_until


def _root(leaves):
    if not leaves:
        return sha256(b"")
    if len(leaves) == 1:
        return leaves[0]
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hash_children(_root(leaves[:k]), _root(leaves[k:]))


def _subproof(m, leaves, complete):
    """RFC 9162 §2.1.4.1 SUBPROOF(m, D[n], b)."""
    n = len(leaves)
    if m == n:
        return [] if complete else [_root(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return _subproof(m, leaves[:k], complete) + [_root(leaves[k:])]
    return _subproof(m - k, leaves[k:], False) + [_root(leaves[:k])]


def _leaves(n, tag=b""):
    return [hash_leaf(tag + b"entry %d" % i) for i in range(n)]


def test_consistency_proofs_of_every_pair_of_sizes_verify_and_altered_ones_do_not():
    leaves = _leaves(40)
    for n in range(1, 41):
        for m in range(1, n + 1):
            proof = _subproof(m, leaves[:n], True) if m < n else []
            first, second = _root(leaves[:m]), _root(leaves[:n])
            assert verify_consistency(m, n, first, second, proof), (m, n)
            if m < n:
                assert not verify_consistency(m, n, sha256(b"x"), second, proof), (m, n)
                assert not verify_consistency(m, n, first, sha256(b"x"), proof), (m, n)
                if proof:
                    bad = list(proof)
                    bad[-1] = sha256(b"y")
                    assert not verify_consistency(m, n, first, second, bad), (m, n)


class _FakeHub:
    """Signs heads over a list of leaves it can shrink or rewrite, and proves consistency the way
    asb-audit does (OutOfRange beyond its size)."""

    def __init__(self):
        self.key = Ed25519PrivateKey.generate()
        self.pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
        self.leaves = []

    def head(self, size=None):
        size = len(self.leaves) if size is None else size
        sth = audit_pb2.SignedTreeHead(tree_size=size, timestamp_ms=1780000000000 + size,
                                       root_hash=_root(self.leaves[:size]))
        sth.signature = self.key.sign(signing_input(sth))
        return sth

    def consistency(self, m, n):
        if n > len(self.leaves):
            raise asbhub.OutOfRange(f"tree size {n} is beyond the log's {len(self.leaves)}")
        return _subproof(m, self.leaves[:n], True)


def test_a_witness_keeps_the_largest_head_and_catches_a_fork_and_a_truncation(tmp_path):
    hub = _FakeHub()
    hub.leaves = _leaves(10)
    path = tmp_path / "witness.json"
    w = Witness(path, hub.consistency, lambda: hub.pem)
    w.see(hub.head())
    assert read_witness(path).tree_head.tree_size == 10
    assert read_witness(path).public_key_pem == hub.pem
    hub.leaves += _leaves(7, b"more ")
    w.see(hub.head())
    assert w.kept().tree_size == 17
    w.see(hub.head(12))  # an older head of the same log: the kept one stays
    assert w.kept().tree_size == 17

    # The newest entries deleted and the rest re-signed: the kept head is no longer in it.
    truncated = Witness(path, hub.consistency, lambda: hub.pem)
    hub.leaves = hub.leaves[:13]
    with pytest.raises(WitnessFailed, match="TRUNCATED: .* entries 14..17"):
        truncated.see(hub.head())

    # Entry 5 rewritten and the log re-signed and grown past the kept head: a fork.
    hub.leaves = _leaves(20)
    hub.leaves[4] = hash_leaf(b"rewritten")
    with pytest.raises(WitnessFailed, match="FORK: .* not an extension"):
        Witness(path, hub.consistency, lambda: hub.pem).see(hub.head())
    with pytest.raises(WitnessFailed, match="FORK: .* same size"):
        Witness(path, hub.consistency, lambda: hub.pem).see(hub.head(17))
    assert w.kept().tree_size == 17  # nothing was replaced by a bad head

    # Another key's heads are not this hub's.
    other = _FakeHub()
    other.leaves = _leaves(30)
    with pytest.raises(WitnessFailed, match="does not verify"):
        Witness(path, other.consistency, lambda: other.pem).see(other.head())


def test_a_witness_file_is_what_asbctl_writes(tmp_path):
    hub = _FakeHub()
    hub.leaves = _leaves(3)
    path = tmp_path / "head.json"
    Witness(path, hub.consistency, lambda: hub.pem).see(hub.head())
    saved = json.loads(path.read_text())
    assert saved["formatVersion"] == 1
    assert saved["treeHead"]["treeSize"] == "3"
    assert saved["publicKeyPem"] == hub.pem
    # A bare SignedTreeHead (JSON) is taken too.
    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps(saved["treeHead"]))
    assert read_witness(bare).tree_head.tree_size == 3
    (tmp_path / "junk.json").write_text("{}")
    with pytest.raises(WitnessFailed, match="not a witness file"):
        read_witness(tmp_path / "junk.json")


def test_a_partner_and_an_auditor_keep_one_witness_of_the_real_hub(hub, tag, tmp_path):
    path = tmp_path / "hub-witness.json"
    _, events = demo_events(tag)
    with asbhub.Feed.from_config(principal="council") as feed:
        feed.submit(events)
    with asbhub.Auditor.from_config(principal="dpo", witness=path) as dpo:
        first = dpo.tree_head(fresh=True).tree_head
        assert first.tree_size > 0
        assert read_witness(path).tree_head.tree_size == first.tree_size
    with asbhub.Partner.from_config(principal="police", witness=path) as police:
        # Every pull carries the latest head, once asb-notify has it from asb-audit.
        wait_until(lambda: police.pull(max=1, from_seq=1) is not None
                   and read_witness(path).tree_head.tree_size >= first.tree_size,
                   what="an alert pull carrying the head")
    _, more = demo_events(tag + "b")
    with asbhub.Feed.from_config(principal="council") as feed:
        feed.submit(more)
    with asbhub.Auditor.from_config(principal="dpo", witness=path) as dpo:
        wait_until(lambda: dpo.tree_head(fresh=True).tree_head.tree_size > first.tree_size,
                   what="the log to grow")
        assert read_witness(path).tree_head.tree_size > first.tree_size
    # A head of another log of the same size is a fork.
    forged = read_witness(path)
    forged.tree_head.root_hash = sha256(b"another log")
    path.write_text(json_format.MessageToJson(forged))
    with pytest.raises(WitnessFailed):
        with asbhub.Auditor.from_config(principal="dpo", witness=path) as dpo:
            dpo.tree_head()
