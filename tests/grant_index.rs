//! A key's grants change in place (O(log n)) instead of being rebuilt: the
//! index behaves as the list of grants it stands for, and a running
//! service's grants always equal what a fresh start loads from the store.

use keyward::compile::GrantIndex;
use keyward::eval::Caller;
use keyward::service::{ErrorKind, Identity};
use proptest::prelude::*;
use serde_json::json;

use crate::service::{admin, env};
use crate::support::grants;

fn one(grant_id: &str, grantee: &str) -> GrantIndex {
    grants(
        &json!([{"GrantId": grant_id, "GranteePrincipal": grantee, "Operations": ["Decrypt"]}])
            .to_string(),
    )
}

#[derive(Debug, Clone)]
enum Op {
    Add(u8, u8),
    Remove(u8),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            (0u8..12, 0u8..4).prop_map(|(g, p)| Op::Add(g, p)),
            (0u8..12).prop_map(Op::Remove),
        ],
        0..60,
    )
}

proptest! {
    #[test]
    fn the_index_is_the_list_of_its_grants(ops in ops()) {
        let mut index = GrantIndex::default();
        let mut model: Vec<(String, String)> = Vec::new();
        for op in ops {
            match op {
                Op::Add(g, p) => {
                    let (id, grantee) = (format!("g{g}"), format!("arn:aws:iam::111122223333:role/R{p}"));
                    index.append(&one(&id, &grantee));
                    model.retain(|(i, _)| *i != id);
                    model.push((id, grantee));
                }
                Op::Remove(g) => {
                    let id = format!("g{g}");
                    let had = model.iter().any(|(i, _)| *i == id);
                    prop_assert_eq!(index.remove(&id), had);
                    model.retain(|(i, _)| *i != id);
                }
            }
            let listed: Vec<_> = index.iter().map(|g| (g.grant_id.clone(), g.grantee.clone())).collect();
            prop_assert_eq!(&listed, &model);
            prop_assert_eq!(index.len(), model.len());
            for p in 0..4 {
                let grantee = format!("arn:aws:iam::111122223333:role/R{p}");
                let mine: Vec<_> = index.for_grantee(&grantee).map(|g| g.grant_id.clone()).collect();
                let want: Vec<_> = model.iter().filter(|(_, r)| *r == grantee).map(|(i, _)| i.clone()).collect();
                prop_assert_eq!(mine, want);
            }
        }
    }
}

#[test]
fn a_copy_changes_without_changing_the_original() {
    let mut a = one("g1", "arn:aws:iam::111122223333:role/A");
    let b = a.clone();
    a.append(&one("g2", "arn:aws:iam::111122223333:role/A"));
    assert!(a.remove("g1"));
    assert_eq!(
        a.iter().map(|g| g.grant_id.as_str()).collect::<Vec<_>>(),
        ["g2"]
    );
    assert_eq!(
        b.iter().map(|g| g.grant_id.as_str()).collect::<Vec<_>>(),
        ["g1"]
    );
}

/// Grants created, retired and revoked on a running service decide as the
/// same grants loaded by a fresh start.
#[test]
fn changed_grants_decide_as_after_a_restart() {
    let mut e = env();
    let key = e.svc.call(&admin(), "CreateKey", &json!({})).expect("key")["KeyMetadata"]["KeyId"]
        .as_str()
        .expect("id")
        .to_owned();
    let blob = e
        .svc
        .call(
            &admin(),
            "Encrypt",
            &json!({"KeyId": key, "Plaintext": "aGk="}),
        )
        .expect("encrypt")["CiphertextBlob"]
        .clone();
    let role = |n: usize| format!("arn:aws:iam::111122223333:role/R{n}");
    let who = |n: usize| Identity::new(Caller::parse(&role(n)).expect("caller"));
    let mut ids = Vec::new();
    for n in 0..8 {
        let g = e
            .svc
            .call(
                &admin(),
                "CreateGrant",
                &json!({"KeyId": key, "GranteePrincipal": role(n), "Operations": ["Decrypt"],
                        "RetiringPrincipal": role(n)}),
            )
            .expect("grant");
        ids.push(g["GrantId"].as_str().expect("id").to_owned());
        // A request between changes, so the cached grants are in use.
        assert!(
            e.svc
                .call(&who(n), "Decrypt", &json!({"CiphertextBlob": blob}))
                .is_ok()
        );
    }
    e.svc
        .call(
            &admin(),
            "RevokeGrant",
            &json!({"KeyId": key, "GrantId": ids[2]}),
        )
        .expect("revoke");
    e.svc
        .call(
            &who(5),
            "RetireGrant",
            &json!({"KeyId": key, "GrantId": ids[5]}),
        )
        .expect("retire");
    let decide = |svc: &keyward::service::KeyService| -> Vec<Option<ErrorKind>> {
        (0..9)
            .map(|n| {
                svc.call(&who(n), "Decrypt", &json!({"CiphertextBlob": blob}))
                    .err()
                    .map(|e| e.kind)
            })
            .collect()
    };
    let running = decide(&e.svc);
    let denied = Some(ErrorKind::AccessDenied);
    assert_eq!(
        running,
        [None, None, denied, None, None, denied, None, None, denied]
    );
    e.reopen();
    assert_eq!(decide(&e.svc), running);
    // The trigger-kept count (the 50,000-grant limit reads it) is the
    // number of grants.
    let db = rusqlite::Connection::open(e.dir.join("keyward.db")).expect("db");
    let counted: i64 = db
        .query_row("SELECT n FROM grant_counts", [], |r| r.get(0))
        .expect("count");
    let rows: i64 = db
        .query_row("SELECT count(*) FROM grants", [], |r| r.get(0))
        .expect("rows");
    assert_eq!((counted, rows), (6, 6));
}
