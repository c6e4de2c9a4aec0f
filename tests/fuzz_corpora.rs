//! The fuzz targets' corpora on stable: every seed, and every input a
//! fuzzer ever kept or found (`fuzz/corpus/TARGET/`), runs through the
//! same entry point the target calls, and returns without panicking.

use std::path::Path;
use std::sync::LazyLock;

use keyward::fuzzing::Harness;

static HARNESS: LazyLock<Harness> = LazyLock::new(|| Harness::new().expect("fuzz harness"));

fn each_input(target: &str, run: impl Fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).expect("corpus directory") {
        let path = entry.expect("entry").path();
        let bytes = std::fs::read(&path).expect("input");
        run(&bytes);
        n += 1;
    }
    assert!(n >= 5, "{} holds {n} inputs; seed it", dir.display());
}

#[test]
fn policy_corpus() {
    each_input("policy", keyward::fuzzing::policy);
}

#[test]
fn blob_corpus() {
    each_input("blob", |b| HARNESS.blob(b));
}

#[test]
fn request_corpus() {
    each_input("request", |b| HARNESS.request(b));
}
