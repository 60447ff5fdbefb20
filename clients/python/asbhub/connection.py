"""One CurveZMQ connection to one daemon of the hub (docs/protocol.md, "Sockets and framing").

A DEALER socket sends [empty][Request] and receives [empty][Response]; who is asking is the
CurveZMQ key of the connection. The socket monitor turns a failed handshake into an exception
that says what happened, at once, instead of the silence a refused ZeroMQ client otherwise
gets (libzmq retries the connection quietly for ever).
"""

import itertools
import os
import time
from dataclasses import dataclass

import zmq
from zmq.utils.monitor import parse_monitor_message

from . import errors
from ._proto import api_pb2
from .config import ConfigError, is_z85_key

_monitor_ids = itertools.count(1)

_MONITORED = (zmq.EVENT_CONNECTED | zmq.EVENT_CONNECT_RETRIED | zmq.EVENT_DISCONNECTED
              | zmq.EVENT_HANDSHAKE_SUCCEEDED
              | zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
              | zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL)

# Replies may be large (a page of access-log entries); what the hub accepts from us is its own
# limit (server.max_message_bytes, 4 MiB by default).
DEFAULT_MAX_REPLY_BYTES = 64 << 20


def key_prefix(key):
    """The first 8 characters of a key and an ellipsis: enough to name it, no more."""
    return key[:8] + "…"


@dataclass(frozen=True)
class Daemon:
    """Where one daemon is: its API endpoint and its CurveZMQ public key (Z85).

    key_file names where the key came from, for messages only."""

    endpoint: str
    public_key: str
    key_file: str = ""


class Connection:
    """A DEALER connection to one daemon as one principal (``keys``). Not thread-safe."""

    def __init__(self, daemon, keys, *, context=None, max_reply_bytes=DEFAULT_MAX_REPLY_BYTES):
        if not is_z85_key(daemon.public_key):
            raise ConfigError(f"server public key for {daemon.endpoint} is not a 40-character "
                              "Z85 key")
        self.daemon = daemon
        self.keys = keys
        self._context = context or zmq.Context.instance()
        self._next_id = 1
        self._connected = False
        self._authenticated = False
        self._retries = 0
        self._failure = None  # (exception class, message) of the last failed handshake
        self._disconnected = False  # the connection dropped (since the last call began)
        self._socket = self._context.socket(zmq.DEALER)
        self._socket.linger = 0
        self._socket.maxmsgsize = max_reply_bytes
        self._socket.curve_serverkey = daemon.public_key.encode()
        self._socket.curve_publickey = keys.public_key.encode()
        self._socket.curve_secretkey = keys.secret_key.encode()
        # pyzmq's get_monitor_socket() names the monitor by file descriptor, which a closed
        # socket's successor reuses: a name of our own never collides.
        address = f"inproc://asbhub-monitor-{os.getpid()}-{next(_monitor_ids)}"
        self._socket.monitor(address, _MONITORED)
        self._monitor = self._context.socket(zmq.PAIR)
        self._monitor.linger = 0
        self._monitor.connect(address)
        self._socket.connect(daemon.endpoint)

    def close(self):
        if self._socket.closed:
            return
        self._socket.disable_monitor()
        self._monitor.close()
        self._socket.close()

    def call(self, request, timeout, connect_timeout=None):
        """Sends `request` (an asb.v1.Request; request_id is set here) and returns its
        asb.v1.Response. A response whose status is not OK is raised as its HubError; a failed
        handshake as KeyRefused / HandshakeFailed; no answer within `timeout` seconds as
        NoAnswer — or, with connect_timeout, as soon as nothing has accepted the connection
        for that long."""
        request_id = self._next_id
        self._next_id += 1
        request.request_id = request_id
        self._read_monitor()
        self._raise_failure()  # a handshake that failed before and has not succeeded since
        self._disconnected = False  # a drop before this call is not this call's
        try:
            self._socket.send_multipart([b"", request.SerializeToString()], flags=zmq.NOBLOCK)
        except zmq.Again:
            raise errors.Unavailable(f"cannot send to {self.daemon.endpoint}: its queue is full "
                                     "(the connection is not up)") from None
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        poller.register(self._monitor, zmq.POLLIN)
        started = time.monotonic()
        deadline = started + timeout
        if connect_timeout is not None and connect_timeout < timeout:
            deadline = started + connect_timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self._raise_failure()
                if self._connected and deadline < started + timeout:
                    deadline = started + timeout  # it connected: wait the full timeout
                    continue
                raise self._no_answer(deadline - started)
            ready = dict(poller.poll(min(remaining, 0.1) * 1000))
            if self._monitor in ready:
                self._read_monitor()
                self._raise_failure()
                if self._disconnected and self._socket not in ready:
                    raise errors.ConnectionLost(
                        f"{self.daemon.endpoint} closed the connection while request "
                        f"{request_id} was pending, so no answer will come; it may or may not "
                        "have been handled (a submission may be sent again: it is stored once). "
                        "The hub closes a connection whose message is larger than its "
                        "max_message_bytes (4 MiB by default): split such a request")
            if self._socket in ready:
                response = self._receive(request_id)
                if response is not None:
                    return response

    def _receive(self, request_id):
        while True:
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return None
            response = api_pb2.Response()
            try:
                if len(frames) != 2:
                    raise ValueError
                response.ParseFromString(frames[1])
            except Exception:  # a DecodeError, or the wrong frames
                raise errors.InvalidArgument(
                    f"malformed reply from {self.daemon.endpoint}") from None
            # 0: an error the hub could not tie to a request (older hubs answered every
            # malformed request so).
            if response.request_id not in (request_id, 0):
                continue  # a late answer to an earlier call that timed out
            if response.status.code != api_pb2.STATUS_CODE_OK:
                raise errors.from_status(response.status, response.request_id)
            return response

    def _read_monitor(self):
        while True:
            try:
                event = parse_monitor_message(self._monitor.recv_multipart(zmq.NOBLOCK))
            except zmq.Again:
                return
            kind, value = event["event"], event["value"]
            if kind == zmq.EVENT_CONNECTED:
                self._connected = True
            elif kind == zmq.EVENT_CONNECT_RETRIED:
                self._retries += 1
            elif kind == zmq.EVENT_DISCONNECTED:
                self._disconnected = True
            elif kind == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                self._authenticated = True
                self._failure = None
            else:
                self._failure = self._describe(kind, value)

    def _describe(self, kind, value):
        d, keys = self.daemon, self.keys
        if kind == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            if value in (300, 500):  # RFC 27: the hub's authenticator, not the key
                return errors.Unavailable, (
                    f"the hub at {d.endpoint} could not check key {key_prefix(keys.public_key)} "
                    f"(authenticator status {value}): retry later")
            return errors.KeyRefused, (
                f"key {key_prefix(keys.public_key)} ({keys.name}) is not authorised by this hub "
                f"({d.endpoint}): its public key is not a principal of the hub's ISP (never "
                "listed, or removed); send the public key to the hub's administrator")
        if (kind == zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
                and value == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH):
            return errors.HandshakeFailed, (
                f"{d.endpoint} does not speak CurveZMQ: it is not an asbhub daemon's API "
                "endpoint")
        # The hub closes a connection whose hello does not decrypt with its secret key; the
        # client sees that as a failure without detail (its own key pair was checked when
        # loaded).
        source = f" (from {d.key_file})" if d.key_file else ""
        return errors.HandshakeFailed, (
            f"the secure handshake with {d.endpoint} failed: the server closed the "
            "connection, so it is not the owner of the server public key used for it, "
            f"{key_prefix(d.public_key)}{source}: check that this is the daemon's own .pub key")

    def _raise_failure(self):
        if self._failure is not None:
            cls, message = self._failure
            raise cls(message)

    def _no_answer(self, timeout):
        within = f"no answer from {self.daemon.endpoint} within {timeout:g} s"
        if not self._connected:
            tried = f" ({self._retries} attempts refused)" if self._retries else ""
            return errors.NoAnswer(f"{within}: nothing accepted the connection{tried}: is the "
                                   "daemon running, and is the endpoint right?")
        if not self._authenticated:
            return errors.NoAnswer(f"{within}: connected, but the CurveZMQ handshake did not "
                                   "complete: is this an asbhub daemon's API endpoint?")
        return errors.NoAnswer(f"{within} (connected and authenticated): the daemon is busy or "
                               "stuck; see its log")
