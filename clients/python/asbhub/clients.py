"""The hub as a feed, a partner agency's system and an auditor see it (docs/protocol.md).

Each client connects to the daemons it needs with one principal's CurveZMQ key and, unless
told not to (hello=False), says hello first: a Ping to each daemon, which answers with the
principal, agency and role the hub knows the key as — so a refused key, a wrong server key or a
key of the wrong role is an exception at once, and an endpoint where nothing listens one after
connect_timeout seconds, not a silent hang. Not thread-safe: one client per thread.

With witness=FILE (a partner's or an auditor's client) the client is a witness of the access
log (asbhub.witness): every signed tree head an answer carries (Response.tree_head: each answer
of asb-audit, each alert pull of asb-notify) is checked against the largest one kept in FILE
with a consistency proof from asb-audit, and a fork or a truncation raises WitnessFailed.
"""

import logging
import time
from datetime import datetime, timezone

from google.protobuf import json_format

from . import errors
from ._proto import api_pb2, audit_pb2, events_pb2, types_pb2
from .auditlog import LogVerifier, VerifyReport, check_signature, load_public_key
from .config import endpoint_of, load_client_config, load_key_file, principal_key_file
from .connection import Connection, Daemon, key_prefix
from .witness import Witness

_log = logging.getLogger("asbhub")

DEFAULT_CONFIG = "config/asbctl.yaml"
# The hub's limits (docs/protocol.md, "Limits").
MAX_EVENTS_PER_SUBMIT = 1000  # IntakeConfig.max_events_per_submit's default
MAX_REQUEST_BYTES = 4 << 20  # ServerConfig.max_message_bytes's default
MAX_PULL = 1000
MAX_WAIT_MS = 30000
# A pull from beyond any head takes nothing and says where the cursor is.
_PROBE_SEQ = (1 << 64) - 1
# Whether this hub's api.proto lets GetCase carry the officer, purpose and reason.
CARRIES_ON_BEHALF_OF = "on_behalf_of" in api_pb2.GetCaseRequest.DESCRIPTOR.fields_by_name


class _Client:
    _ROLE = types_pb2.ROLE_UNSPECIFIED
    _KIND = ""  # the key kind asbctl looks for: keys_dir/<name>-<kind>.key

    def __init__(self, daemons, keys, *, timeout=10.0, hello=True, connect_timeout=3.0,
                 context=None, witness=None, audit=None, trusted_key_pem=None):
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.keys = keys
        self.identity = None  # the PingResponse of the hello
        self._connections = {}
        self._witness_audit = None  # asb-audit, for the witness's proofs (not pinged)
        self.witness = None
        try:
            for name, daemon in daemons.items():
                self._connections[name] = Connection(daemon, keys, context=context)
            if witness is not None:
                self.witness = self._make_witness(witness, audit, context, trusted_key_pem)
            if hello:
                self.hello()
        except BaseException:
            self.close()
            raise

    @classmethod
    def _load(cls, config, principal, extra=()):
        """(daemons, keys) for `principal` from a client config file, as asbctl's --as."""
        c = load_client_config(config)
        keys = load_key_file(principal_key_file(c, principal, cls._KIND), require_secret=True)
        daemons = {}
        for name in tuple(cls._DAEMONS) + tuple(extra):
            key_file = f"{c.keys_dir}/{name}.pub"
            daemons[name] = Daemon(endpoint_of(c, name), load_key_file(key_file).public_key,
                                   key_file)
        return daemons, keys, (c.timeout_seconds or 10)

    @property
    def principal(self):
        return self.identity.principal if self.identity else self.keys.name

    @property
    def agency(self):
        return self.identity.agency if self.identity else ""

    def hello(self):
        """Pings every daemon this client uses and checks that the hub knows the key as a
        principal of the role the client needs. Returns the (last) PingResponse."""
        for name, connection in self._connections.items():
            request = api_pb2.Request()
            request.ping.SetInParent()
            ping = connection.call(request, self.timeout, self.connect_timeout).ping
            if ping.role != self._ROLE:
                raise errors.WrongRole(
                    f"asb-{ping.component or name} at {connection.daemon.endpoint} knows key "
                    f"{key_prefix(self.keys.public_key)} as '{ping.principal}' (agency "
                    f"{ping.agency}, {types_pb2.Role.Name(ping.role)}); a {type(self).__name__} "
                    f"needs a {types_pb2.Role.Name(self._ROLE)} key")
            self.identity = ping
        return self.identity

    def _make_witness(self, witness, audit, context, trusted_key_pem):
        if isinstance(witness, Witness):
            return witness
        connection = self._connections.get("audit")
        if connection is None:
            if audit is None:
                raise ValueError("witness=FILE needs asb-audit (audit=Daemon(...), or "
                                 "from_config) for its consistency proofs")
            connection = self._witness_audit = Connection(audit, self.keys, context=context)

        def consistency(m, n):
            request = api_pb2.Request()
            request.audit_consistency_proof.first_size = m
            request.audit_consistency_proof.second_size = n
            return list(connection.call(request, self.timeout).audit_consistency_proof.proof)

        def public_key_pem():
            request = api_pb2.Request()
            request.audit_tree_head.SetInParent()
            return connection.call(request, self.timeout).audit_tree_head.public_key_pem

        return Witness(witness, consistency, public_key_pem, trusted_key_pem,
                       hub=connection.daemon.endpoint)

    def close(self):
        for connection in self._connections.values():
            connection.close()
        if self._witness_audit is not None:
            self._witness_audit.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _call(self, daemon, request, timeout=None):
        response = self._connections[daemon].call(request, timeout or self.timeout)
        if self.witness is not None and response.HasField("tree_head"):
            self.witness.see(response.tree_head)
        return response


def _as_event(i, event):
    if isinstance(event, events_pb2.CaseEvent):
        return event
    try:
        if isinstance(event, dict):
            return json_format.ParseDict(event, events_pb2.CaseEvent())
        if isinstance(event, (str, bytes)):
            return json_format.Parse(event, events_pb2.CaseEvent())
    except json_format.ParseError as e:
        raise ValueError(f"events[{i}]: not a CaseEvent: {e}") from None
    raise TypeError(f"events[{i}]: a CaseEvent, a dict or a JSON string, not {type(event)}")


class Feed(_Client):
    """A feed (role FEED) submitting case events to asb-intake."""

    _ROLE = types_pb2.ROLE_FEED
    _KIND = "feed"
    _DAEMONS = ("intake",)

    def __init__(self, intake, keys, **kwargs):
        """intake: a Daemon; keys: the feed's KeyPair (config.load_key_file)."""
        self.retries = 0  # requests sent again after Unavailable or NoAnswer (submit)
        super().__init__({"intake": intake}, keys, **kwargs)

    @classmethod
    def from_config(cls, config=DEFAULT_CONFIG, principal="council", **kwargs):
        """From a client config file: keys_dir/<principal>.key or <principal>-feed.key."""
        daemons, keys, timeout = cls._load(config, principal)
        kwargs.setdefault("timeout", timeout)
        return cls(daemons["intake"], keys, **kwargs)

    def submit(self, events, *, batch=MAX_EVENTS_PER_SUBMIT, retry_for=0.0,
               max_request_bytes=MAX_REQUEST_BYTES):
        """Submits `events` (CaseEvent messages, dicts or JSON strings in the protobuf JSON
        mapping) in requests of at most `batch` events and `max_request_bytes`, and returns one
        asb.v1.SubmitResult per event, in order (index = position in `events`):
        OUTCOME_ACCEPTED or OUTCOME_DUPLICATE with hub_seq, or OUTCOME_REFUSED with a status —
        INVALID_ARGUMENT (fix the event), ALREADY_EXISTS (the source_event_id was accepted
        before with other content: send a correction as a new event).

        A whole request the hub does not take raises its HubError. Unavailable means nothing of
        the request was stored and the same request should be sent again later: the hub's
        backpressure ("the pipeline is N events behind (...; bound M): nothing was stored; retry
        later") or a full disk. With retry_for > 0, Unavailable and NoAnswer are retried (the
        same events: de-duplication makes that safe) with pauses growing from 0.1 to 5 s for up
        to that many seconds; self.retries counts the requests sent again."""
        if not 1 <= batch <= MAX_EVENTS_PER_SUBMIT:
            raise ValueError(f"batch: 1 to {MAX_EVENTS_PER_SUBMIT}")
        results = []
        request = api_pb2.Request()
        size = 0
        first = 0
        for i, event in enumerate(events):
            event = _as_event(i, event)
            event_size = event.ByteSize() + 8  # with its field tag and length
            if request.submit.events and (len(request.submit.events) >= batch
                                          or size + event_size > max_request_bytes - 64):
                results += self._send(request, first, retry_for)
                request, size, first = api_pb2.Request(), 0, i
            request.submit.events.append(event)
            size += event_size
        if request.submit.events:
            results += self._send(request, first, retry_for)
        return results

    def _send(self, request, first, retry_for):
        give_up = time.monotonic() + retry_for
        pause = 0.1
        while True:
            try:
                response = self._call("intake", request)
                break
            except (errors.Unavailable, errors.NoAnswer) as e:
                if time.monotonic() + pause > give_up:
                    raise
                _log.warning("submit not taken (%s); retrying in %.1f s", e, pause)
                self.retries += 1
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
        results = list(response.submit.results)
        for r in results:
            r.index += first
        return results


def _on_behalf_of(value):
    if isinstance(value, types_pb2.OnBehalfOf):
        return value
    if isinstance(value, dict):
        return types_pb2.OnBehalfOf(**value)
    raise TypeError("on_behalf_of: an asbhub.OnBehalfOf(officer_id=..., reason=..., ...)")


class Partner(_Client):
    """A partner agency's system (role PARTNER): its alerts from asb-notify, case views from
    asb-sharing."""

    _ROLE = types_pb2.ROLE_PARTNER
    _KIND = "partner"
    _DAEMONS = ("notify", "sharing")

    def __init__(self, notify, sharing, keys, **kwargs):
        super().__init__({"notify": notify, "sharing": sharing}, keys, **kwargs)

    @classmethod
    def from_config(cls, config=DEFAULT_CONFIG, principal="police", **kwargs):
        """From a client config file: keys_dir/<principal>.key or <principal>-partner.key.
        witness=FILE: keep and check the access log's signed tree heads every pull carries."""
        witness = kwargs.get("witness") is not None
        daemons, keys, timeout = cls._load(config, principal, ("audit",) if witness else ())
        kwargs.setdefault("timeout", timeout)
        if witness:
            kwargs.setdefault("audit", daemons["audit"])
        return cls(daemons["notify"], daemons["sharing"], keys, **kwargs)

    def pull(self, max=100, wait_ms=0, from_seq=None):
        """One PullAlerts: up to `max` alerts after the agency's acknowledged cursor that are
        not in flight (or, with from_seq, a replay from there), waiting up to wait_ms for one.
        Returns the asb.v1.PullAlertsResponse (alerts, acked_through, head)."""
        request = api_pb2.Request()
        request.pull_alerts.max = max
        request.pull_alerts.wait_ms = wait_ms
        if from_seq is not None:
            request.pull_alerts.from_seq = from_seq
        return self._call("notify", request, self.timeout + wait_ms / 1000.0).alerts

    def ack(self, through_seq):
        """Acknowledges the agency's alerts up to and including through_seq (cumulative, for
        every client of the agency). Returns the cursor after it."""
        request = api_pb2.Request()
        request.ack_alerts.through_seq = through_seq
        return self._call("notify", request).ack.acked_through

    def cursor(self):
        """(acked_through, head) of the agency's alerts, taking nothing."""
        pulled = self.pull(max=1, from_seq=_PROBE_SEQ)
        return pulled.acked_through, pulled.head

    def alerts(self, *, max=100, wait_ms=5000, follow=True, resume=True):
        """Yields the agency's alerts (asb.v1.Alert) in agency_seq order and acknowledges them.

        An alert counts as handled once you ask for the next one: the acknowledgement of a
        batch goes out before the next pull, and when you stop (break, an exception, close)
        everything handled is acknowledged — never the alert you stopped at, which the hub
        hands out again after its ack timeout (at least once, never lost).

        resume: start with a replay from the acknowledged cursor + 1, so alerts this client was
        handed before a crash or restart (still "in flight" at the hub) come back at once
        instead of after the ack timeout. Leave it on for the one client of an agency that
        acknowledges; other clients of the same agency (shared work) should pass resume=False.
        follow: long-poll (wait_ms per pull) for new alerts for ever; False: stop when none is
        pending."""
        from_seq = None
        if resume:
            acked, head = self.cursor()
            if head > acked:
                from_seq = acked + 1
        handled = acked_to = 0
        try:
            while True:
                pulled = self.pull(max=max, wait_ms=wait_ms if follow and from_seq is None else 0,
                                   from_seq=from_seq)
                from_seq = None
                if not pulled.alerts:
                    if follow:
                        continue
                    return
                for alert in pulled.alerts:
                    yield alert
                    handled = max_seq = alert.agency_seq
                acked_to = self.ack(max_seq)
        finally:
            if handled > acked_to:
                try:
                    self.ack(handled)
                except errors.HubError as e:  # handed out again after the ack timeout
                    _log.warning("alerts through %d not acknowledged: %s", handled, e)

    def get_case(self, case_id, *, on_behalf_of):
        """The case as this agency may see it now: an asb.v1.Disclosure (the redacted view
        with the rules that allowed each part). on_behalf_of: the officer the system asks for,
        the ISP purpose and the reason (asbhub.OnBehalfOf), recorded with the consultation in
        the access log. NotFound both when there is no such case and when the ISP does not
        share it with the agency."""
        request = api_pb2.Request()
        request.get_case.case_id = case_id
        who = _on_behalf_of(on_behalf_of)
        if CARRIES_ON_BEHALF_OF:
            request.get_case.on_behalf_of.CopyFrom(who)
        return self._call("sharing", request).case_view.disclosure

    def casereview_list(self, *, on_behalf_of, status=None, limit=500):
        """Yields the ASB case reviews (asb.v1.CaseReviewSummary) of the cases this agency may
        see, as its views show them (asbctl casereview list), all pages. status: only cases at
        this point of the procedure ("threshold_met", "CASE_REVIEW_STATUS_APPLIED" or the enum
        number; default any). on_behalf_of: the officer and reason (required), recorded with a
        consultation per case returned. The partnership coordinator also sees the case reviews it
        was told of, at the level the ISP grants it then."""
        who = _on_behalf_of(on_behalf_of)
        after = ""
        while True:
            request = api_pb2.Request()
            body = request.list_case_reviews
            body.on_behalf_of.CopyFrom(who)
            body.status = _case_review_status(status)
            body.limit = limit
            body.after_case_id = after
            page = self._call("sharing", request).case_reviews
            yield from page.reviews
            if not page.more or not page.reviews:
                return
            after = page.reviews[-1].case_id

    def victims_repeat(self, *, on_behalf_of, min_cases=2, limit=500):
        """The people who are victims in at least min_cases cases this agency may see (and
        whose person its views show), matched by keyed subject keys (asbctl victims repeat):
        the asb.v1.RepeatVictimsResponse (victims, most cases first; more if cut at limit).
        on_behalf_of: as for casereview_list; a consultation per case returned."""
        request = api_pb2.Request()
        body = request.repeat_victims
        body.on_behalf_of.CopyFrom(_on_behalf_of(on_behalf_of))
        body.min_cases = min_cases
        body.limit = limit
        return self._call("sharing", request).repeat_victims

    def dead_letters(self, limit=100):
        """Yields the agency's dead letters (asb.v1.DeadLetter): alerts handed out the maximum
        number of times and never acknowledged."""
        after_agency, after_seq = "", 0
        while True:
            request = api_pb2.Request()
            request.list_dead_letters.limit = limit
            request.list_dead_letters.after_agency = after_agency
            request.list_dead_letters.after_seq = after_seq
            page = self._call("notify", request).dead_letters
            yield from page.dead_letters
            if not page.more or not page.dead_letters:
                return
            last = page.dead_letters[-1].alert
            after_agency, after_seq = last.agency, last.agency_seq


def _case_review_status(value):
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    values = api_pb2.ListCaseReviewsRequest.DESCRIPTOR.fields_by_name["status"].enum_type
    name = value.upper()
    name = name if name.startswith("CASE_REVIEW_STATUS_") else "CASE_REVIEW_STATUS_" + name
    if name not in values.values_by_name:
        raise ValueError(f"status: no case review status {value!r}")
    return values.values_by_name[name].number


def _kind(value):
    if isinstance(value, int):
        return value
    name = value.upper()
    return audit_pb2.AuditKind.Value(name if name.startswith("AUDIT_KIND_") else
                                     "AUDIT_KIND_" + name)


def _timestamp(value, target):
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        target.FromDatetime(value.astimezone(timezone.utc).replace(tzinfo=None))
    else:
        target.CopyFrom(value)


class Auditor(_Client):
    """An auditor (role AUDITOR) of asb-audit's access log."""

    _ROLE = types_pb2.ROLE_AUDITOR
    _KIND = "auditor"
    _DAEMONS = ("audit",)

    def __init__(self, audit, keys, **kwargs):
        super().__init__({"audit": audit}, keys, **kwargs)

    @classmethod
    def from_config(cls, config=DEFAULT_CONFIG, principal="dpo", **kwargs):
        """From a client config file: keys_dir/<principal>.key or <principal>-auditor.key."""
        daemons, keys, timeout = cls._load(config, principal)
        kwargs.setdefault("timeout", timeout)
        return cls(daemons["audit"], keys, **kwargs)

    def query(self, *, case_id="", agency="", since=None, until=None, kinds=(), subject_key="",
              actor="", purpose="", page_size=100):
        """Yields the access-log entries (asb.v1.AuditEntry) that match, oldest first, page by
        page. Filters are ANDed; kinds are AuditKind values or names ("disclosure"). Each page
        asked is itself recorded in the log (AUDIT_QUERY)."""
        request = api_pb2.Request()
        q = request.audit_query
        q.case_id, q.agency, q.subject_key, q.actor, q.purpose = (case_id, agency, subject_key,
                                                                  actor, purpose)
        q.kinds.extend(_kind(k) for k in kinds)
        q.limit = page_size
        if since is not None:
            _timestamp(since, q.since)
        if until is not None:
            _timestamp(until, q.until)
        while True:
            page = self._call("audit", request).audit
            yield from page.entries
            if page.next_after_index == 0:
                return
            q.after_index = page.next_after_index

    def tree_head(self, *, fresh=False, with_history=False):
        """The AuditTreeHeadResponse: the latest signed tree head and the signing key (PEM);
        with_history: every stored tree head too (all pages)."""
        request = api_pb2.Request()
        request.audit_tree_head.fresh = fresh
        request.audit_tree_head.with_history = with_history
        response = self._call("audit", request).audit_tree_head
        while with_history and response.next_history_after_size:
            request.audit_tree_head.fresh = False
            request.audit_tree_head.history_after_size = response.next_history_after_size
            more = self._call("audit", request).audit_tree_head
            response.history.extend(more.history)
            response.next_history_after_size = more.next_history_after_size
        return response

    def verify(self, *, public_key_pem=None, fresh=True, page_size=1000):
        """Checks the whole access log against the hub's signed tree heads, trusting nothing
        the hub says: every tree head's Ed25519 signature (with `public_key_pem`, the key you
        trust — e.g. the hub's published sth-signing.pub.pem; by default the key the hub
        sends), every entry's leaf hash over its stored bytes, the order of the entries, the
        Merkle root at every signed size, erasures and expiry. Returns a VerifyReport; raises
        VerificationFailed (first_bad: the first bad entry) if the log does not verify, or if
        asb-audit reports damage it found at start (AuditTreeHeadResponse.damage)."""
        heads = self.tree_head(fresh=fresh, with_history=True)
        if heads.damage:
            # Found by asb-audit at start (a truncation, missing or inconsistent tree hashes or
            # heads): the log is not whole whatever its entries say.
            d = heads.damage[0]
            raise errors.VerificationFailed(
                f"asb-audit reports its access log damaged ({len(heads.damage)} problem(s)): "
                f"{d.what}", d.first)
        if not heads.HasField("tree_head"):
            return VerifyReport()  # an empty log: nothing signed yet
        key = load_public_key(public_key_pem or heads.public_key_pem)
        head = heads.tree_head
        checkpoints = [h for h in heads.history if h.tree_size <= head.tree_size] + [head]
        for sth in checkpoints:
            check_signature(sth, key)
        start = heads.expired_through
        frontier = []
        if start:
            request = api_pb2.Request()
            request.audit_frontier.tree_size = start
            frontier = list(self._call("audit", request).audit_frontier.hashes)
        verifier = LogVerifier(checkpoints, start, frontier)
        request = api_pb2.Request()
        request.audit_query.stored = True
        request.audit_query.limit = page_size
        request.audit_query.after_index = start
        while verifier.size < head.tree_size:
            page = self._call("audit", request).audit
            stored = api_pb2.StoredAuditEntries.FromString(page.stored_page).entries
            for entry in stored:
                if verifier.size >= head.tree_size:
                    break
                verifier.add_stored(entry)
            if not page.next_after_index or not stored:
                break
            request.audit_query.after_index = page.next_after_index
        verifier.finish()
        return VerifyReport(tree_size=head.tree_size, root_hash=head.root_hash.hex(),
                            timestamp_ms=head.timestamp_ms, tree_heads=len(checkpoints),
                            entries_checked=verifier.size - start, expired_through=start,
                            erased=list(verifier.erased))
