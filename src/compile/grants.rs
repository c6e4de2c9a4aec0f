//! A key's grants, compiled and indexed by grantee and by grant id.

use std::sync::Arc;

use imbl::{HashMap as PersistentMap, OrdMap};

use super::{ActionSet, CompileError, CompileErrors, Origin};
use crate::catalog::Action;
use crate::policy::{Node, Source, ast};

/// One grant, compiled.
#[derive(Debug, Clone)]
pub struct CompiledGrant {
    pub origin: Origin,
    pub grant_id: String,
    pub grantee: String,
    pub retiring: Option<String>,
    pub operations: ActionSet,
    pub constraints: Option<ast::GrantConstraints>,
}

/// The grants on one key, indexed by grantee principal and by grant id.
///
/// The maps are persistent (`imbl`): a copy shares its structure with the
/// original, and adding or removing one grant costs O(log n), so a key's
/// cached grants change with each CreateGrant or RetireGrant without a
/// rebuild, up to AWS's 50,000 grants on a key.
#[derive(Debug, Clone, Default)]
pub struct GrantIndex {
    /// Grants in the order they were added.
    grants: OrdMap<u64, Arc<CompiledGrant>>,
    by_grantee: PersistentMap<String, OrdMap<u64, Arc<CompiledGrant>>>,
    by_id: PersistentMap<String, u64>,
    next: u64,
}

impl GrantIndex {
    /// Compiles the grants of one document.
    pub fn compile(
        grants: &[Node<ast::Grant>],
        source: &Source,
    ) -> Result<GrantIndex, CompileErrors> {
        let mut index = GrantIndex::default();
        index.extend(grants, source)?;
        Ok(index)
    }

    /// Adds the grants of another document.
    pub fn extend(
        &mut self,
        grants: &[Node<ast::Grant>],
        source: &Source,
    ) -> Result<(), CompileErrors> {
        let mut errors = Vec::new();
        let mut lines = source.line_index();
        for (i, g) in grants.iter().enumerate() {
            let mut operations = ActionSet::default();
            for op in &g.node.operations {
                match Action::from_operation(&op.node) {
                    Some(a) => operations = operations.with(a),
                    None => errors.push(CompileError::BadGrantOperation {
                        name: op.node.clone(),
                        span: op.loc.into(),
                    }),
                }
            }
            let grant_id = g
                .node
                .grant_id
                .as_ref()
                .map(|id| id.node.clone())
                .unwrap_or_else(|| format!("{}#{i}", source.name));
            let name = g
                .node
                .name
                .as_ref()
                .map(|n| n.node.clone())
                .or_else(|| Some(grant_id.clone()));
            self.push(CompiledGrant {
                origin: Origin::new(source, &mut lines, i, name, g.loc),
                grant_id,
                grantee: g.node.grantee_principal.node.clone(),
                retiring: g.node.retiring_principal.as_ref().map(|r| r.node.clone()),
                operations,
                constraints: g.node.constraints.as_ref().map(|c| c.node.clone()),
            });
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(CompileErrors::new(
                &source.name,
                source.text.clone(),
                errors,
            ))
        }
    }

    /// Adds a grant; one with the same grant id is replaced.
    pub fn push(&mut self, grant: CompiledGrant) {
        self.remove(&grant.grant_id);
        let seq = self.next;
        self.next += 1;
        let grant = Arc::new(grant);
        self.by_id.insert(grant.grant_id.clone(), seq);
        self.by_grantee
            .entry(grant.grantee.clone())
            .or_default()
            .insert(seq, grant.clone());
        self.grants.insert(seq, grant);
    }

    /// Adds every grant of `other` (after this index's own).
    pub fn append(&mut self, other: &GrantIndex) {
        for g in other.iter() {
            self.push(g.clone());
        }
    }

    /// Removes the grant `grant_id`; whether there was one.
    pub fn remove(&mut self, grant_id: &str) -> bool {
        let Some(seq) = self.by_id.remove(grant_id) else {
            return false;
        };
        if let Some(g) = self.grants.remove(&seq)
            && let Some(mine) = self.by_grantee.get_mut(&g.grantee)
        {
            mine.remove(&seq);
            if mine.is_empty() {
                self.by_grantee.remove(&g.grantee);
            }
        }
        true
    }

    /// Every grant, in the order they were added.
    pub fn iter(&self) -> impl Iterator<Item = &CompiledGrant> {
        self.grants.values().map(|g| &**g)
    }

    /// The grants whose grantee is exactly `principal`.
    pub fn for_grantee<'a>(&'a self, principal: &str) -> impl Iterator<Item = &'a CompiledGrant> {
        self.by_grantee
            .get(principal)
            .into_iter()
            .flat_map(|m| m.values())
            .map(|g| &**g)
    }

    pub fn len(&self) -> usize {
        self.grants.len()
    }

    pub fn is_empty(&self) -> bool {
        self.grants.is_empty()
    }
}
