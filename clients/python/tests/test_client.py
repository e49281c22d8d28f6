"""The Python client against a real server: every call, the typed errors, the
sender's resend after a crash, and the example of the package's README."""
import itertools
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

from stitch_client import (BeaconSender, InvalidArgument, NotFound, PermissionDenied, QueryClient, beacon_pb2,
                           query_pb2, source_label)
from stitch_client.query import identifier
from stitch_client.testing import ServeProcess

from conftest import BINARY

T0 = 1_767_225_600_000  # 2026-01-01


def hit(site, cookie, session, t):
    return beacon_pb2.Beacon(site=site, time_ms=t, identifiers=[identifier("cookie", cookie), identifier("session", session)],
                             hit=beacon_pb2.Hit(url="https://shop.example/"))


def form(site, cookie, phone, t):
    return beacon_pb2.Beacon(site=site, time_ms=t, identifiers=[identifier("cookie", cookie)],
                             form=beacon_pb2.Form(phone=phone))


def send(server, beacons, **options):
    with BeaconSender(port=server.ports["ingest"], **options) as sender:
        sender.send(beacons)
        return sender.flush()


def test_lookup_history_explain_and_errors(server):
    result = send(server, [hit(7, "cookie-py-0001", "session-py-0001", T0),
                           form(7, "cookie-py-0001", "8 (916) 123-45-67", T0 + 1000),
                           hit(7, "cookie-py-0001", "session-py-0002", T0 + 2000)])
    assert (result.accepted, result.rejected, result.batches) == (3, 0, 1)
    with QueryClient.connect(port=server.ports["query"]) as stitch:
        assert stitch.sites == []  # loopback admin without tokens
        person = stitch.lookup(7, "phone", "+7 916 123 45 67", include_identifiers=True)
        assert {i.value for i in person.identifiers} == {"cookie-py-0001", "session-py-0001", "session-py-0002",
                                                         "+79161234567"}
        assert person.event_count == 3
        # Pages of one follow the cursor to the end.
        events = list(stitch.history(7, person_id=person.person_id, page_size=1))
        assert [e.beacon.WhichOneof("body") for e in events] == ["hit", "form", "hit"]
        assert [e.beacon.time_ms for e in stitch.history(7, "cookie", "cookie-py-0001", newest_first=True)] == \
            [T0 + 2000, T0 + 1000, T0]
        assert [e.beacon.WhichOneof("body") for e in stitch.history(7, "cookie", "cookie-py-0001", types=["form"])] == ["form"]
        found = stitch.batch_lookup(7, [("cookie", "cookie-py-0001"), ("cookie", "cookie-py-9999")])
        assert found[0].person_id == person.person_id and found[1] is None
        chain = stitch.explain(7, ("session", "session-py-0001"), ("phone", "89161234567"))
        assert chain.verdict == query_pb2.EXPLAIN_VERDICT_LINKED and len(chain.steps) >= 1
        with pytest.raises(NotFound) as missing:
            stitch.lookup(7, "cookie", "cookie-py-9999")
        assert missing.value.code == query_pb2.ERROR_CODE_NOT_FOUND
        with pytest.raises(InvalidArgument):
            stitch.lookup(7, "cookie", "undefined")
        assert stitch.stats().events == 3


def test_batch_lookup_takes_namespaces(server):
    chat = beacon_pb2.Beacon(site=8, time_ms=T0, identifiers=[identifier("cookie", "cookie-py-ns-1"),
                                                               identifier("chat", "v-77", "jivo"),
                                                               identifier("crm_contact", "501", "amocrm")],
                             hit=beacon_pb2.Hit(url="https://shop.example/"))
    assert send(server, [chat]).accepted == 1
    with QueryClient.connect(port=server.ports["query"]) as stitch:
        found = stitch.batch_lookup(8, [("chat", "v-77", "jivo"), ("crm_contact", "501", "amocrm"),
                                        ("cookie", "cookie-py-ns-1"), ("chat", "v-77", "other-provider")])
        assert found[0] is not None and found[1] is not None and found[2] is not None
        assert found[0].person_id == found[1].person_id == found[2].person_id
        assert found[3] is None
        with pytest.raises(ValueError):
            stitch.batch_lookup(8, [("chat",)])


def test_merges_since_follows_the_feed(server):
    send(server, [form(7, "cookie-feed-0001", "+7 903 000-00-01", T0)])  # cookie and phone: one merge
    with QueryClient.connect(port=server.ports["query"]) as stitch:
        before = list(stitch.merges_since(7, follow=False))
        assert len(before) == 1 and before[0].site == 7
        feed = stitch.merges_since(7, cursor=before[-1].seq, follow=True, poll_interval=0.05)
        send(server, [form(7, "cookie-feed-0002", "+7 903 000-00-01", T0 + 1000)])
        first = next(feed)
        assert first.kind == query_pb2.CHANGE_KIND_MERGE and first.seq > before[-1].seq
        # Followed: a later merge arrives on the same generator, after it polled an empty feed.
        send(server, [form(7, "cookie-feed-0003", "+7 903 000-00-01", T0 + 2000)])
        second = next(feed)
        assert second.seq > first.seq
        assert [m.seq for m in stitch.merges_since(7, cursor=first.seq, follow=False)] == [second.seq]


def test_lease_gives_a_session_its_number(server):
    with QueryClient.connect(port=server.ports["query"]) as stitch:
        first = stitch.lease(7, "session-lease-0001")
        assert first.kind == query_pb2.LEASE_KIND_NEW and first.tracking_number.startswith("+7495")
        again = stitch.lease(7, "session-lease-0001")
        assert again.kind == query_pb2.LEASE_KIND_STICKY and again.tracking_number == first.tracking_number
        assert stitch.lease(8, "session-lease-0001").kind == query_pb2.LEASE_KIND_NO_POOL


def test_a_site_token_is_confined(token_server):
    send(token_server, [hit(2, "cookie-other-01", "session-other-01", T0)])
    with QueryClient.connect(port=token_server.ports["query"], token="site-one") as stitch:
        assert stitch.sites == [1]
        with pytest.raises(PermissionDenied) as denied:
            stitch.lookup(2, "cookie", "cookie-other-01")
        assert denied.value.code == query_pb2.ERROR_CODE_PERMISSION_DENIED
    with pytest.raises(Exception):
        QueryClient.connect(port=token_server.ports["query"], token="guess")


def test_audit_log_lists_the_configured_tokens_without_their_secrets(token_server):
    with QueryClient.connect(port=token_server.ports["query"], token="boss") as stitch:
        entries = list(stitch.audit(page_size=1))  # one per page: the pages follow each other
        assert [entry.action for entry in entries] == ["token_added", "token_added"]
        assert [entry.seq for entry in entries] == [1, 2]
        assert all(entry.token_name == "config" for entry in entries)
        assert "boss" not in str(entries) and "site-one" not in str(entries)
    with QueryClient.connect(port=token_server.ports["query"], token="site-one") as stitch:
        with pytest.raises(PermissionDenied):
            list(stitch.audit())


def test_operators_pool_quarantine_forget_and_their_audit(token_server):
    # Two visitors who gave the same office phone in a form: glued, until the phone is quarantined.
    send(token_server, [form(1, "cookie-office-01", "+7 495 000-11-22", T0), form(1, "cookie-office-02", "+7 495 000-11-22", T0 + 1000)])
    with QueryClient.connect(port=token_server.ports["query"], token="boss") as stitch:
        assert stitch.lookup(1, "cookie", "cookie-office-01").person_id == stitch.lookup(1, "cookie", "cookie-office-02").person_id
        repaired = stitch.quarantine(1, "phone", "+7 495 000-11-22", reason="reception desk")
        assert repaired.changed and repaired.persons_repaired >= 1
        assert stitch.lookup(1, "cookie", "cookie-office-01").person_id != stitch.lookup(1, "cookie", "cookie-office-02").person_id
        assert [entry.identifier.value for entry in stitch.shared(1)] == ["+74950001122"]
        assert not stitch.quarantine(1, "phone", "+7 495 000-11-22").changed  # already
        assert stitch.unquarantine(1, "phone", "+7 495 000-11-22").changed
        assert stitch.lookup(1, "cookie", "cookie-office-01").person_id == stitch.lookup(1, "cookie", "cookie-office-02").person_id

        pool = stitch.set_pool(1, {"dynamic_numbers": ["+7 495 100-00-05"], "hold_seconds": 600})
        assert list(pool.pool.dynamic_numbers) == ["+74951000005"]
        assert stitch.pool(1).pool.hold_seconds == 600

        erased = stitch.forget(1, "cookie", "cookie-office-01")
        assert erased.erasure_seq >= 1 and len(erased.identifier_hash) == 32
        with pytest.raises(NotFound):
            stitch.lookup(1, "cookie", "cookie-office-02")  # the same person, erased whole
        with pytest.raises(NotFound):
            stitch.forget(1, "cookie", "cookie-never-seen")

        entries = list(stitch.audit(site=1))
        assert [entry.action for entry in entries] == ["quarantine", "quarantine", "unquarantine", "pool_set", "forget", "forget"]
        assert entries[4].outcome.startswith("ok") and entries[5].outcome.startswith("refused")  # a refusal is recorded too
        assert "+7495" not in str(list(stitch.audit(site=1)))  # identifiers as keyed hashes only
    with QueryClient.connect(port=token_server.ports["query"], token="site-one") as stitch:
        with pytest.raises(PermissionDenied):
            stitch.forget(1, "cookie", "cookie-office-02")


def test_sender_resends_after_a_crash_and_every_beacon_is_stored_once(server):
    beacons = [hit(7, "cookie-crash-%04d" % i, "session-crash-%04d" % i, T0 + i) for i in range(600)]
    sender = BeaconSender(port=server.ports["ingest"], batch_size=20, window=30)
    sender.send(beacons[:300])
    server.kill()          # some batches acked, some committed with the ack lost, some never arrived
    server.restart()
    sender.send(beacons[300:])
    result = sender.flush()
    sender.close()
    assert result.reconnects >= 1
    assert result.accepted + result.repeated == 600
    with QueryClient.connect(port=server.ports["query"]) as stitch:
        assert stitch.stats().events == 600  # each exactly once


def test_readme_example_runs(server):
    readme = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Example", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    code = code.replace("7070", str(server.ports["ingest"])).replace("7071", str(server.ports["query"]))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "person" in run.stdout


def test_conversions_show_their_channel(server):
    """Paid Google, organic Yandex, paid Yandex, back from the bank, a form: Yandex Direct is credited."""
    day = 86_400_000
    cookie = "cookie-py-chan"

    def visit(t, referrer, landing):
        return beacon_pb2.Beacon(site=7, time_ms=t, identifiers=[identifier("cookie", cookie)],
                                 visit=beacon_pb2.Visit(referrer=referrer, landing_url=landing))
    send(server, [visit(T0, "https://www.google.com/", "https://shop.example/?gclid=Cj0"),
                  visit(T0 + day, "https://yandex.ru/search/?text=sofa", "https://shop.example/"),
                  visit(T0 + 2 * day, "https://yandex.ru/", "https://shop.example/?yclid=77"),
                  visit(T0 + 2 * day + 600_000, "https://3ds.sberbank.ru/acs", "https://shop.example/ok"),
                  form(7, cookie, "8 (916) 765-43-21", T0 + 2 * day + 660_000)])
    with QueryClient.connect(port=server.ports["query"]) as stitch:
        forms = list(stitch.history(7, "cookie", cookie, types=["form"], conversions=True))
        credits = forms[0].conversion.credits
        assert [source_label(c.source) for c in credits] == ["yandex/cpc [paid search]"]
        assert credits[0].source.channel == query_pb2.CHANNEL_PAID_SEARCH


def _free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cluster_reads_its_own_writes(tmp_path):
    """Cluster mode: an ack says where the batch is in the log; a lookup with that
    position as `min_position` sees it, on a node that has applied it."""
    nats_binary = next((p for p in (os.environ.get("NATS_SERVER_BINARY"), "/usr/sbin/nats-server", "/usr/bin/nats-server")
                        if p and os.path.exists(p)), None)
    if nats_binary is None:
        pytest.skip("no nats-server (ops/install-deps.sh --tests installs it)")
    port = _free_port()
    nats = subprocess.Popen([nats_binary, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(tmp_path / "nats")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        node = ServeProcess(BINARY, tmp_path / "data", ("shards=2", "cluster_replicas=1",
                                                        f"cluster_nats_urls=nats://127.0.0.1:{port}", "cluster_node=py-1"))
        try:
            result = send(node, [hit(7, "cookie-cluster-py-%03d" % i, "session-cluster-py-%03d" % i, T0 + i) for i in range(40)])
            assert result.accepted == 40
            position = result.position(7 % 2)  # site 7's partition
            assert position is not None and position[1] > 0
            with QueryClient.connect(port=node.ports["query"]) as stitch:
                person = stitch.lookup(7, "cookie", "cookie-cluster-py-039", min_position=position)
                assert person.event_counts
        finally:
            node.stop()
    finally:
        nats.terminate()
        nats.wait(10)


def test_tls(tmp_path):
    """Both ports over TLS with a CA made at test time; plaintext is refused with a typed error."""
    repo = pathlib.Path(__file__).resolve().parents[3]
    certs = tmp_path / "certs"
    subprocess.run([str(repo / "ops" / "make-test-certs.sh"), str(certs)], check=True, stdout=subprocess.DEVNULL)
    from stitch_client import ConnectionLost, StitchError, tls_context
    from conftest import serve
    server = serve(tmp_path / "data", f"tls_cert_file={certs / 'server.pem'}", f"tls_key_file={certs / 'server.key'}",
                   f"tls_client_ca_file={certs / 'ca.pem'}")
    try:
        ingest_tls = tls_context(str(certs / "ca.pem"))
        result = send(server, [hit(7, "cookie-tls-0001", "session-tls-0001", T0)], tls=ingest_tls, server_name="localhost")
        assert result.accepted == 1
        query_tls = tls_context(str(certs / "ca.pem"), str(certs / "client.pem"), str(certs / "client.key"))
        with QueryClient.connect(port=server.ports["query"], tls=query_tls) as stitch:
            assert stitch.lookup(7, "cookie", "cookie-tls-0001").event_count == 1
        # No client certificate: the query port's handshake fails.
        with pytest.raises((OSError, StitchError)):
            QueryClient.connect(port=server.ports["query"], tls=ingest_tls).close()
        # A CA that signed nothing here: the client refuses the server.
        with pytest.raises(OSError):
            QueryClient.connect(port=server.ports["query"], tls=tls_context(str(certs / "other-ca.pem"))).close()
        # Plaintext: the typed refusal, not a hang.
        with pytest.raises((StitchError, ConnectionLost)) as refused:
            QueryClient.connect(port=server.ports["query"]).close()
        assert "TLS only" in str(refused.value)
    finally:
        server.stop()
