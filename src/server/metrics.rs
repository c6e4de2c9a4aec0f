//! Prometheus metrics with bounded cardinality: every label comes from a
//! fixed set (the operation list, AWS's error types) or from an
//! authenticated identity, never from raw request text, so no request —
//! least of all an unauthenticated one — can add a series. Served only on
//! the separate `--metrics-listen` address; rendered from a snapshot so a
//! scrape never holds the lock requests take.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// The operation label of a request refused before it was authenticated.
pub const UNAUTHENTICATED: &str = "unauthenticated";
/// The operation label of an authenticated request naming no operation.
pub const UNKNOWN: &str = "unknown";

/// Why an unwrap was refused: the label values of
/// `keyward_unwrap_denied_total`.
pub const UNWRAP_REASONS: [&str; 6] = [
    "context_mismatch",
    "no_permission",
    "disabled_key",
    "wrong_key",
    "invalid_ciphertext",
    "other",
];

const BUCKETS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0,
];

#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Counters>,
}

#[derive(Default, Clone)]
struct Counters {
    requests: BTreeMap<(&'static str, &'static str), u64>,
    /// Denied calls by operation and authenticated principal: principals
    /// come from the identities file, so the set is bounded by it.
    denies: BTreeMap<(&'static str, String), u64>,
    /// Refused unwraps (Decrypt, ReEncrypt) by reason, from a fixed set.
    unwrap_denied: BTreeMap<&'static str, u64>,
    /// Successful unwraps by authenticated principal.
    unwraps: BTreeMap<String, u64>,
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// The label for an operation name: itself if it is one the service
/// implements, else [`UNKNOWN`].
pub fn operation_label(operation: &str) -> &'static str {
    crate::service::OPERATIONS
        .iter()
        .find(|o| **o == operation)
        .copied()
        .unwrap_or(UNKNOWN)
}

impl Metrics {
    /// Counts one request. `operation` is a label from
    /// [`operation_label`] or [`UNAUTHENTICATED`]; `outcome` is `ok` or an
    /// AWS error type.
    pub fn record(
        &self,
        operation: &'static str,
        outcome: &'static str,
        denied: Option<&str>,
        seconds: f64,
    ) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *m.requests.entry((operation, outcome)).or_default() += 1;
        if let Some(principal) = denied {
            *m.denies
                .entry((operation, principal.to_owned()))
                .or_default() += 1;
        }
        for (i, b) in BUCKETS.iter().enumerate() {
            if seconds <= *b {
                m.buckets[i] += 1;
            }
        }
        m.count += 1;
        m.sum += seconds;
    }

    /// Counts one unwrap (Decrypt or ReEncrypt) by an authenticated
    /// principal: done, or refused for `reason` (one of [`UNWRAP_REASONS`]).
    pub fn record_unwrap(&self, principal: &str, refused: Option<&'static str>) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        match refused {
            Some(reason) => *m.unwrap_denied.entry(reason).or_default() += 1,
            // Counted before: no allocation on the hot path.
            None => match m.unwraps.get_mut(principal) {
                Some(n) => *n += 1,
                None => {
                    m.unwraps.insert(principal.to_owned(), 1);
                }
            },
        }
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let esc = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        };
        let mut out = String::from(
            "# HELP keyward_requests_total KMS API requests by operation and outcome.\n# TYPE keyward_requests_total counter\n",
        );
        for ((op, outcome), n) in &m.requests {
            let _ = writeln!(
                out,
                "keyward_requests_total{{operation=\"{op}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        out.push_str("# HELP keyward_denied_total Access denied by operation and authenticated principal.\n# TYPE keyward_denied_total counter\n");
        for ((op, principal), n) in &m.denies {
            let _ = writeln!(
                out,
                "keyward_denied_total{{operation=\"{op}\",principal=\"{}\"}} {n}",
                esc(principal)
            );
        }
        out.push_str("# HELP keyward_unwrap_denied_total Refused unwraps (Decrypt, ReEncrypt) by reason: context_mismatch (a policy condition on the encryption context), no_permission, disabled_key (disabled or in another state), wrong_key (KeyId names another key), invalid_ciphertext (altered, or another encryption context), other.\n# TYPE keyward_unwrap_denied_total counter\n");
        for reason in UNWRAP_REASONS {
            let n = m.unwrap_denied.get(reason).copied().unwrap_or(0);
            let _ = writeln!(
                out,
                "keyward_unwrap_denied_total{{reason=\"{reason}\"}} {n}"
            );
        }
        out.push_str("# HELP keyward_unwraps_total Successful unwraps (Decrypt, ReEncrypt) by authenticated principal.\n# TYPE keyward_unwraps_total counter\n");
        for (principal, n) in &m.unwraps {
            let _ = writeln!(
                out,
                "keyward_unwraps_total{{principal=\"{}\"}} {n}",
                esc(principal)
            );
        }
        out.push_str("# HELP keyward_request_duration_seconds Request latency.\n# TYPE keyward_request_duration_seconds histogram\n");
        for (b, n) in BUCKETS.iter().zip(m.buckets) {
            let _ = writeln!(
                out,
                "keyward_request_duration_seconds_bucket{{le=\"{b}\"}} {n}"
            );
        }
        let _ = write!(
            out,
            "keyward_request_duration_seconds_bucket{{le=\"+Inf\"}} {}\nkeyward_request_duration_seconds_sum {}\nkeyward_request_duration_seconds_count {}\n",
            m.count, m.sum, m.count
        );
        out
    }
}
