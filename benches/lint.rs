//! Linting 1,000 policy files of realistic size, from disk, with every rule.
//!
//! Run: `cargo bench --bench lint`. The baseline in the same run is reading
//! the same 1,000 files without linting them.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::hint::black_box;

/// The allocator the `keyward` binary ships with, so figures are the
/// product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::PathBuf;

use criterion::{Criterion, criterion_group, criterion_main};
use keyward::lint::{Config, lint_paths};

/// Writes 1,000 files cycling through the example policies and grants and
/// the realistic corpus (key, identity, SCP, RCP, VPC endpoint policies
/// and grants as teams write them).
fn corpus() -> (PathBuf, usize) {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("policies");
    let mut samples = Vec::new();
    for dir in [root.clone(), root.join("realistic")] {
        for e in std::fs::read_dir(dir).expect("policies").flatten() {
            if e.path().extension().is_some_and(|x| x == "json") {
                samples.push(std::fs::read_to_string(e.path()).expect("read"));
            }
        }
    }
    samples.sort();
    let dir = std::env::temp_dir().join(format!("keyward-lint-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut bytes = 0;
    for i in 0..1000 {
        let sub = dir.join(format!("team{}", i % 10));
        std::fs::create_dir_all(&sub).expect("dir");
        let text = &samples[i % samples.len()];
        bytes += text.len();
        std::fs::write(sub.join(format!("key-{i}.json")), text).expect("write");
    }
    (dir, bytes)
}

fn lint_1000(c: &mut Criterion) {
    let (dir, bytes) = corpus();
    eprintln!(
        "corpus: 1000 files, {bytes} bytes, mean {} bytes",
        bytes / 1000
    );
    let config = Config::default();
    let paths = vec![dir.clone()];
    let (reports, errors) = lint_paths(&paths, &config);
    assert!(errors.is_empty());
    assert_eq!(reports.len(), 1000);
    let mut g = c.benchmark_group("lint");
    g.sample_size(10);
    g.bench_function("lint_1000_files", |b| {
        b.iter(|| lint_paths(black_box(&paths), &config))
    });
    g.bench_function("baseline_read_1000_files", |b| {
        b.iter(|| {
            let mut n = 0;
            for team in std::fs::read_dir(&dir).expect("dir").flatten() {
                for f in std::fs::read_dir(team.path()).expect("team").flatten() {
                    n += std::fs::read_to_string(f.path()).expect("read").len();
                }
            }
            n
        })
    });
    g.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, lint_1000);
criterion_main!(benches);
