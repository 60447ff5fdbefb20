"""config/examples/tcp: every file passes its daemon's --validate, and a hub run on them serves
a partner over tcp:// + CurveZMQ through the partner's own client config (partner.yaml)."""

import shutil
import subprocess
import tempfile

import pytest

import asbhub
from asbhub.config import load_key_file
from conftest import BUILD, DAEMONS, SOURCE, Hub, asbctl, demo_events, free_port

EXAMPLE = "config/examples/tcp"


@pytest.mark.parametrize("daemon", DAEMONS)
def test_each_config_passes_validate(daemon):
    checked = subprocess.run(
        [str(BUILD / "services" / daemon / f"asb-{daemon}"), "--config",
         f"{EXAMPLE}/{daemon}.yaml", "--validate"],
        cwd=SOURCE, capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_partner_config_is_a_client_config(monkeypatch):
    monkeypatch.delenv("ASBHUB_HOST", raising=False)
    config = asbhub.load_client_config(SOURCE / EXAMPLE / "partner.yaml")
    assert config.notify_endpoint == "tcp://hub.example.org:7103"
    assert config.sharing_endpoint == "tcp://hub.example.org:7102"


@pytest.fixture
def tcp_hub(monkeypatch):
    ports = {f"ASBHUB_{d.upper()}_PORT": str(free_port()) for d in DAEMONS}
    data = tempfile.mkdtemp(prefix="asbtcp.")
    hub = Hub(data, configs={d: f"{EXAMPLE}/{d}.yaml" for d in DAEMONS},
              env={"ASBHUB_BIND": "127.0.0.1", **ports})
    monkeypatch.chdir(SOURCE)
    hub.start()
    # The partner's side: its config, the hub's address and ports, its keys folder.
    for name, value in ports.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("ASBHUB_HOST", "127.0.0.1")
    monkeypatch.setenv("ASBHUB_PARTNER_KEYS", str(SOURCE / "config/keys/demo"))
    yield hub, ports
    hub.stop()
    shutil.rmtree(data, ignore_errors=True)


def test_a_partner_over_tcp(tcp_hub, tag):
    hub, ports = tcp_hub
    case_id, events = demo_events(tag)
    intake = asbhub.Daemon(f"tcp://127.0.0.1:{ports['ASBHUB_INTAKE_PORT']}",
                           load_key_file(SOURCE / "config/keys/demo/intake.pub").public_key)
    feed_keys = load_key_file(SOURCE / "config/keys/demo/council-feed.key", require_secret=True)
    with asbhub.Feed(intake, feed_keys) as feed:
        assert all(r.outcome == asbhub.SubmitResult.OUTCOME_ACCEPTED
                   for r in feed.submit(events))

    with asbhub.Partner.from_config(SOURCE / EXAMPLE / "partner.yaml",
                                    principal="police") as police:
        assert police.identity.principal == "police-partner"
        ours = []
        for alert in police.alerts(wait_ms=2000):
            ours.append(alert)
            if len(ours) == 4:
                break
        assert {a.disclosure.case_id for a in ours} == {case_id}
        view = police.get_case(case_id, on_behalf_of=asbhub.OnBehalfOf(
            officer_id="PC-4471", reason="tcp example test"))
        assert view.view.people

    pinged = asbctl("ping", "--as", "police", "--daemon", "notify", "--kind", "partner",
                    config=SOURCE / EXAMPLE / "partner.yaml")
    assert pinged.returncode == 0, pinged.stderr
    assert "knows this key as 'police-partner'" in pinged.stderr
