//! The seam between the store's core and where its journal lives.
//!
//! The core decides, applies, undoes and batches; a [`Journal`] only keeps what the core
//! hands it durable: entries appended in sequence order, snapshots of collections, and a
//! replace-all for restores. [`super::FileJournal`] keeps them in the data folder; a
//! database (SPEC-2 §16) is the next implementation. The journal is taken (locked against
//! other processes) when it is constructed and released when it is dropped.

use std::io;
use std::time::Duration;

use super::{Collections, OpenError, StoreState};

/// What a journal holds at start: the state (snapshots plus the entries replayed on top).
pub struct Loaded<S: StoreState> {
    /// The state.
    pub state: S,
    /// Sequence number of the newest entry (0 when empty).
    pub last_seq: u64,
    /// Collections whose snapshot is older than the state (replayed entries changed them).
    pub dirty: Collections<S::Collection>,
    /// Entries in the journal that no snapshot covers yet (counts toward compaction).
    pub entries: u64,
}

/// Entries to append together: one group commit.
pub struct Batch<'a> {
    /// The encoded entries, back to back (for files: JSON lines).
    pub bytes: &'a [u8],
    /// `(seq, length in bytes)` of each entry in `bytes`, in order.
    pub entries: &'a [(u64, u64)],
    /// For a [shared](Journal::shared) journal: the record each operation writes, in order
    /// (empty for the others).
    pub rows: &'a [Row],
    /// The last position the batch takes (an entry of events takes one per event).
    pub last_seq: u64,
}

/// The record one journaled operation writes (SPEC-2 §16: one table row per record).
#[derive(Debug, Clone)]
pub struct Row {
    /// The entry's sequence number.
    pub seq: u64,
    /// The collection's index ([`CollectionId::index`](super::CollectionId::index)).
    pub collection: usize,
    /// The record's id.
    pub id: String,
    /// For a put, the byte range of the record's JSON in [`Batch::bytes`]; `None` for a delete.
    pub record: Option<(usize, usize)>,
}

/// What a shared journal holds past a position.
pub enum Caught<S: StoreState> {
    /// The encoded entries after it, in order (possibly empty).
    Entries(Vec<Vec<u8>>),
    /// The entries right after it are gone (pruned, or a restore replaced everything): the
    /// whole state as of the journal's newest position.
    Reload(Loaded<S>),
}

/// A batch the journal refused.
#[derive(Debug)]
pub struct AppendError {
    /// What went wrong.
    pub error: io::Error,
    /// Whether the journal is back to its state before the batch (else no later append
    /// can be trusted: the core refuses every write until restart).
    pub repaired: bool,
}

/// A replace-all that failed.
#[derive(Debug)]
pub struct ReplaceError {
    /// What went wrong.
    pub error: io::Error,
    /// Whether the new state may already be the one the next start loads (the commit point
    /// was reached or may have been): the core then fails closed.
    pub committed: bool,
}

/// Where the journal and the snapshots live. The core calls `load` once, before sharing
/// the journal; `append` and `drop_through` only from its flusher thread, one at a time;
/// the others from any thread (the core serializes snapshot writers and replace-all).
pub trait Journal<S: StoreState>: Send + Sync + 'static {
    /// Loads the snapshots and replays the entries newer than each (a torn last entry of a
    /// crash mid-append is dropped; any other corruption is an error).
    fn load(&mut self) -> Result<Loaded<S>, OpenError>;

    /// Appends `batch` after every entry appended before and returns once it is durable.
    /// On failure the journal cuts itself back to its length before the batch.
    fn append(&self, batch: &Batch<'_>) -> Result<(), AppendError>;

    /// Writes the snapshots of the collections in `which`, standing at `seq`; each is
    /// durable (and replaces the older one atomically) when this returns.
    fn write_snapshots(
        &self,
        seq: u64,
        snap: &S::Snapshot,
        which: Collections<S::Collection>,
    ) -> io::Result<()>;

    /// Forgets the entries up to `seq`: every snapshot covers them.
    fn drop_through(&self, seq: u64) -> io::Result<()>;

    /// Forgets every entry (all are in the snapshots and nothing is in flight: at close).
    fn truncate(&self) -> io::Result<()>;

    /// Replaces every collection with `snap` (standing at `seq`) and forgets every entry,
    /// all or nothing across a crash: after its commit point the next `load` finishes it.
    /// Called with nothing in flight.
    fn replace_all(&self, seq: u64, snap: &S::Snapshot) -> Result<(), ReplaceError>;

    /// Checks that a durable write would succeed now (health).
    fn probe(&self) -> io::Result<()>;

    /// Whether other processes append to the same journal (SPEC-2 §16). A shared journal
    /// only accepts appends between [`Journal::acquire`] and [`Journal::release`], and the
    /// core follows what others append with [`Journal::read_after`].
    fn shared(&self) -> bool {
        false
    }

    /// Takes the right to append, waiting for it (shared journals; flusher only).
    fn acquire(&self) -> io::Result<()> {
        Ok(())
    }

    /// Whether another process waits for the right to append (as of the last append): the
    /// flusher then gives it back as soon as it is idle, else it keeps it a little longer.
    fn contended(&self) -> bool {
        false
    }

    /// Gives the right to append back (shared journals; flusher only).
    fn release(&self) -> io::Result<()> {
        Ok(())
    }

    /// What the journal holds after `seq` (shared journals; a private one holds nothing
    /// the core has not written itself).
    fn read_after(&self, _seq: u64) -> io::Result<Caught<S>> {
        Ok(Caught::Entries(Vec::new()))
    }

    /// Waits up to `timeout` for news of entries appended by others; true when there may be
    /// some (a notification, or the channel was re-established and may have missed one).
    fn wait_news(&self, timeout: Duration) -> bool {
        std::thread::sleep(timeout);
        false
    }

    /// Tells the journal this process has everything up to `seq` (shared journals prune
    /// entries every follower has).
    fn report_position(&self, _seq: u64) -> io::Result<()> {
        Ok(())
    }

    /// Takes or keeps the leadership among the processes sharing the journal (the one that
    /// runs background work); true while this process has it. A private journal's process
    /// always leads.
    fn lead(&self) -> bool {
        true
    }

    /// Tells the other processes where to send writes to the leader (this process, which
    /// must lead) and on which machine it runs: `None` when it has no address they can
    /// reach (shared journals only).
    fn announce_leader(&self, _address: Option<&str>, _machine: &str) -> io::Result<()> {
        Ok(())
    }

    /// Where the leader takes writes and its machine, if the process holding the leadership
    /// announced an address (shared journals only).
    fn leader_address(&self) -> io::Result<Option<(String, String)>> {
        Ok(None)
    }

    /// Test hook: the next append fails half-way, as on a full disk.
    #[cfg(test)]
    fn fail_next_append(&self) {}
}
