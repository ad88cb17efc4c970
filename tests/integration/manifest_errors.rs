//! Every kind of manifest error: exit code 2, the <file:line:col> of the mistake, a snippet, a
//! suggestion, and every error of the file in one report.

use crate::common::{Pipewright, header};

fn check(manifest: &str) -> crate::common::Outcome {
    let outcome = Pipewright::new()
        .manifest(manifest)
        .args(["check", "pipeline.toml"])
        .run();
    outcome.assert_code(2);
    assert!(
        outcome.stdout.is_empty(),
        "nothing on stdout: {}",
        outcome.stdout
    );
    outcome
}

#[test]
fn unknown_key_points_at_the_key_and_suggests_the_right_one() {
    let outcome = check(&format!(
        "{}\n[steps.load]\nkind = \"command\"\nrun = [\"true\"]\ndepens_on = [\"x\"]\n",
        header("p", 1)
    ));
    assert!(
        outcome.stderr.contains("pipeline.toml:8:1"),
        "{}",
        outcome.stderr
    );
    insta::assert_snapshot!("unknown_key", outcome.stderr);
}

#[test]
fn wrong_type_points_at_the_value() {
    let outcome = check(&format!(
        "{}\n[steps.load]\nkind = \"command\"\nrun = [\"true\"]\nretries = \"three\"\nafter = \"x\"\n",
        header("p", 1)
    ));
    assert!(
        outcome.stderr.contains("pipeline.toml:8:11"),
        "{}",
        outcome.stderr
    );
    insta::assert_snapshot!("wrong_type", outcome.stderr);
}

#[test]
fn unknown_step_in_after_suggests_a_close_id() {
    let outcome = check(&format!(
        "{}\n[steps.extract]\nkind = \"command\"\nrun = [\"true\"]\n\n[steps.load]\nkind = \"command\"\nrun = [\"true\"]\nafter = [\"extarct\"]\n",
        header("p", 1)
    ));
    insta::assert_snapshot!("unknown_step", outcome.stderr);
}

#[test]
fn cycles_are_printed_in_full() {
    let outcome = check(&format!(
        "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\nafter = [\"c\"]\n\n[steps.b]\nkind = \"command\"\nrun = [\"true\"]\nafter = [\"a\"]\n\n[steps.c]\nkind = \"command\"\nrun = [\"true\"]\nafter = [\"b\"]\n",
        header("p", 1)
    ));
    assert!(
        outcome
            .stderr
            .contains("dependency cycle: a -> b -> c -> a"),
        "{}",
        outcome.stderr
    );
    insta::assert_snapshot!("cycle", outcome.stderr);
}

#[test]
fn a_step_cannot_run_after_itself() {
    let outcome = check(&format!(
        "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\nafter = [\"a\"]\n",
        header("p", 1)
    ));
    assert!(
        outcome.stderr.contains("step `a` runs after itself"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("pipeline.toml:8:10"),
        "{}",
        outcome.stderr
    );
}

/// A transform from `t` into `t` on the same connection is refused by `check`; into `t` of
/// another schema (`to.schema`) it is another table, and accepted.
#[test]
fn a_transform_onto_itself_is_refused_but_another_schema_is_another_table() {
    let manifest = |to: &str| {
        format!(
            "{}
[connections.db]
url = \"postgres://localhost/db\"\n\n[steps.copy]\nkind = \"transform\"\nfrom = {{ connection = \"db\", table = \"t\" }}\nto = {to}\n",
            header("p", 1)
        )
    };
    let outcome = check(&manifest(r#"{ connection = "db", mode = "replace" }"#));
    assert!(
        outcome
            .stderr
            .contains("`steps.copy` copies `t` onto itself"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("pipeline.toml:11:6"),
        "{}",
        outcome.stderr
    );
    let outcome = check(&manifest(
        r#"{ connection = "db", table = "t", mode = "replace" }"#,
    ));
    assert!(outcome.stderr.contains("onto itself"), "{}", outcome.stderr);
    let accepted = Pipewright::new()
        .manifest(&manifest(
            r#"{ connection = "db", schema = "archive", mode = "replace" }"#,
        ))
        .args(["check", "pipeline.toml"])
        .run();
    accepted.assert_code(0);
    // SQLite's `main` is its only schema, where PostgreSQL's `main` is a schema like another.
    let main_onto_t = |url: &str| {
        format!(
            "{}\n[connections.db]\nurl = \"{url}\"\n\n[steps.copy]\nkind = \"transform\"\nfrom = {{ connection = \"db\", table = \"main.t\" }}\nto = {{ connection = \"db\", table = \"t\", mode = \"replace\" }}\n",
            header("p", 1)
        )
    };
    let sqlite = check(&main_onto_t("sqlite://data.db"));
    assert!(sqlite.stderr.contains("onto itself"), "{}", sqlite.stderr);
    Pipewright::new()
        .manifest(&main_onto_t("postgres://localhost/db"))
        .args(["check", "pipeline.toml"])
        .run()
        .assert_code(0);
}

#[test]
fn duplicate_step_ids_are_reported_by_the_toml_parser_with_a_span() {
    let outcome = check(&format!(
        "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n",
        header("p", 1)
    ));
    insta::assert_snapshot!("duplicate_step", outcome.stderr);
}

#[test]
fn unknown_connection_suggests_a_declared_one() {
    let outcome = check(&format!(
        "{}\n[connections.warehouse]\nurl = \"sqlite://w.db\"\n\n[steps.q]\nkind = \"sql\"\nconnection = \"warehose\"\nsql = \"select 1\"\n",
        header("p", 1)
    ));
    insta::assert_snapshot!("unknown_connection", outcome.stderr);
}

#[test]
fn missing_paths_are_resolved_against_the_manifest_directory() {
    let outcome = check(&format!(
        "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\nworkdir = \"no/such/dir\"\n",
        header("p", 1)
    ));
    assert!(
        outcome
            .stderr
            .contains("`workdir` points at `no/such/dir`, which does not exist")
    );
    assert!(
        outcome.stderr.contains("pipeline.toml:8:11"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn unset_variables_point_at_their_use() {
    let outcome = check(&format!(
        "{}\n[connections.db]\nurl = \"postgres://app:${{DB_PASSWORD}}@localhost/app\"\n",
        header("p", 1)
    ));
    insta::assert_snapshot!("unset_variable", outcome.stderr);
}

#[test]
fn keys_of_another_kind_are_refused_with_the_kind_that_owns_them() {
    let outcome = check(&format!(
        "{}\n[steps.a]\nkind = \"command\"\nrun = [\"true\"]\ndir = \"migrations\"\n",
        header("p", 1)
    ));
    insta::assert_snapshot!("key_not_for_kind", outcome.stderr);
}

#[test]
fn unknown_kinds_and_invalid_ids_are_refused() {
    let outcome = check(&format!(
        "{}\n[steps.a]\nkind = \"shel\"\n\n[steps.\"b c\"]\nkind = \"command\"\nrun = [\"true\"]\n",
        header("p", 1)
    ));
    assert!(
        outcome.stderr.contains("unknown step kind `shel`"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("invalid step id `b c`"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn every_error_of_a_file_is_in_one_report() {
    let outcome = check(
        "[pipeline]\nname = \"p\"\nconcurency = 0\n\n[steps.a]\nkind = \"command\"\nshell = \"${NOPE}\"\nafter = [\"missing\"]\ntimeout = \"soon\"\n\n[steps.b]\nkind = \"comand\"\n\n[steps.c]\nkind = \"command\"\nrun = [\"x\"]\nshell = \"y\"\n",
    );
    for expected in [
        "unknown key `concurency`",
        "variable `NOPE` is not set",
        "unknown step `missing` in `after` of step `a`",
        "invalid value for `steps.a.timeout`",
        "unknown step kind `comand`",
        "`run` and `shell` cannot both be set",
        "pipeline.toml is invalid: 6 errors",
    ] {
        assert!(
            outcome.stderr.contains(expected),
            "missing `{expected}` in\n{}",
            outcome.stderr
        );
    }
}

#[test]
fn a_manifest_without_pipeline_section_says_what_to_add() {
    let outcome = check("[steps.a]\nkind = \"command\"\nrun = [\"true\"]\n");
    assert!(
        outcome.stderr.contains("missing key `pipeline`"),
        "{}",
        outcome.stderr
    );
    assert!(
        outcome.stderr.contains("start the file with `[pipeline]`"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn a_missing_manifest_file_is_a_usage_error() {
    let outcome = Pipewright::new().args(["check", "nowhere.toml"]).run();
    outcome.assert_code(2);
    assert!(
        outcome
            .stderr
            .contains("cannot read manifest `nowhere.toml`"),
        "{}",
        outcome.stderr
    );
}

#[test]
fn variables_resolve_from_var_environment_env_file_vars_and_defaults() {
    let manifest = format!(
        "{}\n[vars]\nfrom_vars = \"manifest\"\n\n[steps.a]\nkind = \"command\"\nrun = [\"sh\", \"-c\", \"echo $0 $1 $2 $3 $4 > out.txt\", \"${{FROM_CLI}}\", \"${{FROM_ENV}}\", \"${{FROM_FILE}}\", \"${{from_vars}}\", \"${{MISSING:-default}}\"]\n",
        header("p", 1)
    );
    let outcome = Pipewright::new()
        .manifest(&manifest)
        .file(
            "vars.env",
            "FROM_FILE=file\nFROM_ENV=overridden by the environment\n",
        )
        .env("FROM_ENV", "env")
        .args([
            "run",
            "pipeline.toml",
            "--var",
            "FROM_CLI=cli",
            "--env-file",
            "vars.env",
        ])
        .run();
    outcome.assert_code(0);
    assert_eq!(outcome.read("out.txt"), "cli env file manifest default\n");
}

#[test]
fn sql_text_is_never_interpolated() {
    let outcome = Pipewright::new()
        .manifest(&format!(
            "{}\n[connections.db]\nurl = \"sqlite://x.db\"\n\n[steps.q]\nkind = \"sql\"\nconnection = \"db\"\nsql = \"select '${{NOT_A_VARIABLE}}'\"\n",
            header("p", 1)
        ))
        .args(["check", "pipeline.toml"])
        .run();
    outcome.assert_code(0);
}
