//! The journal in PostgreSQL (SPEC-2 §16): several processes share one ordered journal and
//! one table per collection, and each keeps the whole state in memory as with the files.
//!
//! - `agendamento_journal (seq, entrada json, recarga)`: the entries, the same JSON as a
//!   `journal.jsonl` line. The primary key on `seq` is the last guard of the one order, and
//!   an append moves `agendamento_estado.posicao` only from where its batch starts.
//! - one table per collection (`pacientes`, `consultas`, …): `(id, registro jsonb, posicao)`,
//!   one row per record, current as of `agendamento_estado.posicao`; written in the same
//!   statement as the entries, so a query always sees a state some position had.
//! - `agendamento_instancias (id, posicao, visto_em)`: where each process is, so entries every
//!   process has applied are pruned (the tables hold them).
//!
//! Appends are serialized with a session advisory lock held by the flusher's connection
//! between [`Journal::acquire`] and [`Journal::release`]; the core only decides writes while
//! it holds it and is caught up, so a decision is always made against the newest state and
//! no write is ever decided twice. A stuck holder loses the lock with its connection
//! (`idle_session_timeout`, `idle_in_transaction_session_timeout`). Followers are woken by
//! `LISTEN/NOTIFY` and always read from their position, so a lost notification costs at
//! most one poll. The leader (background work) holds another advisory lock.
//!
//! The database speaks async (`tokio-postgres`); the core's journal calls are blocking, so
//! the journal runs its connections on a small runtime of its own and waits for the answers.

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::marker::PhantomData;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio_postgres::{AsyncMessage, Client, NoTls, Statement};

use super::journal::{AppendError, Batch, Caught, Journal, Loaded, ReplaceError};
use super::{CollectionId, Collections, OpenError, StoreState};

/// Advisory lock keys ("AGEN" + a number): the right to append, the leadership, migrations.
const WRITE_KEY: i64 = 0x4147_454E_0000_0001;
const LEADER_KEY: i64 = 0x4147_454E_0000_0002;
const MIGRATE_KEY: i64 = 0x4147_454E_0000_0003;
/// The channel the entries are announced on.
const CHANNEL: &str = "agendamento_journal";
/// How many entries one read past a position returns at most.
const READ_MAX: i64 = 5_000;

/// The schema, one step per version, applied in order at start (each once).
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
        "CREATE TABLE agendamento_journal (
         seq bigint PRIMARY KEY,
         entrada jsonb NOT NULL,
         recarga boolean NOT NULL DEFAULT false
     );
     CREATE TABLE agendamento_estado (
         id int PRIMARY KEY CHECK (id = 1),
         posicao bigint NOT NULL
     );
     INSERT INTO agendamento_estado VALUES (1, 0);
     CREATE TABLE agendamento_instancias (
         id text PRIMARY KEY,
         posicao bigint NOT NULL,
         visto_em timestamptz NOT NULL DEFAULT now()
     );
     CREATE TABLE agendamento_segredo (
         id int PRIMARY KEY CHECK (id = 1),
         valor bytea NOT NULL
     );",
    ),
    // The entries are `json`, not `jsonb`: PostgreSQL only checks the text instead of
    // converting it (and converting it back for every follower's read), and entries up to a
    // page stay in the row uncompressed. Measured under bookings: turning entries into
    // `jsonb` and compressing them took about a fifth of PostgreSQL's CPU. (Version 2 also
    // sets `toast_tuple_target` on the collection tables: see `migrate`.)
    (
        2,
        "ALTER TABLE agendamento_journal ALTER COLUMN entrada TYPE json USING entrada::json;
         ALTER TABLE agendamento_journal SET (toast_tuple_target = 8160);",
    ),
    // Where the leader takes the writes the other instances forward to it (SPEC-2 §16).
    (
        3,
        "CREATE TABLE agendamento_lider (
         id int PRIMARY KEY CHECK (id = 1),
         endereco text,
         desde timestamptz NOT NULL DEFAULT now()
     );",
    ),
    // The leader's machine (a loopback address is used only there) and the session that
    // holds the leadership (the row counts only while that session holds it).
    (
        4,
        "ALTER TABLE agendamento_lider ADD COLUMN maquina text NOT NULL DEFAULT '';
         ALTER TABLE agendamento_lider ADD COLUMN pid int NOT NULL DEFAULT 0;",
    ),
];

fn db_err(e: tokio_postgres::Error) -> io::Error {
    // The server's own message (`DbError`) says what went wrong; the outer one only "db error".
    match e.as_db_error() {
        Some(d) => io::Error::other(format!("postgres: {}", d.message())),
        None => io::Error::other(format!("postgres: {e}")),
    }
}

fn open_err(url_safe: &str) -> impl Fn(io::Error) -> OpenError + '_ {
    move |source| OpenError::Banco {
        url: url_safe.to_owned(),
        source,
    }
}

/// The flusher's connection: holds the right to append while it has it.
struct Writer {
    client: Client,
    /// The append statement of each shape seen (see [`Shape`]), prepared on first use.
    appends: std::collections::HashMap<Shape, Statement>,
    /// The collection table names, in collection index order.
    names: Vec<&'static str>,
    /// When an append last asked whether others wait (see [`ASK_EVERY`]).
    asked: Option<std::time::Instant>,
}

/// What an append statement writes: per collection, whether it upserts and whether it
/// deletes (two bits each), and whether it asks for the sessions waiting to append.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
struct Shape {
    puts: u64,
    dels: u64,
    ask: bool,
}

/// At most this many append statements are kept prepared per connection (a batch's shape
/// depends on which collections it touches; a few shapes cover nearly every batch).
const SHAPES_MAX: usize = 64;

/// How often an append asks whether other sessions wait for the right to append: reading
/// `pg_locks` copies the server's whole lock table, which took about a twentieth of
/// PostgreSQL's CPU when every append asked; a turn lasts longer anyway (the flusher's
/// `TURN_MAX`).
const ASK_EVERY: Duration = Duration::from_millis(10);

/// The journal in a PostgreSQL database.
pub struct PgJournal<S: StoreState> {
    rt: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    /// The writer connection's own runtime, driven by the thread that uses it (the
    /// flusher's): an append then costs no hand-over to `pg-io` and back.
    writer_rt: Option<tokio::runtime::Runtime>,
    config: tokio_postgres::Config,
    pool: deadpool_postgres::Pool,
    writer: Arc<tokio::sync::Mutex<Option<Writer>>>,
    leader: Arc<tokio::sync::Mutex<Option<(Client, bool)>>>,
    listener: Mutex<Option<(Client, mpsc::Receiver<()>)>>,
    /// This process's row in `agendamento_instancias`.
    instance: String,
    /// Whether another session waited for the right to append at the last append.
    contended: AtomicBool,
    /// The database named without its password (for messages).
    shown: String,
    _state: PhantomData<fn() -> S>,
}

impl<S: StoreState> Drop for PgJournal<S> {
    fn drop(&mut self) {
        // Dropping a runtime may block; this may run inside another runtime.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
        if let Some(rt) = self.writer_rt.take() {
            rt.shutdown_background();
        }
    }
}

/// The table names, in collection index order.
fn tables<S: StoreState>() -> Vec<&'static str> {
    S::Collection::ALL.iter().map(|c| c.name()).collect()
}

/// `postgres://user:senha@host/db` → `postgres://user@host/db` (for messages and logs).
pub fn without_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) => {
            let _ = u.set_password(None);
            u.to_string()
        }
        Err(_) => "postgres://…".into(),
    }
}

impl<S: StoreState> PgJournal<S> {
    /// Connects to `url`, runs the migrations and creates the collection tables.
    pub fn open(url: &str) -> Result<Self, OpenError> {
        let shown = without_password(url);
        let fail = open_err(&shown);
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| fail(io::Error::new(io::ErrorKind::InvalidInput, e.to_string())))?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(3));
        }
        detectar_queda(&mut config);
        config.application_name("agendamento");
        // No JIT for these sessions: the journal's statements are short and many, and
        // compiling them cost more than running them (measured: with JIT on, LLVM took over
        // half of PostgreSQL's CPU under bookings). Options in the URL still apply.
        let options = without_jit(config.get_options());
        config.options(&options);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("pg-io")
            .enable_all()
            .build()
            .map_err(&fail)?;
        let handle = rt.handle().clone();
        let writer_rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(&fail)?;
        let pool = {
            let _in = rt.enter();
            let manager = deadpool_postgres::Manager::from_config(
                config.clone(),
                NoTls,
                deadpool_postgres::ManagerConfig {
                    recycling_method: deadpool_postgres::RecyclingMethod::Fast,
                },
            );
            deadpool_postgres::Pool::builder(manager)
                .max_size(4)
                .build()
                .map_err(|e| fail(io::Error::other(e.to_string())))?
        };
        let journal = Self {
            rt: Some(rt),
            handle,
            writer_rt: Some(writer_rt),
            config,
            pool,
            writer: Arc::default(),
            leader: Arc::default(),
            listener: Mutex::new(None),
            instance: uuid::Uuid::new_v4().to_string(),
            contended: AtomicBool::new(false),
            shown: shown.clone(),
            _state: PhantomData,
        };
        let pool = journal.pool.clone();
        journal
            .block(migrate(pool, tables::<S>()))
            .and_then(|r| r)
            .map_err(open_err(&shown))?;
        Ok(journal)
    }

    /// Runs `f` on the journal's runtime and waits for it (from any thread).
    fn block<F, T>(&self, f: F) -> io::Result<T>
    where
        F: Future<Output = T> + Send + 'static,
        T: Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(f.await);
        });
        rx.recv()
            .map_err(|_| io::Error::other("the database connection's runtime stopped"))
    }

    /// Runs `f`, which uses the writer connection, on the writer's runtime, driven by the
    /// calling thread (a plain thread: the flusher, or a blocking task for a restore).
    fn block_writer<F: Future>(&self, f: F) -> io::Result<F::Output> {
        match &self.writer_rt {
            Some(rt) => Ok(rt.block_on(f)),
            None => Err(io::Error::other("the writer connection's runtime stopped")),
        }
    }

    /// Replaces the database's whole contents with `snap` at position `seq`, provided the
    /// database stands at `expected` (a restore: `seq - 1`; an import into an empty
    /// database: 0). Followers reload from the tables. A restore runs on the writer
    /// connection, which holds the right to append (see the core's `replace_after`); an
    /// import takes it for its transaction on a connection of its own.
    fn replace(&self, expected: u64, seq: u64, snap: &S::Snapshot, import: bool) -> io::Result<()> {
        let mut rows: Vec<(usize, Vec<String>, Vec<String>)> = Vec::new();
        for &c in S::Collection::ALL {
            let mut ids = Vec::new();
            let mut recs = Vec::new();
            S::each_row(snap, c, &mut |id, json| {
                ids.push(id.to_owned());
                recs.push(String::from_utf8_lossy(json).into_owned());
            })
            .map_err(io::Error::other)?;
            rows.push((c.index(), ids, recs));
        }
        let names = tables::<S>();
        if import {
            let pool = self.pool.clone();
            return self.block(async move {
                let mut client = pool.get().await.map_err(io::Error::other)?;
                replace_on(&mut client, true, expected, seq, rows, &names).await
            })?;
        }
        let writer = self.writer.clone();
        self.block_writer(async move {
            let mut guard = writer.lock().await;
            let Some(w) = guard.as_mut() else {
                return Err(io::Error::other("not holding the journal"));
            };
            let r = replace_on(&mut w.client, false, expected, seq, rows, &names).await;
            if w.client.is_closed() {
                *guard = None;
            }
            r
        })?
    }

    /// Copies a whole state (an embedded store's) into this database, which must be empty
    /// (`agendamento importar`).
    pub fn import(&self, seq: u64, snap: &S::Snapshot) -> io::Result<()> {
        self.replace(0, seq.max(1), snap, true)
    }

    /// Makes `valor` the secret every instance signs public links with, replacing any other
    /// (`agendamento importar`: the data folder's secret signed the links its patients
    /// already hold); whether another was replaced.
    pub fn trocar_segredo(&self, valor: Vec<u8>) -> io::Result<bool> {
        let pool = self.pool.clone();
        self.block(async move {
            let client = pool.get().await.map_err(io::Error::other)?;
            let antes = client
                .query_opt("SELECT valor FROM agendamento_segredo WHERE id = 1", &[])
                .await
                .map_err(db_err)?
                .map(|r| r.get::<_, Vec<u8>>(0));
            client
                .execute(
                    "INSERT INTO agendamento_segredo (id, valor) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET valor = EXCLUDED.valor",
                    &[&valor],
                )
                .await
                .map_err(db_err)?;
            Ok(antes.is_some_and(|a| a != valor))
        })?
    }

    /// The secret every instance signs public links with: `novo` if the database had none
    /// (the first instance creates it), else the one stored.
    pub fn segredo(&self, novo: Vec<u8>) -> io::Result<Vec<u8>> {
        let pool = self.pool.clone();
        self.block(async move {
            let client = pool.get().await.map_err(io::Error::other)?;
            client
                .execute(
                    "INSERT INTO agendamento_segredo (id, valor) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
                    &[&novo],
                )
                .await
                .map_err(db_err)?;
            let row = client
                .query_one("SELECT valor FROM agendamento_segredo WHERE id = 1", &[])
                .await
                .map_err(db_err)?;
            Ok(row.get::<_, Vec<u8>>(0))
        })?
    }

    /// The whole state as of the newest position (one consistent read).
    fn load_all(&self) -> io::Result<Loaded<S>> {
        let names = tables::<S>();
        let pool = self.pool.clone();
        let (pos, files) = self.block(async move {
            let mut client = pool.get().await.map_err(io::Error::other)?;
            let tx = client
                .build_transaction()
                .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()
                .await
                .map_err(db_err)?;
            let pos: i64 = tx
                .query_one("SELECT posicao FROM agendamento_estado", &[])
                .await
                .map_err(db_err)?
                .get(0);
            let mut files = Vec::with_capacity(names.len());
            for name in names {
                let row = tx
                    .query_one(
                        &format!(
                            "SELECT coalesce(string_agg(registro::text, ','), '') FROM \"{name}\""
                        ),
                        &[],
                    )
                    .await
                    .map_err(db_err)?;
                let records: String = row.get(0);
                files.push(
                    format!("{{\"versao\":1,\"seq\":{pos},\"registros\":[{records}]}}")
                        .into_bytes(),
                );
            }
            tx.commit().await.map_err(db_err)?;
            Ok::<_, io::Error>((pos.max(0) as u64, files))
        })??;
        let mut state = S::empty();
        for (&c, bytes) in S::Collection::ALL.iter().zip(files) {
            state
                .load_collection(c, &bytes)
                .map_err(|e| io::Error::other(format!("table {}: {e}", c.name())))?;
        }
        Ok(Loaded {
            state,
            last_seq: pos,
            dirty: Collections::NONE,
            entries: 0,
        })
    }
}

/// One transaction that replaces every table and journals a reload marker (see
/// `PgJournal::replace`); with `lock`, it takes the right to append for itself.
async fn replace_on(
    client: &mut Client,
    lock: bool,
    expected: u64,
    seq: u64,
    rows: Vec<(usize, Vec<String>, Vec<String>)>,
    names: &[&'static str],
) -> io::Result<()> {
    let tx = client.transaction().await.map_err(db_err)?;
    if lock {
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_KEY])
            .await
            .map_err(db_err)?;
    }
    let at: i64 = tx
        .query_one("SELECT posicao FROM agendamento_estado", &[])
        .await
        .map_err(db_err)?
        .get(0);
    if at != expected as i64 {
        return Err(io::Error::other(format!(
            "the database is at position {at}, not {expected}"
        )));
    }
    let seq_i = seq as i64;
    for (c, ids, recs) in rows {
        let name = names[c];
        tx.batch_execute(&format!("TRUNCATE \"{name}\""))
            .await
            .map_err(db_err)?;
        for (ids, recs) in ids.chunks(5_000).zip(recs.chunks(5_000)) {
            tx.execute(
                &format!(
                    "INSERT INTO \"{name}\" (id, registro, posicao) \
                     SELECT i, r::jsonb, $3 FROM unnest($1::text[], $2::text[]) AS t(i, r)"
                ),
                &[&ids, &recs, &seq_i],
            )
            .await
            .map_err(db_err)?;
        }
    }
    let entry = format!("{{\"seq\":{seq},\"ops\":[]}}");
    tx.execute(
        "INSERT INTO agendamento_journal (seq, entrada, recarga) VALUES ($1, $2::text::json, true)",
        &[&seq_i, &entry],
    )
    .await
    .map_err(db_err)?;
    tx.execute("UPDATE agendamento_estado SET posicao = $1", &[&seq_i])
        .await
        .map_err(db_err)?;
    tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &seq.to_string()])
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)
}

/// The oldest PostgreSQL served (`server_version_num`): 14 brought `idle_session_timeout`,
/// which ends a frozen process's session and with it its right to append.
const VERSION_MIN: i32 = 140_000;

/// Creates the schema (the migrations not yet applied, then a table per collection), under
/// an advisory lock so instances starting together do it once. Refuses a server older than
/// [`VERSION_MIN`].
async fn migrate(pool: deadpool_postgres::Pool, names: Vec<&'static str>) -> io::Result<()> {
    let mut client = pool.get().await.map_err(io::Error::other)?;
    let version: i32 = client
        .query_one("SELECT current_setting('server_version_num')::int", &[])
        .await
        .map_err(db_err)?
        .get(0);
    if version < VERSION_MIN {
        return Err(io::Error::other(format!(
            "PostgreSQL 14 ou mais novo é necessário (este é {}.{})",
            version / 10_000,
            version % 10_000 / 100
        )));
    }
    let tx = client.transaction().await.map_err(db_err)?;
    // "already exists, skipping" notices are not news.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await
        .map_err(db_err)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_KEY])
        .await
        .map_err(db_err)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS agendamento_migracoes (
             versao int PRIMARY KEY,
             aplicada_em timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await
    .map_err(db_err)?;
    let done: Vec<i32> = tx
        .query("SELECT versao FROM agendamento_migracoes", &[])
        .await
        .map_err(db_err)?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut applied = Vec::new();
    for (versao, sql) in MIGRATIONS {
        if done.contains(versao) {
            continue;
        }
        applied.push(*versao);
        tx.batch_execute(sql).await.map_err(db_err)?;
        tx.execute(
            "INSERT INTO agendamento_migracoes (versao) VALUES ($1)",
            &[versao],
        )
        .await
        .map_err(db_err)?;
    }
    // Records up to a page stay in the row uncompressed (compressing them cost more CPU than
    // the bytes it saved); tables older than migration 2 get the setting with it.
    for name in names {
        tx.batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS \"{name}\" (
                 id text PRIMARY KEY,
                 registro jsonb NOT NULL,
                 posicao bigint NOT NULL
             ) WITH (toast_tuple_target = 8160)"
        ))
        .await
        .map_err(db_err)?;
        if applied.contains(&2) {
            tx.batch_execute(&format!(
                "ALTER TABLE \"{name}\" SET (toast_tuple_target = 8160)"
            ))
            .await
            .map_err(db_err)?;
        }
    }
    tx.commit().await.map_err(db_err)
}

/// The sessions' startup `options`: the URL's own (if any) and JIT off.
fn without_jit(url_options: Option<&str>) -> String {
    match url_options.map(str::trim) {
        Some(o) if !o.is_empty() => format!("{o} -c jit=off"),
        _ => "-c jit=off".to_owned(),
    }
}

/// A server that vanishes without closing its connections (a host crash, a failover, a
/// dropped route) must fail the session in seconds, not after the kernel's 15 minutes of
/// retransmissions or its 2 hours before probing an idle connection: until then an append,
/// a follower's read or the leadership check would wait on a dead connection. Settings the
/// URL gives (`tcp_user_timeout`, `keepalives_interval`) win.
fn detectar_queda(config: &mut tokio_postgres::Config) {
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(Duration::from_secs(10));
    }
    if config.get_keepalives() && config.get_keepalives_interval().is_none() {
        config.keepalives_idle(Duration::from_secs(10));
        config.keepalives_interval(Duration::from_secs(2));
        config.keepalives_retries(3);
    }
}

/// Connects once, the connection driven on the current runtime.
async fn connect(config: &tokio_postgres::Config) -> Result<Client, tokio_postgres::Error> {
    let (client, connection) = config.connect(NoTls).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(client)
}

/// The flusher's connection, with its statements prepared. A session that sits idle (a
/// stuck process) is ended by the server, which frees the right to append.
async fn connect_writer(
    config: &tokio_postgres::Config,
    names: &[&'static str],
) -> Result<Writer, tokio_postgres::Error> {
    let client = connect(config).await?;
    client
        .batch_execute(
            "SET idle_session_timeout = '5s';
             SET idle_in_transaction_session_timeout = '5s';
             SET lock_timeout = '5s';
             SET synchronous_commit = on",
        )
        .await?;
    // What still gets compressed (entries or records over a page) is compressed with lz4,
    // several times faster than the default pglz; a server built without lz4 keeps pglz.
    let _ = client
        .batch_execute("SET default_toast_compression = lz4")
        .await;
    Ok(Writer {
        client,
        appends: std::collections::HashMap::new(),
        names: names.to_vec(),
        asked: None,
    })
}

/// The one statement that appends a batch of `shape`: the entries, each table's upserts and
/// deletions, the position (only if the journal still ends where the batch starts: else a
/// division by zero aborts it), the notification, and, if asked, how many sessions wait for
/// the right to append. One statement is one implicit transaction and one round trip, and
/// the server answers it in one write (measured: as statements of their own, each with its
/// own answer, sending the answers alone took about a seventh of the writer's time).
fn append_sql(shape: Shape, names: &[&'static str]) -> String {
    use std::fmt::Write as _;
    let mut sql = String::from(
        "WITH j AS (INSERT INTO agendamento_journal (seq, entrada) \
         SELECT s, e::json FROM unnest($1::int8[], $2::text[]) AS t(s, e))",
    );
    let mut n = 2;
    for (c, name) in names.iter().enumerate() {
        if shape.puts & (1 << c) != 0 {
            let _ = write!(
                sql,
                ", p{c} AS (INSERT INTO \"{name}\" (id, registro, posicao) \
                 SELECT i, r::jsonb, p FROM unnest(${}::text[], ${}::text[], ${}::int8[]) AS t(i, r, p) \
                 ON CONFLICT (id) DO UPDATE SET registro = EXCLUDED.registro, posicao = EXCLUDED.posicao)",
                n + 1,
                n + 2,
                n + 3
            );
            n += 3;
        }
        if shape.dels & (1 << c) != 0 {
            let _ = write!(
                sql,
                ", d{c} AS (DELETE FROM \"{name}\" WHERE id = ANY(${}::text[]))",
                n + 1
            );
            n += 1;
        }
    }
    let (last, prev) = (n + 1, n + 2);
    let _ = write!(
        sql,
        ", u AS (UPDATE agendamento_estado SET posicao = ${last}::int8 \
         WHERE posicao = ${prev}::int8 RETURNING 1) \
         SELECT 1 / (SELECT count(*)::int FROM u), pg_notify('{CHANNEL}', ${last}::int8::text)"
    );
    if shape.ask {
        let _ = write!(
            sql,
            ", (SELECT count(*) FROM pg_locks WHERE NOT granted AND {})",
            advisory("", WRITE_KEY)
        );
    }
    sql
}

/// The `pg_locks` condition naming advisory lock `key` (columns prefixed with `tabela`): a
/// bigint advisory key is (classid, objid) = (high, low 32 bits), objsubid 1.
fn advisory(tabela: &str, key: i64) -> String {
    let (hi, lo) = (key >> 32, key & 0xFFFF_FFFF);
    format!(
        "{tabela}locktype = 'advisory' AND {tabela}classid::int8 = {hi} \
         AND {tabela}objid::int8 = {lo} AND {tabela}objsubid = 1"
    )
}

/// What one batch writes to one collection's table: the last change of each record.
#[derive(Default)]
struct TableChanges {
    collection: usize,
    ids: Vec<String>,
    records: Vec<String>,
    seqs: Vec<i64>,
    deleted: Vec<String>,
}

/// What one batch writes: the entries and the tables' changes.
struct Prepared {
    seqs: Vec<i64>,
    entries: Vec<String>,
    tables: Vec<TableChanges>,
    last: i64,
    /// Where the journal must end for the batch to follow it.
    prev: i64,
}

fn prepare(batch: &Batch<'_>) -> io::Result<Prepared> {
    let mut seqs = Vec::with_capacity(batch.entries.len());
    let mut entries = Vec::with_capacity(batch.entries.len());
    let mut at = 0usize;
    for &(seq, len) in batch.entries {
        let end = at + len as usize;
        let bytes = batch
            .bytes
            .get(at..end)
            .ok_or_else(|| io::Error::other("batch shorter than its entries"))?;
        let text = std::str::from_utf8(bytes).map_err(io::Error::other)?;
        seqs.push(seq as i64);
        entries.push(text.trim_end().to_owned());
        at = end;
    }
    // The last change of each record wins (a put after a delete, or the reverse).
    let mut last: BTreeMap<(usize, &str), &super::Row> = BTreeMap::new();
    for r in batch.rows {
        last.insert((r.collection, &r.id), r);
    }
    let mut tables: Vec<TableChanges> = Vec::new();
    for ((c, id), row) in last {
        if tables.last().is_none_or(|t| t.collection != c) {
            tables.push(TableChanges {
                collection: c,
                ..TableChanges::default()
            });
        }
        let Some(t) = tables.last_mut() else { continue };
        match row.record {
            Some((a, b)) => {
                let json = batch
                    .bytes
                    .get(a..b)
                    .ok_or_else(|| io::Error::other("record outside its batch"))?;
                t.ids.push(id.to_owned());
                t.records.push(
                    std::str::from_utf8(json)
                        .map_err(io::Error::other)?
                        .to_owned(),
                );
                t.seqs.push(row.seq as i64);
            }
            None => t.deleted.push(id.to_owned()),
        }
    }
    let last = batch.last_seq as i64;
    let prev = seqs.first().map_or(last, |&s| s - 1);
    Ok(Prepared {
        seqs,
        entries,
        tables,
        last,
        prev,
    })
}

/// Appends one prepared batch with one statement (see [`append_sql`]) and, at most every
/// [`ASK_EVERY`], tells whether other sessions wait for the right to append.
async fn append_prepared(
    w: &mut Writer,
    p: Prepared,
) -> Result<Option<bool>, tokio_postgres::Error> {
    type Params<'a> = Vec<&'a (dyn tokio_postgres::types::ToSql + Sync)>;
    let ask = w.asked.is_none_or(|t| t.elapsed() >= ASK_EVERY);
    let mut shape = Shape {
        puts: 0,
        dels: 0,
        ask,
    };
    let mut params: Params<'_> = Vec::with_capacity(5 + 4 * p.tables.len());
    params.push(&p.seqs);
    params.push(&p.entries);
    for t in &p.tables {
        if !t.ids.is_empty() {
            shape.puts |= 1 << t.collection;
            params.push(&t.ids);
            params.push(&t.records);
            params.push(&t.seqs);
        }
        if !t.deleted.is_empty() {
            shape.dels |= 1 << t.collection;
            params.push(&t.deleted);
        }
    }
    params.push(&p.last);
    params.push(&p.prev);
    let statement = match w.appends.get(&shape) {
        Some(s) => s.clone(),
        None => {
            let s = w.client.prepare(&append_sql(shape, &w.names)).await?;
            if w.appends.len() >= SHAPES_MAX {
                w.appends.clear();
            }
            w.appends.insert(shape, s.clone());
            s
        }
    };
    let row = w.client.query_one(&statement, &params).await?;
    if !ask {
        return Ok(None);
    }
    w.asked = Some(std::time::Instant::now());
    Ok(Some(row.get::<_, i64>(2) > 0))
}

impl<S: StoreState> Journal<S> for PgJournal<S> {
    fn load(&mut self) -> Result<Loaded<S>, OpenError> {
        self.load_all().map_err(open_err(&self.shown))
    }

    fn append(&self, batch: &Batch<'_>) -> Result<(), AppendError> {
        let repaired = |error| AppendError {
            error,
            // A transaction either committed or did not; if the answer to a commit was lost,
            // the entries are there and the follower applies them like another's.
            repaired: true,
        };
        let prepared = prepare(batch).map_err(repaired)?;
        let writer = self.writer.clone();
        let result = self.block_writer(async move {
            let mut guard = writer.lock().await;
            let Some(w) = guard.as_mut() else {
                return Err(io::Error::other("not holding the journal"));
            };
            match append_prepared(w, prepared).await {
                Ok(waiting) => Ok(waiting),
                Err(e) => {
                    // The connection (and with it the right to append) is dropped: nothing
                    // this process has not applied can follow this failure.
                    *guard = None;
                    if e.code() == Some(&tokio_postgres::error::SqlState::DIVISION_BY_ZERO) {
                        return Err(io::Error::other(
                            "the journal does not end where this batch starts",
                        ));
                    }
                    Err(db_err(e))
                }
            }
        });
        if let Some(waiting) = result.and_then(|r| r).map_err(repaired)? {
            self.contended.store(waiting, Ordering::Release);
        }
        Ok(())
    }

    fn write_snapshots(
        &self,
        _seq: u64,
        _snap: &S::Snapshot,
        _which: Collections<S::Collection>,
    ) -> io::Result<()> {
        // The tables are current with every append.
        Ok(())
    }

    fn drop_through(&self, _seq: u64) -> io::Result<()> {
        // Pruning waits for every process (see `report_position`).
        Ok(())
    }

    fn truncate(&self) -> io::Result<()> {
        // Other processes may still need the entries.
        Ok(())
    }

    fn replace_all(&self, seq: u64, snap: &S::Snapshot) -> Result<(), ReplaceError> {
        // One transaction: committed or not; never half.
        self.replace(seq.saturating_sub(1), seq, snap, false)
            .map_err(|error| ReplaceError {
                error,
                committed: false,
            })
    }

    fn probe(&self) -> io::Result<()> {
        let pool = self.pool.clone();
        self.block(async move {
            let client = tokio::time::timeout(Duration::from_secs(2), pool.get())
                .await
                .map_err(|_| io::Error::other("timeout"))?
                .map_err(io::Error::other)?;
            client.simple_query("SELECT 1").await.map_err(db_err)?;
            Ok(())
        })?
    }

    fn shared(&self) -> bool {
        true
    }

    fn contended(&self) -> bool {
        self.contended.load(Ordering::Acquire)
    }

    fn acquire(&self) -> io::Result<()> {
        self.contended.store(false, Ordering::Release);
        let writer = self.writer.clone();
        let config = self.config.clone();
        let names = tables::<S>();
        self.block_writer(async move {
            let mut guard = writer.lock().await;
            // Nothing drives the writer's runtime between calls, so a connection the server
            // ended meanwhile (`idle_session_timeout` after a quiet spell) shows as closed
            // only once used: then a fresh connection asks again, once.
            let mut fresh = false;
            loop {
                if guard.as_ref().is_none_or(|w| w.client.is_closed()) {
                    *guard = Some(connect_writer(&config, &names).await.map_err(db_err)?);
                    fresh = true;
                }
                let Some(w) = guard.as_ref() else {
                    return Err(io::Error::other("no connection"));
                };
                match w
                    .client
                    .execute("SELECT pg_advisory_lock($1)", &[&WRITE_KEY])
                    .await
                {
                    Ok(_) => return Ok(()),
                    Err(e) => {
                        let ended = e.is_closed()
                            || w.client.is_closed()
                            || e.code()
                                == Some(&tokio_postgres::error::SqlState::IDLE_SESSION_TIMEOUT);
                        *guard = None;
                        if fresh || !ended {
                            return Err(db_err(e));
                        }
                    }
                }
            }
        })?
    }

    fn release(&self) -> io::Result<()> {
        let writer = self.writer.clone();
        self.block_writer(async move {
            let mut guard = writer.lock().await;
            let Some(w) = guard.as_ref() else {
                return Ok(());
            };
            if let Err(e) = w
                .client
                .execute("SELECT pg_advisory_unlock($1)", &[&WRITE_KEY])
                .await
            {
                // Dropping the connection releases the lock too.
                *guard = None;
                return Err(db_err(e));
            }
            Ok(())
        })?
    }

    fn read_after(&self, seq: u64) -> io::Result<Caught<S>> {
        let pool = self.pool.clone();
        let from = seq as i64;
        let (rows, reload) = self.block(async move {
            let client = pool.get().await.map_err(io::Error::other)?;
            // One statement, one snapshot: the position and the entries past `from` are read
            // together, so a commit between two reads can never look like pruned entries.
            // Prepared once per pooled connection: a follower reads after every append.
            let read = client
                .prepare_cached(
                    "SELECT e.posicao, j.seq, j.entrada::text, j.recarga \
                     FROM agendamento_estado e LEFT JOIN LATERAL ( \
                         SELECT seq, entrada, recarga FROM agendamento_journal \
                         WHERE seq > $1 ORDER BY seq LIMIT $2) j ON true",
                )
                .await
                .map_err(db_err)?;
            let rows = client
                .query(&read, &[&from, &READ_MAX])
                .await
                .map_err(db_err)?;
            let at: i64 = rows.first().map_or(from, |r| r.get(0));
            let first: Option<i64> = rows.first().and_then(|r| r.get(1));
            let reload = rows
                .iter()
                .any(|r| r.get::<_, Option<bool>>(3) == Some(true))
                || first.is_some_and(|f| f != from + 1)
                || (first.is_none() && at > from);
            let entries: Vec<Vec<u8>> = rows
                .iter()
                .filter_map(|r| r.get::<_, Option<String>>(2))
                .map(String::into_bytes)
                .collect();
            Ok::<_, io::Error>((entries, reload))
        })??;
        if reload {
            return self.load_all().map(Caught::Reload);
        }
        Ok(Caught::Entries(rows))
    }

    fn wait_news(&self, timeout: Duration) -> bool {
        let mut listener = self.listener.lock();
        if listener.is_none() {
            let config = self.config.clone();
            let started = self.block(async move {
                let (client, mut connection) = config.connect(NoTls).await.map_err(db_err)?;
                let (tx, rx) = mpsc::channel();
                tokio::spawn(async move {
                    while let Some(m) = std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        match m {
                            Ok(AsyncMessage::Notification(_)) => {
                                if tx.send(()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(_) => return,
                        }
                    }
                });
                client
                    .batch_execute(&format!("LISTEN {CHANNEL}"))
                    .await
                    .map_err(db_err)?;
                Ok::<_, io::Error>((client, rx))
            });
            match started {
                Ok(Ok(l)) => {
                    *listener = Some(l);
                    // Notifications sent while nobody listened are lost: read anyway.
                    return true;
                }
                _ => {
                    drop(listener);
                    std::thread::sleep(timeout);
                    return true;
                }
            }
        }
        let Some((_, rx)) = listener.as_ref() else {
            return true;
        };
        match rx.recv_timeout(timeout) {
            Ok(()) => {
                while rx.try_recv().is_ok() {}
                true
            }
            Err(mpsc::RecvTimeoutError::Timeout) => false,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                *listener = None;
                true
            }
        }
    }

    fn report_position(&self, seq: u64) -> io::Result<()> {
        let pool = self.pool.clone();
        let id = self.instance.clone();
        let seq = seq as i64;
        self.block(async move {
            let client = pool.get().await.map_err(io::Error::other)?;
            client
                .execute(
                    "INSERT INTO agendamento_instancias (id, posicao, visto_em) VALUES ($1, $2, now()) \
                     ON CONFLICT (id) DO UPDATE SET posicao = EXCLUDED.posicao, visto_em = now()",
                    &[&id, &seq],
                )
                .await
                .map_err(db_err)?;
            client
                .batch_execute(
                    "DELETE FROM agendamento_instancias WHERE visto_em < now() - interval '1 day';
                     DELETE FROM agendamento_journal WHERE seq <= (
                         SELECT min(posicao) FROM agendamento_instancias
                         WHERE visto_em > now() - interval '1 minute')",
                )
                .await
                .map_err(db_err)
        })?
    }

    fn announce_leader(&self, address: Option<&str>, machine: &str) -> io::Result<()> {
        let leader = self.leader.clone();
        let address = address.map(str::to_owned);
        let machine = machine.to_owned();
        self.block(async move {
            let guard = leader.lock().await;
            // Written by the session that holds the leadership, with its backend's pid: the
            // row counts only while that very session holds the lock.
            let Some((client, true)) = guard.as_ref() else {
                return Err(io::Error::other("this process does not lead"));
            };
            client
                .execute(
                    "INSERT INTO agendamento_lider (id, endereco, maquina, pid, desde) \
                     VALUES (1, $1, $2, pg_backend_pid(), now()) \
                     ON CONFLICT (id) DO UPDATE SET endereco = EXCLUDED.endereco, \
                     maquina = EXCLUDED.maquina, pid = EXCLUDED.pid, desde = now()",
                    &[&address, &machine],
                )
                .await
                .map_err(db_err)?;
            Ok(())
        })?
    }

    fn leader_address(&self) -> io::Result<Option<(String, String)>> {
        let pool = self.pool.clone();
        // The locks of every database of the server are listed, so this one's is named.
        let lock = advisory("k.", LEADER_KEY);
        self.block(async move {
            let client = tokio::time::timeout(Duration::from_secs(2), pool.get())
                .await
                .map_err(|_| io::Error::other("timeout"))?
                .map_err(io::Error::other)?;
            let row = client
                .query_opt(
                    &format!(
                        "SELECT l.endereco, l.maquina FROM agendamento_lider l \
                         JOIN pg_locks k ON k.pid = l.pid AND k.granted AND {lock} \
                         AND k.database = \
                         (SELECT oid FROM pg_database WHERE datname = current_database()) \
                         WHERE l.endereco IS NOT NULL"
                    ),
                    &[],
                )
                .await
                .map_err(db_err)?;
            Ok(row.map(|r| (r.get::<_, String>(0), r.get::<_, String>(1))))
        })?
    }

    fn lead(&self) -> bool {
        let leader = self.leader.clone();
        let config = self.config.clone();
        self.block(async move {
            let mut guard = leader.lock().await;
            if let Some((client, leading)) = guard.as_ref() {
                if client.simple_query("SELECT 1").await.is_err() {
                    *guard = None;
                } else if *leading {
                    return true;
                }
            }
            if guard.is_none() {
                let Ok(client) = connect(&config).await else {
                    return false;
                };
                // A stuck leader's idle session is ended, which hands the leadership on.
                let _ = client
                    .batch_execute("SET idle_session_timeout = '5s'")
                    .await;
                *guard = Some((client, false));
            }
            let Some((client, leading)) = guard.as_mut() else {
                return false;
            };
            match client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_KEY])
                .await
            {
                Ok(row) => {
                    *leading = row.get(0);
                    *leading
                }
                Err(_) => {
                    *guard = None;
                    false
                }
            }
        })
        .unwrap_or(false)
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;
    use std::time::Duration;

    use super::{detectar_queda, without_jit};

    #[test]
    fn a_vanished_server_is_noticed_in_seconds_unless_the_url_says_otherwise() {
        let mut c = tokio_postgres::Config::from_str("postgres://u@127.0.0.1/db").expect("url");
        detectar_queda(&mut c);
        assert_eq!(c.get_tcp_user_timeout(), Some(&Duration::from_secs(10)));
        assert_eq!(c.get_keepalives_idle(), Duration::from_secs(10));
        assert_eq!(c.get_keepalives_interval(), Some(Duration::from_secs(2)));
        assert_eq!(c.get_keepalives_retries(), Some(3));
        let mut c = tokio_postgres::Config::from_str(
            "postgres://u@127.0.0.1/db?tcp_user_timeout=30&keepalives_interval=7",
        )
        .expect("url");
        detectar_queda(&mut c);
        assert_eq!(c.get_tcp_user_timeout(), Some(&Duration::from_secs(30)));
        assert_eq!(c.get_keepalives_interval(), Some(Duration::from_secs(7)));
        let mut c = tokio_postgres::Config::from_str("postgres://u@127.0.0.1/db?keepalives=0")
            .expect("url");
        detectar_queda(&mut c);
        assert!(!c.get_keepalives());
    }

    #[test]
    fn sessions_turn_jit_off_and_keep_the_urls_own_options() {
        assert_eq!(without_jit(None), "-c jit=off");
        assert_eq!(without_jit(Some("  ")), "-c jit=off");
        assert_eq!(
            without_jit(Some("-c search_path=clinica")),
            "-c search_path=clinica -c jit=off"
        );
        // The URL form tokio-postgres parses the options from.
        let mut c: tokio_postgres::Config = "postgres://u@h/db?options=-c%20work_mem%3D8MB"
            .parse()
            .expect("url");
        let o = without_jit(c.get_options());
        c.options(&o);
        assert_eq!(c.get_options(), Some("-c work_mem=8MB -c jit=off"));
    }
}
