"""asbhub: a Python client of the Community Safety Partnership hub.

    import asbhub
    with asbhub.Feed.from_config("config/asbctl.yaml", principal="council") as feed:
        for r in feed.submit(events):
            ...
    with asbhub.Partner.from_config(principal="police") as police:
        for alert in police.alerts(follow=False):
            ...
    with asbhub.Auditor.from_config(principal="dpo") as dpo:
        report = dpo.verify()

The wire protocol it speaks is docs/protocol.md; the messages are the hub's own protobuf
modules (asbhub.api_pb2, ...), generated from proto/ by the build. Needs Debian's python3-zmq,
python3-protobuf, python3-yaml and python3-cryptography (run it with /usr/bin/python3).
"""

try:
    import cryptography  # noqa: F401
    import google.protobuf  # noqa: F401
    import yaml  # noqa: F401
    import zmq  # noqa: F401
except ImportError as e:
    raise ImportError(
        f"asbhub needs Debian's python3-zmq, python3-protobuf, python3-yaml and "
        f"python3-cryptography ({e}): ./asbhub deps installs them; run with /usr/bin/python3 "
        "if another python3 comes first on PATH") from None

from ._proto import api_pb2, audit_pb2, daemons_pb2, events_pb2, types_pb2  # noqa: E402
from .auditlog import VerifyReport
from .clients import CARRIES_ON_BEHALF_OF, Auditor, Feed, Partner
from .config import ConfigError, KeyPair, load_client_config, load_key_file
from .connection import Connection, Daemon
from .witness import Witness, WitnessFailed
from .errors import (AlreadyExists, ConnectionLost, DataLoss, DeadlineExceeded, FailedPrecondition,
                     HandshakeFailed, HubError, Internal, InvalidArgument, KeyRefused, NoAnswer,
                     NotFound, OutOfRange, PermissionDenied, ResourceExhausted, Unauthenticated,
                     Unavailable, Unimplemented, VerificationFailed, WrongRole)

OnBehalfOf = types_pb2.OnBehalfOf
CaseEvent = events_pb2.CaseEvent
SubmitResult = api_pb2.SubmitResult

__all__ = [
    "AlreadyExists", "Auditor", "CARRIES_ON_BEHALF_OF", "CaseEvent", "ConfigError",
    "ConnectionLost",
    "Connection", "Daemon", "DataLoss", "DeadlineExceeded", "FailedPrecondition", "Feed",
    "HandshakeFailed", "HubError", "Internal", "InvalidArgument", "KeyPair", "KeyRefused",
    "NoAnswer", "NotFound", "OnBehalfOf", "OutOfRange", "Partner", "PermissionDenied",
    "ResourceExhausted", "SubmitResult", "Unauthenticated", "Unavailable", "Unimplemented",
    "VerificationFailed", "VerifyReport", "Witness", "WitnessFailed", "WrongRole", "api_pb2", "audit_pb2", "daemons_pb2",
    "events_pb2", "load_client_config", "load_key_file", "types_pb2",
]
