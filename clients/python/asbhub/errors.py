"""Errors as exceptions that carry the hub's status.

Every error the hub answers with (``Response.status``) is raised as a :class:`HubError` of the
subclass of its code: ``InvalidArgument``, ``NotFound``, ``PermissionDenied``, ``Unavailable``
... ``err.code`` is the ``asb.v1.StatusCode`` number (the same numbers as gRPC and
absl::StatusCode), ``err.code_name`` its short name ("INVALID_ARGUMENT"), ``err.message`` the
hub's words, ``err.request_id`` the request's id as echoed by the hub.

The client raises the same classes for what it sees itself: a refused key is
:class:`KeyRefused` (a PermissionDenied), a failed CurveZMQ handshake is
:class:`HandshakeFailed` (Unauthenticated), no answer in time is :class:`NoAnswer`
(DeadlineExceeded) saying how far the connection got.
"""

from ._proto import api_pb2

_PREFIX = "STATUS_CODE_"


def code_name(code):
    """'INVALID_ARGUMENT' for 3, ..."""
    try:
        return api_pb2.StatusCode.Name(code)[len(_PREFIX):]
    except ValueError:
        return str(code)


class HubError(Exception):
    """An error with the hub's status: code, code_name, message, request_id."""

    code = api_pb2.STATUS_CODE_UNKNOWN

    def __init__(self, message, code=None, request_id=0):
        super().__init__(message)
        if code is not None:
            self.code = code
        self.message = message
        self.request_id = request_id

    @property
    def code_name(self):
        return code_name(self.code)

    def __str__(self):
        return f"{self.code_name}: {self.message}"


def _subclass(name, code, doc):
    return type(name, (HubError,), {"code": code, "__doc__": doc})


Cancelled = _subclass("Cancelled", api_pb2.STATUS_CODE_CANCELLED, "Cancelled.")
Unknown = _subclass("Unknown", api_pb2.STATUS_CODE_UNKNOWN, "Unknown error.")
InvalidArgument = _subclass(
    "InvalidArgument", api_pb2.STATUS_CODE_INVALID_ARGUMENT,
    "Malformed request or event: fix it and send again.")
DeadlineExceeded = _subclass(
    "DeadlineExceeded", api_pb2.STATUS_CODE_DEADLINE_EXCEEDED, "No answer in time.")
NotFound = _subclass("NotFound", api_pb2.STATUS_CODE_NOT_FOUND, "No such case or record.")
AlreadyExists = _subclass(
    "AlreadyExists", api_pb2.STATUS_CODE_ALREADY_EXISTS,
    "Already exists: e.g. a source_event_id accepted earlier with other content.")
PermissionDenied = _subclass(
    "PermissionDenied", api_pb2.STATUS_CODE_PERMISSION_DENIED,
    "This principal may not do this (or its key is not authorised).")
ResourceExhausted = _subclass(
    "ResourceExhausted", api_pb2.STATUS_CODE_RESOURCE_EXHAUSTED, "A limit was reached.")
FailedPrecondition = _subclass(
    "FailedPrecondition", api_pb2.STATUS_CODE_FAILED_PRECONDITION,
    "Not possible in the current state; do not retry unchanged.")
Aborted = _subclass("Aborted", api_pb2.STATUS_CODE_ABORTED, "Aborted.")
OutOfRange = _subclass("OutOfRange", api_pb2.STATUS_CODE_OUT_OF_RANGE, "Out of range.")
Unimplemented = _subclass(
    "Unimplemented", api_pb2.STATUS_CODE_UNIMPLEMENTED,
    "This daemon does not answer this request.")
Internal = _subclass("Internal", api_pb2.STATUS_CODE_INTERNAL, "A bug in the hub.")
Unavailable = _subclass(
    "Unavailable", api_pb2.STATUS_CODE_UNAVAILABLE,
    "Temporarily unavailable (the pipeline is behind: backpressure; storage full; upstream "
    "down): nothing was done; retry the same request later.")
DataLoss = _subclass("DataLoss", api_pb2.STATUS_CODE_DATA_LOSS, "Data corrupted.")
Unauthenticated = _subclass(
    "Unauthenticated", api_pb2.STATUS_CODE_UNAUTHENTICATED, "No valid credentials.")

_BY_CODE = {cls.code: cls for cls in (
    Cancelled, Unknown, InvalidArgument, DeadlineExceeded, NotFound, AlreadyExists,
    PermissionDenied, ResourceExhausted, FailedPrecondition, Aborted, OutOfRange, Unimplemented,
    Internal, Unavailable, DataLoss, Unauthenticated)}


class KeyRefused(PermissionDenied):
    """The hub refused this client's CurveZMQ key at the handshake: not a principal of its ISP."""


class HandshakeFailed(Unauthenticated):
    """The CurveZMQ handshake failed: the server key is not that daemon's, or no CurveZMQ."""


class NoAnswer(DeadlineExceeded):
    """Nothing answered in time; the message says how far the connection got."""


class ConnectionLost(Unavailable):
    """The daemon closed the connection while a request was pending: no answer will come."""


class WrongRole(PermissionDenied):
    """The hub knows this key, but as a principal of another role than the client needs."""


class VerificationFailed(DataLoss):
    """The access log does not verify; ``first_bad`` is the first bad entry (0: not one)."""

    def __init__(self, message, first_bad=0):
        super().__init__(message)
        self.first_bad = first_bad


def from_status(status, request_id=0):
    """The exception for an ``asb.v1.Status`` that is not OK."""
    cls = _BY_CODE.get(status.code, HubError)
    return cls(status.message, code=status.code, request_id=request_id)
