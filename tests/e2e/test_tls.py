"""HTTPS with --tls-cert/--tls-key: aws:SecureTransport is true only over TLS."""

import datetime
import ipaddress
import json
import os
import re
import signal
import subprocess
import tempfile

import boto3
import pytest
from botocore.exceptions import ClientError
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from conftest import ACCOUNT, IDENTITIES, keyward_bin, quiet_env


def self_signed(directory):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return cert_path, key_path


SECURE_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "Admin", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Sid": "TlsOnlyDecrypt", "Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    ],
}


def test_https_and_secure_transport(server, kms):
    directory = tempfile.mkdtemp(prefix="keyward-tls-")
    cert, key = self_signed(directory)
    ids = os.path.join(directory, "identities.json")
    with open(ids, "w") as f:
        json.dump({"identities": list(IDENTITIES.values())}, f)
    proc = subprocess.Popen(
        [keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(directory, "data"),
         "--identities", ids, "--tls-cert", cert, "--tls-key", key],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=quiet_env(),
    )
    try:
        line = proc.stdout.readline()
        endpoint = re.search(r"listening on (https://[0-9.:]+)", line).group(1)
        admin = IDENTITIES["admin"]
        tls = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", verify=cert,
                           aws_access_key_id=admin["access_key_id"], aws_secret_access_key=admin["secret_access_key"])
        arn = tls.create_key(Policy=json.dumps(SECURE_ONLY))["KeyMetadata"]["Arn"]
        blob = tls.encrypt(KeyId=arn, Plaintext=b"over TLS")["CiphertextBlob"]
        assert tls.decrypt(CiphertextBlob=blob)["Plaintext"] == b"over TLS"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    # The same policy over plain HTTP: the deny applies.
    plain_arn = kms.create_key(Policy=json.dumps(SECURE_ONLY))["KeyMetadata"]["Arn"]
    plain_blob = kms.encrypt(KeyId=plain_arn, Plaintext=b"plain")["CiphertextBlob"]
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=plain_blob)
    assert e.value.response["Error"]["Code"] == "AccessDeniedException"


def test_a_silent_tls_client_is_dropped_after_the_handshake_timeout():
    """A socket that never sends a ClientHello is closed, not kept forever."""
    import socket
    import time

    directory = tempfile.mkdtemp(prefix="keyward-tls-silent-")
    cert, key = self_signed(directory)
    ids = os.path.join(directory, "identities.json")
    with open(ids, "w") as f:
        json.dump({"identities": [IDENTITIES["admin"]]}, f)
    proc = subprocess.Popen(
        [keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(directory, "data"),
         "--identities", ids, "--tls-cert", cert, "--tls-key", key, "--tls-handshake-timeout", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=quiet_env(),
    )
    try:
        host, port = re.search(r"listening on https://([0-9.]+):(\d+)", proc.stdout.readline()).groups()
        silent = socket.create_connection((host, int(port)), timeout=5)
        started = time.monotonic()
        silent.settimeout(5)
        try:
            assert silent.recv(1024) == b""
        except ConnectionResetError:
            pass
        assert time.monotonic() - started < 4
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
