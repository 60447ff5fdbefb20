"""The examples run as an integrator runs them: python3 clients/python/examples/X.py from the
repository root against a running hub, with nothing on PYTHONPATH (they find the client and
the generated modules themselves)."""

import json
import os
import subprocess
import sys

import asbhub
from conftest import SOURCE, demo_events, wait_until

EXAMPLES = SOURCE / "clients/python/examples"


def run(example, *args):
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, str(EXAMPLES / example), *args], cwd=SOURCE, env=env,
                          capture_output=True, text=True, timeout=120)


def test_feed_alerts_and_audit_examples(hub, tag, tmp_path):
    case_id, events = demo_events(tag)
    path = tmp_path / "events.jsonl"
    path.write_text("".join(json.dumps(e) + "\n" for e in events))

    fed = run("feed.py", str(path))
    assert fed.returncode == 0, fed.stdout + fed.stderr
    assert f"{events[0]['sourceEventId']}: accepted as hub seq" in fed.stdout
    assert f"{len(events)} taken, 0 refused" in fed.stdout
    again = run("feed.py", str(path))
    assert f"{events[0]['sourceEventId']}: duplicate, stored once" in again.stdout

    # Probation is alerted of the order's issue and its breach. The example stops once none is
    # pending, so first wait until the access log shows notify has queued both.
    with asbhub.Auditor.from_config(principal="dpo") as dpo:
        wait_until(lambda: len([e for e in dpo.query(case_id=case_id, agency="probation",
                                                     kinds=["disclosure"])
                                if e.record.component == "notify"]) == 2,
                   what="probation's two alerts of the case")
    alerts = run("alerts.py", "--as", "probation", "--officer", "PO-118")
    assert alerts.returncode == 0, alerts.stdout + alerts.stderr
    assert alerts.stdout.count(f"case {case_id}: order_") == 2
    assert f"case {case_id} now:" in alerts.stdout  # looked up on the officer's behalf
    assert "handled and acknowledged" in alerts.stdout

    audited = run("audit.py", "--case", case_id)
    assert audited.returncode == 0, audited.stdout + audited.stderr
    assert "collection by council-feed" in audited.stdout
    assert "OK: " in audited.stdout and "signed tree heads verified" in audited.stdout


def test_an_example_says_what_is_wrong(hub):
    out = run("alerts.py", "--as", "nobody")
    assert out.returncode == 1
    assert "no key for 'nobody'" in out.stderr
    assert "Traceback" not in out.stderr
