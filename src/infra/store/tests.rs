//! Tests of the storage engine on a small key-value state, with real files.

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

#[tokio::test]
async fn export_is_a_consistent_copy_in_snapshot_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 0, "a1", "x").await.expect("write");
    put(&s, 1, "b1", "y").await.expect("write");
    let (seq, files, ()) = s
        .export_with(Collections::of(&[KvCol::A]), |_| ())
        .expect("export");
    assert_eq!(seq, 2);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].0, "a.json");
    let mut fresh = Kv::default();
    assert_eq!(
        fresh
            .load_collection(KvCol::A, &files[0].1)
            .expect("parses"),
        2
    );
    assert_eq!(fresh.a.get("a1").map(String::as_str), Some("x"));
}

#[tokio::test]
async fn replace_switches_state_durably_and_empties_the_journal() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 0, "old", "1").await.expect("write");
    let seq = s
        .replace(|cur| {
            assert!(cur.a.contains_key("old"));
            let mut new = Kv::default();
            new.a.insert("new".into(), "2".into());
            new
        })
        .expect("replace");
    assert_eq!(seq, 2);
    assert_eq!(
        contents(&s).0.keys().cloned().collect::<Vec<_>>(),
        vec!["new".to_owned()]
    );
    assert_eq!(
        fs::metadata(dir.path().join(JOURNAL)).map(|m| m.len()).ok(),
        Some(0)
    );
    // Writes go on after the switch, and everything survives a crash.
    put(&s, 1, "after", "3").await.expect("write after replace");
    drop(s);
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen");
    let (a, b) = contents(&s);
    assert_eq!(
        a.keys().cloned().collect::<Vec<_>>(),
        vec!["new".to_owned()]
    );
    assert_eq!(
        b.keys().cloned().collect::<Vec<_>>(),
        vec!["after".to_owned()]
    );
}

#[tokio::test]
async fn a_committed_restore_is_finished_at_start_up_and_an_uncommitted_one_discarded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 0, "old", "1").await.expect("write");
    drop(s);
    let restored = br#"{"versao": 1, "seq": 9, "registros": [["restored", "r"]]}"#;
    // Uncommitted: files written, no marker -> ignored and removed.
    fs::write(dir.path().join("a.json.restore"), restored).expect("write");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    assert!(contents(&s).0.contains_key("old"));
    assert!(!dir.path().join("a.json.restore").exists());
    drop(s);
    // Committed: marker present -> the switch is completed.
    fs::write(dir.path().join("a.json.restore"), restored).expect("write");
    fs::write(
        dir.path().join("b.json.restore"),
        br#"{"versao": 1, "seq": 9, "registros": []}"#,
    )
    .expect("write");
    fs::write(dir.path().join(RESTORE_MARKER), b"9").expect("marker");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    let (a, _) = contents(&s);
    assert_eq!(
        a.keys().cloned().collect::<Vec<_>>(),
        vec!["restored".to_owned()]
    );
    assert!(!dir.path().join(RESTORE_MARKER).exists());
}

#[tokio::test]
async fn a_restore_that_fails_after_its_commit_marker_refuses_every_later_write() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 0, "old", "1").await.expect("write");
    // A non-empty folder where `a.json` goes: the rename after the commit marker fails.
    fs::create_dir_all(dir.path().join("a.json").join("obstacle")).expect("obstacle");
    let r = s.replace(|_| {
        let mut new = Kv::default();
        new.a.insert("new".into(), "2".into());
        new
    });
    assert!(r.is_err(), "the switch could not finish");
    assert!(dir.path().join(RESTORE_MARKER).exists(), "committed");
    // The next start finishes the switch: a write acknowledged now would be lost.
    assert!(
        put(&s, 1, "lost", "3").await.is_err(),
        "a write after a committed but unfinished restore must be refused"
    );
    assert!(!s.writable(), "health shows the store is not writable");
    assert!(
        contents(&s).0.contains_key("new"),
        "memory shows what a restart will show"
    );
    drop(s);
    fs::remove_dir_all(dir.path().join("a.json")).expect("remove obstacle");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen");
    let (a, b) = contents(&s);
    assert_eq!(
        a.keys().cloned().collect::<Vec<_>>(),
        vec!["new".to_owned()]
    );
    assert!(b.is_empty(), "{b:?}");
}

#[tokio::test]
async fn replace_after_hands_over_a_copy_no_acknowledged_write_misses() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 0, "k", "1").await.expect("write");
    let (seq, copy) = s
        .replace_after(
            Collections::of(&[KvCol::A]),
            |seq, files, cur| {
                assert_eq!(seq, 1);
                assert!(cur.a.contains_key("k"));
                Ok(files)
            },
            |_| Kv::default(),
        )
        .expect("replace");
    assert_eq!(seq, 2);
    assert_eq!(copy.len(), 1);
    assert_eq!(copy[0].0, "a.json");
    let mut fresh = Kv::default();
    assert_eq!(
        fresh.load_collection(KvCol::A, &copy[0].1).expect("parses"),
        1
    );
    assert_eq!(fresh.a.get("k").map(String::as_str), Some("1"));
    // A failing `before` changes nothing.
    put(&s, 0, "x", "2").await.expect("write");
    let r = s.replace_after(
        Collections::all(),
        |_, _, _| Err::<(), _>(io::Error::other("disk full")),
        |_| Kv::default(),
    );
    assert!(r.is_err());
    assert!(contents(&s).0.contains_key("x"));
    put(&s, 0, "y", "3").await.expect("writes go on");
}

#[tokio::test]
async fn temp_files_of_a_crash_mid_write_are_removed_at_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Store::<Kv>::open(dir.path(), 1000).expect("open");
    put(&s, 0, "k", "1").await.expect("write");
    drop(s);
    let restos = [
        "a.json.tmp",
        "a.json.restore",
        "a.json.restore.tmp",
        "RESTORE.tmp",
        "journal.jsonl.tmp",
    ];
    for r in restos {
        fs::write(dir.path().join(r), b"half").expect("plant");
    }
    let s = Store::<Kv>::open(dir.path(), 1000).expect("reopen");
    for r in restos {
        assert!(!dir.path().join(r).exists(), "{r} removed");
    }
    assert!(contents(&s).0.contains_key("k"));
}
