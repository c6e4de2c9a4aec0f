//! keyward: AWS-style key policies and grants, compiled to decision tables,
//! enforced and explained.
//!
//! Data flows one way: [`policy`] (text → AST) → [`compile`] (AST →
//! [`compile::DecisionTable`]) → [`eval`] (table + request → decision and
//! explanation). [`catalog`] is the shared vocabulary of KMS actions and
//! condition keys. A module never reaches up this chain.

#![forbid(unsafe_code)]

pub mod audit;
pub mod catalog;
pub mod check;
pub mod compile;
pub mod crypto;
pub mod eval;
pub mod files;
#[doc(hidden)]
pub mod fuzzing;
pub mod hsm;
pub mod lint;
pub mod policy;
pub mod scope;
pub mod server;
pub mod service;
pub mod store;
