"""What a client is told when its connection cannot work (docs/protocol.md, "When the
handshake fails"): in words, within seconds — from the Python client and from asbctl — and
what the hub records of it."""

import shutil
import time

import pytest
import zmq

import asbhub
from asbhub import api_pb2
from asbhub.config import load_key_file
from conftest import SOURCE, asbctl, wait_until

KEYS = SOURCE / "config/keys/demo"


def intake(hub, key="intake.pub", endpoint=None):
    return asbhub.Daemon(endpoint or f"ipc://{hub.data}/run/intake.api",
                         load_key_file(KEYS / key).public_key, f"keys/{key}")


def feed_keys():
    return load_key_file(KEYS / "council-feed.key", require_secret=True)


def stranger():
    public, secret = zmq.curve_keypair()
    return asbhub.KeyPair("stranger", public.decode(), secret.decode())


def test_a_key_the_hub_does_not_know_is_refused_at_once(hub):
    keys = stranger()
    started = time.monotonic()
    with pytest.raises(asbhub.KeyRefused) as refused:
        asbhub.Feed(intake(hub), keys)
    assert time.monotonic() - started < 5
    assert refused.value.code == api_pb2.STATUS_CODE_PERMISSION_DENIED
    assert keys.public_key[:8] in refused.value.message
    assert "not a principal of the hub's ISP" in refused.value.message


def test_a_wrong_server_key_is_named(hub):
    started = time.monotonic()
    with pytest.raises(asbhub.HandshakeFailed) as failed:
        asbhub.Feed(intake(hub, key="sharing.pub"), feed_keys())
    assert time.monotonic() - started < 5
    assert "keys/sharing.pub" in failed.value.message
    assert failed.value.code == api_pb2.STATUS_CODE_UNAUTHENTICATED


def test_nothing_listening_is_said_after_the_connect_timeout(hub):
    started = time.monotonic()
    with pytest.raises(asbhub.NoAnswer, match="nothing accepted the connection"):
        asbhub.Feed(intake(hub, endpoint=f"ipc://{hub.data}/run/nobody.api"), feed_keys(),
                    connect_timeout=1.0)
    assert time.monotonic() - started < 5


def test_a_key_of_another_role_is_told_its_role(hub):
    with pytest.raises(asbhub.WrongRole, match="'police-partner'.*needs a ROLE_FEED key"):
        asbhub.Feed(intake(hub), load_key_file(KEYS / "police-partner.key", True))


def test_a_key_file_with_mismatched_halves_is_refused_when_loaded(tmp_path):
    public, _ = zmq.curve_keypair()
    _, secret = zmq.curve_keypair()
    path = tmp_path / "mixed.key"
    path.write_text(f'name: "mixed"\npublic_key: "{public.decode()}"\n'
                    f'secret_key: "{secret.decode()}"\n')
    path.chmod(0o600)
    with pytest.raises(asbhub.ConfigError, match="does not belong to secret_key"):
        load_key_file(path, require_secret=True)


def test_a_plaintext_client_is_recorded_as_one(hub):
    """The hub's access log says a client came without CurveZMQ — not "a key that is not the
    client's own". Which side notices the mismatch first is a race: the record says "without
    CurveZMQ (a plaintext client …)" or "closed by the client during the handshake (as a client
    without CurveZMQ, e.g. a plaintext one, does …)"."""
    context = zmq.Context.instance()
    plain = context.socket(zmq.DEALER)
    plain.linger = 0
    plain.connect(f"ipc://{hub.data}/run/intake.api")
    request = api_pb2.Request()
    request.ping.SetInParent()
    plain.send_multipart([b"", request.SerializeToString()])
    with asbhub.Auditor.from_config(principal="dpo") as dpo:
        [record] = wait_until(lambda: [
            e.record for e in dpo.query(kinds=["rejection"])
            if e.record.component == "intake" and "CurveZMQ handshake failed" in e.record.detail
            and "plaintext" in e.record.detail], what="the plaintext client's record")[-1:]
    assert "not the client's own" not in record.detail
    plain.close()


def test_a_malformed_request_gets_its_request_id_back(hub):
    with asbhub.Feed(intake(hub), feed_keys()) as feed:
        request = api_pb2.Request(request_id=0)  # no body: malformed
        with pytest.raises(asbhub.InvalidArgument, match="no body") as bad:
            feed._connections["intake"].call(request, 5)
        assert bad.value.request_id == request.request_id != 0


def test_asbctl_says_the_same(hub, tmp_path):
    ok = asbctl("ping", "--as", "council")
    assert ok.returncode == 0, ok.stderr
    assert "knows this key as 'council-feed' (agency community-safety, ROLE_FEED)" in ok.stderr

    # A keys folder whose intake.pub is another daemon's key.
    keys = tmp_path / "keys"
    shutil.copytree(KEYS, keys)
    shutil.copy(KEYS / "sharing.pub", keys / "intake.pub")
    for key in keys.glob("*.key"):
        key.chmod(0o600)
    config = tmp_path / "asbctl.yaml"
    config.write_text((SOURCE / "config/asbctl.yaml").read_text().replace(
        '"config/keys/demo"', f'"{keys}"'))
    wrong = asbctl("ping", "--as", "council", config=config)
    assert wrong.returncode == 1
    assert "server closed the connection" in wrong.stderr
    assert f"{keys}/intake.pub" in wrong.stderr

    shutil.copy(KEYS / "intake.pub", keys / "intake.pub")
    new = asbctl("keys", "generate", "stranger", "--dir", str(keys))
    assert new.returncode == 0, new.stderr
    refused = asbctl("ping", "--as", "stranger", config=config)
    assert refused.returncode == 2  # not authorised
    assert "is not authorised by this hub" in refused.stderr
