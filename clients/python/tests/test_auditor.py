"""Auditor.query() and verify() against the real asb-audit, and the verifier on altered bytes."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import asbhub
from asbhub import api_pb2, audit_pb2
from asbhub.auditlog import LogVerifier, canonical_bytes
from conftest import demo_events, wait_until


@pytest.fixture
def dpo(hub):
    with asbhub.Auditor.from_config(principal="dpo") as a:
        yield a


@pytest.fixture
def case(hub, tag):
    case_id, events = demo_events(tag)
    with asbhub.Feed.from_config(principal="council") as feed:
        feed.submit(events)
    return case_id, len(events)


def test_query_pages_through_a_case(dpo, case):
    case_id, n = case
    def all_collected():
        got = list(dpo.query(case_id=case_id, kinds=["collection"], page_size=2))
        return got if len(got) == n else None

    collected = wait_until(all_collected, what=f"{n} collections of the case")
    assert [e.index for e in collected] == sorted(e.index for e in collected)
    assert {e.record.case_id for e in collected} == {case_id}
    assert {e.record.actor for e in collected} == {"council-feed"}


def test_verify_checks_the_whole_log(dpo, case):
    report = dpo.verify()
    assert report.tree_size > 0
    assert report.entries_checked == report.tree_size  # nothing expired in a fresh hub
    assert report.tree_heads >= 1
    assert len(bytes.fromhex(report.root_hash)) == 32


def test_verify_refuses_a_key_that_did_not_sign(dpo, case):
    other = Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    with pytest.raises(asbhub.VerificationFailed, match="signature does not verify"):
        dpo.verify(public_key_pem=other)


def _stored_log(dpo):
    """The head, its history, and the stored bytes of entries 1..head."""
    heads = dpo.tree_head(fresh=True, with_history=True)
    request = api_pb2.Request()
    request.audit_query.stored = True
    request.audit_query.limit = 10000
    page = dpo._call("audit", request).audit
    stored = list(api_pb2.StoredAuditEntries.FromString(page.stored_page).entries)
    head = heads.tree_head
    return head, list(heads.history), stored[:head.tree_size]


def test_an_altered_entry_is_named(dpo, case):
    head, history, stored = _stored_log(dpo)
    checkpoints = [h for h in history if h.tree_size <= head.tree_size] + [head]
    honest = LogVerifier(checkpoints)
    for entry in stored:
        honest.add_stored(entry)
    honest.finish()

    # Change one byte of entry 3's record (its detail text) and keep the stored leaf hash.
    entry = audit_pb2.AuditEntry.FromString(stored[2])
    entry.record.detail += "!"
    altered = list(stored)
    altered[2] = entry.SerializeToString()
    verifier = LogVerifier(checkpoints)
    with pytest.raises(asbhub.VerificationFailed) as failed:
        for e in altered:
            verifier.add_stored(e)
    assert failed.value.first_bad == 3
    assert "entry 3 was altered" in str(failed.value)

    # Dropping an entry is caught by its index.
    verifier = LogVerifier(checkpoints)
    with pytest.raises(asbhub.VerificationFailed, match="entry 2 is missing"):
        for e in stored[:1] + stored[2:]:
            verifier.add_stored(e)


def test_canonical_bytes_are_the_entry_without_leaf_hash_and_erasure():
    entry = audit_pb2.AuditEntry(index=7, origin="intake/audit", origin_seq=3,
                                 leaf_hash=b"\x01" * 32, erased_by=9)
    entry.record.detail = "x"
    bare = audit_pb2.AuditEntry()
    bare.CopyFrom(entry)
    bare.ClearField("leaf_hash")
    bare.ClearField("erased_by")
    assert canonical_bytes(entry.SerializeToString()) == bare.SerializeToString(
        deterministic=True)
    with pytest.raises(ValueError):
        canonical_bytes(b"\x0a\x05ab")  # a field longer than the bytes
