//! Exports and replace-all (backups and restores) on the file journal.

use std::fs;
use std::io;

use super::*;

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
