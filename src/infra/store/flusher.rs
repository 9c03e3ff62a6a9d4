//! Group commit: the one thread that hands queued journal entries to the [`Journal`] as
//! one batch, resolves their tickets, rolls back what the journal refused, and starts a
//! compaction every `compact_every` entries.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::thread::JoinHandle;

use tokio::sync::oneshot;

use super::engine::{Inner, compact};
use super::journal::{AppendError, Batch};
use super::{Change, StoreError, StoreState};

/// A write waiting for its append.
pub(super) struct Waiting<O> {
    pub(super) seq: u64,
    /// Length of its encoded entry.
    pub(super) bytes: u64,
    pub(super) undo: Vec<O>,
    /// The record changes to log once the entry is durable.
    pub(super) changes: Vec<Change>,
    pub(super) done: oneshot::Sender<Result<(), StoreError>>,
}

/// What the writers hand to the flusher thread.
pub(super) struct Pending<O> {
    /// The encoded entries of `waiting`, back to back.
    pub(super) buf: Vec<u8>,
    pub(super) waiting: Vec<Waiting<O>>,
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
                self.flush(&buf, waiting);
            }
            if let Some(seq) = drop_through
                && let Err(e) = self.inner.journal.drop_through(seq)
            {
                tracing::warn!(target: "agendamento::store", error = %e, "could not shorten the journal; it will be retried");
            }
        }
    }

    fn flush(&mut self, buf: &[u8], waiting: Vec<Waiting<S::Op>>) {
        self.marks.clear();
        self.marks.extend(waiting.iter().map(|w| (w.seq, w.bytes)));
        let batch = Batch {
            bytes: buf,
            entries: &self.marks,
        };
        let started = std::time::Instant::now();
        let appended = self.inner.journal.append(&batch);
        // Two histogram records per batch (not per write): cheap beside an fsync.
        metrics::histogram!(super::super::metricas::JOURNAL_FSYNC)
            .record(started.elapsed().as_secs_f64());
        metrics::histogram!(super::super::metricas::JOURNAL_BATCH).record(waiting.len() as f64);
        match appended {
            Ok(()) => {
                if let Some(last) = waiting.last() {
                    self.inner.durable_seq.store(last.seq, Ordering::Release);
                }
                self.inner.writable.store(true, Ordering::Release);
                self.since_compaction += waiting.len() as u64;
                for w in waiting {
                    // Logged here, once durable, so a refused (undone) write never shows as done.
                    for c in &w.changes {
                        tracing::info!(target: "agendamento::store", action = c.action, collection = c.collection, id = %c.id, "record changed");
                    }
                    let _ = w.done.send(Ok(()));
                }
                self.maybe_compact();
            }
            Err(e) => self.roll_back(waiting, e),
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
        drop(p);
        self.inner.rollbacks.fetch_add(1, Ordering::AcqRel);
        let first_seq = waiting.first().map(|w| w.seq).unwrap_or(g.last_seq + 1);
        let err = StoreError::Unavailable(e.error.to_string());
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
}
