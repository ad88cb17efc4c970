//! The values `${NAME}` can refer to, and which source wins.

use std::collections::HashMap;

/// Variables for interpolation, looked up in this order: `--var` on the command line, the
/// process environment, `--env-file` files (a later file, or a later line, wins, as in docker
/// compose), then the manifest's `[vars]`.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    command_line: HashMap<String, String>,
    environment: HashMap<String, String>,
    env_files: HashMap<String, String>,
    manifest: HashMap<String, String>,
}

/// Builds [`Variables`] source by source.
#[derive(Debug, Default)]
pub struct VariablesBuilder {
    variables: Variables,
}

impl Variables {
    pub fn builder() -> VariablesBuilder {
        VariablesBuilder::default()
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.command_line
            .get(name)
            .or_else(|| self.environment.get(name))
            .or_else(|| self.env_files.get(name))
            .or_else(|| self.manifest.get(name))
            .map(String::as_str)
    }

    /// Adds the manifest's `[vars]`, already interpolated; they have the lowest precedence.
    #[must_use]
    pub fn with_manifest_vars(&self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut variables = self.clone();
        variables.manifest.extend(vars);
        variables
    }
}

impl VariablesBuilder {
    #[must_use]
    pub fn command_line(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.variables.command_line.extend(vars);
        self
    }

    #[must_use]
    pub fn environment(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.variables.environment.extend(vars);
        self
    }

    /// Adds the entries of one env file; they replace those of earlier files.
    #[must_use]
    pub fn env_file(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.variables.env_files.extend(vars);
        self
    }

    pub fn build(self) -> Variables {
        self.variables
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn precedence_is_command_line_environment_env_file_manifest() {
        // Later env files win over earlier ones.
        let variables = Variables::builder()
            .command_line(pairs(&[("A", "cli")]))
            .environment(pairs(&[("A", "env"), ("B", "env")]))
            .env_file(pairs(&[("A", "file"), ("B", "file"), ("C", "file")]))
            .env_file(pairs(&[("C", "second file"), ("E", "second file")]))
            .build()
            .with_manifest_vars(pairs(&[("A", "vars"), ("C", "vars"), ("D", "vars")]));
        assert_eq!(variables.get("A"), Some("cli"));
        assert_eq!(variables.get("B"), Some("env"));
        assert_eq!(variables.get("C"), Some("second file"));
        assert_eq!(variables.get("D"), Some("vars"));
        assert_eq!(variables.get("E"), Some("second file"));
        assert_eq!(variables.get("F"), None);
    }
}
