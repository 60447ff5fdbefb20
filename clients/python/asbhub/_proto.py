"""The hub's protobuf modules (package asb.v1 and asb.config.v1), generated from proto/ by the
build (``./asbhub build`` writes them into build/clients/python/gen; they are never committed).

They are found on sys.path (PYTHONPATH), else in $ASBHUB_BUILD_DIR/clients/python/gen, else in
the build/ folder of the checkout this package lives in.
"""

import os
import sys
from pathlib import Path


def _import():
    from asb.config.v1 import common_pb2, daemons_pb2  # noqa: F401
    from asb.v1 import api_pb2, audit_pb2, events_pb2, types_pb2  # noqa: F401

    return api_pb2, audit_pb2, events_pb2, types_pb2, common_pb2, daemons_pb2


try:
    api_pb2, audit_pb2, events_pb2, types_pb2, common_pb2, daemons_pb2 = _import()
except ImportError:
    _checkout = Path(__file__).resolve().parents[3]
    _build = Path(os.environ.get("ASBHUB_BUILD_DIR", _checkout / "build"))
    _gen = _build / "clients" / "python" / "gen"
    if not (_gen / "asb" / "v1" / "api_pb2.py").exists():
        raise ImportError(
            f"the hub's protobuf modules are not built: no {_gen}/asb/v1/api_pb2.py. Run "
            "./asbhub build (it generates them from proto/), or put the folder holding asb/v1/ "
            "on PYTHONPATH (or set ASBHUB_BUILD_DIR)") from None
    sys.path.insert(0, str(_gen))
    api_pb2, audit_pb2, events_pb2, types_pb2, common_pb2, daemons_pb2 = _import()
