//! The on-disk formats every journal shares: one journal entry (a JSON line) and one
//! snapshot file per collection (`{"versao": 1, "seq": N, "registros": [...]}`), which is
//! also the format of a backup's data files.

use std::io::{self, Write};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::{CollectionId, StoreState};

/// The version written into snapshot files (and required of a backup's data files).
pub const SNAPSHOT_VERSION: u32 = 1;

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

/// Parses a snapshot file's envelope and records (used by [`StoreState::load_collection`]).
pub fn parse_snapshot<T: DeserializeOwned>(bytes: &[u8]) -> serde_json::Result<SnapshotFile<T>> {
    serde_json::from_slice(bytes)
}

/// One journal entry: a sequence number and the operations of one write, applied together.
/// Written as one JSON line. In a shared journal (SPEC-2 §16) an entry may instead carry
/// live events (`eventos`: their JSON lines); it then takes one position per event, from
/// `seq` on, and every process publishes each event with its position as its id.
#[derive(Serialize, Deserialize)]
pub(super) struct Entry<O> {
    pub(super) seq: u64,
    pub(super) ops: Vec<O>,
    #[serde(default, rename = "eventos", skip_serializing_if = "Vec::is_empty")]
    pub(super) events: Vec<String>,
}

impl<O> Entry<O> {
    /// The last position the entry takes.
    pub(super) fn last(&self) -> u64 {
        self.seq + (self.events.len() as u64).max(1) - 1
    }
}

/// The snapshot file name of collection `c`: `<name>.json` (also its name in a backup).
pub fn file_name<C: CollectionId>(c: C) -> String {
    format!("{}.json", c.name())
}

/// The bytes of collection `c`'s snapshot file.
pub(super) fn render_file<S: StoreState>(
    snap: &S::Snapshot,
    c: S::Collection,
    seq: u64,
) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_file::<S>(&mut buf, snap, c, seq)?;
    Ok(buf)
}

/// Writes collection `c`'s snapshot file to `out`.
pub(super) fn write_file<S: StoreState>(
    out: &mut dyn Write,
    snap: &S::Snapshot,
    c: S::Collection,
    seq: u64,
) -> io::Result<()> {
    write!(
        out,
        "{{\n  \"versao\": {SNAPSHOT_VERSION},\n  \"seq\": {seq},\n  \"registros\": "
    )?;
    S::write_records(snap, c, out)?;
    out.write_all(b"\n}\n")
}
