//! Memory with wide rows: a `transform` of a table of 1 MiB blobs, larger than the memory
//! promise, into PostgreSQL and MariaDB with the default `batch_size` of 10,000 rows stays
//! under 150 MB of resident memory. Batches end at `BATCH_BYTES` of values as well as at
//! `batch_size` rows, so a batch never holds the whole table.

use std::time::Duration;

use crate::common::{Pipewright, header};
use crate::servers::{Engine, TestDatabase};
use crate::support;

/// Rows of the source, 1 MiB each: 192 MiB, more than the memory the copy may use.
const ROWS: i64 = 192;
/// The promise of docs/performance.md, 150 MB, in KiB.
const LIMIT_KIB: u64 = 150 * 1_000 * 1_000 / 1_024;

#[test]
fn a_table_of_one_megabyte_blobs_is_copied_in_bounded_memory() {
    let _servers = support::servers_shared();
    let source = TestDatabase::create(Engine::Sqlite, "wide_rows").unwrap();
    source.execute(&format!(
        "CREATE TABLE blobs (id INTEGER PRIMARY KEY, payload BLOB NOT NULL);
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
         INSERT INTO blobs SELECT i, randomblob(1048576) FROM n;"
    ));
    for engine in [Engine::Postgres, Engine::MySql] {
        let Some(target) = TestDatabase::create(engine, "wide_rows") else {
            continue;
        };
        let project = Pipewright::new().manifest(&format!(
            r#"{}
[connections.source]
url = "{}"

[connections.target]
url = "{}"

[steps.copy]
kind = "transform"
from = {{ connection = "source", table = "blobs" }}
to = {{ connection = "target", mode = "create" }}
"#,
            header("wide_rows", 1),
            source.url,
            target.url
        ));
        let stderr = std::fs::File::create(project.path().join("stderr.log")).unwrap();
        let mut child = project
            .command()
            .args(["run", "pipeline.toml", "--progress", "none"])
            .stdout(std::process::Stdio::null())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let pid = child.id();
        let mut peak = 0;
        while child.try_wait().unwrap().is_none() {
            // `VmHWM`: the peak resident memory so far.
            peak = peak.max(support::status_kib(pid, "VmHWM").unwrap_or(0));
            std::thread::sleep(Duration::from_millis(10));
        }
        let status = child.wait().unwrap();
        let log = std::fs::read_to_string(project.path().join("stderr.log")).unwrap_or_default();
        assert!(status.success(), "{}: {log}", engine.name());
        assert_eq!(
            target.count("SELECT COUNT(*) FROM blobs"),
            ROWS,
            "{}",
            engine.name()
        );
        eprintln!(
            "wide rows into {}: {ROWS} MiB of blobs, peak resident memory {peak} KiB",
            engine.name()
        );
        assert!(
            peak > 0,
            "no memory sample of the run into {}",
            engine.name()
        );
        assert!(
            peak < LIMIT_KIB,
            "copying {ROWS} rows of 1 MiB into {} took {peak} KiB of resident memory",
            engine.name()
        );
    }
}
