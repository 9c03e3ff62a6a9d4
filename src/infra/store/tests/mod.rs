//! Tests of the storage engine on a small key-value state: with real files (here and in
//! `replace.rs`), and on an in-memory journal through the seam (`seam.rs`).

mod replace;
mod seam;

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::file::{JOURNAL, RESTORE_MARKER};
use super::*;

/// A key-value map with two collections: `a` and `b`.
#[derive(Default, Debug, PartialEq)]
struct Kv {
    a: BTreeMap<String, String>,
    b: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
enum KvOp {
    Put(u8, String, String),
    Del(u8, String),
}

#[derive(Serialize, Deserialize)]
struct Pair(String, String);

/// The two collections of [`Kv`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KvCol {
    A,
    B,
}

impl CollectionId for KvCol {
    const ALL: &'static [Self] = &[Self::A, Self::B];
    fn name(self) -> &'static str {
        match self {
            Self::A => "a",
            Self::B => "b",
        }
    }
    fn index(self) -> usize {
        self as usize
    }
}

impl Kv {
    fn map(&mut self, c: u8) -> &mut BTreeMap<String, String> {
        if c == 0 { &mut self.a } else { &mut self.b }
    }
}

impl StoreState for Kv {
    type Op = KvOp;
    type Snapshot = (Vec<Pair>, Vec<Pair>);
    type Collection = KvCol;

    fn empty() -> Self {
        Self::default()
    }
    fn collection_of(op: &KvOp) -> KvCol {
        match op {
            KvOp::Put(0, ..) | KvOp::Del(0, _) => KvCol::A,
            KvOp::Put(..) | KvOp::Del(..) => KvCol::B,
        }
    }
    fn apply(&mut self, op: KvOp) -> Option<KvOp> {
        match op {
            KvOp::Put(c, k, v) => Some(match self.map(c).insert(k.clone(), v) {
                Some(old) => KvOp::Put(c, k, old),
                None => KvOp::Del(c, k),
            }),
            KvOp::Del(c, k) => self.map(c).remove(&k).map(|old| KvOp::Put(c, k, old)),
        }
    }
    fn snapshot(&self, _which: Collections<KvCol>) -> Self::Snapshot {
        let pairs = |m: &BTreeMap<String, String>| {
            m.iter().map(|(k, v)| Pair(k.clone(), v.clone())).collect()
        };
        (pairs(&self.a), pairs(&self.b))
    }
    fn write_records(
        snap: &Self::Snapshot,
        c: KvCol,
        out: &mut dyn std::io::Write,
    ) -> serde_json::Result<()> {
        let records = match c {
            KvCol::A => &snap.0,
            KvCol::B => &snap.1,
        };
        serde_json::to_writer_pretty(out, records)
    }
    fn row_of(op: &KvOp) -> (KvCol, &str, bool) {
        match op {
            KvOp::Put(_, k, _) => (Self::collection_of(op), k, true),
            KvOp::Del(_, k) => (Self::collection_of(op), k, false),
        }
    }
    fn each_row(
        snap: &Self::Snapshot,
        c: KvCol,
        f: &mut dyn FnMut(&str, &[u8]),
    ) -> serde_json::Result<()> {
        let records = match c {
            KvCol::A => &snap.0,
            KvCol::B => &snap.1,
        };
        for p in records {
            f(&p.0, &serde_json::to_vec(p)?);
        }
        Ok(())
    }
    fn load_collection(&mut self, c: KvCol, bytes: &[u8]) -> serde_json::Result<u64> {
        let f = parse_snapshot::<Pair>(bytes)?;
        for Pair(k, v) in f.registros {
            self.map(c as u8).insert(k, v);
        }
        Ok(f.seq)
    }
}

type E = StoreError;

async fn put(s: &Store<Kv>, c: u8, k: &str, v: &str) -> Result<(), E> {
    s.write(|_| Ok::<_, E>((vec![KvOp::Put(c, k.into(), v.into())], ())))
        .await
}

fn contents(s: &Store<Kv>) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let g = s.read();
    (g.a.clone(), g.b.clone())
}

#[tokio::test]
async fn writes_survive_close_and_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    for i in 0..50 {
        put(&s, (i % 2) as u8, &format!("k{i}"), &format!("v{i}"))
            .await
            .expect("write");
    }
    let before = contents(&s);
    s.close().expect("close");
    drop(s);
    assert_eq!(
        fs::metadata(dir.path().join(JOURNAL)).map(|m| m.len()).ok(),
        Some(0),
        "journal folded at close"
    );
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen");
    assert_eq!(contents(&s), before);
}

#[tokio::test]
async fn journal_alone_is_replayed_after_a_crash() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 0, "x", "1").await.expect("write");
    put(&s, 1, "y", "2").await.expect("write");
    s.write(|_| Ok::<_, E>((vec![KvOp::Del(0, "x".into())], ())))
        .await
        .expect("delete");
    let before = contents(&s);
    // No close: as after kill -9 (the lock goes with the file handle).
    drop(s);
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen");
    assert_eq!(contents(&s), before);
}

#[tokio::test]
async fn a_failed_flush_answers_an_error_and_leaves_memory_and_disk_unchanged() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 0, "kept", "1").await.expect("write");
    let journal_len = fs::metadata(dir.path().join(JOURNAL))
        .map(|m| m.len())
        .expect("journal");
    s.fail_next_flush();
    let err = put(&s, 0, "lost", "2").await;
    assert!(matches!(err, Err(StoreError::Unavailable(_))), "{err:?}");
    assert!(!s.writable());
    assert_eq!(contents(&s).0.get("lost"), None, "memory rolled back");
    assert_eq!(
        fs::metadata(dir.path().join(JOURNAL)).map(|m| m.len()).ok(),
        Some(journal_len),
        "journal cut back"
    );
    // The next write works and the store reports writable again.
    put(&s, 0, "after", "3").await.expect("write after failure");
    assert!(s.writable());
    drop(s);
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen");
    let (a, _) = contents(&s);
    assert_eq!(
        a.keys().cloned().collect::<Vec<_>>(),
        vec!["after".to_owned(), "kept".to_owned()]
    );
}

#[tokio::test]
async fn a_failed_flush_undoes_an_overwrite_to_the_old_value() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 1, "k", "old").await.expect("write");
    s.fail_next_flush();
    assert!(put(&s, 1, "k", "new").await.is_err());
    assert_eq!(contents(&s).1.get("k").map(String::as_str), Some("old"));
}

#[tokio::test]
async fn concurrent_writers_all_land() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    let mut tasks = Vec::new();
    for t in 0..8 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                put(&s, 0, &format!("t{t}-{i}"), "v").await.expect("write");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    assert_eq!(contents(&s).0.len(), 400);
    drop(s);
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen");
    assert_eq!(contents(&s).0.len(), 400);
}

#[tokio::test]
async fn compaction_writes_snapshots_and_shortens_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1_000_000).expect("open");
    for i in 0..20 {
        put(&s, 0, &format!("k{i}"), "v").await.expect("write");
    }
    let seq = tokio::task::spawn_blocking({
        let s = s.clone();
        move || s.compact()
    })
    .await
    .expect("join")
    .expect("compact");
    assert_eq!(seq, 20);
    put(&s, 1, "tail", "t")
        .await
        .expect("write after compaction");
    // The flusher drops the prefix asynchronously; wait for it (bounded).
    let journal = dir.path().join(JOURNAL);
    for _ in 0..200 {
        if fs::read_to_string(&journal)
            .map(|j| j.lines().count())
            .unwrap_or(0)
            == 1
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let j = fs::read_to_string(&journal).expect("journal");
    assert_eq!(
        j.lines().count(),
        1,
        "only the entry after the snapshot remains: {j}"
    );
    let snap: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.path().join("a.json")).expect("a.json"))
            .expect("parses");
    assert_eq!(snap["seq"], 20);
    let before = contents(&s);
    drop(s);
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen");
    assert_eq!(contents(&s), before);
}

#[tokio::test]
async fn a_torn_last_line_is_dropped_and_earlier_writes_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 0, "k", "v").await.expect("write");
    drop(s);
    let journal = dir.path().join(JOURNAL);
    let mut f = OpenOptions::new()
        .append(true)
        .open(&journal)
        .expect("journal");
    f.write_all(br#"{"seq":2,"ops":[{"Put":[0,"half"#)
        .expect("append");
    drop(f);
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen despite the torn line");
    assert_eq!(contents(&s).0.len(), 1);
    put(&s, 0, "next", "v").await.expect("write after repair");
    drop(s);
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen");
    assert_eq!(contents(&s).0.len(), 2);
}

#[tokio::test]
async fn a_corrupt_middle_line_stops_start_up_and_leaves_the_file_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    for i in 0..3 {
        put(&s, 0, &format!("k{i}"), "v").await.expect("write");
    }
    drop(s);
    let journal = dir.path().join(JOURNAL);
    let mut bytes = fs::read(&journal).expect("journal");
    let second_line = bytes.iter().position(|b| *b == b'\n').expect("newline") + 3;
    bytes[second_line] = b'#';
    fs::write(&journal, &bytes).expect("corrupt");
    match Store::<Kv>::open(dir.path(), 1000) {
        Err(OpenError::Corrupt { path, line, .. }) => {
            assert!(path.ends_with(JOURNAL));
            assert_eq!(line, 2);
        }
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("opened a corrupt journal"),
    }
    assert_eq!(
        fs::read(&journal).expect("journal"),
        bytes,
        "file untouched"
    );
}

#[tokio::test]
async fn a_second_open_of_the_same_folder_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let _s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    match Store::<Kv>::open(dir.path(), 1000) {
        Err(e @ OpenError::Locked { .. }) => assert!(e.to_string().contains("já está em uso")),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("second open succeeded"),
    }
}
