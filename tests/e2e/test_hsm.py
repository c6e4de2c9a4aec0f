"""The root key in a PKCS#11 token, and custom key stores over PKCS#11, as a
user runs them: SoftHSM2 tokens in a temporary directory (SOFTHSM2_CONF),
`keyward init --root-key pkcs11:...`, `keyward serve`, boto3. The tokens'
own view comes from python-pkcs11, an independent PKCS#11 client."""

import json
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile

import boto3
import botocore.config
import pkcs11
import pytest
from botocore.exceptions import ClientError

from conftest import IDENTITIES, keyward_bin, quiet_env, softhsm_tokens, trust_anchor

MODULE = "/usr/lib/softhsm/libsofthsm2.so"
ROOT_PIN = "root-pin-1234"
KMSUSER = "kmsuser-password-1"
CLUSTER = "cluster-a2b3c4defgh"
DAY = 86_400


def token_dir(base, *tokens):
    return softhsm_tokens(base, *tokens)


def root_uri(pin_file, obj="keyward-root"):
    return f"pkcs11:token=keyward;object={obj}?module-path={MODULE}&pin-source=file:{pin_file}"


def run(args, conf, **kw):
    return subprocess.run(
        [keyward_bin(), *args], capture_output=True, text=True, timeout=60,
        env={**quiet_env(), "SOFTHSM2_CONF": conf}, **kw,
    )


class Server:
    def __init__(self, data, conf, ids, extra=()):
        self.clock = os.path.join(data + "-clock")
        if not os.path.exists(self.clock):
            with open(self.clock, "w") as f:
                f.write("0")
        self.proc = subprocess.Popen(
            [keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", data, "--identities", ids,
             "--quotas", "off", "--test-clock-offset", self.clock, *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env={**quiet_env(), "SOFTHSM2_CONF": conf},
        )
        line = self.proc.stdout.readline()
        match = re.search(r"listening on (http://[0-9.:]+)", line)
        if not match:
            self.proc.kill()
            raise RuntimeError(f"keyward serve did not start: {line}{self.proc.stdout.read()}")
        self.endpoint = match.group(1)

    def client(self, who="admin"):
        ident = IDENTITIES[who]
        return boto3.client(
            "kms", endpoint_url=self.endpoint, region_name="us-east-1",
            aws_access_key_id=ident["access_key_id"], aws_secret_access_key=ident["secret_access_key"],
            config=botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30),
        )

    def advance(self, seconds):
        with open(self.clock) as f:
            now = int(f.read().strip() or 0)
        with open(self.clock, "w") as f:
            f.write(str(now + seconds))

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def serve_refusal(data, conf, ids):
    """Starts `keyward serve` expecting it to refuse; what it said."""
    proc = subprocess.run(
        [keyward_bin(), "serve", "--listen", "127.0.0.1:0", "--data", data, "--identities", ids],
        capture_output=True, text=True, timeout=60, env={**quiet_env(), "SOFTHSM2_CONF": conf},
    )
    assert proc.returncode != 0, proc.stdout
    return re.sub(r"\s*│\s*", " ", proc.stderr)


@pytest.fixture(scope="module")
def lab():
    tmp = tempfile.mkdtemp(prefix="keyward-hsm-")
    conf = token_dir(os.path.join(tmp, "hsm"), ("keyward", ROOT_PIN), ("cks1", KMSUSER), ("cks2", KMSUSER))
    pin = os.path.join(tmp, "pin")
    with open(pin, "w") as f:
        f.write(ROOT_PIN + "\n")
    ids = os.path.join(tmp, "identities.json")
    with open(ids, "w") as f:
        json.dump({"identities": [IDENTITIES["admin"], IDENTITIES["app"], IDENTITIES["eve"]]}, f)
    yield {"tmp": tmp, "conf": conf, "pin": pin, "ids": ids}
    shutil.rmtree(tmp, ignore_errors=True)


_LIB = {}


def token_session(conf, label, pin):
    """A session of python-pkcs11 (this process loads SoftHSM2 once, with
    the lab's configuration)."""
    if "lib" not in _LIB:
        os.environ["SOFTHSM2_CONF"] = conf
        _LIB["lib"] = pkcs11.lib(MODULE)
    return _LIB["lib"].get_token(token_label=label).open(user_pin=pin, rw=True)


def roundtrip(kms, key_id):
    ct = kms.encrypt(KeyId=key_id, Plaintext=b"tenant data", EncryptionContext={"tenant": "a"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "a"})["Plaintext"] == b"tenant data"
    return ct


def test_root_key_in_the_token_serves_boto3_and_no_root_key_is_on_disk(lab):
    data = os.path.join(lab["tmp"], "data")
    done = run(["init", "--data", data, "--root-key", root_uri(lab["pin"])], lab["conf"])
    assert done.returncode == 0, done.stderr
    assert "generated in the token" in done.stdout
    assert ROOT_PIN not in done.stdout
    server = Server(data, lab["conf"], lab["ids"])
    try:
        kms = server.client()
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        ct = roundtrip(kms, key)
        lab["ciphertext"] = (key, ct)
    finally:
        server.stop()
    assert sorted(os.listdir(data)) == ["audit.jsonl", "keyward.db"], os.listdir(data)
    # The data directory remembers the token, not the PIN.
    db = sqlite3.connect(os.path.join(data, "keyward.db"))
    (stored,) = db.execute("SELECT value FROM settings WHERE name = 'root-key'").fetchone()
    db.close()
    assert stored.startswith("pkcs11:token=keyward;object=keyward-root?") and ROOT_PIN not in stored
    for name in os.listdir(data):
        with open(os.path.join(data, name), "rb") as f:
            assert ROOT_PIN.encode() not in f.read()
    # The token's own view of the root key: sensitive, never extractable.
    with token_session(lab["conf"], "keyward", ROOT_PIN) as s:
        root = s.get_key(label="keyward-root")
        assert root[pkcs11.Attribute.SENSITIVE] and root[pkcs11.Attribute.NEVER_EXTRACTABLE]
        assert not root[pkcs11.Attribute.EXTRACTABLE]
        with pytest.raises(pkcs11.exceptions.PKCS11Error):
            root[pkcs11.Attribute.VALUE]


def test_the_data_directory_without_its_token_refuses_to_start(lab):
    data = os.path.join(lab["tmp"], "data")
    moved = os.path.join(lab["tmp"], "moved")
    shutil.copytree(data, moved)
    elsewhere = token_dir(os.path.join(lab["tmp"], "no-token"))
    said = serve_refusal(moved, elsewhere, lab["ids"])
    assert "no PKCS#11 token labelled `keyward`" in said, said
    # Another token with the same label and a key with the same label,
    # but not the same key: it cannot open the data.
    other = token_dir(os.path.join(lab["tmp"], "other-token"), ("keyward", ROOT_PIN))
    assert run(["init", "--data", os.path.join(lab["tmp"], "scratch"), "--root-key", root_uri(lab["pin"])],
               other).returncode == 0
    said = serve_refusal(moved, other, lab["ids"])
    assert "does not open this data directory" in said, said


def test_a_file_root_key_moves_into_the_token_and_old_ciphertexts_still_open(lab):
    data = os.path.join(lab["tmp"], "from-file")
    assert run(["init", "--data", data], lab["conf"]).returncode == 0
    assert os.path.exists(os.path.join(data, "root.key"))
    server = Server(data, lab["conf"], lab["ids"])
    try:
        kms = server.client()
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        ct = roundtrip(kms, key)
    finally:
        server.stop()
    # A move that fails half-way (a record the old root cannot open)
    # changes nothing: it is one transaction.
    db_path = os.path.join(data, "keyward.db")
    db = sqlite3.connect(db_path)
    before = db.execute("SELECT key_id, version, sealed FROM key_versions ORDER BY key_id, version").fetchall()
    db.execute("INSERT INTO internal_keys (purpose, sealed) VALUES ('damaged', x'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff')")
    db.commit()
    db.close()
    failed = run(["init", "--data", data, "--root-key", root_uri(lab["pin"], "moved-root")], lab["conf"])
    assert failed.returncode != 0 and "damaged" in failed.stderr, failed.stderr
    assert os.path.exists(os.path.join(data, "root.key"))
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT key_id, version, sealed FROM key_versions ORDER BY key_id, version").fetchall() == before
    assert db.execute("SELECT count(*) FROM settings").fetchone() == (0,)
    db.execute("DELETE FROM internal_keys WHERE purpose = 'damaged'")
    db.commit()
    db.close()
    with open(os.path.join(data, "root.key")) as f:
        old_root_file = f.read()
    done = run(["init", "--data", data, "--root-key", root_uri(lab["pin"], "moved-root")], lab["conf"])
    assert done.returncode == 0, done.stderr
    assert "moved to the root key" in done.stdout and "root key file is removed" in done.stdout
    assert not os.path.exists(os.path.join(data, "root.key"))
    with open(os.path.join(data, "audit.jsonl")) as f:
        moves = [r for r in map(json.loads, f) if r["eventName"] == "MoveRootKey"]
    assert [m["requestParameters"]["rootKey"] for m in moves] == [
        f"pkcs11:token=keyward;object=moved-root?module-path={MODULE}&pin-source=file:{lab['pin']}"]
    server = Server(data, lab["conf"], lab["ids"])
    try:
        kms = server.client()
        assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "a"})["Plaintext"] == b"tenant data"
        roundtrip(kms, key)
    finally:
        server.stop()
    # Stopped after the commit, before the key file was removed: the next
    # start removes it (it opens nothing here any more).
    with open(os.path.join(data, "root.key"), "w") as f:
        f.write(old_root_file)
    server = Server(data, lab["conf"], lab["ids"])
    try:
        assert not os.path.exists(os.path.join(data, "root.key"))
        roundtrip(server.client(), key)
    finally:
        server.stop()
    assert subprocess.run([keyward_bin(), "audit", "verify", "--data", data], capture_output=True,
                          env={**quiet_env(), "SOFTHSM2_CONF": lab["conf"]}, timeout=60).returncode == 0


def error(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def test_custom_key_store_lifecycle_through_boto3(lab):
    data = os.path.join(lab["tmp"], "cks")
    assert run(["init", "--data", data], lab["conf"]).returncode == 0
    anchor = trust_anchor()
    anchor_file = os.path.join(lab["tmp"], "customerCA.crt")
    with open(anchor_file, "w") as f:
        f.write(anchor)
    server = Server(data, lab["conf"], lab["ids"], [
        "--cloudhsm-cluster", f"{CLUSTER}=pkcs11:token=cks1?module-path={MODULE}",
        "--cloudhsm-cluster", f"cluster-2b34c5defgh=pkcs11:token=cks2?module-path={MODULE}",
        "--cloudhsm-trust-anchor", f"{CLUSTER}={anchor_file}",
    ])
    try:
        kms = server.client()
        with pytest.raises(ClientError) as e:
            kms.create_custom_key_store(CustomKeyStoreName="s", CloudHsmClusterId="cluster-zzzzzzzzzzz",
                                        TrustAnchorCertificate=anchor, KeyStorePassword=KMSUSER)
        assert error(e)[0] == "CloudHsmClusterNotFoundException"
        with pytest.raises(ClientError) as e:
            kms.create_custom_key_store(CustomKeyStoreName="s", CloudHsmClusterId=CLUSTER,
                                        TrustAnchorCertificate=trust_anchor(), KeyStorePassword=KMSUSER)
        assert error(e)[0] == "IncorrectTrustAnchorException"
        # The wrong password first: the connection fails, as AWS reports
        # it, in the store's state.
        cks = kms.create_custom_key_store(CustomKeyStoreName="ExampleKeyStore", CloudHsmClusterId=CLUSTER,
                                          TrustAnchorCertificate=anchor,
                                          KeyStorePassword="not-the-password")["CustomKeyStoreId"]
        assert re.fullmatch(r"cks-[0-9a-f]{17}", cks)
        with pytest.raises(ClientError) as e:
            kms.create_custom_key_store(CustomKeyStoreName="ExampleKeyStore", CloudHsmClusterId="cluster-2b34c5defgh",
                                        TrustAnchorCertificate=anchor, KeyStorePassword=KMSUSER)
        assert error(e)[0] == "CustomKeyStoreNameInUseException"
        with pytest.raises(ClientError) as e:
            kms.create_custom_key_store(CustomKeyStoreName="second", CloudHsmClusterId=CLUSTER,
                                        TrustAnchorCertificate=anchor, KeyStorePassword=KMSUSER)
        assert error(e)[0] == "CloudHsmClusterInUseException"
        [entry] = kms.describe_custom_key_stores(CustomKeyStoreId=cks)["CustomKeyStores"]
        assert entry["ConnectionState"] == "DISCONNECTED" and entry["CloudHsmClusterId"] == CLUSTER
        assert "KeyStorePassword" not in entry and entry["TrustAnchorCertificate"] == anchor
        with pytest.raises(ClientError) as e:
            kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=cks)
        assert error(e)[0] == "CustomKeyStoreInvalidStateException"
        kms.connect_custom_key_store(CustomKeyStoreId=cks)
        [entry] = kms.describe_custom_key_stores(CustomKeyStoreName="ExampleKeyStore")["CustomKeyStores"]
        assert (entry["ConnectionState"], entry["ConnectionErrorCode"]) == ("FAILED", "INVALID_CREDENTIALS")
        with pytest.raises(ClientError) as e:
            kms.connect_custom_key_store(CustomKeyStoreId=cks)
        assert error(e)[0] == "CustomKeyStoreInvalidStateException"
        kms.disconnect_custom_key_store(CustomKeyStoreId=cks)
        kms.update_custom_key_store(CustomKeyStoreId=cks, KeyStorePassword=KMSUSER)
        kms.connect_custom_key_store(CustomKeyStoreId=cks)
        [entry] = kms.describe_custom_key_stores(CustomKeyStoreId=cks)["CustomKeyStores"]
        assert entry["ConnectionState"] == "CONNECTED" and "ConnectionErrorCode" not in entry
        with pytest.raises(ClientError) as e:
            kms.update_custom_key_store(CustomKeyStoreId=cks, KeyStorePassword=KMSUSER)
        assert error(e)[0] == "CustomKeyStoreInvalidStateException"
        kms.update_custom_key_store(CustomKeyStoreId=cks, NewCustomKeyStoreName="Renamed")

        # A key in the store: generated in the token, used through it.
        with pytest.raises(ClientError) as e:
            kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=cks, MultiRegion=True)
        assert error(e)[0] == "UnsupportedOperationException"
        meta = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=cks, Description="in the HSM")["KeyMetadata"]
        assert (meta["Origin"], meta["CustomKeyStoreId"], meta["CloudHsmClusterId"], meta["KeyState"]) == (
            "AWS_CLOUDHSM", cks, CLUSTER, "Enabled")
        key = meta["KeyId"]
        ct = roundtrip(kms, key)
        dk = kms.generate_data_key(KeyId=key, KeySpec="AES_256")
        assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"])["Plaintext"] == dk["Plaintext"]
        wp = kms.generate_data_key_without_plaintext(KeyId=key, NumberOfBytes=32)["CiphertextBlob"]
        assert len(kms.decrypt(CiphertextBlob=wp)["Plaintext"]) == 32
        plain_key = kms.create_key()["KeyMetadata"]["KeyId"]
        moved = kms.re_encrypt(CiphertextBlob=ct, SourceEncryptionContext={"tenant": "a"},
                               DestinationKeyId=plain_key)["CiphertextBlob"]
        back = kms.re_encrypt(CiphertextBlob=moved, DestinationKeyId=key,
                              DestinationEncryptionContext={"tenant": "b"})["CiphertextBlob"]
        assert kms.decrypt(CiphertextBlob=back, EncryptionContext={"tenant": "b"})["Plaintext"] == b"tenant data"
        tampered = bytearray(ct)
        tampered[-1] ^= 1
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=bytes(tampered), EncryptionContext={"tenant": "a"})
        assert error(e)[0] == "InvalidCiphertextException"
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "b"})
        assert error(e)[0] == "InvalidCiphertextException"
        for call in (lambda: kms.enable_key_rotation(KeyId=key), lambda: kms.get_key_rotation_status(KeyId=key),
                     lambda: kms.generate_data_key_pair(KeyId=key, KeyPairSpec="ECC_NIST_P256")):
            with pytest.raises(ClientError) as e:
                call()
            assert error(e) == ("UnsupportedOperationException",
                                f"{meta['Arn']} origin is AWS_CLOUDHSM which is not valid for this operation.")
        # The key policy (here: the account's IAM policies) decides first,
        # as for every key.
        assert server.client("app").decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "a"})["KeyId"]
        with pytest.raises(ClientError) as e:
            server.client("eve").decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "a"})
        assert error(e)[0] == "AccessDeniedException"
        # kms:KeyOrigin is AWS_CLOUDHSM for such a key.
        kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps({
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "Account", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
                 "Action": "kms:*", "Resource": "*"},
                {"Sid": "NoHsmKeysForApp", "Effect": "Deny",
                 "Principal": {"AWS": "arn:aws:iam::111122223333:role/App"}, "Action": "kms:Decrypt",
                 "Resource": "*", "Condition": {"StringEquals": {"kms:KeyOrigin": "AWS_CLOUDHSM"}}},
            ],
        }))
        with pytest.raises(ClientError) as e:
            server.client("app").decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "a"})
        assert error(e)[0] == "AccessDeniedException"
        assert server.client("app").decrypt(CiphertextBlob=moved)["KeyId"].endswith(plain_key)
        assert len(kms.generate_random(NumberOfBytes=48, CustomKeyStoreId=cks)["Plaintext"]) == 48

        # Disconnected: the key is Unavailable and refuses; connected again,
        # it works again.
        with pytest.raises(ClientError) as e:
            kms.delete_custom_key_store(CustomKeyStoreId=cks)
        assert error(e)[0] == "CustomKeyStoreInvalidStateException"
        kms.disconnect_custom_key_store(CustomKeyStoreId=cks)
        with pytest.raises(ClientError) as e:
            kms.disconnect_custom_key_store(CustomKeyStoreId=cks)
        assert error(e)[0] == "CustomKeyStoreInvalidStateException"
        with pytest.raises(ClientError) as e:
            kms.generate_random(NumberOfBytes=8, CustomKeyStoreId=cks)
        assert error(e)[0] == "CustomKeyStoreInvalidStateException"
        assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Unavailable"
        for call in (lambda: kms.decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "a"}),
                     lambda: kms.encrypt(KeyId=key, Plaintext=b"x"),
                     lambda: kms.generate_data_key(KeyId=key, KeySpec="AES_256")):
            with pytest.raises(ClientError) as e:
                call()
            assert error(e) == ("KMSInvalidStateException", f"{meta['Arn']} is unavailable.")
        kms.connect_custom_key_store(CustomKeyStoreId=cks)
        assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Enabled"
        assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "a"})["Plaintext"] == b"tenant data"
        lab["cks"] = (data, cks, key, ct)

        # A restarted server reconnects the store on its next use.
        server.stop()
        server = Server(data, lab["conf"], lab["ids"], [
            "--cloudhsm-cluster", f"{CLUSTER}=pkcs11:token=cks1?module-path={MODULE}"])
        kms = server.client()
        assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "a"})["Plaintext"] == b"tenant data"

        # Deleting the store: only once its keys are deleted.
        kms.disconnect_custom_key_store(CustomKeyStoreId=cks)
        with pytest.raises(ClientError) as e:
            kms.delete_custom_key_store(CustomKeyStoreId=cks)
        assert error(e)[0] == "CustomKeyStoreHasCMKsException"
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "PendingDeletion"
        server.advance(8 * DAY)
        assert key not in [k["KeyId"] for k in kms.list_keys()["Keys"]]
        kms.delete_custom_key_store(CustomKeyStoreId=cks)
        with pytest.raises(ClientError) as e:
            kms.describe_custom_key_stores(CustomKeyStoreId=cks)
        assert error(e)[0] == "CustomKeyStoreNotFoundException"
    finally:
        server.stop()
    with open(os.path.join(data, "audit.jsonl")) as f:
        log = f.read()
    assert KMSUSER not in log and "not-the-password" not in log
    events = [json.loads(line)["eventName"] for line in log.splitlines() if line.strip()]
    for op in ("CreateCustomKeyStore", "ConnectCustomKeyStore", "DisconnectCustomKeyStore",
               "UpdateCustomKeyStore", "DeleteCustomKeyStore"):
        assert op in events, op


def test_a_custom_key_store_key_is_only_a_handle_in_keywards_database(lab):
    """The store keeps the key's label in the token; the key itself is in
    the token, sensitive and never extractable, and without it the
    database opens nothing."""
    data = os.path.join(lab["tmp"], "handle")
    assert run(["init", "--data", data], lab["conf"]).returncode == 0
    server = Server(data, lab["conf"], lab["ids"], [
        "--cloudhsm-cluster", f"cluster-2b34c5defgh=pkcs11:token=cks2?module-path={MODULE}"])
    try:
        kms = server.client()
        cks = kms.create_custom_key_store(CustomKeyStoreName="handles", CloudHsmClusterId="cluster-2b34c5defgh",
                                          TrustAnchorCertificate=trust_anchor(),
                                          KeyStorePassword=KMSUSER)["CustomKeyStoreId"]
        kms.connect_custom_key_store(CustomKeyStoreId=cks)
        key = kms.create_key(Origin="AWS_CLOUDHSM", CustomKeyStoreId=cks)["KeyMetadata"]["KeyId"]
        ct = roundtrip(kms, key)
        db = sqlite3.connect(os.path.join(data, "keyward.db"))
        rows = db.execute("SELECT sealed FROM key_versions WHERE key_id = ?", (key,)).fetchall()
        db.close()
        assert rows == [(f"keyward-{key}".encode(),)]
        with token_session(lab["conf"], "cks2", KMSUSER) as s:
            k = s.get_key(label=f"keyward-{key}")
            assert k[pkcs11.Attribute.SENSITIVE] and not k[pkcs11.Attribute.EXTRACTABLE]
            assert k[pkcs11.Attribute.VALUE_LEN] == 32
            with pytest.raises(pkcs11.exceptions.PKCS11Error):
                k[pkcs11.Attribute.VALUE]
            # The ciphertext's key is that object: with it gone from the
            # token, keyward's database alone decrypts nothing.
            k.destroy()
        kms.disconnect_custom_key_store(CustomKeyStoreId=cks)
        kms.connect_custom_key_store(CustomKeyStoreId=cks)
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=ct, EncryptionContext={"tenant": "a"})
        assert error(e)[0] == "KMSInvalidStateException"
    finally:
        server.stop()
