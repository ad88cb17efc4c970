//! Connection pools on the servers: the first connection opened while the server is checked,
//! connections opened ahead of time, idle ones taken without waiting.

use std::time::{Duration, Instant};

use pipewright::db::Database;

use crate::common::wait_for;
use crate::servers::{Engine, TestDatabase};

/// A fresh database on `engine`, a runtime whose threads drive the pool's background work,
/// and a pool of at most `max_connections` on the database; `None` when the server is absent
/// and not required.
fn pool_on(
    engine: Engine,
    test: &str,
    max_connections: u32,
) -> Option<(TestDatabase, tokio::runtime::Runtime, Database)> {
    let database = TestDatabase::create(engine, test)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pool = runtime
        .block_on(Database::connect(
            &database.connection_spec(),
            max_connections,
        ))
        .unwrap();
    Some((database, runtime, pool))
}

#[test]
fn a_pool_opens_its_first_connection_while_the_server_is_checked() {
    for engine in [Engine::Postgres, Engine::MySql] {
        let Some((database, runtime, pool)) = pool_on(engine, "pool_first_connection", 3) else {
            continue;
        };
        // The check's connection is closed; the pool's first one stays, idle.
        wait_for("the pool's first connection", || database.sessions() == 1);
        runtime.block_on(pool.close());
        wait_for("the pool to close", || database.sessions() == 0);

        // With one connection allowed, the pool waits for its first user.
        let single = runtime
            .block_on(Database::connect(&database.connection_spec(), 1))
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(database.sessions(), 0, "{}", engine.name());
        runtime.block_on(single.close());
    }
}

#[test]
fn connections_warmed_up_together_are_taken_without_waiting() {
    for engine in [Engine::Postgres, Engine::MySql] {
        let Some((database, runtime, pool)) = pool_on(engine, "pool_warm_up", 3) else {
            continue;
        };
        // More than the pool holds: it opens its three.
        runtime.block_on(pool.warm_up(5));
        assert_eq!(database.sessions(), 3, "{}", engine.name());
        runtime.block_on(async {
            let mut taken = Vec::new();
            for _ in 0..3 {
                taken.push(
                    pool.try_acquire_idle()
                        .await
                        .unwrap()
                        .expect("an idle connection"),
                );
            }
            // None is left, and asking does not wait for one (the acquire timeout is 30 s).
            let asked = Instant::now();
            assert!(pool.try_acquire_idle().await.unwrap().is_none());
            assert!(asked.elapsed() < Duration::from_secs(5));
            // Given back, they are idle again (returning one to the pool is a task of its own).
            drop(taken);
            let returned = Instant::now();
            while pool.try_acquire_idle().await.unwrap().is_none() {
                assert!(
                    returned.elapsed() < Duration::from_secs(5),
                    "never given back"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            pool.close().await;
        });
    }
}
