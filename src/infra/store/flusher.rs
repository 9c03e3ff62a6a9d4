//! Group commit: the one thread that hands queued journal entries to the [`Journal`] as
//! one batch, resolves their tickets, rolls back what the journal refused, and starts a
//! compaction every `compact_every` entries.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::engine::{Inner, compact};
use super::format::Entry;
use super::journal::{AppendError, Batch, Row};
use super::{Change, StoreError, StoreState};

/// A shared journal: how long the flusher keeps the right to write once nothing is queued
/// (writers woken by the gate get to decide), and at most in one turn while others may wait.
const LINGER: Duration = Duration::from_millis(2);
const TURN_MAX: Duration = Duration::from_millis(25);
/// How long the flusher keeps the right to write while idle when nobody else waited for it
/// at its last append (so one busy instance does not pay a hand-over per batch).
const IDLE_MAX: Duration = Duration::from_millis(50);

/// A write waiting for its append.
pub(super) struct Waiting<O> {
    pub(super) seq: u64,
    /// Length of its encoded entry.
    pub(super) bytes: u64,
    pub(super) undo: Vec<O>,
    /// The record changes to log once the entry is durable.
    pub(super) changes: Vec<Change>,
    /// The writer's ticket (none for an event entry).
    pub(super) done: Option<oneshot::Sender<Result<(), StoreError>>>,
    /// An event entry's events (shared journals): the entry takes positions `seq` to
    /// `seq + events.len() - 1`, one per event.
    pub(super) events: Vec<Arc<str>>,
}

impl<O> Waiting<O> {
    /// The last position its entry takes (an entry of events takes one per event).
    fn last(&self) -> u64 {
        self.seq + (self.events.len() as u64).max(1) - 1
    }
}

/// What the writers hand to the flusher thread.
pub(super) struct Pending<O> {
    /// The encoded entries of `waiting`, back to back.
    pub(super) buf: Vec<u8>,
    pub(super) waiting: Vec<Waiting<O>>,
    /// The records the entries in `buf` write (shared journals), offsets into `buf`.
    pub(super) rows: Vec<Row>,
    /// Events waiting to become entries of a shared journal.
    pub(super) events: Vec<Arc<str>>,
    /// Drop the journal prefix up to this sequence number (every snapshot covers it).
    pub(super) drop_through: Option<u64>,
    /// The journal was emptied (restore): restart the count toward compaction.
    pub(super) reset: bool,
    pub(super) shutdown: bool,
}

impl<O> Default for Pending<O> {
    fn default() -> Self {
        Self {
            buf: Vec::new(),
            waiting: Vec::new(),
            rows: Vec::new(),
            events: Vec::new(),
            drop_through: None,
            reset: false,
            shutdown: false,
        }
    }
}

/// The thread's own state.
pub(super) struct Flusher<S: StoreState> {
    inner: Arc<Inner<S>>,
    /// `(seq, bytes)` of the batch being appended (kept to reuse its allocation).
    marks: Vec<(u64, u64)>,
    since_compaction: u64,
}

impl<S: StoreState> Flusher<S> {
    /// Starts the thread; `entries` are already in the journal, not in a snapshot.
    pub(super) fn start(inner: Arc<Inner<S>>, entries: u64) -> io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("store-flusher".into())
            .spawn(move || {
                Flusher {
                    inner,
                    marks: Vec::new(),
                    since_compaction: entries,
                }
                .run()
            })
    }

    fn run(mut self) {
        if self.inner.shared {
            return self.run_shared();
        }
        loop {
            let (buf, waiting, drop_through) = {
                let mut p = self.inner.pending.lock();
                while p.waiting.is_empty() && p.drop_through.is_none() && !p.shutdown {
                    self.inner.wake.wait(&mut p);
                }
                if std::mem::take(&mut p.reset) {
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
                self.flush(&buf, waiting, &[]);
            }
            if let Some(seq) = drop_through
                && let Err(e) = self.inner.journal.drop_through(seq)
            {
                tracing::warn!(target: "agendamento::store", error = %e, "could not shorten the journal; it will be retried");
            }
        }
    }

    /// The loop for a shared journal (SPEC-2 §16): takes the right to write when writers
    /// (or events) wait for it, catches up and opens the gate; appends what is queued; gives
    /// the right back once idle or after [`TURN_MAX`], so other processes get their turn.
    fn run_shared(mut self) {
        let mut holding = false;
        let mut turn = Instant::now();
        let mut failures = 0u32;
        loop {
            let (shutdown, work, wanted) = {
                let mut p = self.inner.pending.lock();
                loop {
                    let wanting = self.inner.wanting.load(Ordering::Acquire) > 0;
                    let work = !p.waiting.is_empty() || !p.events.is_empty();
                    if p.shutdown || work || (wanting && !holding) {
                        break (p.shutdown, work, wanting);
                    }
                    let contended = self.inner.journal.contended();
                    if !holding {
                        self.inner.wake.wait(&mut p);
                    } else if contended && turn.elapsed() > TURN_MAX {
                        break (false, false, wanting);
                    } else if self
                        .inner
                        .wake
                        .wait_for(&mut p, if contended { LINGER } else { IDLE_MAX })
                        .timed_out()
                        && self.inner.wanting.load(Ordering::Acquire) == 0
                        && p.waiting.is_empty()
                        && p.events.is_empty()
                    {
                        break (p.shutdown, false, false);
                    }
                }
            };
            if !holding {
                if !wanted && !work {
                    if shutdown {
                        return;
                    }
                    continue;
                }
                match self.take_turn() {
                    Ok(()) => {
                        holding = true;
                        turn = Instant::now();
                        failures = 0;
                    }
                    Err(e) => {
                        if failures == 0 {
                            tracing::error!(target: "agendamento::store", error = %e, "the shared journal is unreachable; writes are refused until it is back");
                        }
                        failures = failures.saturating_add(1);
                        self.inner.writable.store(false, Ordering::Release);
                        self.inner.gate_opened.notify_waiters();
                        if shutdown {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                }
                continue;
            }
            let refused = !self.flush_queued();
            let idle = !work && !wanted;
            let contended = self.inner.journal.contended();
            if refused || idle || shutdown || (contended && turn.elapsed() > TURN_MAX) {
                self.end_turn();
                holding = false;
                if shutdown {
                    return;
                }
            }
        }
    }

    /// Takes the right to write, catches up with every other process's entries and opens
    /// the gate.
    fn take_turn(&mut self) -> io::Result<()> {
        self.inner.journal.acquire()?;
        if let Err(e) = super::follow::catch_up(&self.inner, true) {
            let _ = self.inner.journal.release();
            return Err(e);
        }
        {
            let _g = self.inner.guarded.write();
            self.inner.gate.store(true, Ordering::Release);
        }
        self.inner.writable.store(true, Ordering::Release);
        self.inner.gate_opened.notify_waiters();
        Ok(())
    }

    /// Closes the gate, appends what was queued before it closed and gives the right back.
    fn end_turn(&mut self) {
        {
            let mut g = self.inner.guarded.write();
            self.inner.gate.store(false, Ordering::Release);
            self.seal_events(&mut g.last_seq);
        }
        self.flush_queued();
        if let Err(e) = self.inner.journal.release() {
            tracing::warn!(target: "agendamento::store", error = %e, "could not give the journal back; the database releases it with the connection");
        }
    }

    /// Turns the queued events into one entry, a position each (under the write lock,
    /// with the gate open).
    fn seal_events(&self, last_seq: &mut u64) {
        let mut p = self.inner.pending.lock();
        if p.events.is_empty() {
            return;
        }
        let events = std::mem::take(&mut p.events);
        let entry = Entry::<S::Op> {
            seq: *last_seq + 1,
            ops: Vec::new(),
            events: events.iter().map(|l| l.to_string()).collect(),
        };
        let Ok(mut bytes) = serde_json::to_vec(&entry) else {
            return;
        };
        bytes.push(b'\n');
        *last_seq = entry.last();
        p.buf.extend_from_slice(&bytes);
        p.waiting.push(Waiting {
            seq: entry.seq,
            bytes: bytes.len() as u64,
            undo: Vec::new(),
            changes: Vec::new(),
            done: None,
            events,
        });
    }

    /// Appends everything queued (with the gate open or just closed); false if refused.
    fn flush_queued(&mut self) -> bool {
        let (buf, waiting, rows) = {
            let mut g = self.inner.guarded.write();
            if self.inner.gate.load(Ordering::Acquire) {
                self.seal_events(&mut g.last_seq);
            }
            let mut p = self.inner.pending.lock();
            (
                std::mem::take(&mut p.buf),
                std::mem::take(&mut p.waiting),
                std::mem::take(&mut p.rows),
            )
        };
        if waiting.is_empty() {
            return true;
        }
        self.flush(&buf, waiting, &rows)
    }

    fn flush(&mut self, buf: &[u8], waiting: Vec<Waiting<S::Op>>, rows: &[Row]) -> bool {
        self.marks.clear();
        self.marks.extend(waiting.iter().map(|w| (w.seq, w.bytes)));
        let batch = Batch {
            bytes: buf,
            entries: &self.marks,
            rows,
            last_seq: waiting.last().map_or(0, Waiting::last),
        };
        let started = std::time::Instant::now();
        let appended = self.inner.journal.append(&batch);
        // Two histogram records per batch (not per write): cheap beside an fsync.
        metrics::histogram!(super::super::metricas::JOURNAL_FSYNC)
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!(super::super::metricas::JOURNAL_BATCH).record(waiting.len() as f64);
        match appended {
            Ok(()) => {
                let last = waiting.last().map(Waiting::last);
                if let Some(last) = last {
                    self.inner.durable_seq.store(last, Ordering::Release);
                }
                self.inner.writable.store(true, Ordering::Release);
                self.since_compaction += waiting.len() as u64;
                // Before any ticket resolves: an answer's `x-posicao` covers its own write.
                if let Some(last) = last {
                    self.inner.visible.send_replace(last);
                }
                let hooks = self.inner.hooks.get();
                for w in waiting {
                    // Logged here, once durable, so a refused (undone) write never shows as done.
                    for c in &w.changes {
                        tracing::info!(target: "agendamento::store", action = c.action, collection = c.collection, id = %c.id, "record changed");
                    }
                    if let Some(done) = w.done {
                        let _ = done.send(Ok(()));
                    }
                    if let Some(h) = hooks {
                        for (i, line) in w.events.iter().enumerate() {
                            (h.event)(w.seq + i as u64, line);
                        }
                    }
                }
                if !self.inner.shared {
                    self.maybe_compact();
                }
                true
            }
            Err(e) => {
                self.roll_back(waiting, e);
                false
            }
        }
    }

    /// The journal refused a batch (and cut itself back): undo, newest first, every write
    /// that is not durable (this batch and any queued behind it, which may build on it).
    fn roll_back(&mut self, waiting: Vec<Waiting<S::Op>>, e: AppendError) {
        tracing::error!(target: "agendamento::store", error = %e.error, "journal write failed; undoing the writes not yet on disk");
        self.inner.writable.store(false, Ordering::Release);
        if !e.repaired {
            tracing::error!(target: "agendamento::store", "journal could not be cut back; refusing writes until restart");
            self.inner.broken.store(true, Ordering::Release);
        }
        let mut g = self.inner.guarded.write();
        let mut p = self.inner.pending.lock();
        let later = std::mem::take(&mut p.waiting);
        p.buf.clear();
        p.rows.clear();
        drop(p);
        self.inner.rollbacks.fetch_add(1, Ordering::AcqRel);
        let first_seq = waiting.first().map(|w| w.seq).unwrap_or(g.last_seq + 1);
        let err = StoreError::Unavailable(e.error.to_string());
        let mut events = Vec::new();
        for w in later.into_iter().rev().chain(waiting.into_iter().rev()) {
            for op in w.undo.into_iter().rev() {
                g.state.apply(op);
            }
            if let Some(done) = w.done {
                let _ = done.send(Err(err.clone()));
            }
            // Events of writes that are durable: they go out with the next turn.
            events.extend(w.events.into_iter().rev());
        }
        g.last_seq = first_seq - 1;
        if !events.is_empty() {
            events.reverse();
            let mut p = self.inner.pending.lock();
            events.append(&mut p.events);
            p.events = events;
        }
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
}
