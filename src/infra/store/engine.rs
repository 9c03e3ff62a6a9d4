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
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, MappedRwLockReadGuard, Mutex, RwLock, RwLockReadGuard};
use tokio::sync::oneshot;

use super::flusher::{Flusher, Pending, Waiting};
use super::format::{file_name, render_file};
use super::journal::{Journal, Row};
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
    /// The journal is shared with other processes (SPEC-2 §16): writes decide only while
    /// the gate is open.
    pub(super) shared: bool,
    /// Whether a write may decide now. Always open for a private journal; for a shared one,
    /// open while the flusher holds the right to append and the state is caught up with
    /// every other process's entries (changed only under the write lock).
    pub(super) gate: AtomicBool,
    /// Writers (and queued events) waiting for the gate.
    pub(super) wanting: AtomicUsize,
    /// Woken when the gate opens, or when the flusher could not open it.
    pub(super) gate_opened: tokio::sync::Notify,
    /// What the application does with followed entries (see [`Store::set_hooks`]).
    pub(super) hooks: std::sync::OnceLock<Hooks<S>>,
    /// The newest position applied and durable (readers waiting for their own writes).
    pub(super) visible: tokio::sync::watch::Sender<u64>,
    /// Serializes catching up with other processes' entries.
    pub(super) follow_lock: Mutex<()>,
}

/// Publishes one event entry's event: `(position, the event's JSON line)`.
pub type EventHook = Box<dyn Fn(u64, &str) + Send + Sync>;
/// Sees another process's operations against the state before they apply.
pub type FollowHook<S> = Box<dyn Fn(&S, &[<S as StoreState>::Op]) + Send + Sync>;

/// What the application does with the entries of a shared journal (SPEC-2 §16).
pub struct Hooks<S: StoreState> {
    /// An event entry's event, once durable (this process's) or applied (another's), in
    /// journal order: `(position, the event's JSON line)`.
    pub event: EventHook,
    /// Another process's operations, under the write lock, against the state before they
    /// apply. Must be quick and must not touch the store.
    pub followed: FollowHook<S>,
    /// The whole state was replaced (a restore elsewhere, or this process fell too far
    /// behind and reloaded), under the write lock.
    pub reloaded: Box<dyn Fn(&S) + Send + Sync>,
}

/// Counts a writer waiting for (or about to use) the right to write until it is dropped
/// (also when a request is cancelled mid-wait): see [`Store::ready`].
pub struct Wanting<'a>(&'a AtomicUsize);

impl Drop for Wanting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// How long a writer waits for the right to write before it is answered 503.
const GATE_WAIT: Duration = Duration::from_secs(5);

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
    /// The thread following other processes' entries (shared journals only).
    follower: Mutex<Option<JoinHandle<()>>>,
}

impl<S: StoreState> FlusherThread<S> {
    fn stop(&self) {
        self.inner.pending.lock().shutdown = true;
        self.inner.wake.notify_all();
        let thread = self.thread.lock().take();
        if let Some(h) = thread {
            let _ = h.join();
        }
        let follower = self.follower.lock().take();
        if let Some(h) = follower {
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
        let shared = journal.shared();
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
            shared,
            gate: AtomicBool::new(!shared),
            wanting: AtomicUsize::new(0),
            gate_opened: tokio::sync::Notify::new(),
            hooks: std::sync::OnceLock::new(),
            visible: tokio::sync::watch::Sender::new(loaded.last_seq),
            follow_lock: Mutex::new(()),
        });
        let handle = Flusher::start(inner.clone(), loaded.entries).map_err(OpenError::Thread)?;
        let flusher = Arc::new(FlusherThread {
            inner: inner.clone(),
            thread: Mutex::new(Some(handle)),
            follower: Mutex::new(None),
        });
        if shared {
            let following = inner.clone();
            let h = std::thread::Builder::new()
                .name("store-follow".into())
                .spawn(move || super::follow::follow_forever(&following))
                .map_err(OpenError::Thread)?;
            *flusher.follower.lock() = Some(h);
        }
        Ok(Self { flusher, inner })
    }

    /// Sets what the application does with the entries of a shared journal (events to
    /// publish, other processes' operations, a reload). Set once, at start; a second call is
    /// ignored and returns false.
    pub fn set_hooks(&self, hooks: Hooks<S>) -> bool {
        self.inner.hooks.set(hooks).is_ok()
    }

    /// Whether the journal is shared with other processes (SPEC-2 §16).
    pub fn shared(&self) -> bool {
        self.inner.shared
    }

    /// Hands an event to the shared journal: it becomes an entry of its own and is published
    /// (through [`Hooks::event`], with its position) by every process once it is durable.
    pub fn queue_event(&self, line: Arc<str>) {
        {
            let mut p = self.inner.pending.lock();
            p.events.push(line);
        }
        self.inner.wake.notify_one();
    }

    /// The newest position applied here and durable.
    pub fn position(&self) -> u64 {
        *self.inner.visible.borrow()
    }

    /// Waits up to `timeout` until this process has applied position `seq`; true if it has.
    pub async fn wait_position(&self, seq: u64, timeout: Duration) -> bool {
        let mut rx = self.inner.visible.subscribe();
        tokio::time::timeout(timeout, rx.wait_for(|p| *p >= seq))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// Takes or keeps the leadership among the processes sharing the journal; true while
    /// this one has it (always, for a private journal). Blocking.
    pub fn lead(&self) -> bool {
        self.inner.journal.lead()
    }

    /// Announces where this process, the leader, takes writes forwarded by the others
    /// (`None`: nowhere they can reach) and its machine's name. Blocking.
    pub fn announce_leader(&self, address: Option<&str>, machine: &str) -> io::Result<()> {
        self.inner.journal.announce_leader(address, machine)
    }

    /// Where the leader takes forwarded writes and its machine, if the process holding the
    /// leadership announced an address. Blocking.
    pub fn leader_address(&self) -> io::Result<Option<(String, String)>> {
        self.inner.journal.leader_address()
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
        let (ticket, out) = self.submit_when_open(decide).await?;
        ticket.durable().await?;
        Ok(out)
    }

    /// With a shared journal, waits (up to [`GATE_WAIT`]) until writes may decide, and keeps
    /// the flusher from giving that right back for idleness while the returned guard lives
    /// (at most one turn): a caller about to [`Store::submit`] several writes in a row (the
    /// worker's pipelined batch) gets them decided together.
    pub async fn ready(&self) -> Result<Wanting<'_>, StoreError> {
        self.wait_gate(tokio::time::Instant::now() + GATE_WAIT)
            .await
    }

    /// Counts the caller among the writers waiting for the gate, wakes the flusher and
    /// waits until the gate is open (or `deadline`: 503, or the journal unreachable: 503).
    async fn wait_gate(&self, deadline: tokio::time::Instant) -> Result<Wanting<'_>, StoreError> {
        self.inner.wanting.fetch_add(1, Ordering::AcqRel);
        let guard = Wanting(&self.inner.wanting);
        // Under the flusher's mutex, so it cannot miss the count between its check and its
        // wait.
        drop(self.inner.pending.lock());
        self.inner.wake.notify_one();
        loop {
            let opened = self.inner.gate_opened.notified();
            tokio::pin!(opened);
            // Enabled before the check, so an opening between the two is not missed.
            opened.as_mut().enable();
            if self.inner.gate.load(Ordering::Acquire) {
                return Ok(guard);
            }
            tokio::select! {
                () = &mut opened => {}
                () = tokio::time::sleep_until(deadline) => {
                    return Err(StoreError::Unavailable("the journal is busy".into()));
                }
            }
            if !self.inner.gate.load(Ordering::Acquire)
                && !self.inner.writable.load(Ordering::Acquire)
            {
                return Err(StoreError::Unavailable("the journal is unreachable".into()));
            }
        }
    }

    /// [`Store::submit`], waiting (up to [`GATE_WAIT`]) for the right to write when the
    /// journal is shared and another process has it.
    async fn submit_when_open<T, E, F>(&self, decide: F) -> Result<(Ticket, T), E>
    where
        F: FnOnce(&S) -> Result<(Vec<S::Op>, T), E>,
        E: From<StoreError>,
    {
        let deadline = tokio::time::Instant::now() + GATE_WAIT;
        let mut decide = decide;
        // Counted among the waiting writers from the first closed gate until this returns,
        // so the flusher keeps the gate open for this write.
        let mut _waiting = None;
        loop {
            match self.try_submit(decide) {
                Ok(r) => return r,
                Err(d) => decide = d,
            }
            _waiting = Some(self.wait_gate(deadline).await?);
        }
    }

    /// Like [`Store::write`], but returns as soon as the change is applied in memory and
    /// queued for the journal; [`Ticket::durable`] tells when it is durable. Lets one caller
    /// pipeline several dependent writes into one group commit (the worker does). Entries
    /// reach the journal in order, and a refused one takes every later one with it.
    ///
    /// With a shared journal this refuses (503) while another process has the right to
    /// write; [`Store::write`] waits for it instead.
    pub fn submit<T, E>(
        &self,
        decide: impl FnOnce(&S) -> Result<(Vec<S::Op>, T), E>,
    ) -> Result<(Ticket, T), E>
    where
        E: From<StoreError>,
    {
        match self.try_submit(decide) {
            Ok(r) => r,
            Err(_) => Err(StoreError::Unavailable("another instance is writing".into()).into()),
        }
    }

    /// Decides and queues a write if the gate is open; hands `decide` back untouched if not.
    #[allow(clippy::type_complexity)]
    fn try_submit<T, E, F>(&self, decide: F) -> Result<Result<(Ticket, T), E>, F>
    where
        F: FnOnce(&S) -> Result<(Vec<S::Op>, T), E>,
        E: From<StoreError>,
    {
        let mut g = self.inner.guarded.write();
        if self.inner.broken.load(Ordering::Acquire) {
            return Ok(Err(StoreError::Unavailable(
                "journal could not be repaired".into(),
            )
            .into()));
        }
        if !self.inner.gate.load(Ordering::Acquire) {
            return Err(decide);
        }
        let (mut ops, out) = match decide(&g.state) {
            Ok(d) => d,
            Err(e) => return Ok(Err(e)),
        };
        if ops.is_empty() {
            return Ok(Ok((Ticket(None), out)));
        }
        if let Some(derive) = self.inner.derive.get() {
            let more = derive(&g.state, &ops);
            ops.extend(more);
        }
        let seq = g.last_seq + 1;
        let (line, spans) = match encode(seq, &ops, self.inner.shared) {
            Ok(l) => l,
            Err(e) => {
                return Ok(Err(
                    StoreError::Unavailable(format!("serialize: {e}")).into()
                ));
            }
        };
        let mut undo = Vec::with_capacity(ops.len());
        let mut changes = Vec::new();
        let mut rows = Vec::with_capacity(spans.len());
        for (i, op) in ops.into_iter().enumerate() {
            if let Some(&(start, end)) = spans.get(i) {
                let (c, id, put) = S::row_of(&op);
                rows.push(Row {
                    seq,
                    collection: super::CollectionId::index(c),
                    id: id.to_owned(),
                    record: put.then(|| record_span(&line, start, end)),
                });
            }
            g.dirty.insert(S::collection_of(&op));
            changes.extend(g.state.change_of(&op));
            undo.extend(g.state.apply(op));
        }
        g.last_seq = seq;
        let (tx, rx) = oneshot::channel();
        let mut p = self.inner.pending.lock();
        let base = p.buf.len();
        p.buf.extend_from_slice(&line);
        p.rows.extend(rows.into_iter().map(|mut r| {
            r.record = r.record.map(|(a, b)| (base + a, base + b));
            r
        }));
        p.waiting.push(Waiting {
            seq,
            bytes: line.len() as u64,
            undo,
            changes,
            done: Some(tx),
            events: Vec::new(),
        });
        drop(p);
        drop(g);
        self.inner.wake.notify_one();
        Ok(Ok((Ticket(Some(rx)), out)))
    }

    /// A copy of every collection, the position it stands at and `f` of the state, taken
    /// under the state lock (for `agendamento importar`, on a store just opened: nothing is
    /// in flight, so all of it is durable).
    pub fn snapshot_all<C>(&self, f: impl FnOnce(&S) -> C) -> (u64, S::Snapshot, C) {
        let g = self.inner.guarded.read();
        (
            g.last_seq,
            g.state.snapshot(super::Collections::all()),
            f(&g.state),
        )
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

/// One journal entry as a JSON line (`{"seq":N,"ops":[...]}`, byte for byte what serde writes
/// for an `Entry`); with `spans`, also where each operation's JSON sits in it.
#[allow(clippy::type_complexity)]
fn encode<O: serde::Serialize>(
    seq: u64,
    ops: &[O],
    spans: bool,
) -> serde_json::Result<(Vec<u8>, Vec<(usize, usize)>)> {
    use std::io::Write as _;
    let mut line = Vec::with_capacity(64 + 192 * ops.len());
    let mut at = Vec::with_capacity(if spans { ops.len() } else { 0 });
    let _ = write!(line, "{{\"seq\":{seq},\"ops\":[");
    for (i, op) in ops.iter().enumerate() {
        if i > 0 {
            line.push(b',');
        }
        let start = line.len();
        serde_json::to_writer(&mut line, op)?;
        if spans {
            at.push((start, line.len()));
        }
    }
    line.extend_from_slice(b"]}\n");
    Ok((line, at))
}

/// The record's JSON inside one encoded operation `line[start..end]`: the value of its
/// `dados` field (operations are `{"op":…,"dados":…}`), or the whole operation for a state
/// that encodes them otherwise.
fn record_span(line: &[u8], start: usize, end: usize) -> (usize, usize) {
    const KEY: &[u8] = b",\"dados\":";
    line[start..end]
        .windows(KEY.len())
        .position(|w| w == KEY)
        .map_or((start, end), |k| (start + k + KEY.len(), end - 1))
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
