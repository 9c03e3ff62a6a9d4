//! The core on a second journal: one kept in memory, implementing only the [`Journal`]
//! trait. What passes here holds for any backend that keeps the trait's promises.

use std::sync::Arc;

use parking_lot::Mutex;

use super::super::format::Entry;
use super::*;

/// What the in-memory journal "persists": survives the store, like a disk.
#[derive(Default)]
struct Disk {
    /// The encoded entries, back to back.
    entries: Vec<u8>,
    /// Snapshot bytes by collection name.
    snapshots: BTreeMap<&'static str, Vec<u8>>,
    /// Entries per accepted append.
    batches: Vec<usize>,
    /// The next appends to refuse, and whether each refusal leaves the journal repaired.
    refuse: Vec<bool>,
}

struct MemJournal(Arc<Mutex<Disk>>);

impl Journal<Kv> for MemJournal {
    fn load(&mut self) -> Result<Loaded<Kv>, OpenError> {
        let disk = self.0.lock();
        let mut state = Kv::default();
        let mut file_seq = [0u64; 2];
        for &c in KvCol::ALL {
            if let Some(bytes) = disk.snapshots.get(c.name()) {
                file_seq[c.index()] = state.load_collection(c, bytes).expect("snapshot");
            }
        }
        let mut last_seq = file_seq.iter().copied().max().unwrap_or(0);
        let mut dirty = Collections::NONE;
        let mut entries = 0;
        for line in disk
            .entries
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
        {
            let entry: Entry<KvOp> = serde_json::from_slice(line).expect("entry");
            last_seq = last_seq.max(entry.seq);
            entries += 1;
            for op in entry.ops {
                let c = Kv::collection_of(&op);
                if entry.seq > file_seq[c.index()] {
                    dirty.insert(c);
                    state.apply(op);
                }
            }
        }
        Ok(Loaded {
            state,
            last_seq,
            dirty,
            entries,
        })
    }

    fn append(&self, batch: &Batch<'_>) -> Result<(), AppendError> {
        let mut disk = self.0.lock();
        if !disk.refuse.is_empty() {
            let repaired = disk.refuse.remove(0);
            return Err(AppendError {
                error: io::Error::other("refused"),
                repaired,
            });
        }
        let total: u64 = batch.entries.iter().map(|(_, n)| n).sum();
        assert_eq!(total, batch.bytes.len() as u64, "entries cover the batch");
        disk.entries.extend_from_slice(batch.bytes);
        disk.batches.push(batch.entries.len());
        Ok(())
    }

    fn write_snapshots(
        &self,
        seq: u64,
        snap: &<Kv as StoreState>::Snapshot,
        which: Collections<KvCol>,
    ) -> io::Result<()> {
        let mut disk = self.0.lock();
        for c in which.iter() {
            let bytes = super::super::format::render_file::<Kv>(snap, c, seq)?;
            disk.snapshots.insert(c.name(), bytes);
        }
        Ok(())
    }

    fn drop_through(&self, seq: u64) -> io::Result<()> {
        let mut disk = self.0.lock();
        let kept: Vec<u8> = disk
            .entries
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .filter(|l| serde_json::from_slice::<Entry<KvOp>>(l).is_ok_and(|entry| entry.seq > seq))
            .flat_map(|l| l.iter().copied().chain([b'\n']))
            .collect();
        disk.entries = kept;
        Ok(())
    }

    fn truncate(&self) -> io::Result<()> {
        self.0.lock().entries.clear();
        Ok(())
    }

    fn replace_all(
        &self,
        seq: u64,
        snap: &<Kv as StoreState>::Snapshot,
    ) -> Result<(), ReplaceError> {
        self.write_snapshots(seq, snap, Collections::all())
            .map_err(|error| ReplaceError {
                error,
                committed: false,
            })?;
        self.0.lock().entries.clear();
        Ok(())
    }

    fn probe(&self) -> io::Result<()> {
        Ok(())
    }
}

fn open(disk: &Arc<Mutex<Disk>>) -> Store<Kv> {
    Store::with_journal(Box::new(MemJournal(disk.clone())), 1000).expect("open")
}

#[tokio::test]
async fn the_core_runs_on_another_journal_and_reloads_from_it() {
    let disk = Arc::new(Mutex::new(Disk::default()));
    let s = open(&disk);
    let mut tasks = Vec::new();
    for t in 0..4 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                put(&s, (i % 2) as u8, &format!("t{t}-{i}"), "v")
                    .await
                    .expect("write");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let before = contents(&s);
    assert_eq!(before.0.len() + before.1.len(), 100);
    assert_eq!(
        disk.lock().batches.iter().sum::<usize>(),
        100,
        "every write appended once"
    );
    drop(s);
    let s = open(&disk);
    assert_eq!(contents(&s), before, "replayed from the journal alone");
    let seq = tokio::task::spawn_blocking({
        let s = s.clone();
        move || s.close()
    })
    .await
    .expect("join");
    assert!(seq.is_ok(), "{seq:?}");
    assert!(disk.lock().entries.is_empty(), "folded into the snapshots");
    drop(s);
    assert_eq!(contents(&open(&disk)), before, "loaded from the snapshots");
}

#[tokio::test]
async fn a_refused_append_is_undone_and_answered_unavailable_then_writes_resume() {
    let disk = Arc::new(Mutex::new(Disk::default()));
    let s = open(&disk);
    put(&s, 0, "k", "old").await.expect("write");
    disk.lock().refuse.push(true);
    let err = put(&s, 0, "k", "new").await;
    assert!(matches!(err, Err(StoreError::Unavailable(_))), "{err:?}");
    assert_eq!(contents(&s).0.get("k").map(String::as_str), Some("old"));
    assert!(!s.writable(), "health shows the failure");
    put(&s, 1, "after", "v").await.expect("writes resume");
    assert!(s.writable());
    drop(s);
    let (a, b) = contents(&open(&disk));
    assert_eq!(a.get("k").map(String::as_str), Some("old"));
    assert!(b.contains_key("after"));
}

#[tokio::test]
async fn a_journal_that_cannot_repair_itself_makes_the_store_refuse_until_restart() {
    let disk = Arc::new(Mutex::new(Disk::default()));
    let s = open(&disk);
    disk.lock().refuse.push(false);
    assert!(put(&s, 0, "lost", "v").await.is_err());
    assert!(
        put(&s, 0, "later", "v").await.is_err(),
        "no write after an unrepaired failure"
    );
    let probe = tokio::task::spawn_blocking({
        let s = s.clone();
        move || s.probe()
    })
    .await
    .expect("join");
    assert!(!probe && !s.writable(), "the probe does not clear it");
    assert!(contents(&s).0.is_empty());
}

#[tokio::test]
async fn replace_and_export_go_through_the_journal() {
    let disk = Arc::new(Mutex::new(Disk::default()));
    let s = open(&disk);
    put(&s, 0, "old", "1").await.expect("write");
    let (seq, files, ()) = s
        .export_with(Collections::of(&[KvCol::B]), |_| ())
        .expect("export");
    assert_eq!((seq, files.len(), files[0].0.as_str()), (1, 1, "b.json"));
    let seq = s
        .replace(|_| {
            let mut new = Kv::default();
            new.b.insert("new".into(), "2".into());
            new
        })
        .expect("replace");
    assert_eq!(seq, 2);
    {
        let d = disk.lock();
        assert!(d.entries.is_empty(), "replace-all forgets every entry");
        assert_eq!(d.snapshots.len(), 2, "every collection rewritten");
    }
    put(&s, 0, "after", "3").await.expect("write after replace");
    drop(s);
    let (a, b) = contents(&open(&disk));
    assert_eq!(
        a.keys().cloned().collect::<Vec<_>>(),
        vec!["after".to_owned()]
    );
    assert_eq!(
        b.keys().cloned().collect::<Vec<_>>(),
        vec!["new".to_owned()]
    );
}
