//! Replace-all (a backup restore) in the core: writers held out, a safety copy handed
//! over inside the same critical section, the switch made durable by the journal, and the
//! store failing closed when the journal passed its commit point but could not finish.

use std::io;
use std::sync::atomic::Ordering;
use std::time::Duration;

use parking_lot::RwLockUpgradableReadGuard;

use super::engine::{Guarded, render_files};
use super::{Collections, DataFile, Store, StoreState};

impl<S: StoreState> Store<S> {
    /// Replaces the whole state atomically and durably with `build(current)` (a backup
    /// restore): see [`Store::replace_after`].
    pub fn replace(&self, build: impl FnOnce(&S) -> S) -> io::Result<u64> {
        self.replace_after(Collections::NONE, |_, _, _| Ok(()), build)
            .map(|(seq, ())| seq)
    }

    /// Replaces the whole state atomically and durably with `build(current)` (a backup
    /// restore): every collection is rewritten and the journal emptied, all or nothing across
    /// a crash ([`Journal::replace_all`](super::Journal::replace_all)). Writers wait meanwhile; readers go on and see the
    /// old state until the switch, then the new one. Blocking: call from `spawn_blocking`.
    ///
    /// First hands `before` the current state as snapshot files of the collections in
    /// `which` (and the sequence number they stand at), inside the same critical section as
    /// the switch: writers wait from before that copy until the switch, so every write
    /// acknowledged before this returns is either in the copy or in the new state (a
    /// restore's safety backup; issue 8). When `before` fails, nothing changes.
    ///
    /// Once the journal's commit point is passed, the next start finishes the switch; if
    /// anything after it fails, memory takes the new state too and the store refuses every
    /// later write until restart ([`StoreError::Unavailable`](super::StoreError::Unavailable)), so it never acknowledges a
    /// write that the next start would throw away.
    pub fn replace_after<T>(
        &self,
        which: Collections<S::Collection>,
        before: impl FnOnce(u64, Vec<DataFile>, &S) -> io::Result<T>,
        build: impl FnOnce(&S) -> S,
    ) -> io::Result<(u64, T)> {
        let inner = &self.inner;
        if inner.shared {
            // SPEC-2 §16: no other instance appends meanwhile, and this one has every entry
            // before the switch (so the safety copy holds every acknowledged write).
            inner.journal.acquire()?;
            let r = super::follow::catch_up(inner, true)
                .and_then(|()| self.replace_locked(which, before, build));
            if let Err(e) = inner.journal.release() {
                tracing::warn!(target: "agendamento::store", error = %e, "could not give the journal back after a restore");
            }
            return r;
        }
        self.replace_locked(which, before, build)
    }

    /// [`Store::replace_after`] once no other process can append.
    fn replace_locked<T>(
        &self,
        which: Collections<S::Collection>,
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
            let files = render_files::<S>(&snap, which, g.last_seq)?;
            before(g.last_seq, files, &g.state)?
        };
        let new = build(&g.state);
        let seq = g.last_seq + 1;
        let snap = new.snapshot(Collections::all());
        if let Err(e) = inner.journal.replace_all(seq, &snap) {
            if e.committed {
                self.fail_closed(
                    &mut RwLockUpgradableReadGuard::upgrade(g),
                    new,
                    seq,
                    &e.error,
                );
            }
            return Err(e.error);
        }
        // The journal is empty now: the flusher restarts its count before its next write.
        inner.pending.lock().reset = true;
        let mut g = RwLockUpgradableReadGuard::upgrade(g);
        g.state = new;
        g.last_seq = seq;
        g.dirty = Collections::NONE;
        inner.durable_seq.store(seq, Ordering::Release);
        drop(g);
        inner.visible.send_replace(seq);
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
}
