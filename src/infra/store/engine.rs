//! The store's core: the state under one lock; decide, apply and undo; tickets; snapshots,
//! exports and replace-all against whatever [`Journal`] holds the entries.
//!
//! A write decides against the state under the write lock, applies its operations (keeping
//! their undo), encodes one journal entry and queues it for the flusher thread
//! (`flusher.rs`), which appends every queued entry as one batch. The caller answers once
//! its [`Ticket`] resolves: the 2xx promise of SPEC §1. Readers may glimpse a change during
//! the few milliseconds between apply and the append; a write never acknowledges one that
//! is not durable.

use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, MappedRwLockReadGuard, Mutex, RwLock, RwLockReadGuard};
use tokio::sync::oneshot;

use super::flusher::{Flusher, Pending, Waiting};
use super::format::{Entry, file_name, render_file};
use super::journal::Journal;
use super::{Collections, DataFile, FileJournal, OpenError, StoreError, StoreState};

/// The state and the bookkeeping that changes with it, under one lock.
pub(super) struct Guarded<S: StoreState> {
    pub(super) state: S,
    /// Sequence number of the newest applied write (durable or not yet).
    pub(super) last_seq: u64,
    /// Collections changed since their last snapshot.
    pub(super) dirty: Collections<S::Collection>,
}

/// Everything the store's handles and its threads share.
pub(super) struct Inner<S: StoreState> {
    pub(super) journal: Box<dyn Journal<S>>,
    pub(super) guarded: RwLock<Guarded<S>>,
    pub(super) pending: Mutex<Pending<S::Op>>,
    pub(super) wake: Condvar,
    /// Highest sequence number known to be durable.
    pub(super) durable_seq: AtomicU64,
    /// Bumped on every rollback, so an in-flight compaction knows its snapshot may be stale.
    pub(super) rollbacks: AtomicU64,
    /// False after a failed write until a later write or probe succeeds (health check).
    pub(super) writable: AtomicBool,
    /// Set when the journal could not even be cut back, or a replace-all passed its commit
    /// point but did not finish: refuse writes until restart.
    pub(super) broken: AtomicBool,
    pub(super) compact_every: u64,
    pub(super) compacting: AtomicBool,
    /// Serializes snapshot writers (background compaction, replace-all, the final one at close).
    pub(super) snapshot_lock: Mutex<()>,
    /// Operations every write carries beside its own, derived from them (see
    /// [`Store::set_derive`]).
    pub(super) derive: std::sync::OnceLock<Derive<S>>,
}

/// A function that derives more operations from a write's own (run under the write lock,
/// against the state before they apply).
pub type Derive<S> =
    Box<dyn Fn(&S, &[<S as StoreState>::Op]) -> Vec<<S as StoreState>::Op> + Send + Sync>;

/// A submitted write; resolves once it is durable (or refused, and undone).
#[must_use = "a submitted write is not durable until its ticket resolves"]
pub struct Ticket(Option<oneshot::Receiver<Result<(), StoreError>>>);

impl Ticket {
    /// Waits until the write is durable.
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
    pub(super) inner: Arc<Inner<S>>,
    flusher: Arc<FlusherThread<S>>,
}

/// The flusher thread, stopped (after it wrote what was queued) by [`Store::close`] or
/// when the last handle goes: the journal, and with it the lock, is then released.
struct FlusherThread<S: StoreState> {
    inner: Arc<Inner<S>>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl<S: StoreState> FlusherThread<S> {
    fn stop(&self) {
        self.inner.pending.lock().shutdown = true;
        self.inner.wake.notify_all();
        let thread = self.thread.lock().take();
        if let Some(h) = thread {
            let _ = h.join();
        }
    }
}

impl<S: StoreState> Drop for FlusherThread<S> {
    fn drop(&mut self) {
        self.stop();
    }
}

impl<S: StoreState> Clone for Store<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            flusher: self.flusher.clone(),
        }
    }
}

impl<S: StoreState> Store<S> {
    /// Opens (or creates) the data folder `dir` as a [`FileJournal`]: see [`Store::with_journal`].
    pub fn open(dir: &Path, compact_every: u64) -> Result<Self, OpenError> {
        Self::with_journal(Box::new(FileJournal::open(dir)?), compact_every)
    }

    /// Loads the state from `journal` and starts the flusher thread. `compact_every` is the
    /// number of journal entries after which a snapshot is written.
    pub fn with_journal(
        mut journal: Box<dyn Journal<S>>,
        compact_every: u64,
    ) -> Result<Self, OpenError> {
        let loaded = journal.load()?;
        let inner = Arc::new(Inner {
            journal,
            guarded: RwLock::new(Guarded {
                state: loaded.state,
                last_seq: loaded.last_seq,
                // Replayed collections differ from their snapshots: the next one must write them.
                dirty: loaded.dirty,
            }),
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            durable_seq: AtomicU64::new(loaded.last_seq),
            rollbacks: AtomicU64::new(0),
            writable: AtomicBool::new(true),
            broken: AtomicBool::new(false),
            compact_every: compact_every.max(1),
            compacting: AtomicBool::new(false),
            snapshot_lock: Mutex::new(()),
            derive: std::sync::OnceLock::new(),
        });
        let handle = Flusher::start(inner.clone(), loaded.entries).map_err(OpenError::Thread)?;
        Ok(Self {
            flusher: Arc::new(FlusherThread {
                inner: inner.clone(),
                thread: Mutex::new(Some(handle)),
            }),
            inner,
        })
    }

    /// Sets the function every later write runs on its operations, under the write lock,
    /// before they apply; what it returns is journaled and applied in the same entry. Set
    /// once (at start); a second call is ignored and returns false.
    pub fn set_derive(&self, derive: Derive<S>) -> bool {
        self.inner.derive.set(derive).is_ok()
    }

    /// Sequence number of the newest applied write (durable or not yet).
    pub fn applied_seq(&self) -> u64 {
        self.inner.guarded.read().last_seq
    }

    /// Highest sequence number known to be durable.
    pub fn durable_seq(&self) -> u64 {
        self.inner.durable_seq.load(Ordering::Acquire)
    }

    /// Shared read access to the state. Never hold it across an `.await`.
    pub fn read(&self) -> MappedRwLockReadGuard<'_, S> {
        RwLockReadGuard::map(self.inner.guarded.read(), |g| &g.state)
    }

    /// Runs `decide` against the current state under the write lock; the operations it
    /// returns are applied and journaled as one entry, and this returns once they are
    /// durable. Validation and application happen under one lock, so no concurrent write can
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
    /// queued for the journal; [`Ticket::durable`] tells when it is durable. Lets one caller
    /// pipeline several dependent writes into one group commit (the worker does). Entries
    /// reach the journal in order, and a refused one takes every later one with it.
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
        let (mut ops, out) = decide(&g.state)?;
        if ops.is_empty() {
            return Ok((Ticket(None), out));
        }
        if let Some(derive) = self.inner.derive.get() {
            let more = derive(&g.state, &ops);
            ops.extend(more);
        }
        let seq = g.last_seq + 1;
        let entry = Entry { seq, ops };
        let mut line = serde_json::to_vec(&entry)
            .map_err(|e| StoreError::Unavailable(format!("serialize: {e}")))?;
        line.push(b'\n');
        let mut undo = Vec::with_capacity(entry.ops.len());
        let mut changes = Vec::new();
        for op in entry.ops {
            g.dirty.insert(S::collection_of(&op));
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

    /// Whether the last write (or probe) reached the journal.
    pub fn writable(&self) -> bool {
        self.inner.writable.load(Ordering::Acquire) && !self.inner.broken.load(Ordering::Acquire)
    }

    /// Asks the journal whether a durable write would succeed now; updates [`Self::writable`].
    /// Blocking: call from `spawn_blocking`.
    pub fn probe(&self) -> bool {
        let ok = self.inner.journal.probe().is_ok();
        let broken = self.inner.broken.load(Ordering::Acquire);
        if ok && !broken {
            self.inner.writable.store(true, Ordering::Release);
        }
        ok && !broken
    }

    /// Writes every changed collection's snapshot and drops the journal prefix they cover.
    /// Blocking. Returns the sequence number the snapshots include.
    pub fn compact(&self) -> io::Result<u64> {
        compact(&self.inner)
    }

    /// A consistent, durable copy of the collections in `which`, as snapshot files
    /// (`(file name, bytes)`), the sequence number it stands at, and `f` of the state the
    /// copy was taken from. No write is half in it: the copy is taken under the state lock
    /// (writers wait) and only returned once everything in it is durable. Blocking: call
    /// from the worker thread or `spawn_blocking`.
    pub fn export_with<C>(
        &self,
        which: Collections<S::Collection>,
        f: impl FnOnce(&S) -> C,
    ) -> io::Result<(u64, Vec<DataFile>, C)> {
        let rollbacks = self.inner.rollbacks.load(Ordering::Acquire);
        let (seq, snap, extra) = {
            let g = self.inner.guarded.read();
            (g.last_seq, g.state.snapshot(which), f(&g.state))
        };
        wait_durable(&self.inner, seq, rollbacks)?;
        Ok((seq, render_files::<S>(&snap, which, seq)?, extra))
    }

    /// Waits for queued writes, stops the flusher, writes the final snapshots and empties the
    /// journal. Blocking: call from `spawn_blocking` or after the runtime is done.
    pub fn close(&self) -> io::Result<()> {
        self.flusher.stop();
        let seq = compact(&self.inner)?;
        // The flusher is gone: every entry up to `seq` is in the snapshots, so empty the journal.
        let g = self.inner.guarded.read();
        if g.last_seq == seq {
            self.inner.journal.truncate()?;
        }
        Ok(())
    }

    /// Makes the next journal append fail (tests of the rollback path).
    #[cfg(test)]
    pub(crate) fn fail_next_flush(&self) {
        self.inner.journal.fail_next_append();
    }
}

/// The snapshot files of the collections in `which`, standing at `seq`.
pub(super) fn render_files<S: StoreState>(
    snap: &S::Snapshot,
    which: Collections<S::Collection>,
    seq: u64,
) -> io::Result<Vec<DataFile>> {
    which
        .iter()
        .map(|c| Ok((file_name(c), render_file::<S>(snap, c, seq)?)))
        .collect()
}

/// Waits until every write up to `seq` is durable; fails if one was rolled back since
/// `rollbacks` was read (a snapshot taken at `seq` would then hold a refused change).
pub(super) fn wait_durable<S: StoreState>(
    inner: &Inner<S>,
    seq: u64,
    rollbacks: u64,
) -> io::Result<()> {
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

/// Takes a snapshot of the changed collections, waits until it is durable, has the journal
/// write it and asks the flusher to drop the journal prefix it covers.
pub(super) fn compact<S: StoreState>(inner: &Inner<S>) -> io::Result<u64> {
    let _one_at_a_time = inner.snapshot_lock.lock();
    let rollbacks = inner.rollbacks.load(Ordering::Acquire);
    let (seq, which, snap) = {
        let mut g = inner.guarded.write();
        let which = std::mem::replace(&mut g.dirty, Collections::NONE);
        let snap = g.state.snapshot(which);
        (g.last_seq, which, snap)
    };
    let result = wait_durable(inner, seq, rollbacks)
        .and_then(|()| inner.journal.write_snapshots(seq, &snap, which));
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
            g.dirty = g.dirty.union(which);
            Err(e)
        }
    }
}
