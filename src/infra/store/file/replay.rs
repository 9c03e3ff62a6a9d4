//! Start-up: replaying `journal.jsonl` on top of the snapshots.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use super::super::format::Entry;
use super::super::{CollectionId, Collections, OpenError, StoreState};
use super::{corrupt, io_err};

/// What replaying the journal found: the last sequence number, the (seq, end offset) of
/// each entry, and the length of the good prefix.
type Replayed = (u64, VecDeque<(u64, u64)>, u64);

/// Replays the journal into `state`, skipping operations a snapshot already includes.
/// Returns the last sequence number, the (seq, end offset) of each entry, and the length of
/// the good prefix (shorter than the file when its last line is torn).
pub(super) fn replay<S: StoreState>(
    path: &Path,
    state: &mut S,
    file_seq: &[u64],
    dirty: &mut Collections<S::Collection>,
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
                    if entry.seq > file_seq[c.index()] {
                        dirty.insert(c);
                        state.apply(op);
                    }
                }
                offsets.push_back((entry.seq, line_end as u64));
            }
            // A last line without its newline was cut mid-append, even if it happens to parse.
            Ok(_) => return Ok((last_seq, offsets, pos as u64)),
            // A whole last line, newline and all, that is JSON but no entry this version
            // knows was written by a newer version (a rollback): refused, never cut away.
            Err(e) if is_last && end.is_some() && is_json(line) => {
                return Err(corrupt(path, line_no, e.column(), &NewerEntry(e)));
            }
            Err(_) if is_last => return Ok((last_seq, offsets, pos as u64)),
            Err(e) => return Err(corrupt(path, line_no, e.column(), &e)),
        }
        pos = line_end;
    }
    Ok((last_seq, offsets, bytes.len() as u64))
}

/// Whether `line` is a JSON document (of any shape).
fn is_json(line: &[u8]) -> bool {
    serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
}

/// Why a whole JSON line did not load: probably written by a newer version.
struct NewerEntry(serde_json::Error);

impl std::fmt::Display for NewerEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "uma entrada que esta versão não conhece (escrita por uma versão mais nova? volte a ela): {}",
            self.0
        )
    }
}
