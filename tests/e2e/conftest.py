"""Starts a real `keyward serve` on a loopback port for the end-to-end suite."""

import json
import os
import re
import shutil
import subprocess
import tempfile

import boto3
import botocore.config
import pytest

ACCOUNT = "111122223333"


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
    proc = subprocess.Popen(
        [binary, "serve", "--listen", "127.0.0.1:0", "--data", os.path.join(workdir, "data"), "--identities", ids],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    line = proc.stdout.readline()
    match = re.search(r"listening on (http://[0-9.:]+)", line)
    if not match:
        proc.kill()
        raise RuntimeError(f"keyward serve did not start: {line}{proc.stdout.read()}")
    endpoint = match.group(1)
    yield {"endpoint": endpoint, "workdir": workdir, "proc": proc}
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
    shutil.rmtree(workdir, ignore_errors=True)


def client_for(server, who, secret=None):
    ident = IDENTITIES[who]
    return boto3.client(
        "kms",
        endpoint_url=server["endpoint"],
        region_name="us-east-1",
        aws_access_key_id=ident["access_key_id"],
        aws_secret_access_key=secret or ident["secret_access_key"],
        config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
    )


@pytest.fixture(scope="session")
def kms(server):
    return client_for(server, "admin")


def keyward_bin():
    return os.environ.get("KEYWARD_BIN", os.path.join("target", "debug", "keyward"))
