"""The query protocol (proto/query.proto) over one TCP connection."""
import threading
import time

from google.protobuf import json_format

from . import framing
from .errors import ConnectionLost, NotFound, StitchError, from_response
from .proto import beacon_pb2, query_pb2

PROTOCOL_VERSION = 1


def identifier(kind, value, namespace=""):
    """A `beacon_pb2.Identifier` from a kind name (`"phone"`, `"cookie"`, …) and a raw value."""
    if isinstance(kind, str):
        try:
            kind = beacon_pb2.IdentifierKind.Value("IDENTIFIER_KIND_" + kind.upper())
        except ValueError:
            raise ValueError(f"unknown identifier kind {kind!r}") from None
    return beacon_pb2.Identifier(kind=kind, value=value, namespace=namespace)


def _batch_entry(entry):
    """(kind, value, person_id, namespace) of a batch entry: (kind, value) or (kind, value, namespace)."""
    if len(entry) == 2:
        return entry[0], entry[1], None, ""
    if len(entry) == 3:
        return entry[0], entry[1], None, entry[2]
    raise ValueError(f"a batch entry is (kind, value) or (kind, value, namespace), not {entry!r}")


def _person_ref(kind=None, value=None, person_id=None, namespace=""):
    if person_id is not None:
        return query_pb2.PersonRef(person_id=person_id)
    if kind is None or value is None:
        raise ValueError("give kind and value, or person_id")
    return query_pb2.PersonRef(identifier=identifier(kind, value, namespace))


class QueryClient:
    """A connection to Stitch's query port (7071), authenticated by `connect`.

    Requests are answered in order on one connection; the client sends one
    at a time and is safe to share between threads (a lock serializes them).
    Every method raises a `StitchError` subclass for an error answer
    (`NotFound`, `PermissionDenied`, `InvalidArgument`, …) and
    `ConnectionLost` when the connection breaks.
    """

    def __init__(self, sock):
        """Wraps a connected socket; use `connect`, which also says hello."""
        self._sock = sock
        self._lock = threading.Lock()
        self._next_id = 1
        #: Sites this token may read; empty for an admin token.
        self.sites = []
        self.server_version = ""

    @classmethod
    def connect(cls, host="127.0.0.1", port=7071, token="", client_name="stitch-python", timeout=10.0, tls=None,
                server_name=None):
        """Connects and says hello with `token` (empty: the server's loopback-only mode).
        With `tls` (`stitch_client.tls_context(...)`), over TLS, checking the name `server_name` (default: `host`)."""
        sock = framing.connect(host, port, timeout, tls, server_name)
        client = cls(sock)
        try:
            hello = client._call("hello", query_pb2.Hello(token=token, client_name=client_name,
                                                          protocol_version=PROTOCOL_VERSION))
        except BaseException:
            sock.close()
            raise
        client.sites = list(hello.sites)
        client.server_version = hello.server_version
        return client

    def close(self):
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Requests

    def lookup(self, site, kind=None, value=None, *, person_id=None, namespace="", include_identifiers=False,
               min_position=None):
        """The person behind an identifier (raw value: the server normalizes it) or a person id.

        `min_position` (cluster mode): a `(partition, sequence)` from `SendResult.position`;
        the node answers once it has applied the log that far, or raises `Unavailable`.

        Returns a `query_pb2.Person`; raises `NotFound` when there is none."""
        answer = self._call("lookup", query_pb2.LookupRequest(
            site=site, person=_person_ref(kind, value, person_id, namespace), include_identifiers=include_identifiers),
            min_position=min_position)
        if not answer.found:
            raise NotFound(f"no person for {kind} {value!r} on site {site}" if person_id is None
                           else f"no person {person_id} on site {site}", 4)
        return answer.person

    def batch_lookup(self, site, identifiers, include_identifiers=False):
        """Persons for many identifiers, in order; None where not found. Each is a
        `(kind, value)` pair, or `(kind, value, namespace)` for kinds that need one
        (`chat` with its provider, `crm_contact` with its CRM). Sent 1,000 per request
        (the protocol's limit)."""
        results = []
        refs = [_person_ref(*_batch_entry(entry)) for entry in identifiers]
        for start in range(0, len(refs), 1000):
            chunk = refs[start:start + 1000]
            answer = self._call("batch_lookup", query_pb2.BatchLookupRequest(
                site=site, persons=chunk,
                include_identifiers=include_identifiers))
            results.extend(result.person if result.found else None for result in answer.results)
        return results

    def history(self, site, kind=None, value=None, *, person_id=None, namespace="", types=(), from_ms=0, to_ms=0,
                newest_first=False, page_size=100, conversions=False, model=0):
        """Every event of a person (`query_pb2.Event`), following the pages' cursor.

        `types`: event type names (`"visit"`, `"form"`, …) to keep; `conversions` adds each
        conversion's flags and credited sources under `model` (`query_pb2.AttributionModel`)."""
        type_values = [query_pb2.EventType.Value("EVENT_TYPE_" + t.upper()) if isinstance(t, str) else t for t in types]
        cursor = b""
        while True:
            page = self._call("history", query_pb2.HistoryRequest(
                site=site, person=_person_ref(kind, value, person_id, namespace), types=type_values,
                from_ms=from_ms, to_ms=to_ms, limit=page_size, cursor=cursor, newest_first=newest_first,
                conversions=conversions, model=model))
            yield from page.events
            if not page.next_cursor:
                return
            cursor = page.next_cursor

    def merges_since(self, site, cursor=0, *, follow=True, poll_interval=1.0, page_size=1000):
        """The change feed of a site (`query_pb2.Merge`: merges, splits, erasures), oldest first,
        from after `cursor` (a change seq). With `follow`, waits `poll_interval` seconds whenever it
        has caught up and goes on for as long as the caller iterates; without, stops there.
        To resume later, pass the last `merge.seq` you handled."""
        while True:
            page = self._call("merges_since", query_pb2.MergesSinceRequest(site=site, cursor=cursor, limit=page_size))
            yield from page.merges
            moved = page.next_cursor > cursor
            cursor = max(cursor, page.next_cursor)
            if not page.merges and not moved:
                if not follow:
                    return
                time.sleep(poll_interval)

    def lease(self, site, session):
        """The tracking number to show this session (`query_pb2.LeaseResponse`)."""
        return self._call("lease", query_pb2.LeaseRequest(site=site, session=identifier("session", session)))

    def explain(self, site, a, b):
        """Why two identifiers are (not) one person: `a` and `b` are `(kind, value)` pairs.
        Returns a `query_pb2.ExplainResponse` (its `verdict` says linked or not, `steps` the chain)."""
        return self._call("explain", query_pb2.ExplainRequest(site=site, a=identifier(*a), b=identifier(*b)))

    def stats(self):
        """Store totals and every server counter (admin token)."""
        return self._call("stats", query_pb2.StatsRequest())

    # Operators (admin token for all but `pool` and `shared`)

    def pool(self, site):
        """The site's number pool and how many numbers are held now (`query_pb2.PoolResponse`)."""
        return self._call("pool_get", query_pb2.PoolGetRequest(site=site))

    def set_pool(self, site, pool):
        """Replaces the site's number pool (admin token). `pool` is a `query_pb2.NumberPool` or a dict
        of its fields (protobuf JSON names), e.g. `{"dynamic_numbers": ["+74951000001"], "hold_seconds": 900}`; an empty one
        removes it. The server keeps it in its data directory and records it in the audit log."""
        if isinstance(pool, dict):
            pool = json_format.ParseDict(pool, query_pb2.NumberPool())
        return self._call("pool_set", query_pb2.PoolSetRequest(site=site, pool=pool))

    def quarantine(self, site, kind, value, *, reason="", namespace=""):
        """Quarantines a shared identifier (admin token): it links nothing from now on, and its person is
        re-derived without it. Returns a `query_pb2.RepairResponse` (`changed` False: it already was)."""
        return self._call("quarantine", query_pb2.QuarantineRequest(
            site=site, identifier=identifier(kind, value, namespace), reason=reason))

    def unquarantine(self, site, kind, value, *, namespace=""):
        """Lifts a quarantine (admin token): the events that carried the identifier link it again.
        Raises `NotFound` for an identifier the site never saw."""
        return self._call("unquarantine", query_pb2.UnquarantineRequest(site=site, identifier=identifier(kind, value, namespace)))

    def shared(self, site, limit=1000):
        """The site's quarantined identifiers (`query_pb2.SharedIdentifier`: declared junk, manual, and
        found by the shared-identifier rule)."""
        return list(self._call("shared", query_pb2.SharedRequest(site=site, limit=limit)).identifiers)

    def forget(self, site, kind, value, *, namespace=""):
        """Erases the whole person holding the identifier (admin token; 152-FZ / GDPR consent withdrawn):
        identifiers, events, leases, calls. Returns a `query_pb2.ForgetResponse` (what was erased, counted,
        and the identifier's keyed hash, never its value). Raises `NotFound` for an identifier not stored."""
        return self._call("forget", query_pb2.ForgetRequest(site=site, identifier=identifier(kind, value, namespace)))

    def audit(self, *, site=0, after=0, page_size=100):
        """The audit log (`query_pb2.AuditEntry`: admin actions with time, token name, arguments and
        outcome), oldest first, from after entry `after`; only `site`'s entries unless it is 0
        (admin token). Identifiers appear as kind and keyed hash, never as values."""
        while True:
            page = self._call("audit", query_pb2.AuditRequest(after_seq=after, limit=page_size, site=site))
            yield from page.entries
            if not page.entries:
                return
            after = page.next_seq

    # Transport

    def _call(self, kind, message, min_position=None):
        with self._lock:
            request_id = self._next_id
            self._next_id += 1
            request = query_pb2.Request(request_id=request_id, **{kind: message})
            if min_position is not None:
                request.min_position.partition, request.min_position.sequence = min_position
            try:
                self._sock.sendall(framing.encode(framing.REQUEST, request_id, request.SerializeToString()))
                frame_type, sequence, payload = framing.read(self._sock)
            except (OSError, ConnectionError) as error:
                raise ConnectionLost(f"query connection lost: {error}") from error
        if frame_type == framing.RESPONSE and sequence == 0:
            # Request 0 is the connection's: the server refused it as a whole (e.g. plaintext on a TLS port).
            refusal = query_pb2.Response.FromString(payload)
            if refusal.WhichOneof("kind") == "error":
                raise from_response(refusal.error)
        if frame_type != framing.RESPONSE or sequence != request_id:
            raise StitchError(f"unexpected frame (type {frame_type}, sequence {sequence}) for request {request_id}")
        response = query_pb2.Response.FromString(payload)
        which = response.WhichOneof("kind")
        if which == "error":
            raise from_response(response.error)
        if which != kind:
            raise StitchError(f"the server answered {which} to {kind}")
        return getattr(response, kind)


def channel_name(channel):
    """A `query_pb2.Channel` as analysts say it: `"paid search"`, `"organic search"`, `"e-mail"`, …"""
    name = query_pb2.Channel.Name(channel)[len("CHANNEL_"):].lower().replace("_", " ")
    return {"email": "e-mail", "unspecified": "unknown"}.get(name, name)


def source_label(source):
    """A credited `query_pb2.Source` as the CLI prints it: `"yandex/cpc/brand [paid search]"`."""
    if source.kind == query_pb2.SOURCE_KIND_DIRECT:
        return "(direct)"
    if source.kind == query_pb2.SOURCE_KIND_UNKNOWN_CALL:
        return "(unknown call)"
    name = "/".join(part for part in (source.source, source.medium, source.campaign) if part)
    return f"{name} [{channel_name(source.channel)}]"

