//! The throwaway PostgreSQL of the tests (`tests/common/pg.rs`, SPEC-2 §16): a real server that
//! answers SQL with `fsync=on`, keeps its data across a clean stop, a crash-like stop and a
//! restart on the same port, and leaves nothing behind (folder, port, processes) after drop,
//! after a panic and after the test process is killed.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::pg::{PgCluster, coluna, port_accepts, postmaster_running, valor, wait_until};

/// How long cleanup by the watchdog may take after its owner died.
const CLEANUP_TIMEOUT: Duration = Duration::from_secs(30);

/// The environment variable that lets [`cluster_owner_for_the_kill_test`] run.
const OWNER_ENV: &str = "AGENDAMENTO_TEST_PG_OWNER";

/// Asserts that a dropped cluster left nothing: no folder, nothing on the port, no server.
#[track_caller]
fn assert_gone(dir: &Path, port: u16) {
    let data = dir.join("data");
    let gone = wait_until(CLEANUP_TIMEOUT, || {
        !dir.exists() && !port_accepts(port) && !postmaster_running(&data)
    });
    assert!(
        gone,
        "cluster left behind: folder exists {}, port {port} accepts {}, server runs {}",
        dir.exists(),
        port_accepts(port),
        postmaster_running(&data)
    );
}

#[tokio::test]
async fn pg_cluster_answers_with_fsync_on_keeps_data_across_stops_and_leaves_nothing_after_drop() {
    let started = Instant::now();
    let cluster = PgCluster::start();
    eprintln!("PgCluster::start took {:?}", started.elapsed());
    let (dir, port) = (cluster.dir().to_path_buf(), cluster.port());
    assert_eq!(
        cluster.url(),
        format!("postgres://postgres@127.0.0.1:{port}/agendamento")
    );
    assert!(dir.join("data").is_dir());
    assert!(postmaster_running(&dir.join("data")));

    let client = cluster.client().await;
    let one: i32 = valor(&client, "SELECT 1").await;
    assert_eq!(one, 1);
    let fsync: String = valor(&client, "SHOW fsync").await;
    assert_eq!(fsync, "on");
    let max: String = valor(&client, "SHOW max_connections").await;
    assert_eq!(max, "200");
    let database: String = valor(&client, "SELECT current_database()").await;
    assert_eq!(database, "agendamento");
    client
        .batch_execute("CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
        .await
        .expect("create and fill t");

    // A clean stop: nothing listens; started again on the same port with the same data.
    cluster.stop();
    assert!(
        !cluster.accepts_connections(),
        "port {port} still open after stop"
    );
    assert!(client.query_one("SELECT 1", &[]).await.is_err());
    cluster.start_again();
    let client = cluster.client().await;
    assert_eq!(
        coluna::<i32>(&client, "SELECT v FROM t ORDER BY v").await,
        vec![1]
    );

    // A crash-like stop: the committed row survives the WAL replay.
    client
        .batch_execute("INSERT INTO t VALUES (2)")
        .await
        .expect("insert 2");
    cluster.stop_immediate();
    assert!(
        !cluster.accepts_connections(),
        "port {port} still open after stop_immediate"
    );
    cluster.start_again();
    let client = cluster.client().await;
    assert_eq!(
        coluna::<i32>(&client, "SELECT v FROM t ORDER BY v").await,
        vec![1, 2]
    );

    // restart_db: stop and start in one call.
    cluster.restart_db();
    let client = cluster.client().await;
    assert_eq!(
        coluna::<i32>(&client, "SELECT v FROM t ORDER BY v").await,
        vec![1, 2]
    );
    let fsync: String = valor(&client, "SHOW fsync").await;
    assert_eq!(fsync, "on");

    drop(client);
    drop(cluster);
    assert_gone(&dir, port);
}

#[test]
fn pg_cluster_is_removed_when_the_test_panics() {
    let (sender, receiver) = std::sync::mpsc::channel();
    let outcome = std::thread::spawn(move || {
        let cluster = PgCluster::start();
        sender
            .send((cluster.dir().to_path_buf(), cluster.port()))
            .expect("send");
        panic!("a failing test that holds a cluster");
    })
    .join();
    assert!(outcome.is_err(), "the thread was meant to panic");
    let (dir, port) = receiver.recv().expect("the cluster had started");
    assert_gone(&dir, port);
}

/// Not a test of its own: the process that [`pg_cluster_is_removed_when_the_test_process_is_killed`]
/// runs and kills. Starts a cluster, writes its port and folder to the file named by
/// [`OWNER_ENV`] (the test harness may capture standard output), and waits to be killed.
#[test]
#[ignore = "run (and SIGKILLed) by pg_cluster_is_removed_when_the_test_process_is_killed"]
fn cluster_owner_for_the_kill_test() {
    let Some(report) = std::env::var_os(OWNER_ENV) else {
        return;
    };
    let cluster = PgCluster::start();
    let partial = PathBuf::from(&report).with_extension("partial");
    std::fs::write(
        &partial,
        format!("{}\n{}", cluster.port(), cluster.dir().display()),
    )
    .expect("write the report");
    std::fs::rename(&partial, &report).expect("publish the report");
    loop {
        std::thread::park();
    }
}

#[test]
fn pg_cluster_is_removed_when_the_test_process_is_killed() {
    let scratch = tempfile::tempdir().expect("scratch folder");
    let report = scratch.path().join("cluster.txt");
    let mut owner = Command::new(std::env::current_exe().expect("current test binary"))
        .args(["pg_cluster::cluster_owner_for_the_kill_test", "--exact"])
        .args(["--ignored", "--test-threads=1"])
        .env(OWNER_ENV, &report)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the owner process");
    let published = wait_until(Duration::from_secs(60), || {
        report.exists() || owner.try_wait().ok().flatten().is_some()
    });
    let text = std::fs::read_to_string(&report).unwrap_or_default();
    let Some((port, dir)) = text.split_once('\n') else {
        let _ = owner.kill();
        panic!(
            "the owner process did not report a cluster (published {published}): {:?}",
            owner.wait()
        );
    };
    let (port, dir) = (port.parse::<u16>().expect("port"), PathBuf::from(dir));
    assert!(port_accepts(port), "the owner's cluster is not up");
    assert!(postmaster_running(&dir.join("data")));

    owner.kill().expect("SIGKILL the owner");
    owner.wait().expect("reap the owner");

    assert_gone(&dir, port);
}
