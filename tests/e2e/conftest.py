"""Starts a real `keyward serve` on a loopback port for the end-to-end suite."""

import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request

import boto3
import botocore.config
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ACCOUNT = "111122223333"
OTHER_ACCOUNT = "444455556666"
# The suite server's "CloudHSM cluster": a SoftHSM2 token, and the PIN of
# its user, which a custom key store gives as its KeyStorePassword.
SOFTHSM = "/usr/lib/softhsm/libsofthsm2.so"
E2E_CLUSTER = "cluster-e2eabcdefgh"
E2E_CLUSTER_PIN = "kmsuser-e2e-pin"


def softhsm_tokens(base, *tokens):
    """A SoftHSM2 configuration of its own in `base`, with initialized
    tokens `(label, user PIN)`; its SOFTHSM2_CONF path."""
    os.makedirs(os.path.join(base, "tokens"))
    conf = os.path.join(base, "softhsm2.conf")
    with open(conf, "w") as f:
        f.write(f"directories.tokendir = {base}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n")
    for label, pin in tokens:
        subprocess.run(
            ["softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "so-pin-5678"],
            check=True, capture_output=True, env={**os.environ, "SOFTHSM2_CONF": conf}, timeout=30,
        )
    return conf


def trust_anchor():
    """A self-signed CA certificate (PEM), as a cluster's customerCA.crt."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "keyward test cluster CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def quiet_env():
    """The environment for a server a test starts: its operational log off,
    so the first line it prints is the banner (test_logs.py turns it on)."""
    return {**os.environ, "RUST_LOG": "off"}


def identity(key_id, principal, actions=None, **extra):
    ident = {
        "access_key_id": key_id,
        "secret_access_key": f"secret-of-{key_id}",
        "principal": principal,
    }
    if actions is not None:
        ident["iam_policies"] = [
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": actions, "Resource": "*"}],
            }
        ]
    ident.update(extra)
    return ident


IDENTITIES = {
    "admin": identity("AKIAADMIN000000000001", f"arn:aws:iam::{ACCOUNT}:user/admin", ["kms:*"]),
    "app": identity(
        "AKIAAPP00000000000001",
        f"arn:aws:iam::{ACCOUNT}:role/App",
        ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
    ),
    "eve": identity("AKIAEVE00000000000001", f"arn:aws:iam::{ACCOUNT}:user/eve"),
    "appserver": identity(
        "AKIAAPPSERVER0000001", f"arn:aws:iam::{ACCOUNT}:role/AppServer", ["kms:Decrypt", "kms:Encrypt"]
    ),
    # A second account: its administrator, and a user with no IAM policy.
    "b_admin": identity("AKIABADMIN0000000001", f"arn:aws:iam::{OTHER_ACCOUNT}:user/admin", ["kms:*"]),
    "mallory": identity("AKIAMALLORY000000001", f"arn:aws:iam::{OTHER_ACCOUNT}:user/mallory"),
    # A grantee with no IAM policy at all.
    "pipeline": identity("AKIAPIPELINE00000001", f"arn:aws:iam::{ACCOUNT}:role/Pipeline"),
    "ec2": identity(
        "AKIAEC2SERVICE000001",
        f"arn:aws:iam::{ACCOUNT}:role/ec2-service",
        service="ec2.us-east-1.amazonaws.com",
        may_act_for=[f"arn:aws:iam::{ACCOUNT}:role/AppServer"],
    ),
}


@pytest.fixture(scope="session")
def server():
    binary = os.environ.get("KEYWARD_BIN", os.path.join("target", "debug", "keyward"))
    workdir = tempfile.mkdtemp(prefix="keyward-e2e-")
    ids = os.path.join(workdir, "identities.json")
    with open(ids, "w") as f:
        json.dump({"identities": list(IDENTITIES.values())}, f)
    conf = softhsm_tokens(os.path.join(workdir, "hsm"), ("e2e-cluster", E2E_CLUSTER_PIN))
    # KEYWARD_E2E_STORE=postgresql: the same suite against a node of a
    # shared PostgreSQL store (scripts/test-all runs it both ways).
    store, pg = [], None
    if os.environ.get("KEYWARD_E2E_STORE") == "postgresql":
        from pgcluster import Cluster

        pg = Cluster()
        store = ["--store", pg.url, "--node-id", "e2e"]
    proc = subprocess.Popen(
        # Quotas off: the suite creates keys faster than AWS's 5 CreateKey/s;
        # test_quotas.py starts its own server with quotas on.
        [binary, "serve", "--listen", "127.0.0.1:0", "--metrics-listen", "127.0.0.1:0",
         "--data", os.path.join(workdir, "data"), "--identities", ids, "--quotas", "off",
         "--cloudhsm-cluster", f"{E2E_CLUSTER}=pkcs11:token=e2e-cluster?module-path={SOFTHSM}", *store],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**quiet_env(), "SOFTHSM2_CONF": conf},
    )
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://[0-9.:]+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"keyward serve did not start: {line}{proc.stdout.read()}")
    endpoint = match.group(1)
    metrics = re.search(r"metrics on (http://[0-9.:]+/metrics)", line).group(1)
    yield {"endpoint": endpoint, "metrics": metrics, "workdir": workdir, "proc": proc, "store": store}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    if pg:
        pg.remove()
    shutil.rmtree(workdir, ignore_errors=True)


def client_for(server, who, secret=None, region="us-east-1"):
    ident = IDENTITIES[who]
    return boto3.client(
        "kms",
        endpoint_url=server["endpoint"],
        region_name=region,
        aws_access_key_id=ident["access_key_id"],
        aws_secret_access_key=secret or ident["secret_access_key"],
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )


@pytest.fixture(scope="session")
def kms(server):
    return client_for(server, "admin")


def keyward_bin():
    return os.environ.get("KEYWARD_BIN", os.path.join("target", "debug", "keyward"))


def signed_post(server, target, body, who="admin", extra_headers=None, region="us-east-1", service="kms"):
    """A request signed by botocore's SigV4 signer for any credential scope
    (boto3 itself refuses Region names that are not host labels)."""
    ident = IDENTITIES[who]
    headers = {"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target}
    headers.update(extra_headers or {})
    req = AWSRequest(method="POST", url=server["endpoint"] + "/", data=body, headers=headers)
    SigV4Auth(Credentials(ident["access_key_id"], ident["secret_access_key"]), service, region).add_auth(req)
    return send(req.prepare())


def post_signed_then_added(server, who, signed_headers, added_headers, body=b"{}"):
    """Signs a request over `signed_headers` (plus host and X-Amz-Date), then
    adds `added_headers` unsigned, as an attacker on the path could."""
    ident = IDENTITIES[who]
    req = AWSRequest(method="POST", url=server["endpoint"] + "/", data=body, headers=dict(signed_headers))
    SigV4Auth(Credentials(ident["access_key_id"], ident["secret_access_key"]), "kms", "us-east-1").add_auth(req)
    return send(req.prepare(), added_headers)


def send(prepared, added_headers=None):
    """Sends a prepared request (plus headers added after signing): status and JSON body."""
    headers = dict(prepared.headers)
    headers.update(added_headers or {})
    http = urllib.request.Request(prepared.url, data=prepared.body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(http, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
