//! [`FileJournal`]: the journal in a data folder (today's `banco/`).
//!
//! - `journal.jsonl`: one JSON line per entry, appended with one `write` + `fdatasync` per
//!   batch; cut back to its last good length when a batch fails.
//! - `<collection>.json`: one readable snapshot per collection (temp file, fsync, rename,
//!   fsync the folder), stamped with the sequence number it includes; the journal prefix
//!   every snapshot covers is then dropped (copy the tail, fsync, rename).
//! - `RESTORE`: the commit point of a replace-all; `<collection>.json.restore` files are
//!   staged first, and a start that finds the marker finishes the switch.
//! - `.lock`: held exclusively for the life of the journal (a second process is refused).

use std::collections::VecDeque;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
#[cfg(test)]
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

mod replay;

use replay::replay;

use super::format::{file_name, write_file};
use super::journal::{AppendError, Batch, Journal, Loaded, ReplaceError};
use super::{CollectionId, Collections, OpenError, StoreState};

/// The journal's file name inside the data folder.
pub const JOURNAL: &str = "journal.jsonl";
/// The lock file's name inside the data folder.
pub const LOCK: &str = ".lock";
/// Suffix of the collection files a restore writes before its commit point.
const RESTORE_SUFFIX: &str = ".restore";
/// The marker whose presence means "a restore committed: finish it".
pub(super) const RESTORE_MARKER: &str = "RESTORE";

/// The journal file as appended to: its handle and where each entry ends.
struct Tail {
    /// Open in append mode once loaded.
    file: Option<File>,
    /// Length of the journal's good prefix.
    len: u64,
    /// (seq, end offset) of each entry in the journal, oldest first.
    offsets: VecDeque<(u64, u64)>,
}

/// The journal and snapshots of one data folder, locked for the life of this value.
pub struct FileJournal<S> {
    dir: PathBuf,
    _lock: File,
    tail: Mutex<Tail>,
    #[cfg(test)]
    fail_next: AtomicBool,
    _state: PhantomData<fn() -> S>,
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |source| OpenError::Io {
        path: path.display().to_string(),
        source,
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

/// fsyncs a folder so a rename or a new file in it survives a crash.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

impl<S: StoreState> FileJournal<S> {
    /// Creates the data folder if needed and takes its lock.
    pub fn open(dir: &Path) -> Result<Self, OpenError> {
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
        Ok(Self {
            dir: dir.to_path_buf(),
            _lock: lock,
            tail: Mutex::new(Tail {
                file: None,
                len: 0,
                offsets: VecDeque::new(),
            }),
            #[cfg(test)]
            fail_next: AtomicBool::new(false),
            _state: PhantomData,
        })
    }

    fn restore_name(c: S::Collection) -> String {
        format!("{}{RESTORE_SUFFIX}", file_name(c))
    }

    /// Completes a committed restore: moves every `<name>.json.restore` over `<name>.json`,
    /// empties the journal and removes the marker. Idempotent, so start-up can call it again.
    fn finish_restore(&self) -> io::Result<()> {
        for &c in S::Collection::ALL {
            let from = self.dir.join(Self::restore_name(c));
            if from.exists() {
                fs::rename(&from, self.dir.join(file_name(c)))?;
            }
        }
        sync_dir(&self.dir)?;
        let journal = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.dir.join(JOURNAL))?;
        journal.set_len(0)?;
        journal.sync_all()?;
        fs::remove_file(self.dir.join(RESTORE_MARKER))?;
        sync_dir(&self.dir)
    }

    /// Writes `name` atomically (temp file, fsync, rename; the caller fsyncs the folder),
    /// streaming through a buffer: a snapshot of 100,000 records is never whole in memory.
    fn write_atomic(
        &self,
        name: &str,
        fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
    ) -> io::Result<()> {
        let tmp = self.dir.join(format!("{name}.tmp"));
        let mut w = io::BufWriter::with_capacity(1 << 16, File::create(&tmp)?);
        fill(&mut w)?;
        let f = w.into_inner().map_err(io::IntoInnerError::into_error)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, self.dir.join(name))
    }

    /// Stages every collection of `snap`, then writes the commit marker.
    fn stage(&self, seq: u64, snap: &S::Snapshot) -> io::Result<()> {
        for &c in S::Collection::ALL {
            self.write_atomic(&Self::restore_name(c), |w| write_file::<S>(w, snap, c, seq))?;
        }
        sync_dir(&self.dir)?;
        // The commit point: from here on, start-up finishes the switch.
        self.write_atomic(RESTORE_MARKER, |w| w.write_all(seq.to_string().as_bytes()))
    }
}

impl<S: StoreState> Journal<S> for FileJournal<S> {
    fn load(&mut self) -> Result<Loaded<S>, OpenError> {
        let dir = self.dir.clone();
        let dir = dir.as_path();
        if dir.join(RESTORE_MARKER).exists() {
            tracing::warn!(target: "agendamento::store", "finishing a restore interrupted by a crash");
            self.finish_restore().map_err(io_err(dir))?;
        }
        for &c in S::Collection::ALL {
            // Leftovers of a restore that never reached its commit point.
            let _ = fs::remove_file(dir.join(Self::restore_name(c)));
            let _ = fs::remove_file(dir.join(format!("{}.tmp", Self::restore_name(c))));
        }
        // Temp files of a crash mid-write: the marker's, and the journal's rewrite.
        let _ = fs::remove_file(dir.join(format!("{RESTORE_MARKER}.tmp")));
        let _ = fs::remove_file(dir.join(format!("{JOURNAL}.tmp")));
        let mut state = S::empty();
        let mut file_seq = vec![0u64; S::Collection::ALL.len()];
        for &c in S::Collection::ALL {
            let path = dir.join(file_name(c));
            let _ = fs::remove_file(dir.join(format!("{}.tmp", file_name(c))));
            let bytes = match fs::read(&path) {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io_err(&path)(e)),
            };
            file_seq[c.index()] = state
                .load_collection(c, &bytes)
                .map_err(|e| corrupt(&path, e.line(), e.column(), &e))?;
        }

        let journal_path = dir.join(JOURNAL);
        let mut dirty = Collections::NONE;
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
        let entries = offsets.len() as u64;
        *self.tail.get_mut() = Tail {
            file: Some(journal),
            len: good_len,
            offsets,
        };
        Ok(Loaded {
            state,
            last_seq,
            dirty,
            entries,
        })
    }

    fn append(&self, batch: &Batch<'_>) -> Result<(), AppendError> {
        let mut tail = self.tail.lock();
        let tail = &mut *tail;
        let Some(file) = tail.file.as_mut() else {
            return Err(AppendError {
                error: io::Error::other("journal not loaded"),
                repaired: false,
            });
        };
        #[cfg(test)]
        let injected = self.fail_next.swap(false, Ordering::AcqRel);
        #[cfg(not(test))]
        let injected = false;
        let result = if injected {
            // Half the batch reaches the file, as when the disk fills mid-write.
            let _ = file.write_all(&batch.bytes[..batch.bytes.len() / 2]);
            Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "injected: no space left on device",
            ))
        } else {
            file.write_all(batch.bytes).and_then(|()| file.sync_data())
        };
        match result {
            Ok(()) => {
                for &(seq, bytes) in batch.entries {
                    tail.len += bytes;
                    tail.offsets.push_back((seq, tail.len));
                }
                Ok(())
            }
            Err(error) => {
                let repaired = file
                    .set_len(tail.len)
                    .and_then(|()| file.sync_all())
                    .is_ok();
                Err(AppendError { error, repaired })
            }
        }
    }

    fn write_snapshots(
        &self,
        seq: u64,
        snap: &S::Snapshot,
        which: Collections<S::Collection>,
    ) -> io::Result<()> {
        for c in which.iter() {
            self.write_atomic(&file_name(c), |w| write_file::<S>(w, snap, c, seq))?;
        }
        sync_dir(&self.dir)
    }

    /// Rewrites the journal without the entries up to `seq`: copy the tail to a temp file,
    /// fsync, rename over the journal, fsync the folder.
    fn drop_through(&self, seq: u64) -> io::Result<()> {
        let mut tail = self.tail.lock();
        let cut = tail
            .offsets
            .iter()
            .take_while(|(s, _)| *s <= seq)
            .last()
            .map(|(_, end)| *end)
            .unwrap_or(0);
        if cut == 0 {
            return Ok(());
        }
        let path = self.dir.join(JOURNAL);
        let tmp = self.dir.join(format!("{JOURNAL}.tmp"));
        let mut rest = Vec::with_capacity((tail.len - cut) as usize);
        let mut src = File::open(&path)?;
        io::Seek::seek(&mut src, io::SeekFrom::Start(cut))?;
        src.take(tail.len - cut).read_to_end(&mut rest)?;
        let mut f = File::create(&tmp)?;
        f.write_all(&rest)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &path)?;
        sync_dir(&self.dir)?;
        tail.file = Some(OpenOptions::new().append(true).open(&path)?);
        tail.len -= cut;
        while tail.offsets.front().is_some_and(|(s, _)| *s <= seq) {
            tail.offsets.pop_front();
        }
        for o in tail.offsets.iter_mut() {
            o.1 -= cut;
        }
        Ok(())
    }

    fn truncate(&self) -> io::Result<()> {
        let mut tail = self.tail.lock();
        let f = OpenOptions::new()
            .write(true)
            .open(self.dir.join(JOURNAL))?;
        f.set_len(0)?;
        f.sync_all()?;
        tail.len = 0;
        tail.offsets.clear();
        Ok(())
    }

    fn replace_all(&self, seq: u64, snap: &S::Snapshot) -> Result<(), ReplaceError> {
        if let Err(error) = self.stage(seq, snap) {
            // The marker may have reached the disk before the error.
            let committed = self.dir.join(RESTORE_MARKER).exists();
            if !committed {
                for &c in S::Collection::ALL {
                    let _ = fs::remove_file(self.dir.join(Self::restore_name(c)));
                }
            }
            return Err(ReplaceError { error, committed });
        }
        // Appends wait while the journal is emptied under them.
        let mut tail = self.tail.lock();
        sync_dir(&self.dir)
            .and_then(|()| self.finish_restore())
            .map_err(|error| ReplaceError {
                error,
                committed: true,
            })?;
        tail.len = 0;
        tail.offsets.clear();
        Ok(())
    }

    fn probe(&self) -> io::Result<()> {
        let path = self.dir.join(".probe");
        let mut f = File::create(&path)?;
        f.write_all(b"ok")?;
        f.sync_all()?;
        fs::remove_file(&path)
    }

    #[cfg(test)]
    fn fail_next_append(&self) {
        self.fail_next.store(true, Ordering::Release);
    }
}
