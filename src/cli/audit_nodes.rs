//! `keyward audit verify --store URL --node NODE=LOG ...`: the audit logs of
//! every node that shares a store, each checked against its own anchor in
//! the store, and no node left out.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use keyward::audit::{self, AuditError, Checks};
use keyward::service::{AuditKeys, DataDir};

use super::ExitCode;

pub(super) fn verify_nodes(
    dir: &DataDir,
    nodes: &[String],
    out: &mut dyn Write,
) -> miette::Result<ExitCode> {
    let mut given: Vec<(&str, PathBuf)> = Vec::new();
    for arg in nodes {
        let (node, path) = arg
            .split_once('=')
            .ok_or_else(|| miette::miette!("--node `{arg}`: expected NODE=LOG"))?;
        if given.iter().any(|(n, _)| *n == node) {
            miette::bail!("--node {node} is given twice");
        }
        given.push((node, PathBuf::from(path)));
    }
    let (keys, anchors) = AuditKeys::open_all(dir).map_err(|e| miette::miette!("{e}"))?;
    let mut text = String::new();
    let mut failed = false;
    for (node, path) in &given {
        let anchor = anchors.iter().find(|(n, _)| n == node).map(|(_, a)| a);
        let checked = audit::verify(
            path,
            &Checks {
                key: Some(&keys.chain),
                anchor,
                digest: None,
            },
        )
        .and_then(|r| of_node(path, node).map(|()| r));
        match checked {
            Ok(r) => {
                let _ = write!(
                    text,
                    "node {node}: audit log {} intact: {} records, every MAC checks",
                    path.display(),
                    r.records
                );
                match r.anchored {
                    Some(n) => {
                        let _ = writeln!(text, ", reaches its anchor in the store (record {n})");
                    }
                    None => {
                        let _ = writeln!(text, "; the store holds no anchor of it yet");
                    }
                }
            }
            Err(AuditError::Io(e)) => return Err(miette::miette!("node {node}: {e}")),
            Err(e) => {
                failed = true;
                eprintln!("node {node}: {:?}", miette::Report::new(e));
            }
        }
    }
    for (node, a) in &anchors {
        if !given.iter().any(|(n, _)| n == node) {
            failed = true;
            eprintln!(
                "node {node:?} anchored {} records in the store, but its log was not given (--node {node}=LOG)",
                a.head.seq
            );
        }
    }
    out.write_all(text.as_bytes())
        .map_err(|e| miette::miette!("{e}"))?;
    Ok(if failed {
        ExitCode::Denied
    } else {
        ExitCode::Ok
    })
}

/// Every complete record of the log at `path` names `node` as its writer.
fn of_node(path: &Path, node: &str) -> Result<(), AuditError> {
    let io = |e: std::io::Error| AuditError::Io(format!("{}: {e}", path.display()));
    let mut reader = BufReader::new(std::fs::File::open(path).map_err(io)?);
    let mut line = Vec::new();
    let mut n = 0u64;
    loop {
        line.clear();
        // An unterminated last line is a record being written (or torn by
        // a crash), which `verify` does not count either.
        if reader.read_until(b'\n', &mut line).map_err(io)? == 0 || line.last() != Some(&b'\n') {
            return Ok(());
        }
        n += 1;
        let record: serde_json::Value =
            serde_json::from_slice(&line).map_err(|_| AuditError::Malformed { line: n })?;
        let writer = record
            .get("keywardNode")
            .and_then(serde_json::Value::as_str);
        if writer != Some(node) {
            return Err(AuditError::Broken {
                line: n,
                reason: format!(
                    "written by node {} in the log given for node {node}",
                    writer.unwrap_or("(none)")
                ),
            });
        }
    }
}
