//! Request quotas shaped like AWS KMS's: per account and Region, one rate
//! per family (the cryptographic operations share a family by the kind of
//! key they use; each management operation has its own), enforced by a
//! token bucket per account, Region and family. A request over its quota
//! is AWS's ThrottlingException. Accounts never share a bucket, so one
//! account over its quota never slows another.
//!
//! Each bucket is one atomic word (the generic cell-rate algorithm: the
//! time at which the bucket would next be empty), so the check on the hot
//! path is a load and a compare-and-swap.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use super::{ErrorKind, KmsError};

/// AWS's message for a throttled request.
pub const THROTTLED: &str =
    "You have exceeded the rate at which you may call KMS. Reduce the frequency of your calls.";

/// A quota family: its name (as configured and in metrics) and AWS's
/// default requests per second.
pub struct Family {
    pub name: &'static str,
    pub rate: f64,
}

const fn family(name: &'static str, rate: f64) -> Family {
    Family { name, rate }
}

/// The families and AWS's default rates (the KMS Developer Guide's
/// request quotas). The shared cryptographic families come first; every
/// other operation is its own family, named after it.
pub const FAMILIES: &[Family] = &[
    // 10,000 by default; more in some Regions (see `regional_symmetric`).
    family("CryptographicOperationsSymmetric", 10_000.0),
    family("CryptographicOperationsRSA", 1_000.0),
    family("CryptographicOperationsECC", 1_000.0),
    family("CryptographicOperationsMLDSA", 1_000.0),
    // AWS lists no quota for ML-KEM: keyward gives it the other
    // asymmetric families' rate.
    family("CryptographicOperationsMLKEM", 1_000.0),
    family("GenerateDataKeyPairECC", 100.0),
    family("GenerateDataKeyPairRSA2048", 20.0),
    family("GenerateDataKeyPairRSA3072", 4.0),
    family("GenerateDataKeyPairRSA4096", 1.0),
    family("CancelKeyDeletion", 5.0),
    family("CreateAlias", 5.0),
    family("CreateGrant", 50.0),
    family("CreateKey", 5.0),
    family("DeleteAlias", 15.0),
    family("DeleteImportedKeyMaterial", 15.0),
    family("DescribeKey", 2_000.0),
    family("DisableKey", 5.0),
    family("DisableKeyRotation", 5.0),
    family("EnableKey", 5.0),
    family("EnableKeyRotation", 15.0),
    family("GetKeyLastUsage", 5.0),
    family("GetKeyPolicy", 1_000.0),
    family("GetKeyRotationStatus", 1_000.0),
    // One in every four seconds.
    family("GetParametersForImport", 0.25),
    family("GetPublicKey", 2_000.0),
    family("ImportKeyMaterial", 5.0),
    family("ListAliases", 500.0),
    family("ListGrants", 100.0),
    family("ListKeyPolicies", 100.0),
    family("ListKeyRotations", 100.0),
    family("ListKeys", 500.0),
    family("ListResourceTags", 2_000.0),
    family("ListRetirableGrants", 100.0),
    family("PutKeyPolicy", 15.0),
    family("ReplicateKey", 5.0),
    family("RetireGrant", 50.0),
    family("RevokeGrant", 50.0),
    family("RotateKeyOnDemand", 5.0),
    family("ScheduleKeyDeletion", 15.0),
    family("TagResource", 10.0),
    family("UntagResource", 5.0),
    family("UpdateAlias", 5.0),
    family("UpdateKeyDescription", 5.0),
    family("UpdatePrimaryRegion", 5.0),
];

/// AWS's symmetric cryptographic quota in the Regions where it is not
/// the default 10,000 requests per second.
fn regional_symmetric(region: &str) -> Option<f64> {
    match region {
        "us-east-1" | "us-west-2" | "eu-west-1" => Some(100_000.0),
        "us-east-2" | "ap-southeast-1" | "ap-southeast-2" | "ap-northeast-1" | "eu-central-1"
        | "eu-west-2" => Some(20_000.0),
        _ => None,
    }
}

/// The operations charged to a shared family by the kind of key (or, for
/// data key pairs, the kind of pair) they use. GenerateRandom uses no key
/// and counts as a symmetric operation, as on AWS.
const CRYPTOGRAPHIC: &[&str] = &[
    "Decapsulate",
    "Decrypt",
    "DeriveSharedSecret",
    "Encapsulate",
    "Encrypt",
    "GenerateDataKey",
    "GenerateDataKeyPair",
    "GenerateDataKeyPairWithoutPlaintext",
    "GenerateDataKeyWithoutPlaintext",
    "GenerateMac",
    "GenerateRandom",
    "ReEncrypt",
    "Sign",
    "Verify",
    "VerifyMac",
];

/// Whether `operation` is charged by the kind of key it uses.
pub fn is_cryptographic(operation: &str) -> bool {
    CRYPTOGRAPHIC.contains(&operation)
}

/// The family of `operation` on a key of `key_spec`, as an index into
/// [`FAMILIES`]; `None` for an operation with no quota.
pub fn family_of(operation: &str, key_spec: Option<&str>) -> Option<usize> {
    if operation.starts_with("GenerateDataKeyPair") {
        // Charged by the pair's spec, whatever the wrapping key.
        return Some(match key_spec.unwrap_or_default() {
            "RSA_2048" => 6,
            "RSA_3072" => 7,
            "RSA_4096" => 8,
            _ => 5,
        });
    }
    if CRYPTOGRAPHIC.contains(&operation) {
        let spec = key_spec.unwrap_or("SYMMETRIC_DEFAULT");
        return Some(match spec {
            s if s.starts_with("RSA_") => 1,
            s if s.starts_with("ECC_") => 2,
            s if s.starts_with("ML_DSA_") => 3,
            s if s.starts_with("ML_KEM_") => 4,
            // Symmetric and HMAC keys share AWS's symmetric quota.
            _ => 0,
        });
    }
    FAMILIES.iter().position(|f| f.name == operation)
}

/// One token bucket: the theoretical arrival time of the next request, in
/// nanoseconds since the quotas' epoch.
#[derive(Default)]
struct Bucket {
    tat: AtomicU64,
    /// One request every `interval` nanoseconds ...
    interval: u64,
    /// ... and up to `tolerance` nanoseconds (a second's worth) at once.
    tolerance: u64,
    throttled: AtomicU64,
}

impl Bucket {
    fn new(rate: f64) -> Bucket {
        let interval = (1e9 / rate) as u64;
        Bucket {
            interval,
            tolerance: (interval as f64 * rate.max(1.0)) as u64,
            ..Bucket::default()
        }
    }
}

/// The buckets of one account in one Region.
struct AccountBuckets {
    buckets: Vec<Bucket>,
}

/// The rate of each family, after scaling and overrides; `None` when
/// quotas are off.
#[derive(Clone, Debug)]
pub struct Limits {
    rates: Vec<f64>,
    factor: f64,
    /// Whether the symmetric rate was set (then it holds in every Region).
    symmetric_set: bool,
}

impl Limits {
    /// AWS's default rates times `factor`.
    pub fn scaled(factor: f64) -> Limits {
        Limits {
            rates: FAMILIES.iter().map(|f| f.rate * factor).collect(),
            factor,
            symmetric_set: false,
        }
    }

    /// Sets one family's rate; an unknown family name is an error naming
    /// the known ones.
    pub fn set(&mut self, family: &str, rate: f64) -> Result<(), String> {
        let i = FAMILIES
            .iter()
            .position(|f| f.name == family)
            .ok_or_else(|| {
                let names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
                format!(
                    "unknown quota family `{family}`; the families are {}",
                    names.join(", ")
                )
            })?;
        if !(rate.is_finite() && rate > 0.0) {
            return Err(format!(
                "the rate of `{family}` must be a positive number of requests per second"
            ));
        }
        self.rates[i] = rate;
        self.symmetric_set |= i == 0;
        Ok(())
    }

    /// The rate of `family` in `region`.
    pub fn rate(&self, family: usize, region: &str) -> f64 {
        match (family, self.symmetric_set, regional_symmetric(region)) {
            (0, false, Some(r)) => r * self.factor,
            _ => self.rates.get(family).copied().unwrap_or(0.0),
        }
    }
}

/// Request quotas for every account and Region.
pub struct Quotas {
    limits: Option<Limits>,
    epoch: Instant,
    /// Buckets by account, then Region (looked up without allocating).
    accounts: RwLock<HashMap<String, Regions, Fnv>>,
}

/// One account's buckets by Region.
type Regions = HashMap<String, Arc<AccountBuckets>, Fnv>;

/// FNV-1a: a fast hash for the short keys here (account ids and Region
/// names of authenticated callers, never raw request text).
#[derive(Default, Clone, Copy)]
struct Fnv;

struct FnvHasher(u64);

impl std::hash::BuildHasher for Fnv {
    type Hasher = FnvHasher;
    fn build_hasher(&self) -> FnvHasher {
        FnvHasher(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for FnvHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

impl Quotas {
    /// No quotas: every request passes.
    pub fn off() -> Quotas {
        Quotas::new(None)
    }

    pub fn new(limits: Option<Limits>) -> Quotas {
        Quotas {
            limits,
            epoch: Instant::now(),
            accounts: RwLock::new(HashMap::default()),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn buckets(&self, account: &str, region: &str) -> Arc<AccountBuckets> {
        self.accounts
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .entry(account.to_owned())
            .or_default()
            .entry(region.to_owned())
            .or_insert_with(|| {
                let limits = self.limits.as_ref();
                Arc::new(AccountBuckets {
                    buckets: (0..FAMILIES.len())
                        .map(|f| Bucket::new(limits.map_or(f64::MAX, |l| l.rate(f, region))))
                        .collect(),
                })
            })
            .clone()
    }

    /// Takes one request of `family` from the quota of `account` in
    /// `region`, or answers AWS's ThrottlingException.
    pub fn take(&self, account: &str, region: &str, family: usize) -> Result<(), KmsError> {
        self.take_at(account, region, family, Instant::now())
    }

    /// [`Quotas::take`] at `now`, the time the request arrived (read once
    /// per request by its caller).
    pub fn take_at(
        &self,
        account: &str,
        region: &str,
        family: usize,
        now: Instant,
    ) -> Result<(), KmsError> {
        let Some(limits) = &self.limits else {
            return Ok(());
        };
        if limits.rates.is_empty() {
            return Ok(());
        }
        {
            let accounts = self.accounts.read().unwrap_or_else(|p| p.into_inner());
            if let Some(b) = accounts.get(account).and_then(|r| r.get(region)) {
                return self.take_from(b, family, now);
            }
        }
        let buckets = self.buckets(account, region);
        self.take_from(&buckets, family, now)
    }

    fn take_from(
        &self,
        buckets: &AccountBuckets,
        family: usize,
        now: Instant,
    ) -> Result<(), KmsError> {
        let Some(bucket) = buckets.buckets.get(family) else {
            return Ok(());
        };
        let (interval, tolerance) = (bucket.interval, bucket.tolerance);
        let now =
            u64::try_from(now.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX);
        let mut tat = bucket.tat.load(Ordering::Relaxed);
        loop {
            let next = tat.max(now).saturating_add(interval);
            if next - now > tolerance {
                bucket.throttled.fetch_add(1, Ordering::Relaxed);
                return Err(KmsError::new(ErrorKind::Throttling, THROTTLED));
            }
            match bucket
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(seen) => tat = seen,
            }
        }
    }

    /// Prometheus metrics: requests throttled by account, Region and
    /// family, the configured rates, and how full each bucket is now (1 =
    /// the next request is throttled).
    pub fn render(&self) -> String {
        let mut out = String::new();
        let Some(limits) = &self.limits else {
            return out;
        };
        let now = self.now();
        let accounts: Vec<((String, String), Arc<AccountBuckets>)> = self
            .accounts
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .flat_map(|(account, regions)| {
                regions
                    .iter()
                    .map(|(region, b)| ((account.clone(), region.clone()), b.clone()))
            })
            .collect();
        let mut sorted = accounts;
        sorted.sort_by(|a, b| a.0.cmp(&b.0));
        out.push_str("# HELP keyward_quota_rate Requests per second each quota family allows an account (in a Region without its own symmetric rate).\n# TYPE keyward_quota_rate gauge\n");
        for (i, f) in FAMILIES.iter().enumerate() {
            let _ = writeln!(
                out,
                "keyward_quota_rate{{family=\"{}\"}} {}",
                f.name,
                limits.rate(i, "")
            );
        }
        let series = [
            (
                "keyward_quota_throttled_total",
                "counter",
                "Requests throttled (ThrottlingException) by account, Region and family.",
            ),
            (
                "keyward_quota_utilisation",
                "gauge",
                "How full each quota bucket is now: 1 means the next request is throttled.",
            ),
        ];
        for (name, kind, help) in series {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for ((account, region), buckets) in &sorted {
                for (i, b) in buckets.buckets.iter().enumerate() {
                    // A bucket never used has the epoch as its next time.
                    let throttled = b.throttled.load(Ordering::Relaxed);
                    if b.tat.load(Ordering::Relaxed) == 0 {
                        continue;
                    }
                    let value = match name {
                        "keyward_quota_throttled_total" => throttled.to_string(),
                        _ => {
                            let rate = limits.rate(i, region);
                            let window = 1e9 / rate * rate.max(1.0);
                            let ahead = b.tat.load(Ordering::Relaxed).saturating_sub(now) as f64;
                            format!("{:.3}", (ahead / window).min(1.0))
                        }
                    };
                    let _ = writeln!(
                        out,
                        "{name}{{account=\"{account}\",region=\"{region}\",family=\"{}\"}} {value}",
                        FAMILIES[i].name
                    );
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_a_second_of_requests_then_throttles() {
        let mut limits = Limits::scaled(1.0);
        assert!(limits.set("CreateKey", 3.0).is_ok());
        let q = Quotas::new(Some(limits));
        let create = family_of("CreateKey", None).unwrap_or(usize::MAX);
        for _ in 0..3 {
            assert!(q.take("111122223333", "us-east-1", create).is_ok());
        }
        let err = q.take("111122223333", "us-east-1", create).err();
        assert_eq!(err.map(|e| e.kind), Some(ErrorKind::Throttling));
        // Another account, another Region: their own buckets.
        assert!(q.take("444455556666", "us-east-1", create).is_ok());
        assert!(q.take("111122223333", "us-west-2", create).is_ok());
    }

    #[test]
    fn families_follow_the_key_kind() {
        assert_eq!(family_of("Sign", Some("RSA_2048")), Some(1));
        assert_eq!(family_of("Sign", Some("ECC_NIST_P256")), Some(2));
        assert_eq!(family_of("GenerateMac", Some("HMAC_256")), Some(0));
        assert_eq!(family_of("GenerateRandom", None), Some(0));
        assert_eq!(family_of("GenerateDataKeyPair", Some("RSA_4096")), Some(8));
        let aws = Limits::scaled(1.0);
        assert_eq!(aws.rate(0, "us-east-1"), 100_000.0);
        assert_eq!(aws.rate(0, "eu-west-2"), 20_000.0);
        assert_eq!(aws.rate(0, "af-south-1"), 10_000.0);
        assert_eq!(family_of("Decrypt", Some("SYMMETRIC_DEFAULT")), Some(0));
        assert_eq!(family_of("Encrypt", None), Some(0));
        assert!(family_of("CreateKey", None).is_some());
        assert!(family_of("Frobnicate", None).is_none());
        assert!(Limits::scaled(1.0).set("Frobnicate", 1.0).is_err());
    }
}
