//! keyward's integration tests: one binary, one file per topic.

#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod support;

mod api_model;
mod asymmetric;
mod asymmetric_service;
mod audit;
mod audit_query;
mod audit_service;
mod aws_exact;
mod blast_radius;
mod check;
mod cli;
mod crash;
mod crypto;
mod diagnostics;
mod explain;
mod files;
mod fuzz_corpora;
mod grant_constraints;
mod grant_index;
mod import_service;
mod kms_rules;
mod lab;
mod lint;
mod lint_realistic;
mod migration;
mod no_panic;
mod properties;
mod semantics;
mod service;
mod sigv4;
mod tenancy;
mod tenancy_props;
