//! Child grants: constraints at least as strict as the parent's, with absent
//! and empty constraints told apart. From the KMS Developer Guide
//! ("Creating grants"):
//!
//! - "The grant constraints in the grants they create must be at least as
//!   strict as those in the parent grant."
//! - "the child grant can add pairs to an EncryptionContextSubset constraint
//!   in the parent grant, but it cannot remove them. The child grant can
//!   change an EncryptionContextSubset constraint to an
//!   EncryptionContextEquals constraint, but not the reverse."
//! - EncryptionContextEquals "requires that the encryption context pairs in
//!   the request are an exact ... match"; EncryptionContextSubset "requires
//!   that the request include all encryption context pairs in the grant
//!   constraint ... but the request can also have additional encryption
//!   context pairs."
//!
//! So a constraint admits a set of contexts (Equals {} admits only the
//! empty context; Subset {} admits every context, as no constraint does),
//! and a child is allowed when its set lies inside its parent's.

use std::collections::BTreeMap;

use keyward::eval::{constraints_at_least_as_strict, context_satisfies};
use keyward::policy::ast::GrantConstraints;
use proptest::prelude::*;
use serde_json::{Value, json};

use crate::tenancy::{A, admin_of, err, key_with, ok, principal};

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// A constraint as written in a CreateGrant request.
#[derive(Debug, Clone, Copy)]
enum C {
    Absent,
    EqualsEmpty,
    SubsetEmpty,
    EqualsA,
    SubsetA,
    EqualsAb,
    SubsetAb,
}

impl C {
    fn typed(self) -> Option<GrantConstraints> {
        let (equals, subset) = match self {
            C::Absent => return None,
            C::EqualsEmpty => (Some(map(&[])), None),
            C::SubsetEmpty => (None, Some(map(&[]))),
            C::EqualsA => (Some(map(&[("a", "1")])), None),
            C::SubsetA => (None, Some(map(&[("a", "1")]))),
            C::EqualsAb => (Some(map(&[("a", "1"), ("b", "2")])), None),
            C::SubsetAb => (None, Some(map(&[("a", "1"), ("b", "2")]))),
        };
        Some(GrantConstraints {
            encryption_context_equals: equals,
            encryption_context_subset: subset,
        })
    }

    fn json(self) -> Value {
        match self {
            C::Absent => Value::Null,
            C::EqualsEmpty => json!({"EncryptionContextEquals": {}}),
            C::SubsetEmpty => json!({"EncryptionContextSubset": {}}),
            C::EqualsA => json!({"EncryptionContextEquals": {"a": "1"}}),
            C::SubsetA => json!({"EncryptionContextSubset": {"a": "1"}}),
            C::EqualsAb => json!({"EncryptionContextEquals": {"a": "1", "b": "2"}}),
            C::SubsetAb => json!({"EncryptionContextSubset": {"a": "1", "b": "2"}}),
        }
    }
}

const CHILDREN: [C; 7] = [
    C::Absent,
    C::EqualsEmpty,
    C::SubsetEmpty,
    C::EqualsA,
    C::SubsetA,
    C::EqualsAb,
    C::SubsetAb,
];

/// Parent, then whether each child of [`CHILDREN`] is allowed.
const TABLE: [(C, [bool; 7]); 5] = [
    // No constraint: any child.
    (C::Absent, [true, true, true, true, true, true, true]),
    // Only the empty context: only Equals {}.
    (
        C::EqualsEmpty,
        [false, true, false, false, false, false, false],
    ),
    // Every context: any child.
    (C::SubsetEmpty, [true, true, true, true, true, true, true]),
    // Exactly {a:1}: only the same Equals.
    (C::EqualsA, [false, false, false, true, false, false, false]),
    // Holding a:1: more pairs, or Equals holding a:1.
    (C::SubsetA, [false, false, false, true, true, true, true]),
];

#[test]
fn every_combination_of_parent_and_child_constraints() {
    for (parent, allowed) in TABLE {
        for (child, want) in CHILDREN.iter().zip(allowed) {
            assert_eq!(
                constraints_at_least_as_strict(child.typed().as_ref(), parent.typed().as_ref()),
                want,
                "parent {parent:?}, child {child:?}"
            );
        }
    }
}

/// The same table through the key service: a grantee holding a parent
/// grant with CreateGrant tries each child.
#[test]
fn every_combination_through_create_grant() {
    let e = crate::service::env();
    let admin = admin_of(A, "us-east-1");
    let key = key_with(&e.svc, &admin, A, &[]);
    for (i, (parent, allowed)) in TABLE.iter().enumerate() {
        let role = format!("arn:aws:iam::{A}:role/Parent{i}");
        let mut grant = json!({"KeyId": key, "GranteePrincipal": role, "Operations": ["Decrypt", "CreateGrant"]});
        if let (Some(o), c @ Value::Object(_)) = (grant.as_object_mut(), parent.json()) {
            o.insert("Constraints".into(), c);
        }
        ok(&e.svc, &admin, "CreateGrant", grant);
        let grantee = principal(
            &format!("arn:aws:sts::{A}:assumed-role/Parent{i}/s"),
            "us-east-1",
        );
        for (child, want) in CHILDREN.iter().zip(allowed) {
            let mut req = json!({"KeyId": key, "GranteePrincipal": format!("arn:aws:iam::{A}:role/Child"), "Operations": ["Decrypt"]});
            if let (Some(o), c @ Value::Object(_)) = (req.as_object_mut(), child.json()) {
                o.insert("Constraints".into(), c);
            }
            if *want {
                ok(&e.svc, &grantee, "CreateGrant", req);
            } else {
                let denied = err(&e.svc, &grantee, "CreateGrant", req);
                assert_eq!(
                    denied.kind,
                    keyward::service::ErrorKind::AccessDenied,
                    "parent {parent:?}, child {child:?}"
                );
            }
        }
    }
}

fn constraint() -> impl Strategy<Value = Option<GrantConstraints>> {
    let pairs = prop::collection::btree_map(
        prop::sample::select(vec!["a", "b"]),
        prop::sample::select(vec!["1", "2"]),
        0..=2,
    )
    .prop_map(|m| {
        m.into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect::<BTreeMap<_, _>>()
    });
    prop::option::of(
        (prop::option::of(pairs.clone()), prop::option::of(pairs)).prop_map(|(e, s)| {
            GrantConstraints {
                encryption_context_equals: e,
                encryption_context_subset: s,
            }
        }),
    )
}

/// Every context over keys a, b and c (c never appears in a constraint, so
/// it stands for "any other pair").
fn universe() -> Vec<BTreeMap<String, String>> {
    let mut out = vec![BTreeMap::new()];
    for key in ["a", "b", "c"] {
        let mut next = Vec::new();
        for m in &out {
            next.push(m.clone());
            for v in ["1", "2"] {
                let mut with = m.clone();
                with.insert(key.to_owned(), v.to_owned());
                next.push(with);
            }
        }
        out = next;
    }
    out
}

proptest! {
    /// The rule agrees with its meaning: a child is allowed exactly when
    /// every context it admits, its parent admits.
    #[test]
    fn at_least_as_strict_means_admits_no_more(child in constraint(), parent in constraint()) {
        let admits = |c: &Option<GrantConstraints>, ctx: &BTreeMap<String, String>| {
            c.as_ref().is_none_or(|c| context_satisfies(c, ctx))
        };
        let contained = universe().iter().all(|ctx| !admits(&child, ctx) || admits(&parent, ctx));
        prop_assert_eq!(
            constraints_at_least_as_strict(child.as_ref(), parent.as_ref()),
            contained
        );
    }
}
