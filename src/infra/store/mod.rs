//! The durable storage engine (ARCHITECTURE "Writes never rewrite a whole file").
//!
//! All state lives in memory behind one `RwLock`. A write validates against the state,
//! applies its operations, appends one JSON line to `journal.jsonl` and waits until that
//! line is fsync'd before its caller answers: the 2xx promise of SPEC §1. One flusher thread
//! writes whatever lines have queued up since its last fsync with a single `write` + `fdatasync`
//! (group commit), so concurrent writers share the cost of one fsync.
//!
//! If the disk refuses a batch (full, read-only, I/O error), the journal is cut back to its
//! last good length and every operation not yet durable is undone in memory, newest first,
//! so memory never holds a change the disk does not: those writers get
//! [`StoreError::Unavailable`] (503). Readers may glimpse a change during the few
//! milliseconds between apply and fsync; a write never acknowledges one that is not on disk.
//!
//! In the background the journal is folded into one readable snapshot file per collection
//! (`<name>.json`: temp file, fsync, rename, fsync the folder), each stamped with the journal
//! sequence number it includes; the journal prefix that every snapshot covers is then dropped.
//! Start-up loads the snapshots and replays the journal entries newer than each file's stamp.

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{
    Condvar, MappedRwLockReadGuard, Mutex, RwLock, RwLockReadGuard, RwLockUpgradableReadGuard,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

/// The journal's file name inside the data folder.
pub const JOURNAL: &str = "journal.jsonl";
/// The lock file's name inside the data folder.
pub const LOCK: &str = ".lock";
/// Suffix of the collection files a restore writes before its commit point.
const RESTORE_SUFFIX: &str = ".restore";
/// The marker whose presence means "a restore committed: finish it".
const RESTORE_MARKER: &str = "RESTORE";
/// The version written into snapshot files (and required of a backup's data files).
pub const SNAPSHOT_VERSION: u32 = 1;

/// What the store needs from the state it keeps: applying operations (and undoing them),
/// and reading/writing one snapshot file per collection.
pub trait StoreState: Send + Sync + Sized + 'static {
    /// One change, as written to the journal.
    type Op: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// A cheap, consistent copy of some collections, written out without holding the lock.
    type Snapshot: Send + 'static;

    /// Snapshot file stems, one per collection (`pacientes` → `pacientes.json`).
    const COLLECTIONS: &'static [&'static str];

    /// The empty state.
    fn empty() -> Self;
    /// Index into [`Self::COLLECTIONS`] of the collection `op` changes.
    fn collection_of(op: &Self::Op) -> usize;
    /// Applies `op`; returns the operation that undoes it (`None` when it changed nothing).
    fn apply(&mut self, op: Self::Op) -> Option<Self::Op>;
    /// Copies the collections whose flag in `which` is set.
    fn snapshot(&self, which: &[bool]) -> Self::Snapshot;
    /// Writes the records of collection `i` of `snap` (a JSON array) to `out`.
    fn write_records(
        snap: &Self::Snapshot,
        i: usize,
        out: &mut dyn Write,
    ) -> serde_json::Result<()>;
    /// Loads collection `i` from the bytes of its snapshot file; returns the file's sequence stamp.
    fn load_collection(&mut self, i: usize, bytes: &[u8]) -> serde_json::Result<u64>;
    /// The record change `op` makes to this state, for the log (`None`: not worth a line).
    /// Called before `op` is applied, so "created" and "updated" can be told apart.
    fn change_of(&self, _op: &Self::Op) -> Option<Change> {
        None
    }
}

/// One record change, logged once it is on disk: ids only, never the record's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `create`, `update` or `delete`.
    pub action: &'static str,
    /// The collection, e.g. `pacientes`.
    pub collection: &'static str,
    /// The record's id.
    pub id: String,
}

/// Why a write did not happen.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The disk refused the write (full, read-only, I/O error); nothing was changed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Why the store could not open; each message names the file involved.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process holds the data folder.
    #[error("a pasta de dados {dir} já está em uso por outro processo (trava {lock})")]
    Locked {
        /// The data folder.
        dir: String,
        /// The lock file.
        lock: String,
    },
    /// A data file does not parse.
    #[error("arquivo de dados corrompido: {path}, linha {line}, coluna {column}: {msg}")]
    Corrupt {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        msg: String,
    },
    /// The folder or a file could not be created, read or written.
    #[error("não foi possível usar a pasta de dados {path}")]
    Io {
        /// The path involved.
        path: String,
        /// The underlying error (printed after the message by the error chain).
        #[source]
        source: io::Error,
    },
}

/// The envelope of a snapshot file: `{"versao": 1, "seq": N, "registros": [...]}`.
#[derive(Deserialize)]
pub struct SnapshotFile<T> {
    /// Format version.
    #[allow(dead_code)]
    pub versao: u32,
    /// The last journal sequence number this file includes.
    pub seq: u64,
    /// The records.
    pub registros: Vec<T>,
}

/// One journal line: a sequence number and the operations of one write, applied together.
#[derive(Serialize, Deserialize)]
struct Entry<O> {
    seq: u64,
    ops: Vec<O>,
}

/// The state and the bookkeeping that changes with it, under one lock.
struct Guarded<S> {
    state: S,
    /// Sequence number of the newest applied write (durable or not yet).
    last_seq: u64,
    /// Collections changed since their last snapshot.
    dirty: Vec<bool>,
}

/// A write waiting for its fsync.
struct Waiting<O> {
    seq: u64,
    bytes: u64,
    undo: Vec<O>,
    /// The record changes to log once the entry is durable.
    changes: Vec<Change>,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// What the writers hand to the flusher thread.
struct Pending<O> {
    buf: Vec<u8>,
    waiting: Vec<Waiting<O>>,
    /// Drop the journal prefix up to this sequence number (every snapshot covers it).
    drop_through: Option<u64>,
    /// The journal was emptied behind the flusher's back (restore): reset its bookkeeping.
    reset: bool,
    shutdown: bool,
}

struct Inner<S: StoreState> {
    dir: PathBuf,
    guarded: RwLock<Guarded<S>>,
    pending: Mutex<Pending<S::Op>>,
    wake: Condvar,
    /// Highest sequence number known to be on disk.
    durable_seq: AtomicU64,
    /// Bumped on every rollback, so an in-flight compaction knows its snapshot may be stale.
    rollbacks: AtomicU64,
    /// False after a failed write until a later write or probe succeeds (health check).
    writable: AtomicBool,
    /// Set when the journal could not even be cut back: refuse writes until restart.
    broken: AtomicBool,
    compact_every: u64,
    compacting: AtomicBool,
    /// Test hook: make the next journal write fail as a full disk would.
    #[cfg(test)]
    fail_next_flush: AtomicBool,
    /// Serializes snapshot writers (background compaction and the final one at close).
    snapshot_lock: Mutex<()>,
}

/// A data file's name and bytes.
pub type DataFile = (String, Vec<u8>);

/// A submitted write; resolves once it is on disk (or refused, and undone).
#[must_use = "a submitted write is not durable until its ticket resolves"]
pub struct Ticket(Option<oneshot::Receiver<Result<(), StoreError>>>);

impl Ticket {
    /// Waits until the write is on disk.
    pub async fn durable(self) -> Result<(), StoreError> {
        match self.0 {
            None => Ok(()),
            Some(rx) => match rx.await {
                Ok(r) => r,
                Err(_) => Err(StoreError::Unavailable("store closed".into())),
            },
        }
    }
}

/// The durable store: cheap to clone, shared by every handler.
pub struct Store<S: StoreState> {
    inner: Arc<Inner<S>>,
    flusher: Arc<Mutex<Option<JoinHandle<()>>>>,
    _lock: Arc<File>,
}

impl<S: StoreState> Clone for Store<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            flusher: self.flusher.clone(),
            _lock: self._lock.clone(),
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// fsyncs a folder so a rename or a new file in it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl<S: StoreState> Store<S> {
    /// Opens (or creates) the data folder: takes its lock, loads the snapshots, replays the
    /// journal (dropping a torn last line), and starts the flusher thread.
    /// `compact_every` is the number of journal entries after which a snapshot is written.
    pub fn open(dir: &Path, compact_every: u64) -> Result<Self, OpenError> {
        fs::create_dir_all(dir).map_err(io_err(dir))?;
        let lock_path = dir.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(OpenError::Locked {
                    dir: dir.display().to_string(),
                    lock: lock_path.display().to_string(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }

        if dir.join(RESTORE_MARKER).exists() {
            tracing::warn!(target: "agendamento::store", "finishing a restore interrupted by a crash");
            finish_restore(dir, S::COLLECTIONS).map_err(io_err(dir))?;
        }
        for name in S::COLLECTIONS {
            // Leftovers of a restore that never reached its commit point.
            let _ = fs::remove_file(dir.join(format!("{name}.json{RESTORE_SUFFIX}")));
            let _ = fs::remove_file(dir.join(format!("{name}.json{RESTORE_SUFFIX}.tmp")));
        }
        // Temp files of a crash mid-write: the marker's, and the journal's rewrite.
        let _ = fs::remove_file(dir.join(format!("{RESTORE_MARKER}.tmp")));
        let _ = fs::remove_file(dir.join(format!("{JOURNAL}.tmp")));
        let mut state = S::empty();
        let mut file_seq = vec![0u64; S::COLLECTIONS.len()];
        for (i, name) in S::COLLECTIONS.iter().enumerate() {
            let path = dir.join(format!("{name}.json"));
            let _ = fs::remove_file(dir.join(format!("{name}.json.tmp")));
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&path)(e)),
            };
            file_seq[i] = state
                .load_collection(i, &bytes)
                .map_err(|e| corrupt(&path, e.line(), e.column(), &e))?;
        }

        let journal_path = dir.join(JOURNAL);
        let mut dirty = vec![false; S::COLLECTIONS.len()];
        let (last_journal_seq, offsets, good_len) =
            replay::<S>(&journal_path, &mut state, &file_seq, &mut dirty)?;
        let mut journal = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&journal_path)
            .map_err(io_err(&journal_path))?;
        let on_disk = journal.metadata().map_err(io_err(&journal_path))?.len();
        if on_disk != good_len {
            tracing::warn!(
                target: "agendamento::store",
                dropped_bytes = on_disk - good_len,
                "journal ended with a torn line (crash mid-append); dropped it"
            );
            journal.set_len(good_len).map_err(io_err(&journal_path))?;
            journal.sync_all().map_err(io_err(&journal_path))?;
        }
        sync_dir(dir).map_err(io_err(dir))?;
        // `append` mode positions every write at the end, also after set_len.
        let _ = journal.flush();

        let last_seq = file_seq
            .iter()
            .copied()
            .max()
            .unwrap_or(0)
            .max(last_journal_seq);
        let inner = Arc::new(Inner {
            dir: dir.to_path_buf(),
            guarded: RwLock::new(Guarded {
                state,
                last_seq,
                // Replayed collections differ from their files: the next snapshot must write them.
                dirty,
            }),
            pending: Mutex::new(Pending {
                buf: Vec::new(),
                waiting: Vec::new(),
                drop_through: None,
                reset: false,
                shutdown: false,
            }),
            wake: Condvar::new(),
            durable_seq: AtomicU64::new(last_seq),
            rollbacks: AtomicU64::new(0),
            writable: AtomicBool::new(true),
            broken: AtomicBool::new(false),
            compact_every: compact_every.max(1),
            compacting: AtomicBool::new(false),
            #[cfg(test)]
            fail_next_flush: AtomicBool::new(false),
            snapshot_lock: Mutex::new(()),
        });
        let flusher_inner = inner.clone();
        let entries_in_journal = offsets.len() as u64;
        let handle = std::thread::Builder::new()
            .name("store-flusher".into())
            .spawn(move || {
                Flusher {
                    inner: flusher_inner,
                    file: journal,
                    len: good_len,
                    offsets,
                    since_compaction: entries_in_journal,
                }
                .run()
            })
            .map_err(io_err(dir))?;
        Ok(Self {
            inner,
            flusher: Arc::new(Mutex::new(Some(handle))),
            _lock: Arc::new(lock),
        })
    }

    /// Shared read access to the state. Never hold it across an `.await`.
    pub fn read(&self) -> MappedRwLockReadGuard<'_, S> {
        RwLockReadGuard::map(self.inner.guarded.read(), |g| &g.state)
    }

    /// Runs `decide` against the current state under the write lock; the operations it
    /// returns are applied and journaled as one entry, and this returns once they are on
    /// disk. Validation and application happen under one lock, so no concurrent write can
    /// slip between the check and the change (STYLE 8).
    pub async fn write<T, E>(
        &self,
        decide: impl FnOnce(&S) -> Result<(Vec<S::Op>, T), E>,
    ) -> Result<T, E>
    where
        E: From<StoreError>,
    {
        let (ticket, out) = self.submit(decide)?;
        ticket.durable().await?;
        Ok(out)
    }

    /// Like [`Store::write`], but returns as soon as the change is applied in memory and
    /// queued for the journal; [`Ticket::durable`] tells when it is on disk. Lets one caller
    /// pipeline several dependent writes into one group commit (the worker does). Entries
    /// reach the disk in order, and a refused one takes every later one with it.
    pub fn submit<T, E>(
        &self,
        decide: impl FnOnce(&S) -> Result<(Vec<S::Op>, T), E>,
    ) -> Result<(Ticket, T), E>
    where
        E: From<StoreError>,
    {
        let mut g = self.inner.guarded.write();
        if self.inner.broken.load(Ordering::Acquire) {
            return Err(StoreError::Unavailable("journal could not be repaired".into()).into());
        }
        let (ops, out) = decide(&g.state)?;
        if ops.is_empty() {
            return Ok((Ticket(None), out));
        }
        let seq = g.last_seq + 1;
        let entry = Entry { seq, ops };
        let mut line = serde_json::to_vec(&entry)
            .map_err(|e| StoreError::Unavailable(format!("serialize: {e}")))?;
        line.push(b'\n');
        let mut undo = Vec::with_capacity(entry.ops.len());
        let mut changes = Vec::new();
        for op in entry.ops {
            g.dirty[S::collection_of(&op)] = true;
            changes.extend(g.state.change_of(&op));
            undo.extend(g.state.apply(op));
        }
        g.last_seq = seq;
        let (tx, rx) = oneshot::channel();
        let mut p = self.inner.pending.lock();
        p.buf.extend_from_slice(&line);
        p.waiting.push(Waiting {
            seq,
            bytes: line.len() as u64,
            undo,
            changes,
            done: tx,
        });
        drop(p);
        drop(g);
        self.inner.wake.notify_one();
        Ok((Ticket(Some(rx)), out))
    }

    /// Whether the last write (or probe) reached the disk.
    pub fn writable(&self) -> bool {
        self.inner.writable.load(Ordering::Acquire) && !self.inner.broken.load(Ordering::Acquire)
    }

    /// Tries to write and fsync a small file in the data folder; updates [`Self::writable`].
    /// Blocking: call from `spawn_blocking`.
    pub fn probe(&self) -> bool {
        let path = self.inner.dir.join(".probe");
        let ok = (|| -> io::Result<()> {
            let mut f = File::create(&path)?;
            f.write_all(b"ok")?;
            f.sync_all()?;
            fs::remove_file(&path)
        })()
        .is_ok();
        if ok && !self.inner.broken.load(Ordering::Acquire) {
            self.inner.writable.store(true, Ordering::Release);
        }
        ok && !self.inner.broken.load(Ordering::Acquire)
    }

    /// Writes every changed collection's snapshot and drops the journal prefix they cover.
    /// Blocking. Returns the sequence number the snapshots include.
    pub fn compact(&self) -> io::Result<u64> {
        compact(&self.inner)
    }

    /// A consistent, durable copy of the collections flagged in `which`, as snapshot files
    /// (`(file name, bytes)`), the sequence number it stands at, and `f` of the state the
    /// copy was taken from. No write is half in it: the copy is taken under the state lock
    /// (writers wait) and only returned once everything in it is on disk. Blocking: call
    /// from the worker thread or `spawn_blocking`.
    pub fn export_with<C>(
        &self,
        which: &[bool],
        f: impl FnOnce(&S) -> C,
    ) -> io::Result<(u64, Vec<DataFile>, C)> {
        let rollbacks = self.inner.rollbacks.load(Ordering::Acquire);
        let (seq, snap, extra) = {
            let g = self.inner.guarded.read();
            (g.last_seq, g.state.snapshot(which), f(&g.state))
        };
        wait_durable(&self.inner, seq, rollbacks)?;
        let mut files = Vec::new();
        for (i, name) in S::COLLECTIONS.iter().enumerate() {
            if which.get(i).copied().unwrap_or(false) {
                files.push((format!("{name}.json"), render_file::<S>(&snap, i, seq)?));
            }
        }
        Ok((seq, files, extra))
    }

    /// Replaces the whole state atomically and durably with `build(current)` (a backup
    /// restore). Every collection file is rewritten and the journal emptied; a marker file
    /// makes the switch all-or-nothing across a crash (see [`Store::open`]). Writers wait
    /// meanwhile; readers go on and see the old state until the switch, then the new one.
    /// Blocking: call from `spawn_blocking`.
    pub fn replace(&self, build: impl FnOnce(&S) -> S) -> io::Result<u64> {
        self.replace_after(&[], |_, _, _| Ok(()), build)
            .map(|(seq, ())| seq)
    }

    /// Like [`Store::replace`], but first hands `before` the current state as snapshot
    /// files of the collections flagged in `which` (and the sequence number they stand at),
    /// inside the same critical section as the switch: writers wait from before that copy
    /// until the switch, so every write acknowledged before this returns is either in the
    /// copy or in the new state (a restore's safety backup; issue 8). When `before` fails,
    /// nothing changes.
    ///
    /// Once the commit marker is on disk, the next start finishes the switch; if anything
    /// after it fails, memory takes the new state too and the store refuses every later
    /// write until restart ([`StoreError::Unavailable`]), so it never acknowledges a write
    /// that the next start would throw away.
    pub fn replace_after<T>(
        &self,
        which: &[bool],
        before: impl FnOnce(u64, Vec<DataFile>, &S) -> io::Result<T>,
        build: impl FnOnce(&S) -> S,
    ) -> io::Result<(u64, T)> {
        let inner = &self.inner;
        let _no_compaction = inner.snapshot_lock.lock();
        // Keep writers out (an upgradable read lock: readers go on) with nothing in flight,
        // so the journal is quiet; the lock is upgraded only for the switch in memory.
        let mut g = None;
        for _ in 0..10_000 {
            let guard = inner.guarded.upgradable_read();
            if inner.durable_seq.load(Ordering::Acquire) == guard.last_seq {
                g = Some(guard);
                break;
            }
            drop(guard);
            std::thread::sleep(Duration::from_millis(1));
        }
        let g = g.ok_or_else(|| io::Error::other("writes did not settle"))?;
        if inner.broken.load(Ordering::Acquire) {
            return Err(io::Error::other("journal could not be repaired"));
        }
        // Everything in memory is durable now (checked above, under the lock).
        let extra = {
            let snap = g.state.snapshot(which);
            let mut files = Vec::new();
            for (i, name) in S::COLLECTIONS.iter().enumerate() {
                if which.get(i).copied().unwrap_or(false) {
                    files.push((
                        format!("{name}.json"),
                        render_file::<S>(&snap, i, g.last_seq)?,
                    ));
                }
            }
            before(g.last_seq, files, &g.state)?
        };
        let new = build(&g.state);
        let seq = g.last_seq + 1;
        let all = vec![true; S::COLLECTIONS.len()];
        let snap = new.snapshot(&all);
        let staged = (|| -> io::Result<()> {
            for (i, name) in S::COLLECTIONS.iter().enumerate() {
                write_atomic(
                    &inner.dir,
                    &format!("{name}.json{RESTORE_SUFFIX}"),
                    ".tmp",
                    |w| write_file::<S>(w, &snap, i, seq),
                )?;
            }
            sync_dir(&inner.dir)?;
            // The commit point: from here on, start-up finishes the switch.
            write_atomic(&inner.dir, RESTORE_MARKER, ".tmp", |w| {
                w.write_all(seq.to_string().as_bytes())
            })
        })();
        if let Err(e) = staged {
            if inner.dir.join(RESTORE_MARKER).exists() {
                // The marker may have reached the disk before the error: fail closed.
                self.fail_closed(&mut RwLockUpgradableReadGuard::upgrade(g), new, seq, &e);
            } else {
                for name in S::COLLECTIONS {
                    let _ = fs::remove_file(inner.dir.join(format!("{name}.json{RESTORE_SUFFIX}")));
                }
            }
            return Err(e);
        }
        if let Err(e) =
            sync_dir(&inner.dir).and_then(|()| finish_restore(&inner.dir, S::COLLECTIONS))
        {
            self.fail_closed(&mut RwLockUpgradableReadGuard::upgrade(g), new, seq, &e);
            return Err(e);
        }
        // The journal is empty now: the flusher restarts its bookkeeping before its next write.
        inner.pending.lock().reset = true;
        let mut g = RwLockUpgradableReadGuard::upgrade(g);
        g.state = new;
        g.last_seq = seq;
        g.dirty = vec![false; S::COLLECTIONS.len()];
        inner.durable_seq.store(seq, Ordering::Release);
        Ok((seq, extra))
    }

    /// A restore passed its commit point but could not finish: the next start finishes it,
    /// so memory shows the new state and no write is acknowledged until then.
    fn fail_closed(&self, g: &mut Guarded<S>, new: S, seq: u64, e: &io::Error) {
        tracing::error!(target: "agendamento::store", error = %e, "restore committed but not finished; refusing writes until restart, which finishes it");
        self.inner.broken.store(true, Ordering::Release);
        self.inner.writable.store(false, Ordering::Release);
        g.state = new;
        g.last_seq = seq;
    }

    /// Waits for queued writes, stops the flusher, writes the final snapshots and empties the
    /// journal. Blocking: call from `spawn_blocking` or after the runtime is done.
    pub fn close(&self) -> io::Result<()> {
        {
            let mut p = self.inner.pending.lock();
            p.shutdown = true;
        }
        self.inner.wake.notify_all();
        let flusher = self.flusher.lock().take();
        if let Some(h) = flusher {
            let _ = h.join();
        }
        let seq = compact(&self.inner)?;
        // The flusher is gone: every entry up to `seq` is in the snapshots, so empty the journal.
        let path = self.inner.dir.join(JOURNAL);
        let g = self.inner.guarded.read();
        if g.last_seq == seq {
            let f = OpenOptions::new().write(true).open(&path)?;
            f.set_len(0)?;
            f.sync_all()?;
        }
        Ok(())
    }
}

fn corrupt(path: &Path, line: usize, column: usize, e: &dyn std::fmt::Display) -> OpenError {
    OpenError::Corrupt {
        path: path.display().to_string(),
        line,
        column,
        msg: e.to_string(),
    }
}

/// Completes a committed restore: moves every `<name>.json.restore` over `<name>.json`,
/// empties the journal and removes the marker. Idempotent, so start-up can call it again.
fn finish_restore(dir: &Path, collections: &[&str]) -> io::Result<()> {
    for name in collections {
        let from = dir.join(format!("{name}.json{RESTORE_SUFFIX}"));
        if from.exists() {
            fs::rename(&from, dir.join(format!("{name}.json")))?;
        }
    }
    sync_dir(dir)?;
    let journal = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(JOURNAL))?;
    journal.set_len(0)?;
    journal.sync_all()?;
    fs::remove_file(dir.join(RESTORE_MARKER))?;
    sync_dir(dir)
}

/// What replaying the journal found: the last sequence number, the (seq, end offset) of
/// each entry, and the length of the good prefix.
type Replayed = (u64, VecDeque<(u64, u64)>, u64);

/// Replays the journal into `state`, skipping operations a snapshot already includes.
/// Returns the last sequence number, the (seq, end offset) of each entry, and the length of
/// the good prefix (shorter than the file when its last line is torn).
fn replay<S: StoreState>(
    path: &Path,
    state: &mut S,
    file_seq: &[u64],
    dirty: &mut [bool],
) -> Result<Replayed, OpenError> {
    let mut bytes = Vec::new();
    match File::open(path) {
        Ok(mut f) => {
            f.read_to_end(&mut bytes).map_err(io_err(path))?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((0, VecDeque::new(), 0)),
        Err(e) => return Err(io_err(path)(e)),
    }
    let mut offsets = VecDeque::new();
    let mut last_seq = 0;
    let mut pos = 0usize;
    let mut line_no = 0usize;
    while pos < bytes.len() {
        line_no += 1;
        let end = bytes[pos..]
            .iter()
            .position(|b| *b == b'\n')
            .map(|i| pos + i + 1);
        let line_end = end.unwrap_or(bytes.len());
        let line = &bytes[pos..line_end];
        let is_last = line_end == bytes.len();
        if line.iter().all(u8::is_ascii_whitespace) {
            pos = line_end;
            continue;
        }
        match serde_json::from_slice::<Entry<S::Op>>(line) {
            Ok(entry) if end.is_some() || !is_last => {
                last_seq = last_seq.max(entry.seq);
                for op in entry.ops {
                    let c = S::collection_of(&op);
                    if entry.seq > file_seq[c] {
                        dirty[c] = true;
                        state.apply(op);
                    }
                }
                offsets.push_back((entry.seq, line_end as u64));
            }
            // A last line without its newline was cut mid-append, even if it happens to parse.
            Ok(_) => return Ok((last_seq, offsets, pos as u64)),
            Err(_) if is_last => return Ok((last_seq, offsets, pos as u64)),
            Err(e) => return Err(corrupt(path, line_no, e.column(), &e)),
        }
        pos = line_end;
    }
    Ok((last_seq, offsets, bytes.len() as u64))
}

/// Waits until every write up to `seq` is on disk; fails if one was rolled back since
/// `rollbacks` was read (a snapshot taken at `seq` would then hold a refused change).
fn wait_durable<S: StoreState>(inner: &Inner<S>, seq: u64, rollbacks: u64) -> io::Result<()> {
    let mut waited = 0;
    while inner.durable_seq.load(Ordering::Acquire) < seq {
        if inner.rollbacks.load(Ordering::Acquire) != rollbacks || waited > 30_000 {
            return Err(io::Error::other("snapshot overtaken by a failed write"));
        }
        std::thread::sleep(Duration::from_millis(1));
        waited += 1;
    }
    if inner.rollbacks.load(Ordering::Acquire) != rollbacks {
        return Err(io::Error::other("snapshot overtaken by a failed write"));
    }
    Ok(())
}

/// The bytes of collection `i`'s snapshot file: `{"versao", "seq", "registros"}`.
fn render_file<S: StoreState>(snap: &S::Snapshot, i: usize, seq: u64) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_file::<S>(&mut buf, snap, i, seq)?;
    Ok(buf)
}

/// Writes collection `i`'s snapshot file to `out`.
fn write_file<S: StoreState>(
    out: &mut dyn Write,
    snap: &S::Snapshot,
    i: usize,
    seq: u64,
) -> io::Result<()> {
    write!(
        out,
        "{{\n  \"versao\": {SNAPSHOT_VERSION},\n  \"seq\": {seq},\n  \"registros\": "
    )?;
    S::write_records(snap, i, out)?;
    out.write_all(b"\n}\n")
}

/// Writes `dir/name` atomically (temp file, fsync, rename; the caller fsyncs `dir`),
/// streaming through a buffer: a snapshot of 100,000 records is never whole in memory.
fn write_atomic(
    dir: &Path,
    name: &str,
    tmp_suffix: &str,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = dir.join(format!("{name}{tmp_suffix}"));
    let mut w = io::BufWriter::with_capacity(1 << 16, File::create(&tmp)?);
    fill(&mut w)?;
    let f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(name))
}

/// Takes a snapshot of the changed collections, waits until it is durable, writes the files
/// and asks the flusher to drop the journal prefix they cover.
fn compact<S: StoreState>(inner: &Inner<S>) -> io::Result<u64> {
    let _one_at_a_time = inner.snapshot_lock.lock();
    let rollbacks = inner.rollbacks.load(Ordering::Acquire);
    let (seq, which, snap) = {
        let mut g = inner.guarded.write();
        let which = std::mem::replace(&mut g.dirty, vec![false; S::COLLECTIONS.len()]);
        let snap = g.state.snapshot(&which);
        (g.last_seq, which, snap)
    };
    let result = (|| {
        wait_durable(inner, seq, rollbacks)?;
        for (i, name) in S::COLLECTIONS.iter().enumerate() {
            if which[i] {
                write_atomic(&inner.dir, &format!("{name}.json"), ".tmp", |w| {
                    write_file::<S>(w, &snap, i, seq)
                })?;
            }
        }
        sync_dir(&inner.dir)
    })();
    match result {
        Ok(()) => {
            let mut p = inner.pending.lock();
            p.drop_through = Some(seq);
            drop(p);
            inner.wake.notify_one();
            Ok(seq)
        }
        Err(e) => {
            // Nothing is lost: the journal still holds every change; mark them to be written again.
            let mut g = inner.guarded.write();
            for (d, w) in g.dirty.iter_mut().zip(which) {
                *d |= w;
            }
            Err(e)
        }
    }
}

/// The thread that owns the journal file.
struct Flusher<S: StoreState> {
    inner: Arc<Inner<S>>,
    file: File,
    /// Length of the journal's good prefix.
    len: u64,
    /// (seq, end offset) of each entry in the journal, oldest first.
    offsets: VecDeque<(u64, u64)>,
    since_compaction: u64,
}

impl<S: StoreState> Flusher<S> {
    fn run(mut self) {
        loop {
            let (buf, waiting, drop_through) = {
                let mut p = self.inner.pending.lock();
                while p.waiting.is_empty() && p.drop_through.is_none() && !p.shutdown {
                    self.inner.wake.wait(&mut p);
                }
                if std::mem::take(&mut p.reset) {
                    self.len = 0;
                    self.offsets.clear();
                    self.since_compaction = 0;
                }
                if p.waiting.is_empty() && p.drop_through.is_none() {
                    return; // shutdown with nothing left to write
                }
                (
                    std::mem::take(&mut p.buf),
                    std::mem::take(&mut p.waiting),
                    p.drop_through.take(),
                )
            };
            if !waiting.is_empty() {
                self.flush(&buf, waiting);
            }
            if let Some(seq) = drop_through
                && let Err(e) = self.drop_prefix(seq)
            {
                tracing::warn!(target: "agendamento::store", error = %e, "could not shorten the journal; it will be retried");
            }
        }
    }

    fn flush(&mut self, buf: &[u8], waiting: Vec<Waiting<S::Op>>) {
        #[cfg(test)]
        if self.inner.fail_next_flush.swap(false, Ordering::AcqRel) {
            // Half the batch reaches the file, as when the disk fills mid-write.
            let _ = self.file.write_all(&buf[..buf.len() / 2]);
            let e = io::Error::new(
                io::ErrorKind::StorageFull,
                "injected: no space left on device",
            );
            return self.roll_back(waiting, &e);
        }
        let result = self
            .file
            .write_all(buf)
            .and_then(|()| self.file.sync_data());
        match result {
            Ok(()) => {
                let mut end = self.len;
                for w in &waiting {
                    end += w.bytes;
                    self.offsets.push_back((w.seq, end));
                }
                self.len = end;
                if let Some(last) = waiting.last() {
                    self.inner.durable_seq.store(last.seq, Ordering::Release);
                }
                self.inner.writable.store(true, Ordering::Release);
                self.since_compaction += waiting.len() as u64;
                for w in waiting {
                    // Logged here, on disk, so a refused (undone) write never shows as done.
                    for c in &w.changes {
                        tracing::info!(target: "agendamento::store", action = c.action, collection = c.collection, id = %c.id, "record changed");
                    }
                    let _ = w.done.send(Ok(()));
                }
                self.maybe_compact();
            }
            Err(e) => self.roll_back(waiting, &e),
        }
    }

    /// The disk refused a batch: cut the journal back and undo, newest first, every write
    /// that is not durable (this batch and any queued behind it, which may build on it).
    fn roll_back(&mut self, waiting: Vec<Waiting<S::Op>>, e: &io::Error) {
        tracing::error!(target: "agendamento::store", error = %e, "journal write failed; undoing the writes not yet on disk");
        self.inner.writable.store(false, Ordering::Release);
        let repaired = self
            .file
            .set_len(self.len)
            .and_then(|()| self.file.sync_all())
            .is_ok();
        if !repaired {
            tracing::error!(target: "agendamento::store", "journal could not be cut back; refusing writes until restart");
            self.inner.broken.store(true, Ordering::Release);
        }
        let mut g = self.inner.guarded.write();
        let mut p = self.inner.pending.lock();
        let later = std::mem::take(&mut p.waiting);
        p.buf.clear();
        drop(p);
        self.inner.rollbacks.fetch_add(1, Ordering::AcqRel);
        let first_seq = waiting.first().map(|w| w.seq).unwrap_or(g.last_seq + 1);
        let err = StoreError::Unavailable(e.to_string());
        for w in later.into_iter().rev().chain(waiting.into_iter().rev()) {
            for op in w.undo.into_iter().rev() {
                g.state.apply(op);
            }
            let _ = w.done.send(Err(err.clone()));
        }
        g.last_seq = first_seq - 1;
    }

    fn maybe_compact(&mut self) {
        if self.since_compaction < self.inner.compact_every
            || self.inner.compacting.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.since_compaction = 0;
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name("store-compact".into())
            .spawn(move || {
                if let Err(e) = compact(&inner) {
                    tracing::warn!(target: "agendamento::store", error = %e, "snapshot failed; the journal keeps every change");
                }
                inner.compacting.store(false, Ordering::Release);
            });
        if spawned.is_err() {
            self.inner.compacting.store(false, Ordering::Release);
        }
    }

    /// Rewrites the journal without the entries up to `seq` (all in the snapshots): copy
    /// the tail to a temp file, fsync, rename over the journal, fsync the folder.
    fn drop_prefix(&mut self, seq: u64) -> io::Result<()> {
        let cut = self
            .offsets
            .iter()
            .take_while(|(s, _)| *s <= seq)
            .last()
            .map(|(_, end)| *end)
            .unwrap_or(0);
        if cut == 0 {
            return Ok(());
        }
        let path = self.inner.dir.join(JOURNAL);
        let tmp = self.inner.dir.join("journal.jsonl.tmp");
        let mut tail = Vec::with_capacity((self.len - cut) as usize);
        let mut src = File::open(&path)?;
        io::Seek::seek(&mut src, io::SeekFrom::Start(cut))?;
        src.take(self.len - cut).read_to_end(&mut tail)?;
        let mut f = File::create(&tmp)?;
        f.write_all(&tail)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &path)?;
        sync_dir(&self.inner.dir)?;
        self.file = OpenOptions::new().append(true).open(&path)?;
        self.len -= cut;
        while self.offsets.front().is_some_and(|(s, _)| *s <= seq) {
            self.offsets.pop_front();
        }
        for o in self.offsets.iter_mut() {
            o.1 -= cut;
        }
        Ok(())
    }
}

#[cfg(test)]
impl<S: StoreState> Store<S> {
    /// Makes the next journal write fail (tests of the rollback path).
    pub(crate) fn fail_next_flush(&self) {
        self.inner.fail_next_flush.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests;

/// Parses a snapshot file's envelope and records (used by [`StoreState::load_collection`]).
pub fn parse_snapshot<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<SnapshotFile<T>> {
    serde_json::from_slice(bytes)
}
