"""The real hub for the Python client's tests: the four daemons of this build, started from
the source tree with the shipped configs (or others) in a fresh data directory, as
``./asbhub up`` starts them. Readiness is each daemon's --ready-file, waited for against a
deadline. Children die with the test process (PR_SET_PDEATHSIG).

ctest runs this with PYTHONPATH holding the generated protobuf modules and the client, and
ASBHUB_BUILD_DIR naming the build.
"""

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[3]
BUILD = Path(os.environ.get("ASBHUB_BUILD_DIR", SOURCE / "build"))
DAEMONS = ("intake", "sharing", "notify", "audit")
ASBCTL = BUILD / "tools" / "asbctl" / "asbctl"

_PR_SET_PDEATHSIG = 1


def _die_with_parent():
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """The four daemons as child processes. configs: daemon → config file (default
    config/<daemon>.yaml); env: extra environment for them."""

    def __init__(self, data, configs=None, env=None):
        self.data = Path(data)
        self.configs = {d: f"config/{d}.yaml" for d in DAEMONS}
        self.configs.update(configs or {})
        # The shipped configs serve /metrics on fixed ports (ASBHUB_<DAEMON>_METRICS, default
        # 127.0.0.1:974x); a test hub takes free ones so hubs side by side do not collide.
        metrics = {f"ASBHUB_{d.upper()}_METRICS": "127.0.0.1:0" for d in DAEMONS}
        self.env = {**os.environ, **metrics, "ASBHUB_DATA": str(self.data), **(env or {})}
        self.procs = {}

    def log(self, daemon):
        return self.data / f"{daemon}.log"

    def tail(self, daemon, lines=15):
        try:
            return "\n".join(self.log(daemon).read_text().splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self, timeout=60):
        for d in DAEMONS:
            ready = self.data / f"{d}.ready"
            if ready.exists():
                ready.unlink()
            with open(self.log(d), "ab") as log:
                self.procs[d] = subprocess.Popen(
                    [str(BUILD / "services" / d / f"asb-{d}"), "--config", self.configs[d],
                     "--ready-file", str(ready)],
                    cwd=SOURCE, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                    preexec_fn=_die_with_parent)
        deadline = time.monotonic() + timeout
        for d in DAEMONS:
            while not (self.data / f"{d}.ready").exists():
                if self.procs[d].poll() is not None:
                    self.stop()
                    pytest.fail(f"asb-{d} exited during start-up:\n{self.tail(d)}")
                if time.monotonic() > deadline:
                    self.stop()
                    pytest.fail(f"asb-{d} not ready within {timeout} s:\n{self.tail(d)}")
                time.sleep(0.02)

    def stop(self):
        for d in reversed(DAEMONS):
            p = self.procs.get(d)
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for d in reversed(DAEMONS):
            p = self.procs.pop(d, None)
            if p is None:
                continue
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def asbctl(*args, env=None, config=None):
    """Runs asbctl with the shipped client config (or `config`); returns the CompletedProcess."""
    return subprocess.run([str(ASBCTL), "--hub", str(config or SOURCE / "config/asbctl.yaml"),
                           *args], cwd=SOURCE, env=env, capture_output=True, text=True,
                          timeout=60)


def wait_until(check, timeout=60.0, what="a condition"):
    """Polls check() every 50 ms until it returns something true; returns it. Fails the test
    naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def demo_events(tag):
    """The demo case (config/samples/cbo-demo.jsonl) as a fresh case: its case id and every
    source_event_id carry `tag`. Returns (case_id, events as dicts)."""
    import json
    case_id = f"CBC-T-{tag}"
    events = []
    for line in (SOURCE / "config/samples/cbo-demo.jsonl").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            e = json.loads(line)
            e["caseId"] = case_id
            e["sourceEventId"] = f"{e['sourceEventId']}-{tag}"
            events.append(e)
    return case_id, events


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:10]


@pytest.fixture(scope="session")
def hub():
    """One hub for the session, on the shipped configs; the working directory is the source
    tree and ASBHUB_DATA its data directory, so config/asbctl.yaml reaches it."""
    for pattern in ("config/keys/demo/*.key", "config/isp/keys/*.key"):
        for key in SOURCE.glob(pattern):
            key.chmod(0o600)  # git leaves them 0644, which the hub and the client refuse
    data = tempfile.mkdtemp(prefix="asbpy.")
    h = Hub(data)
    previous = os.getcwd(), os.environ.get("ASBHUB_DATA")
    os.chdir(SOURCE)
    os.environ["ASBHUB_DATA"] = data
    # asbctl's witnesses of this throw-away hub's access log stay with it.
    previous_witness_dir = os.environ.get("ASBHUB_WITNESS_DIR")
    os.environ["ASBHUB_WITNESS_DIR"] = os.path.join(data, "witness")
    h.start()
    yield h
    h.stop()
    os.chdir(previous[0])
    if previous[1] is None:
        os.environ.pop("ASBHUB_DATA", None)
    else:
        os.environ["ASBHUB_DATA"] = previous[1]
    if previous_witness_dir is None:
        os.environ.pop("ASBHUB_WITNESS_DIR", None)
    else:
        os.environ["ASBHUB_WITNESS_DIR"] = previous_witness_dir
    shutil.rmtree(data, ignore_errors=True)
