//! Real database servers for tests: every test gets a database of its own, dropped at the
//! end, so database tests run in parallel like the others. Without a server a test is skipped,
//! unless `PIPEWRIGHT_TEST_REQUIRE_SERVERS` is set (CI sets it): then it fails.

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::{AssertSqlSafe, Connection as _};

/// One of the engines pipewright speaks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    Sqlite,
    Postgres,
    MySql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }
}

/// A database of its own for one test.
pub struct TestDatabase {
    pub engine: Engine,
    /// The URL a manifest uses.
    pub url: String,
    /// For SQLite: the temporary directory holding the file.
    _directory: Option<tempfile::TempDir>,
    /// For servers: the name to drop at the end, and the server's admin URL.
    server: Option<(String, String)>,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn required() -> bool {
    std::env::var_os("PIPEWRIGHT_TEST_REQUIRE_SERVERS").is_some_and(|value| !value.is_empty())
}

fn admin_url(engine: Engine) -> String {
    match engine {
        Engine::Sqlite => String::new(),
        Engine::Postgres => std::env::var("PIPEWRIGHT_TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned()),
        Engine::MySql => std::env::var("PIPEWRIGHT_TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned()),
    }
}

/// `admin` with its database replaced by `database`.
fn with_database(admin: &str, database: &str) -> String {
    let (base, query) = match admin.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin, String::new()),
    };
    let slash = base.rfind('/').expect("a URL with a database");
    format!("{}/{database}{query}", &base[..slash])
}

fn unique_name(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let clean: String = test
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() {
                character.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .take(30)
        .collect();
    format!(
        "pw_{clean}_{}_{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

impl TestDatabase {
    /// A fresh database on `engine` for the test `test`, or `None` (skipped) when the server
    /// is not there and servers are not required.
    pub fn create(engine: Engine, test: &str) -> Option<Self> {
        if engine == Engine::Sqlite {
            let directory = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}/test.db", directory.path().display());
            return Some(Self {
                engine,
                url,
                _directory: Some(directory),
                server: None,
            });
        }
        let admin = admin_url(engine);
        let name = unique_name(test);
        let created = runtime().block_on(async {
            match engine {
                Engine::Postgres => {
                    let mut connection = sqlx::PgConnection::connect(&admin).await?;
                    sqlx::raw_sql(AssertSqlSafe(format!("CREATE DATABASE {name}")))
                        .execute(&mut connection)
                        .await?;
                }
                Engine::MySql => {
                    let mut connection = sqlx::MySqlConnection::connect(&admin).await?;
                    sqlx::raw_sql(AssertSqlSafe(format!(
                        "CREATE DATABASE {name} CHARACTER SET utf8mb4"
                    )))
                    .execute(&mut connection)
                    .await?;
                }
                Engine::Sqlite => unreachable!(),
            }
            Ok::<(), sqlx::Error>(())
        });
        match created {
            Ok(()) => Some(Self {
                engine,
                url: with_database(&admin, &name),
                _directory: None,
                server: Some((name, admin)),
            }),
            Err(error) if required() => panic!(
                "{} is required (PIPEWRIGHT_TEST_REQUIRE_SERVERS) but unavailable at {admin}: {error}",
                engine.name()
            ),
            Err(error) => {
                eprintln!("skipping {test} on {}: {error}", engine.name());
                None
            }
        }
    }

    /// An existing SQLite file, to inspect.
    pub fn sqlite_file(path: &std::path::Path) -> Self {
        Self {
            engine: Engine::Sqlite,
            url: format!("sqlite://{}", path.display()),
            _directory: None,
            server: None,
        }
    }

    /// Runs statements directly, to set up or inspect a test database.
    pub fn execute(&self, sql: &str) {
        let url = self.url.clone();
        let sql = sql.to_owned();
        runtime().block_on(async move {
            match self.engine {
                Engine::Sqlite => {
                    let options = url
                        .parse::<sqlx::sqlite::SqliteConnectOptions>()
                        .unwrap()
                        .create_if_missing(true);
                    let mut connection = sqlx::SqliteConnection::connect_with(&options)
                        .await
                        .unwrap();
                    sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut connection)
                        .await
                        .unwrap();
                }
                Engine::Postgres => {
                    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
                    sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut connection)
                        .await
                        .unwrap();
                }
                Engine::MySql => {
                    let mut connection = sqlx::MySqlConnection::connect(&url).await.unwrap();
                    sqlx::raw_sql(AssertSqlSafe(sql))
                        .execute(&mut connection)
                        .await
                        .unwrap();
                }
            }
        });
    }

    /// The first column of every row of `sql`, as text.
    pub fn strings(&self, sql: &str) -> Vec<Option<String>> {
        let url = self.url.clone();
        let sql = sql.to_owned();
        runtime().block_on(async move {
            match self.engine {
                Engine::Sqlite => {
                    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
                    sqlx::query_scalar(AssertSqlSafe(sql))
                        .fetch_all(&mut connection)
                        .await
                        .unwrap()
                }
                Engine::Postgres => {
                    let mut connection = sqlx::PgConnection::connect(&url).await.unwrap();
                    sqlx::query_scalar(AssertSqlSafe(sql))
                        .fetch_all(&mut connection)
                        .await
                        .unwrap()
                }
                Engine::MySql => {
                    let mut connection = sqlx::MySqlConnection::connect(&url).await.unwrap();
                    sqlx::query_scalar(AssertSqlSafe(sql))
                        .fetch_all(&mut connection)
                        .await
                        .unwrap()
                }
            }
        })
    }

    /// Like [`count`](Self::count), but `None` when the query fails (a table not there yet, a
    /// database busy with another writer), for polling.
    pub fn try_count(&self, sql: &str) -> Option<i64> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.count(sql))).ok()
    }

    /// The single integer `sql` returns (write `CAST(... AS CHAR)`-free counts: the value is
    /// read as text and parsed, which works the same on every engine).
    pub fn count(&self, sql: &str) -> i64 {
        let text = format!("SELECT CAST(({sql}) AS CHAR(20))");
        let text = if self.engine == Engine::Postgres {
            text.replace("AS CHAR(20)", "AS TEXT")
        } else {
            text
        };
        self.strings(&text)[0]
            .as_deref()
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let Some((name, admin)) = self.server.take() else {
            return;
        };
        let engine = self.engine;
        let _ = runtime().block_on(async move {
            match engine {
                Engine::Postgres => {
                    let mut connection = sqlx::PgConnection::connect(&admin).await?;
                    sqlx::raw_sql(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut connection)
                    .await?;
                }
                Engine::MySql => {
                    let mut connection = sqlx::MySqlConnection::connect(&admin).await?;
                    sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
                        .execute(&mut connection)
                        .await?;
                }
                Engine::Sqlite => {}
            }
            Ok::<(), sqlx::Error>(())
        });
    }
}

#[test]
fn urls_get_the_test_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "pw_x"),
        "postgres://postgres@127.0.0.1:5432/pw_x"
    );
    assert_eq!(
        with_database("mysql://root@127.0.0.1/test?ssl-mode=DISABLED", "pw_x"),
        "mysql://root@127.0.0.1/pw_x?ssl-mode=DISABLED"
    );
}

/// Declares one test per engine: `engine_test!(name, |database| { ... })` makes
/// `name::sqlite`, `name::postgres` and `name::mysql`, each with a database of its own.
macro_rules! engine_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            fn body(database: &$crate::servers::TestDatabase) {
                let run: fn(&$crate::servers::TestDatabase) = $body;
                run(database);
            }

            #[test]
            fn sqlite() {
                if let Some(database) = $crate::servers::TestDatabase::create(
                    $crate::servers::Engine::Sqlite,
                    stringify!($name),
                ) {
                    body(&database);
                }
            }

            #[test]
            fn postgres() {
                if let Some(database) = $crate::servers::TestDatabase::create(
                    $crate::servers::Engine::Postgres,
                    stringify!($name),
                ) {
                    body(&database);
                }
            }

            #[test]
            fn mysql() {
                if let Some(database) = $crate::servers::TestDatabase::create(
                    $crate::servers::Engine::MySql,
                    stringify!($name),
                ) {
                    body(&database);
                }
            }
        }
    };
}
pub(crate) use engine_test;

impl TestDatabase {
    /// Rows `1..=rows` of a table `table` (`id`, `label`, `amount`), made by the engine itself,
    /// the same values on every engine (so that checksums agree across engines).
    pub fn numbers_table(&self, table: &str, rows: u32) {
        let sql = match self.engine {
            Engine::Postgres => format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, label VARCHAR(40) NOT NULL, amount NUMERIC(12, 2)); INSERT INTO {table} SELECT g, 'row ' || g, g * 1.25 FROM generate_series(1, {rows}) AS g"
            ),
            Engine::MySql => format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, label VARCHAR(40) NOT NULL, amount DECIMAL(12, 2)); INSERT INTO {table} SELECT seq, CONCAT('row ', seq), seq * 1.25 FROM seq_1_to_{rows}"
            ),
            Engine::Sqlite => format!(
                "CREATE TABLE {table} (id BIGINT PRIMARY KEY, label VARCHAR(40) NOT NULL, amount DECIMAL(12, 2)); WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) INSERT INTO {table} SELECT n, 'row ' || n, n * 1.25 FROM g"
            ),
        };
        self.execute(&sql);
    }

    /// The names of the tables of the database's default schema, in order.
    pub fn table_names(&self) -> Vec<String> {
        let sql = match self.engine {
            Engine::Postgres => {
                "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = 'public' ORDER BY 1"
            }
            Engine::MySql => {
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() ORDER BY 1"
            }
            Engine::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY 1"
            }
        };
        self.strings(sql).into_iter().flatten().collect()
    }

    /// A connection to this database as a manifest would declare it, for pipewright's own
    /// pools.
    pub fn connection_spec(&self) -> pipewright::pipeline::ConnectionSpec {
        use pipewright::pipeline::{ConnectionSpec, Driver};
        let driver = match self.engine {
            Engine::Sqlite => Driver::Sqlite,
            Engine::Postgres => Driver::Postgres,
            Engine::MySql => Driver::MySql,
        };
        ConnectionSpec::new("test", driver, self.url.clone())
    }

    /// The sessions connected to this database, besides the one asking.
    pub fn sessions(&self) -> i64 {
        self.count(match self.engine {
            Engine::Postgres => {
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            }
            Engine::MySql => {
                "SELECT COUNT(*) FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()"
            }
            Engine::Sqlite => panic!("SQLite has no sessions to count"),
        })
    }

    /// The row count and checksum of `table` as pipewright computes them (the same rows give
    /// the same checksum on every engine).
    pub fn checksum(&self, table: &str) -> (u64, String) {
        let spec = self.connection_spec();
        runtime().block_on(async move {
            let database = pipewright::db::Database::connect(&spec, 1).await.unwrap();
            let mut connection = database.acquire().await.unwrap();
            let checksum = pipewright::data::checksum_table(
                &mut connection,
                table,
                &tokio_util::sync::CancellationToken::new(),
            )
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no table `{table}`"));
            drop(connection);
            database.close().await;
            (checksum.rows, format!("{:032x}", checksum.sum))
        })
    }
}
