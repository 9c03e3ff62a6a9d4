//! The durable storage engine (ARCHITECTURE "Writes never rewrite a whole file", "One store
//! core, two journals").
//!
//! Two halves meet at the [`Journal`] trait:
//!
//! - the **core** ([`Store`], in `engine.rs` and `flusher.rs`) keeps the whole state in memory
//!   behind one `RwLock`; a write decides against it, applies its operations (keeping their
//!   undo), queues one encoded journal entry and waits for its [`Ticket`]. One flusher thread
//!   hands whatever entries queued up since its last append to the journal as one [`Batch`]
//!   (group commit: one durable append for many writers). If the journal refuses a batch,
//!   every write not yet durable is undone in memory, newest first, and answered
//!   [`StoreError::Unavailable`] (503): memory never holds a change the journal does not.
//! - the **journal** is where the entries and snapshots live. [`FileJournal`] is today's
//!   data folder: `journal.jsonl`, one snapshot file per collection, the restore marker and
//!   the lock file. Nothing outside this module touches those files.
//!
//! The state kept is described by [`StoreState`]; its collections by [`CollectionId`] (one
//! registry: see `repositories::Collection`).

mod engine;
mod file;
mod flusher;
mod follow;
mod format;
mod journal;
pub mod pg;
mod replace;

use std::io;
use std::marker::PhantomData;

use serde::Serialize;
use serde::de::DeserializeOwned;

pub use engine::{Derive, Hooks, Store, Ticket, Wanting};
pub use file::FileJournal;
pub use format::{SNAPSHOT_VERSION, SnapshotFile, file_name, parse_snapshot};
pub use journal::{AppendError, Batch, Caught, Journal, Loaded, ReplaceError, Row};

/// One collection of a [`StoreState`]: a fieldless enum listing every collection once.
pub trait CollectionId: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// Every collection, in index order (at most 64).
    const ALL: &'static [Self];
    /// Its name: the snapshot file stem (`pacientes` → `pacientes.json`) and the log field.
    fn name(self) -> &'static str;
    /// Its position in [`Self::ALL`].
    fn index(self) -> usize;
}

/// A set of collections (a bit per collection): which ones to copy, which ones changed.
pub struct Collections<C>(u64, PhantomData<C>);

impl<C> Clone for Collections<C> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<C> Copy for Collections<C> {}
impl<C> PartialEq for Collections<C> {
    fn eq(&self, other: &Self) -> bool {
        self.0 == other.0
    }
}
impl<C> Eq for Collections<C> {}
impl<C: CollectionId> std::fmt::Debug for Collections<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<C: CollectionId> Collections<C> {
    /// No collection.
    pub const NONE: Self = Self(0, PhantomData);

    /// Every collection.
    pub fn all() -> Self {
        Self::of(C::ALL)
    }
    /// The collections in `list`.
    pub fn of(list: &[C]) -> Self {
        list.iter().fold(Self::NONE, |s, c| s.with(*c))
    }
    /// This set plus `c`.
    #[must_use]
    pub fn with(self, c: C) -> Self {
        Self(self.0 | 1 << c.index(), PhantomData)
    }
    /// Adds `c`.
    pub fn insert(&mut self, c: C) {
        self.0 |= 1 << c.index();
    }
    /// Whether `c` is in the set.
    pub fn contains(self, c: C) -> bool {
        self.0 & (1 << c.index()) != 0
    }
    /// This set plus every collection of `other`.
    #[must_use]
    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0, PhantomData)
    }
    /// The collections in the set, in index order.
    pub fn iter(self) -> impl Iterator<Item = C> {
        C::ALL.iter().copied().filter(move |c| self.contains(*c))
    }
}

/// What the store needs from the state it keeps: applying operations (and undoing them),
/// and reading/writing the records of one collection in the snapshot format.
pub trait StoreState: Send + Sync + Sized + 'static {
    /// One change, as written to the journal.
    type Op: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// A cheap, consistent copy of some collections, written out without holding the lock.
    type Snapshot: Send + Sync + 'static;
    /// The collections (the registry).
    type Collection: CollectionId;

    /// The empty state.
    fn empty() -> Self;
    /// The collection `op` changes.
    fn collection_of(op: &Self::Op) -> Self::Collection;
    /// Applies `op`; returns the operation that undoes it (`None` when it changed nothing).
    fn apply(&mut self, op: Self::Op) -> Option<Self::Op>;
    /// Copies the collections in `which`.
    fn snapshot(&self, which: Collections<Self::Collection>) -> Self::Snapshot;
    /// Writes the records of collection `c` of `snap` (a JSON array) to `out`.
    fn write_records(
        snap: &Self::Snapshot,
        c: Self::Collection,
        out: &mut dyn io::Write,
    ) -> serde_json::Result<()>;
    /// Loads collection `c` from the bytes of its snapshot file; returns the file's sequence stamp.
    fn load_collection(&mut self, c: Self::Collection, bytes: &[u8]) -> serde_json::Result<u64>;
    /// The record change `op` makes to this state, for the log (`None`: not worth a line).
    /// Called before `op` is applied, so "created" and "updated" can be told apart.
    fn change_of(&self, _op: &Self::Op) -> Option<Change> {
        None
    }
    /// The record `op` writes: its collection, its id, and whether it is put (else
    /// deleted). A database journal keeps one row per record with it (SPEC-2 §16).
    fn row_of(op: &Self::Op) -> (Self::Collection, &str, bool);
    /// Calls `f` with the id and the JSON of every record of collection `c` in `snap`.
    fn each_row(
        snap: &Self::Snapshot,
        c: Self::Collection,
        f: &mut dyn FnMut(&str, &[u8]),
    ) -> serde_json::Result<()>;
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
    /// The thread that appends to the journal could not start.
    #[error("não foi possível iniciar a thread de gravação dos dados")]
    Thread(#[source] io::Error),
    /// The database (`--database-url`, shown without its password) could not be used.
    #[error("não foi possível usar o banco de dados {url}")]
    Banco {
        /// The URL without its password.
        url: String,
        /// The underlying error (printed after the message by the error chain).
        #[source]
        source: io::Error,
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

/// A data file's name and bytes.
pub type DataFile = (String, Vec<u8>);

#[cfg(test)]
mod tests;
