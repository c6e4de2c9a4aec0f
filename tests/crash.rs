//! Durability under SIGKILL: a child process runs CreateKey + Encrypt in a
//! loop and is killed at random points; after each kill, every key and
//! ciphertext it acknowledged must still be there and decrypt.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use keyward::eval::Caller;
use keyward::service::{DataDir, Identity, KeyService};
use serde_json::json;

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

#[test]
fn acknowledged_work_survives_sigkill() {
    let dir = std::env::temp_dir().join(format!("keyward-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let seed = std::env::var("KEYWARD_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed);
    let mut rng = Lcg(seed);
    let mut acked: Vec<(String, String, String, String)> = Vec::new();
    let admin = Identity::new(Caller::parse("111122223333").expect("caller"));
    const ROUNDS: usize = 20;
    for round in 0..ROUNDS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(["debug", "crash-loop", "--data"])
            .arg(&dir)
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
            rx.recv_timeout(Duration::from_secs(30))
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
            if let ["ACK", i, arn, ct, pt] = parts.as_slice() {
                acked.push((
                    i.to_string(),
                    arn.to_string(),
                    ct.to_string(),
                    pt.to_string(),
                ));
            }
        }
        // Every key and ciphertext this round acknowledged; all of them
        // again after the last round.
        let svc = KeyService::open(&DataDir::new(&dir), "us-east-1").expect("reopen after kill");
        let check = if round + 1 == ROUNDS {
            &acked[..]
        } else {
            &acked[before..]
        };
        for (i, arn, ct, pt) in check {
            svc.call(&admin, "DescribeKey", &json!({"KeyId": arn}))
                .unwrap_or_else(|e| {
                    panic!("round {round}: acknowledged key {arn} is missing: {e}")
                });
            let out = svc
                .call(
                    &admin,
                    "Decrypt",
                    &json!({"CiphertextBlob": ct, "EncryptionContext": {"i": i}}),
                )
                .unwrap_or_else(|e| {
                    panic!("round {round}: acknowledged ciphertext {i} does not decrypt: {e}")
                });
            assert_eq!(
                out["Plaintext"].as_str(),
                Some(pt.as_str()),
                "round {round}: ciphertext {i}"
            );
            assert_eq!(
                B64.decode(pt).ok().map(|p| p.starts_with(b"message ")),
                Some(true)
            );
        }
        drop(svc);
        assert!(
            acked.len() > before,
            "round {round} acknowledged nothing (seed {seed})"
        );
    }
    // The audit chain survived every kill (a torn last line is cut on open).
    let report = crate::service::verify_audit(&dir).expect("audit chain intact");
    assert!(report.records >= acked.len() as u64 * 2);
    let _ = std::fs::remove_dir_all(&dir);
}
