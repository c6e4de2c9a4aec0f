//! `keyward.toml`: which rules run, at what category, on which paths.
//!
//! ```toml
//! [lint]
//! select = ["KW1", "KW2"]        # codes, code prefixes or names; default: all
//! ignore = ["KW301"]             # applied after select
//! fail-on = ["error", "security"]
//! exclude = ["legacy/**"]        # globs over the paths given
//!
//! [lint.severity]
//! KW110 = "warning"              # change a rule's category
//!
//! [lint.kinds]
//! "org/scp/**" = "scp"           # the kind of the documents a glob matches
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use globset::{Glob, GlobSet, GlobSetBuilder};

use super::{Category, DocKind, Finding, RULES};

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    lint: LintSection,
}

#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct LintSection {
    select: Option<Vec<String>>,
    #[serde(default)]
    ignore: Vec<String>,
    fail_on: Option<Vec<Category>>,
    #[serde(default)]
    exclude: Vec<String>,
    #[serde(default)]
    severity: BTreeMap<String, Category>,
    #[serde(default)]
    kinds: BTreeMap<String, DocKind>,
}

/// A configuration problem, reported with exit status 2.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ConfigError {
    #[error("cannot read `{path}`: {message}")]
    #[diagnostic(code(keyward::config))]
    Read { path: String, message: String },
    #[error("invalid `{path}`: {message}")]
    #[diagnostic(code(keyward::config))]
    Parse { path: String, message: String },
    #[error("`{selector}` names no lint rule")]
    #[diagnostic(
        code(keyward::config),
        help("run `keyward lint --list` to see the rules")
    )]
    UnknownRule { selector: String },
    #[error("invalid exclude glob `{glob}`: {message}")]
    #[diagnostic(code(keyward::config))]
    BadGlob { glob: String, message: String },
    #[error("`{name}` is not a category (error, security, warning, suggestion)")]
    #[diagnostic(code(keyward::config))]
    BadCategory { name: String },
}

/// The effective lint configuration.
#[derive(Debug, Clone)]
pub struct Config {
    select: Option<Vec<String>>,
    ignore: Vec<String>,
    pub fail_on: Vec<Category>,
    exclude: GlobSet,
    severity: BTreeMap<String, Category>,
    /// Document kinds by glob, the first match deciding; `--kind` puts
    /// one glob matching everything first.
    kinds: Vec<(globset::GlobMatcher, DocKind)>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            select: None,
            ignore: Vec::new(),
            fail_on: vec![Category::Error, Category::Security],
            exclude: GlobSet::empty(),
            severity: BTreeMap::new(),
            kinds: Vec::new(),
        }
    }
}

impl Config {
    /// Reads `path`; a missing default file is an empty configuration.
    pub fn load(path: &Path, required: bool) -> Result<Config, ConfigError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                return Ok(Config::default());
            }
            Err(e) => {
                return Err(ConfigError::Read {
                    path: path.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        Config::parse(&text, &path.display().to_string())
    }

    pub fn parse(text: &str, name: &str) -> Result<Config, ConfigError> {
        let file: File = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: name.to_owned(),
            message: e.message().to_owned(),
        })?;
        let l = file.lint;
        let mut config = Config::default();
        if let Some(select) = l.select {
            config = config.select(select)?;
        }
        config = config.ignore(l.ignore)?;
        if let Some(f) = l.fail_on {
            config.fail_on = f;
        }
        let mut globs = GlobSetBuilder::new();
        for g in &l.exclude {
            globs.add(Glob::new(g).map_err(|e| ConfigError::BadGlob {
                glob: g.clone(),
                message: e.kind().to_string(),
            })?);
        }
        config.exclude = globs.build().map_err(|e| ConfigError::BadGlob {
            glob: l.exclude.join(", "),
            message: e.to_string(),
        })?;
        for (glob, kind) in l.kinds {
            let matcher = Glob::new(&glob)
                .map_err(|e| ConfigError::BadGlob {
                    glob: glob.clone(),
                    message: e.kind().to_string(),
                })?
                .compile_matcher();
            config.kinds.push((matcher, kind));
        }
        for (rule, category) in l.severity {
            check_selector(&rule)?;
            config.severity.insert(rule, category);
        }
        Ok(config)
    }

    /// Runs only the rules these selectors name (replacing any earlier list).
    pub fn select(mut self, selectors: Vec<String>) -> Result<Config, ConfigError> {
        for s in &selectors {
            check_selector(s)?;
        }
        self.select = Some(selectors);
        Ok(self)
    }

    /// Also skips the rules these selectors name.
    pub fn ignore(mut self, selectors: Vec<String>) -> Result<Config, ConfigError> {
        for s in &selectors {
            check_selector(s)?;
        }
        self.ignore.extend(selectors);
        Ok(self)
    }

    pub fn fail_on(mut self, names: &[String]) -> Result<Config, ConfigError> {
        self.fail_on = names
            .iter()
            .map(|n| Category::parse(n).ok_or_else(|| ConfigError::BadCategory { name: n.clone() }))
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Whether a rule runs.
    pub fn enabled(&self, code: &str) -> bool {
        let selected = self
            .select
            .as_ref()
            .is_none_or(|s| s.iter().any(|sel| matches(sel, code)));
        selected && !self.ignore.iter().any(|sel| matches(sel, code))
    }

    /// Lints every document as `kind`, whatever the file says.
    pub fn kind(mut self, kind: DocKind) -> Config {
        if let Ok(all) = Glob::new("**") {
            self.kinds.insert(0, (all.compile_matcher(), kind));
        }
        self
    }

    /// The kind the configuration gives the document at `path`, if any.
    pub fn kind_for(&self, path: &Path) -> Option<DocKind> {
        self.kinds
            .iter()
            .find(|(m, _)| m.is_match(path))
            .map(|(_, k)| *k)
    }

    /// Whether a path is excluded.
    pub fn excluded(&self, path: &Path) -> bool {
        self.exclude.is_match(path)
    }

    /// Applies selection and category overrides to a document's findings.
    pub fn apply(&self, findings: Vec<Finding>) -> Vec<Finding> {
        findings
            .into_iter()
            .filter(|f| self.enabled(f.code))
            .map(|mut f| {
                if let Some(c) = self
                    .severity
                    .iter()
                    .find(|(sel, _)| matches(sel, f.code))
                    .map(|(_, c)| *c)
                {
                    f.category = c;
                }
                f
            })
            .collect()
    }

    /// Whether a finding fails the run.
    pub fn fails(&self, f: &Finding) -> bool {
        self.fail_on.contains(&f.category)
    }
}

/// A selector names a rule by code (`KW101`), code prefix (`KW1`), name
/// (`unknown-action`), or `ALL`.
fn matches(selector: &str, code: &str) -> bool {
    selector.eq_ignore_ascii_case("ALL")
        || code
            .to_ascii_uppercase()
            .starts_with(&selector.to_ascii_uppercase())
        || super::rule(selector).is_some_and(|r| r.code == code)
}

fn check_selector(selector: &str) -> Result<(), ConfigError> {
    if RULES.iter().any(|(r, _)| matches(selector, r.code)) {
        Ok(())
    } else {
        Err(ConfigError::UnknownRule {
            selector: selector.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors() {
        assert!(matches("KW1", "KW101"));
        assert!(matches("kw101", "KW101"));
        assert!(matches("unknown-action", "KW101"));
        assert!(!matches("KW2", "KW101"));
        assert!(check_selector("KW9").is_err());
    }

    #[test]
    fn file() {
        let c = Config::parse(
            "[lint]\nselect = [\"KW1\"]\nignore = [\"KW110\"]\nfail-on = [\"warning\"]\nexclude = [\"legacy/**\"]\n[lint.severity]\nKW101 = \"warning\"\n",
            "keyward.toml",
        );
        let Ok(c) = c else { unreachable!("{c:?}") };
        assert!(c.enabled("KW101") && !c.enabled("KW110") && !c.enabled("KW201"));
        assert!(c.excluded(Path::new("legacy/a.json")));
        assert_eq!(c.fail_on, vec![Category::Warning]);
        assert!(Config::parse("[lint]\nselct = []\n", "k.toml").is_err());
    }
}
