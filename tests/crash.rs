//! Durability under SIGKILL: a child process works in a loop and is killed
//! at random points; after each kill, everything it acknowledged must still
//! be there and decrypt, and nothing half-done may be usable.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keyward::eval::Caller;
use keyward::scope::Region;
use keyward::service::{DataDir, Identity, KeyService};
use serde_json::{Value, json};

/// A small deterministic generator, so a failing round can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % bound
    }
}

/// One acknowledged line: its kind (`ACK`, `REPLICA`), number, key ARN,
/// ciphertext and plaintext.
#[derive(Clone)]
struct Ack {
    kind: String,
    i: String,
    arn: String,
    ct: String,
    pt: String,
}

fn admin(region: &str) -> Identity {
    let mut id = Identity::new(Caller::parse("111122223333").expect("caller"));
    id.region = Region::parse(region);
    id
}

/// Runs `debug crash-loop` with `extra` arguments for `rounds` rounds,
/// killing it at a random point of each; after each kill `check` sees the
/// reopened service and what this round (or, after the last, every round)
/// acknowledged. The audit chain must survive every kill.
fn kill_rounds(name: &str, extra: &[&str], rounds: usize, check: impl Fn(&KeyService, &[Ack])) {
    let dir = std::env::temp_dir().join(format!("keyward-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let seed = std::env::var("KEYWARD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut rng = Lcg(seed);
    let mut acked: Vec<Ack> = Vec::new();
    for round in 0..rounds {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["debug", "crash-loop", "--data"])
            .arg(&dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the crash loop");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        // Wait for the first acknowledgement, then kill at a random point
        // of the work that follows.
        let mut lines = vec![
            rx.recv_timeout(Duration::from_secs(60))
                .expect("the loop acknowledges work"),
        ];
        let wait = Duration::from_millis(rng.next(200));
        let started = Instant::now();
        while started.elapsed() < wait {
            std::thread::sleep(Duration::from_millis(2));
        }
        child.kill().expect("SIGKILL");
        let _ = child.wait();
        let _ = reader.join();
        lines.extend(rx.try_iter());
        let before = acked.len();
        for line in lines {
            let parts: Vec<&str> = line.split(' ').collect();
            if let [kind, i, arn, ct, pt] = parts.as_slice() {
                acked.push(Ack {
                    kind: kind.to_string(),
                    i: i.to_string(),
                    arn: arn.to_string(),
                    ct: ct.to_string(),
                    pt: pt.to_string(),
                });
            }
        }
        assert!(
            acked.len() > before,
            "round {round} acknowledged nothing (seed {seed})"
        );
        let svc = KeyService::open(&DataDir::new(&dir), "us-east-1").expect("reopen after kill");
        check(
            &svc,
            if round + 1 == rounds {
                &acked[..]
            } else {
                &acked[before..]
            },
        );
    }
    let report = crate::service::verify_audit(&dir).expect("audit chain intact");
    assert!(report.records >= acked.len() as u64 * 2);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The key exists in the ack's Region and its ciphertext decrypts there.
fn decrypts(svc: &KeyService, region: &str, a: &Ack) {
    let id = admin(region);
    svc.call(&id, "DescribeKey", &json!({"KeyId": a.arn}))
        .unwrap_or_else(|e| panic!("acknowledged key {} is missing: {e}", a.arn));
    let out = svc
        .call(
            &id,
            "Decrypt",
            &json!({"CiphertextBlob": a.ct, "EncryptionContext": {"i": a.i}}),
        )
        .unwrap_or_else(|e| panic!("acknowledged ciphertext {} does not decrypt: {e}", a.i));
    assert_eq!(out["Plaintext"].as_str(), Some(a.pt.as_str()), "{}", a.i);
    assert_eq!(
        B64.decode(&a.pt).ok().map(|p| p.starts_with(b"message ")),
        Some(true)
    );
}

#[test]
fn acknowledged_work_survives_sigkill() {
    kill_rounds("crash", &[], 20, |svc, acks| {
        for a in acks {
            decrypts(svc, "us-east-1", a);
        }
    });
}

/// Every key of a Region is whole: usable and round-tripping, or (imported
/// material not yet committed) `PendingImport` and refusing to encrypt.
fn no_half_done_key(svc: &KeyService, region: &str) {
    let id = admin(region);
    let keys = svc
        .call(&id, "ListKeys", &json!({"Limit": 1000}))
        .expect("list");
    for k in keys["Keys"].as_array().into_iter().flatten() {
        let arn = k["KeyArn"].as_str().unwrap_or_default();
        let meta = svc
            .call(&id, "DescribeKey", &json!({"KeyId": arn}))
            .expect("describe");
        let state = meta["KeyMetadata"]["KeyState"].as_str();
        let encrypted = svc.call(&id, "Encrypt", &json!({"KeyId": arn, "Plaintext": "AA=="}));
        match state {
            Some("Enabled") => {
                let ct: Value = encrypted.expect("an enabled key encrypts");
                svc.call(
                    &id,
                    "Decrypt",
                    &json!({"CiphertextBlob": ct["CiphertextBlob"]}),
                )
                .expect("and decrypts");
            }
            Some("PendingImport") => {
                let e = encrypted.expect_err("a key without material does not encrypt");
                assert_eq!(e.kind.aws_type(), "KMSInvalidStateException");
            }
            other => panic!("{arn} is in state {other:?}"),
        }
    }
}

#[test]
fn acknowledged_imports_and_replicas_survive_sigkill() {
    kill_rounds("crash-import", &["--imports"], 8, |svc, acks| {
        for a in acks {
            match a.kind.as_str() {
                "ACK" => decrypts(svc, "us-east-1", a),
                // A ciphertext made under the primary decrypts under the
                // acknowledged replica.
                "REPLICA" => decrypts(svc, "us-west-2", a),
                other => panic!("unexpected line {other}"),
            }
        }
        no_half_done_key(svc, "us-east-1");
        no_half_done_key(svc, "us-west-2");
    });
}
