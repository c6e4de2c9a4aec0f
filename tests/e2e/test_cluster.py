"""Several keyward nodes over one PostgreSQL database, driven by boto3: what
one node changes, the other enforces within the documented bound (1 s);
a node killed with SIGKILL loses nothing it acknowledged (also on the
embedded store); a PostgreSQL restart costs errors, not the node."""

import base64
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from conftest import ACCOUNT, IDENTITIES, SOFTHSM, keyward_bin, quiet_env, softhsm_tokens, trust_anchor
from pgcluster import Cluster

BOUND = 1.0  # seconds: a change on one node reaches every other node's cache


@pytest.fixture(scope="module")
def pg():
    cluster = Cluster()
    yield cluster
    cluster.remove()


@pytest.fixture(scope="module")
def site():
    """What the nodes share besides the database: a root key and an
    identities file."""
    base = tempfile.mkdtemp(prefix="keyward-cluster-")
    ids = os.path.join(base, "identities.json")
    with open(ids, "w") as f:
        json.dump({"identities": list(IDENTITIES.values())}, f)
    root = base64.b64encode(os.urandom(32)).decode()
    yield {"base": base, "identities": ids, "root": root}
    shutil.rmtree(base, ignore_errors=True)


class Node:
    def __init__(self, site, name, store=None, extra=(), env=None):
        self.site = site
        self.extra = list(extra)
        self.env = env or {}
        self.name = name
        self.data = os.path.join(site["base"], name)
        self.store = store
        self.proc = None
        self.endpoint = None

    def start(self):
        args = [keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", self.data,
                "--identities", self.site["identities"], "--quotas", "off"]
        if self.store:
            args += ["--store", self.store, "--node-id", self.name]
        args += self.extra
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env={**quiet_env(), "KEYWARD_ROOT_KEY": self.site["root"], **self.env})
        line = self.proc.stdout.readline()
        m = re.search(r"listening on (http://[0-9.:]+)", line)
        if not m:
            self.proc.kill()
            raise RuntimeError(f"node {self.name} did not start: {line}")
        self.endpoint = m.group(1)
        return self

    def client(self, who="admin"):
        ident = IDENTITIES[who]
        return boto3.client(
            "kms", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=ident["access_key_id"], aws_secret_access_key=ident["secret_access_key"],
            config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=15))

    def kill(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    @property
    def audit_log(self):
        return os.path.join(self.data, "audit.jsonl")


@pytest.fixture(scope="module")
def nodes(pg, site):
    a = Node(site, "node-a", pg.url).start()
    b = Node(site, "node-b", pg.url).start()
    yield a, b
    a.stop()
    b.stop()


def error_code(e):
    return e.response["Error"]["Code"]


def until_refused(call, limit=5.0):
    """Seconds until `call` fails with a client error (it must, within
    `limit`); the error."""
    start = time.monotonic()
    while True:
        try:
            call()
        except ClientError as e:
            return time.monotonic() - start, e
        if time.monotonic() - start > limit:
            pytest.fail(f"still allowed after {limit} s")
        time.sleep(0.005)


def report(capsys, text):
    with capsys.disabled():
        print(f"\n  [cluster] {text}")


def test_a_key_made_on_one_node_works_on_the_other(nodes):
    a, b = (n.client() for n in nodes)
    key = a.create_key(Description="made on A")["KeyMetadata"]["KeyId"]
    blob = a.encrypt(KeyId=key, Plaintext=b"secret", EncryptionContext={"t": "1"})["CiphertextBlob"]
    assert b.decrypt(CiphertextBlob=blob, EncryptionContext={"t": "1"})["Plaintext"] == b"secret"
    assert b.describe_key(KeyId=key)["KeyMetadata"]["Description"] == "made on A"
    assert key in [k["KeyId"] for k in b.list_keys(Limit=1000)["Keys"]]
    # An alias made on B resolves on A at once (aliases are read from the store).
    b.create_alias(AliasName="alias/made-on-b", TargetKeyId=key)
    assert a.describe_key(KeyId="alias/made-on-b")["KeyMetadata"]["KeyId"] == key
    blob2 = a.encrypt(KeyId="alias/made-on-b", Plaintext=b"via alias")["CiphertextBlob"]
    assert b.decrypt(CiphertextBlob=blob2)["Plaintext"] == b"via alias"


def test_a_policy_change_on_one_node_is_enforced_on_the_other_within_the_bound(nodes, capsys):
    a, b = (n.client() for n in nodes)
    key = a.create_key()["KeyMetadata"]["KeyId"]
    blob = a.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
    b.decrypt(CiphertextBlob=blob)  # B has compiled and cached the key's policy
    policy = json.loads(a.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    policy["Statement"].append({"Sid": "NoDecrypt", "Effect": "Deny", "Principal": {"AWS": "*"},
                                "Action": "kms:Decrypt", "Resource": "*"})
    a.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(policy))
    took, e = until_refused(lambda: b.decrypt(CiphertextBlob=blob))
    assert error_code(e) == "AccessDeniedException"
    report(capsys, f"PutKeyPolicy on A enforced on B after {took * 1000:.1f} ms (bound {BOUND * 1000:.0f} ms)")
    assert took < BOUND


def test_grants_reach_every_node_and_a_revoked_grant_stops_on_both(nodes, capsys):
    a, b = (n.client() for n in nodes)
    pa, pb = (n.client("pipeline") for n in nodes)
    key = a.create_key()["KeyMetadata"]["KeyId"]
    blob = a.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
    with pytest.raises(ClientError):
        pb.decrypt(CiphertextBlob=blob)  # B caches the key's tables without the grant
    g = a.create_grant(KeyId=key, GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/Pipeline",
                       Operations=["Decrypt"])
    # With the grant token, the grant is usable on any node at once.
    assert pb.decrypt(CiphertextBlob=blob, GrantTokens=[g["GrantToken"]])["Plaintext"] == b"p"
    # Without it, within the bound.
    start = time.monotonic()
    while True:
        try:
            pb.decrypt(CiphertextBlob=blob)
            break
        except ClientError:
            assert time.monotonic() - start < BOUND, "the grant did not reach B in time"
            time.sleep(0.005)
    pa.decrypt(CiphertextBlob=blob)
    b.revoke_grant(KeyId=key, GrantId=g["GrantId"])
    took_b, e = until_refused(lambda: pb.decrypt(CiphertextBlob=blob))
    took_a, _ = until_refused(lambda: pa.decrypt(CiphertextBlob=blob))
    assert error_code(e) == "AccessDeniedException"
    report(capsys, f"RevokeGrant on B: refused on B after {took_b * 1000:.1f} ms, on A after {took_a * 1000:.1f} ms")
    assert took_a < BOUND


def test_key_state_rotation_and_deletion_reach_the_other_node(nodes):
    a, b = (n.client() for n in nodes)
    key = a.create_key()["KeyMetadata"]["KeyId"]
    a.encrypt(KeyId=key, Plaintext=b"p")
    b.encrypt(KeyId=key, Plaintext=b"p")
    b.disable_key(KeyId=key)
    _, e = until_refused(lambda: a.encrypt(KeyId=key, Plaintext=b"p"), limit=BOUND)
    assert error_code(e) == "DisabledException"
    a.enable_key(KeyId=key)
    old = b.encrypt(KeyId=key, Plaintext=b"old")["CiphertextBlob"]
    a.rotate_key_on_demand(KeyId=key)
    deadline = time.monotonic() + BOUND
    while True:  # B encrypts under the new version once it has heard
        new = b.encrypt(KeyId=key, Plaintext=b"new")["CiphertextBlob"]
        if blob_version(new) == 2:
            break
        assert time.monotonic() < deadline, "B still encrypts under the old version"
    assert blob_version(old) == 1
    assert a.decrypt(CiphertextBlob=new)["Plaintext"] == b"new"
    assert a.decrypt(CiphertextBlob=old)["Plaintext"] == b"old"
    rotations = b.list_key_rotations(KeyId=key)["Rotations"]
    assert len(rotations) == 1
    a.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    _, e = until_refused(lambda: b.encrypt(KeyId=key, Plaintext=b"p"), limit=BOUND)
    assert error_code(e) == "KMSInvalidStateException"


def blob_version(blob):
    """The key version a keyward ciphertext names (after its magic, the key
    id's length and the key id)."""
    n = blob[4]
    return int.from_bytes(blob[5 + n:9 + n], "big")


def verify_all(site, pg, *nodes_):
    args = [keyward_bin(), "audit", "verify", "--data", nodes_[0].data, "--store", pg.url]
    for n in nodes_:
        args += ["--node", f"{n.name}={n.audit_log}"]
    return subprocess.run(args, capture_output=True, text=True, timeout=60,
                          env={**quiet_env(), "KEYWARD_ROOT_KEY": site["root"]})


def test_every_node_keeps_its_own_audit_chain_anchored_in_the_database(nodes, site, pg):
    a, b = nodes
    a.client().list_keys()
    b.client().list_keys()
    time.sleep(1.5)  # the anchor of calls that change nothing, every second
    for n in nodes:
        with open(n.audit_log) as f:
            records = [json.loads(line) for line in f]
        assert records and all(r["keywardNode"] == n.name for r in records)
    ok = verify_all(site, pg, a, b)
    assert ok.returncode == 0, ok.stderr
    assert "node node-a:" in ok.stdout and "node node-b:" in ok.stdout
    # A node left out is a failure, not a silent pass.
    partial = verify_all(site, pg, a)
    assert partial.returncode == 1
    assert "node-b" in partial.stderr
    # A node's log given as another's is refused.
    swapped = subprocess.run(
        [keyward_bin(), "audit", "verify", "--data", a.data, "--store", pg.url,
         "--node", f"node-a={b.audit_log}", "--node", f"node-b={a.audit_log}"],
        capture_output=True, text=True, timeout=60, env={**quiet_env(), "KEYWARD_ROOT_KEY": site["root"]})
    assert swapped.returncode == 1
    env = {**quiet_env(), "KEYWARD_ROOT_KEY": site["root"]}
    # The other audit commands read a node's log with its store...
    q = subprocess.run([keyward_bin(), "audit", "query", "--data", a.data, "--store", pg.url,
                        "--operation", "ListKeys", "--format", "json"],
                       capture_output=True, text=True, timeout=60, env=env)
    assert q.returncode == 0, q.stderr
    assert all(r["keywardNode"] == "node-a" for r in json.loads(q.stdout))
    d = subprocess.run([keyward_bin(), "audit", "digest", "--data", b.data, "--store", pg.url],
                       capture_output=True, text=True, timeout=60, env=env)
    assert d.returncode == 0, d.stderr
    # ...and refuse to open an empty embedded store in its place.
    lone = subprocess.run([keyward_bin(), "audit", "digest", "--data", b.data],
                          capture_output=True, text=True, timeout=60, env=env)
    assert lone.returncode != 0 and "--store" in lone.stderr
    assert not os.path.exists(os.path.join(b.data, "keyward.db"))


def load(node, stop, acked, errors):
    """CreateKey then Encrypt, over and over; what was acknowledged."""
    c = node.client()
    i = 0
    while not stop.is_set():
        i += 1
        pt = os.urandom(16)
        try:
            key = c.create_key()["KeyMetadata"]["KeyId"]
            acked.append(("key", key, None, None))
            blob = c.encrypt(KeyId=key, Plaintext=pt)["CiphertextBlob"]
            acked.append(("ct", key, blob, pt))
        except (ClientError, EndpointConnectionError, Exception) as e:  # noqa: BLE001 (the node was killed)
            errors.append(type(e).__name__)
            if stop.is_set() or node.proc.poll() is not None:
                return


@pytest.mark.parametrize("store", ["sqlite", "postgresql"])
def test_sigkill_under_load_loses_nothing_acknowledged(store, pg, site, capsys):
    url = pg.url if store == "postgresql" else None
    victim = Node(site, f"victim-{store}", url).start()
    acked, errors, stop = [], [], threading.Event()
    workers = [threading.Thread(target=load, args=(victim, stop, acked, errors)) for _ in range(4)]
    for w in workers:
        w.start()
    time.sleep(2.0 + (os.getpid() % 10) / 10)  # a point of the run no test chose
    victim.kill()
    stop.set()
    for w in workers:
        w.join(timeout=30)
    # The survivor: another node on the shared store; the restarted node on
    # the embedded one.
    survivor = Node(site, "survivor", url).start() if url else victim.start()
    try:
        c = survivor.client()
        keys = {k for kind, k, _, _ in acked if kind == "key"}
        cts = [(k, blob, pt) for kind, k, blob, pt in acked if kind == "ct"]
        assert len(keys) > 10, f"too little load to test: {len(keys)} keys"
        for k in keys:
            assert c.describe_key(KeyId=k)["KeyMetadata"]["KeyState"] == "Enabled"
        for k, blob, pt in cts:
            assert c.decrypt(CiphertextBlob=blob)["Plaintext"] == pt
        report(capsys, f"SIGKILL on {store}: {len(keys)} acknowledged keys and {len(cts)} ciphertexts "
                       f"all there through the {'other node' if url else 'restarted node'}")
    finally:
        survivor.stop()
    # The killed node's log is intact (a torn last line is cut when it
    # restarts) and reaches its anchor.
    if url:
        victim.start()
        victim.stop()
    args = [keyward_bin(), "audit", "verify", "--data", victim.data]
    if url:
        args += ["--store", url]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60,
                         env={**quiet_env(), "KEYWARD_ROOT_KEY": site["root"]})
    assert out.returncode == 0, out.stderr


def test_a_postgresql_restart_costs_errors_not_the_node(pg, site, capsys):
    node = Node(site, "through-restart", pg.url).start()
    try:
        c = node.client()
        key = c.create_key()["KeyMetadata"]["KeyId"]
        outcomes, stop = [], threading.Event()

        def drive():
            cl = node.client()
            while not stop.is_set():
                t = time.monotonic()
                try:
                    cl.create_key()
                    blob = cl.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
                    cl.decrypt(CiphertextBlob=blob)
                    outcomes.append((t, "ok"))
                except ClientError as e:
                    outcomes.append((t, error_code(e)))
                    time.sleep(0.01)

        workers = [threading.Thread(target=drive) for _ in range(2)]
        for w in workers:
            w.start()
        time.sleep(1.0)
        down = time.monotonic()
        pg.stop("fast")
        time.sleep(2.0)
        pg.start()
        up = time.monotonic()
        time.sleep(6.0)
        stop.set()
        for w in workers:
            w.join(timeout=30)
        failed = [o for t, o in outcomes if o != "ok"]
        assert failed, "PostgreSQL was down and nothing failed?"
        assert set(failed) <= {"KMSInternalException", "DependencyTimeoutException"}, set(failed)
        after = [t for t, o in outcomes if o == "ok" and t > up]
        assert after, "the node did not recover without a restart"
        recovery = after[0] - up
        report(capsys, f"PostgreSQL down {up - down:.1f} s: {len(failed)} of {len(outcomes)} iterations failed "
                       f"({100 * len(failed) / len(outcomes):.0f} %), first success {recovery * 1000:.0f} ms after it was back")
        assert recovery < 5.0
        assert c.decrypt(CiphertextBlob=c.encrypt(KeyId=key, Plaintext=b"x")["CiphertextBlob"])["Plaintext"] == b"x"
    finally:
        node.stop()


def test_nodes_racing_on_one_name_agree(nodes):
    """The same CreateGrant (by name) and CreateAlias sent to both nodes at
    once: one grant, one alias; the rest AWS's answers for a retry and a
    name taken."""
    from concurrent.futures import ThreadPoolExecutor

    a, b = nodes
    key = a.client().create_key()["KeyMetadata"]["KeyId"]
    clients = [n.client() for n in (a, b) for _ in range(4)]

    def grant(c):
        return c.create_grant(KeyId=key, Name="race", GranteePrincipal=f"arn:aws:iam::{ACCOUNT}:role/Pipeline",
                              Operations=["Decrypt"])["GrantId"]

    def alias(c):
        try:
            c.create_alias(AliasName="alias/race", TargetKeyId=key)
            return "created"
        except ClientError as e:
            return error_code(e)

    with ThreadPoolExecutor(len(clients)) as pool:
        grant_ids = set(pool.map(grant, clients))
        aliases = sorted(pool.map(alias, clients))
    assert len(grant_ids) == 1
    assert len(b.client().list_grants(KeyId=key)["Grants"]) == 1
    assert aliases == ["AlreadyExistsException"] * (len(clients) - 1) + ["created"]


def test_a_deletion_cancelled_on_one_node_is_not_carried_out_by_another(nodes, site, pg):
    """Deletion is carried out by whichever node next reads a key that is
    due; a node must not delete a key whose deletion another node
    cancelled. (The waiting period is made due by rewriting its date.)"""
    a, b = (n.client() for n in nodes)
    key = a.create_key()["KeyMetadata"]["KeyId"]
    a.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    b.describe_key(KeyId=key)  # B caches the key as pending deletion
    b.cancel_key_deletion(KeyId=key)
    a.enable_key(KeyId=key)
    time.sleep(0.2)
    assert a.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
    assert b.encrypt(KeyId=key, Plaintext=b"p")["KeyId"].endswith(key)
    # Now due: the first node to look deletes it, once.
    a.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    # The date rewritten by hand, and the nodes told as a node would tell
    # them (a node's notification: change number, node, key id).
    pg.psql(f"UPDATE keys SET deletion_date = 1 WHERE key_id = '{key}'")
    pg.psql(f"SELECT pg_notify('keyward', '0 psql {key}')")
    for c in (b, a):
        _, e = until_refused(lambda: c.describe_key(KeyId=key), limit=BOUND)
        assert error_code(e) == "NotFoundException"


def test_without_notifications_nodes_learn_of_changes_from_the_check(pg, site, capsys):
    """Some engines that speak PostgreSQL's protocol have no NOTIFY. A
    database where the nodes' role may not call pg_notify stands in for
    one: the nodes still converge, through the check every second."""
    pg.psql("CREATE ROLE plain LOGIN")
    pg.psql("CREATE DATABASE plain OWNER plain")
    pg.psql("REVOKE EXECUTE ON FUNCTION pg_notify(text, text) FROM PUBLIC", db="plain")
    url = f"postgresql://plain@127.0.0.1:{pg.port}/plain"
    a = Node(site, "quiet-a", url).start()
    b = Node(site, "quiet-b", url).start()
    try:
        ca, cb = a.client(), b.client()
        key = ca.create_key()["KeyMetadata"]["KeyId"]
        blob = ca.encrypt(KeyId=key, Plaintext=b"p")["CiphertextBlob"]
        cb.decrypt(CiphertextBlob=blob)
        ca.disable_key(KeyId=key)
        took, e = until_refused(lambda: cb.decrypt(CiphertextBlob=blob), limit=5.0)
        assert error_code(e) == "DisabledException"
        report(capsys, f"no NOTIFY: DisableKey on A reached B after {took * 1000:.0f} ms (one check: 1 s)")
        assert took < 2.5
    finally:
        a.stop()
        b.stop()


def test_connection_settings_come_from_the_environment_and_custom_key_stores_span_nodes(pg, site, capsys):
    """A URL without user or port takes PGUSER and PGPORT, as psql does. A
    custom key store connected through one node serves its keys on the
    other (configured with the same cluster), and disconnected on one, is
    refused on the other within the bound."""
    cluster, pin = "cluster-clusterabcde", "kmsuser-cluster-pin"
    conf = softhsm_tokens(os.path.join(site["base"], "hsm"), ("cluster-token", pin))
    env = {"PGUSER": "keyward", "PGPORT": str(pg.port), "SOFTHSM2_CONF": conf}
    hsm = ["--cloudhsm-cluster", f"{cluster}=pkcs11:token=cluster-token?module-path={SOFTHSM}"]
    url = "postgresql://127.0.0.1/keyward"
    a = Node(site, "hsm-a", url, hsm, env).start()
    b = Node(site, "hsm-b", url, hsm, env).start()
    try:
        ca, cb = a.client(), b.client()
        cks = ca.create_custom_key_store(CustomKeyStoreName="shared", CloudHsmClusterId=cluster,
                                         TrustAnchorCertificate=trust_anchor(),
                                         KeyStorePassword=pin)["CustomKeyStoreId"]
        ca.connect_custom_key_store(CustomKeyStoreId=cks)
        key = ca.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=cks)["KeyMetadata"]["KeyId"]
        blob = ca.encrypt(KeyId=key, Plaintext=b"in the token")["CiphertextBlob"]
        assert cb.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in the token"
        cb.disconnect_custom_key_store(CustomKeyStoreId=cks)
        took, e = until_refused(lambda: ca.encrypt(KeyId=key, Plaintext=b"p"), limit=BOUND)
        assert error_code(e) == "KMSInvalidStateException"
        report(capsys, f"DisconnectCustomKeyStore on B refused on A after {took * 1000:.1f} ms")
        [entry] = ca.describe_custom_key_stores(CustomKeyStoreId=cks)["CustomKeyStores"]
        assert entry["ConnectionState"] == "DISCONNECTED"
        cb.connect_custom_key_store(CustomKeyStoreId=cks)
        assert ca.decrypt(CiphertextBlob=blob)["Plaintext"] == b"in the token"
    finally:
        a.stop()
        b.stop()


def test_nodes_share_a_root_key_in_an_hsm(pg, site):
    """`keyward init --root-key pkcs11:... --store URL` keeps the shared
    store's root key in a token; every node then opens it there (no root
    key file, no KEYWARD_ROOT_KEY) and what one node seals, another opens."""
    pin = "root-pin-1234"
    conf = softhsm_tokens(os.path.join(site["base"], "root-hsm"), ("shared-root", pin))
    pg.psql("CREATE DATABASE hsmroot")
    url = f"postgresql://keyward@127.0.0.1:{pg.port}/hsmroot"
    uri = f"pkcs11:token=shared-root;object=keyward-root?module-path={SOFTHSM}"
    env = {"SOFTHSM2_CONF": conf, "KEYWARD_PKCS11_PIN": pin, "KEYWARD_ROOT_KEY": ""}
    a = Node(site, "root-a", url, env=env)
    init = subprocess.run([keyward_bin(), "init", "--data", a.data, "--root-key", uri, "--store", url,
                           "--node-id", a.name], capture_output=True, text=True, timeout=60,
                          env={**quiet_env(), **env})
    assert init.returncode == 0, init.stderr
    assert "generated in the token" in init.stdout
    a.start()
    b = Node(site, "root-b", url, env=env).start()
    try:
        key = a.client().create_key()["KeyMetadata"]["KeyId"]
        blob = a.client().encrypt(KeyId=key, Plaintext=b"sealed by the token")["CiphertextBlob"]
        assert b.client().decrypt(CiphertextBlob=blob)["Plaintext"] == b"sealed by the token"
        for n in (a, b):
            assert not os.path.exists(os.path.join(n.data, "root.key"))
    finally:
        a.stop()
        b.stop()


def test_a_store_that_cannot_be_reached_is_named_and_the_node_does_not_start(pg, site):
    base = os.path.join(site["base"], "unreachable")
    cases = [
        (f"postgresql://keyward@127.0.0.1:{pg.port}/no_such_database", 'database "no_such_database" does not exist'),
        (f"postgresql://nobody@127.0.0.1:{pg.port}/keyward", 'role "nobody" does not exist'),
        ("mysql://db/keyward", "expected postgresql://USER@HOST:PORT/DATABASE"),
    ]
    for i, (url, says) in enumerate(cases):
        out = subprocess.run([keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", f"{base}-{i}",
                              "--store", url], capture_output=True, text=True, timeout=60,
                             env={**quiet_env(), "KEYWARD_ROOT_KEY": site["root"]})
        assert out.returncode != 0
        assert says in " ".join(out.stderr.replace("│", " ").split()), out.stderr
