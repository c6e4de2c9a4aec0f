//! The KMS API model keyward serves. Each operation's request is a typed
//! struct whose members carry the constraints of AWS's API model (required,
//! enum values, lengths, patterns, ranges, list sizes). A request is checked
//! against them once, at the edge, with AWS's validation messages, then
//! decoded into the struct; handlers never see an unchecked member.

pub mod enums;
pub(super) mod types;
mod validate;

pub(super) use validate::{null_member, validate};

/// One member of a request structure, as AWS's API model declares it.
#[derive(Debug)]
pub struct Member {
    /// The member's name on the wire (AWS's spelling).
    pub name: &'static str,
    pub required: bool,
    pub rule: Rule,
    /// Sensitive members are never echoed in error messages.
    pub sensitive: bool,
}

/// The constraint on a member's value.
#[derive(Debug)]
pub enum Rule {
    /// A string: length bounds in characters, and the model's pattern,
    /// which the whole value must match.
    Text {
        min: Option<u64>,
        max: Option<u64>,
        pattern: Option<&'static str>,
    },
    /// A string from a fixed set, in the model's order.
    Enum(&'static [&'static str]),
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Boolean,
    /// A point in time: seconds since the Unix epoch, as a JSON number.
    Timestamp,
    /// Base64 bytes: length bounds on the decoded bytes.
    Blob {
        min: Option<u64>,
        max: Option<u64>,
    },
    /// A map of strings to strings (an encryption context).
    StringMap,
    List {
        min: Option<u64>,
        max: Option<u64>,
        item: &'static Rule,
    },
    Structure(&'static [Member]),
}

impl Rule {
    pub const fn text(min: u64, max: u64) -> Rule {
        Rule::Text {
            min: Some(min),
            max: Some(max),
            pattern: None,
        }
    }

    pub const fn pattern(min: u64, max: u64, pattern: &'static str) -> Rule {
        Rule::Text {
            min: Some(min),
            max: Some(max),
            pattern: Some(pattern),
        }
    }

    pub const fn range(min: i64, max: i64) -> Rule {
        Rule::Integer {
            min: Some(min),
            max: Some(max),
        }
    }

    pub const fn list(item: &'static Rule) -> Rule {
        Rule::List {
            min: None,
            max: None,
            item,
        }
    }
}

/// A typed request: the members it reads and their constraints.
pub(super) trait Request: serde::de::DeserializeOwned {
    const MEMBERS: &'static [Member];
}

/// One operation keyward serves: its API name and request members.
#[derive(Debug)]
pub struct Operation {
    pub name: &'static str,
    pub members: &'static [Member],
}

// The constraints the KMS API model gives its shared shapes.
pub(super) const KEY_ID: Rule = Rule::text(1, 2048);
pub(super) const GRANT_ID: Rule = Rule::text(1, 128);
pub(super) const GRANT_TOKEN: Rule = Rule::text(1, 8192);
pub(super) const GRANT_TOKENS: Rule = Rule::List {
    min: Some(0),
    max: Some(10),
    item: &GRANT_TOKEN,
};
pub(super) const LIMIT: Rule = Rule::range(1, 1000);
pub(super) const MARKER: Rule = Rule::pattern(1, 1024, r"[\u0020-\u00FF]*");
pub(super) const ALIAS_NAME: Rule = Rule::pattern(1, 256, "^[a-zA-Z0-9:/_-]+$");
pub(super) const PRINCIPAL_ID: Rule = Rule::pattern(1, 256, r"^[\w+=,.@:/-]+$");
pub(super) const SERVICE_PRINCIPAL: Rule = Rule::pattern(
    1,
    128,
    r"^([A-Za-z0-9\-]+)\.([A-Za-z0-9\-]+)(\.[A-Za-z0-9\-]+)+$",
);
pub(super) const POLICY: Rule = Rule::pattern(1, 131_072, r"[\u0009\u000A\u000D\u0020-\u00FF]+");
pub(super) const POLICY_NAME: Rule = Rule::pattern(1, 128, r"[\w]+");
pub(super) const DESCRIPTION: Rule = Rule::text(0, 8192);
pub(super) const CUSTOM_KEY_STORE_ID: Rule = Rule::text(1, 64);
pub(super) const NUMBER_OF_BYTES: Rule = Rule::range(1, 1024);
pub(super) const TAG_KEY: Rule = Rule::text(1, 128);
pub(super) const TAGS: Rule = Rule::list(&Rule::Structure(&[
    Member {
        name: "TagKey",
        required: true,
        rule: TAG_KEY,
        sensitive: false,
    },
    Member {
        name: "TagValue",
        required: true,
        rule: Rule::text(0, 256),
        sensitive: false,
    },
]));
pub(super) const RECIPIENT: Rule = Rule::Structure(&[
    Member {
        name: "KeyEncryptionAlgorithm",
        required: false,
        rule: Rule::Enum(&["RSAES_OAEP_SHA_256"]),
        sensitive: false,
    },
    Member {
        name: "AttestationDocument",
        required: false,
        rule: Rule::Blob {
            min: Some(1),
            max: Some(262_144),
        },
        sensitive: false,
    },
]);
pub(super) const REGION: Rule = Rule::pattern(1, 32, r"^([a-z]+-){2,3}\d+$");
pub(super) const KEY_MATERIAL_ID: Rule = Rule::pattern(64, 64, "^[a-f0-9]+$");
pub(super) const DRY_RUN_MODIFIERS: Rule = Rule::list(&Rule::Enum(&["IGNORE_CIPHERTEXT"]));

/// Declares a typed request: the struct serde decodes and the member table
/// validation reads, from one list. Each member is `field: req|opt Type =
/// "AwsName" RULE`; `opt` members are `Option`s, and `secret` marks a
/// sensitive member.
macro_rules! request {
    (
        $(#[$meta:meta])*
        $name:ident {
            $( $field:ident : $kind:ident $ty:ty = $aws:literal $rule:expr ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(serde::Deserialize)]
        pub(in crate::service) struct $name {
            $(
                #[serde(rename = $aws)]
                pub(in crate::service) $field: $crate::service::api::request!(@type $kind $ty),
            )*
        }

        impl $crate::service::api::Request for $name {
            const MEMBERS: &'static [$crate::service::api::Member] = &[
                $(
                    $crate::service::api::Member {
                        name: $aws,
                        required: $crate::service::api::request!(@required $kind),
                        rule: $rule,
                        sensitive: $crate::service::api::request!(@sensitive $kind),
                    },
                )*
            ];
        }
    };
    (@type req $ty:ty) => { $ty };
    (@type secret $ty:ty) => { $ty };
    (@type opt $ty:ty) => { Option<$ty> };
    (@type opt_secret $ty:ty) => { Option<$ty> };
    (@required opt) => { false };
    (@required opt_secret) => { false };
    (@required $other:ident) => { true };
    (@sensitive secret) => { true };
    (@sensitive opt_secret) => { true };
    (@sensitive $other:ident) => { false };
}

pub(super) use request;

/// Declares the operations keyward serves: the dispatch from API name to
/// typed handler, and the list of operations with their request models.
macro_rules! operations {
    ( $( $op:literal => $req:ty, $handler:ident; )* ) => {
        /// Every operation the service implements, by its API name.
        pub const OPERATIONS: &[&str] = &[ $( $op, )* ];

        /// The request model of every operation the service implements.
        pub const API_MODEL: &[$crate::service::api::Operation] = &[
            $(
                $crate::service::api::Operation {
                    name: $op,
                    members: <$req as $crate::service::api::Request>::MEMBERS,
                },
            )*
        ];

        impl KeyService {
            fn dispatch(
                &self,
                call: &mut Call<'_>,
                id: &Identity,
            ) -> Result<serde_json::Value, KmsError> {
                match call.event {
                    $( $op => self.run::<$req, _>(call, id, KeyService::$handler), )*
                    other => Err(KmsError::new(
                        ErrorKind::UnknownOperation,
                        format!("unknown operation `{other}`"),
                    )),
                }
            }
        }
    };
}

pub(super) use operations;

/// The model of every operation keyward serves, as JSON: for each
/// operation its members with `required`, `type`, and the constraints
/// (`min`, `max`, `pattern`, `enum`, `member` for a list's items,
/// `members` for a structure's).
pub fn model_json() -> serde_json::Value {
    let ops: serde_json::Map<String, serde_json::Value> = super::API_MODEL
        .iter()
        .map(|op| (op.name.to_owned(), members_json(op.members)))
        .collect();
    serde_json::Value::Object(ops)
}

fn members_json(members: &[Member]) -> serde_json::Value {
    let m: serde_json::Map<String, serde_json::Value> = members
        .iter()
        .map(|m| {
            let mut v = rule_json(&m.rule);
            if let Some(o) = v.as_object_mut() {
                o.insert("required".into(), m.required.into());
                if m.sensitive {
                    o.insert("sensitive".into(), true.into());
                }
            }
            (m.name.to_owned(), v)
        })
        .collect();
    serde_json::Value::Object(m)
}

fn rule_json(rule: &Rule) -> serde_json::Value {
    use serde_json::json;
    let bounds = |kind: &str, min: Option<i64>, max: Option<i64>| {
        let mut v = json!({ "type": kind });
        if let Some(o) = v.as_object_mut() {
            if let Some(lo) = min {
                o.insert("min".into(), lo.into());
            }
            if let Some(hi) = max {
                o.insert("max".into(), hi.into());
            }
        }
        v
    };
    let len = |n: Option<u64>| n.and_then(|n| i64::try_from(n).ok());
    match rule {
        Rule::Text { min, max, pattern } => {
            let mut v = bounds("string", len(*min), len(*max));
            if let (Some(p), Some(o)) = (pattern, v.as_object_mut()) {
                o.insert("pattern".into(), (*p).into());
            }
            v
        }
        Rule::Enum(values) => json!({ "type": "string", "enum": values }),
        Rule::Integer { min, max } => bounds("integer", *min, *max),
        Rule::Boolean => json!({ "type": "boolean" }),
        Rule::Timestamp => json!({ "type": "timestamp" }),
        Rule::Blob { min, max } => bounds("blob", len(*min), len(*max)),
        Rule::StringMap => json!({ "type": "map" }),
        Rule::List { min, max, item } => {
            let mut v = bounds("list", len(*min), len(*max));
            if let Some(o) = v.as_object_mut() {
                o.insert("member".into(), rule_json(item));
            }
            v
        }
        Rule::Structure(members) => {
            json!({ "type": "structure", "members": members_json(members) })
        }
    }
}
