//! Timestamped file names in the backup and report folders, in one place:
//! `backup_YYYYMMDD_HHMMSS[_N].zip` (manual, automatic and safety backups alike, the kind is
//! in the manifest), `relatorio_YYYYMMDD_HHMMSS[_N].pdf`, and the `.<kind>-<id>.tmp` files
//! they are written to first. Publishing numbers a name after every existing one and never
//! replaces a file; listing serves only exact names, so no path can leave its folder.

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// `<prefix>_<file_stamp>`, e.g. `backup_20260131_140509` (the stamp is the clinic's
/// `YYYYMMDD_HHMMSS`): the base a file is published under.
pub fn nome_base(prefix: &str, file_stamp: &str) -> String {
    format!("{prefix}_{file_stamp}")
}

/// `<dir>/.<kind>-<id>.tmp`: where a file of `kind` (`backup`, `upload`, `relatorio`) is
/// written before [`publicar`] gives it its name; [`varrer_temporarios`] removes leftovers.
pub fn temporario(dir: &Path, kind: &str, id: &str) -> PathBuf {
    dir.join(format!(".{kind}-{id}.tmp"))
}

/// Whether `nome` is exactly `<prefix>_YYYYMMDD_HHMMSS[_N].<ext>`: the only names the
/// download routes serve, so no path can leave their folder.
pub fn nome_valido(nome: &str, prefix: &str, ext: &str) -> bool {
    let Some(rest) = nome.strip_prefix(prefix).and_then(|r| r.strip_prefix('_')) else {
        return false;
    };
    let Some(stem) = rest.strip_suffix(ext).and_then(|r| r.strip_suffix('.')) else {
        return false;
    };
    let b = stem.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if b.len() < 15 || !digits(&b[..8]) || b[8] != b'_' || !digits(&b[9..15]) {
        return false;
    }
    match &b[15..] {
        [] => true,
        [b'_', n @ ..] => digits(n) && n.len() <= 4 && n[0] != b'0',
        _ => false,
    }
}

/// Sort key of a name: (timestamp, suffix number).
fn ordem(nome: &str, prefix: &str) -> (String, u32) {
    let rest = &nome[prefix.len() + 1..];
    let stamp = rest.get(..15).unwrap_or("").to_owned();
    let n = rest
        .get(15..)
        .and_then(|r| r.strip_prefix('_'))
        .and_then(|r| r.split('.').next())
        .and_then(|r| r.parse().ok())
        .unwrap_or(1);
    (stamp, n)
}

/// The valid `<prefix>_…` files of `dir`, newest first.
pub fn listar(dir: &Path, prefix: &str, ext: &str) -> io::Result<Vec<String>> {
    let mut names: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| nome_valido(n, prefix, ext))
            .collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    names.sort_by_key(|n| std::cmp::Reverse(ordem(n, prefix)));
    Ok(names)
}

/// The names `<base>.<ext>`, `<base>_2.<ext>`, … present in `dir`, oldest first.
pub fn com_base(dir: &Path, base: &str, ext: &str) -> Vec<String> {
    numerados(dir, base, ext)
        .into_iter()
        .map(|(_, nome)| nome)
        .collect()
}

/// [`com_base`] with each name's number (1 for the name without `_N`).
fn numerados(dir: &Path, base: &str, ext: &str) -> Vec<(u32, String)> {
    let mut found: Vec<(u32, String)> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter_map(|nome| {
            let stem = nome
                .strip_prefix(base)?
                .strip_suffix(ext)?
                .strip_suffix('.')?;
            let n = match stem.strip_prefix('_') {
                None if stem.is_empty() => 1,
                Some(n) if !n.starts_with('0') => n.parse().ok()?,
                _ => return None,
            };
            Some((n, nome))
        })
        .collect();
    found.sort();
    found
}

/// Moves `tmp` to a new name `<base>.<ext>`, `<base>_2.<ext>`, … numbered after every
/// existing one (so within a second, a higher number is always newer, even after retention
/// deleted a lower one), without ever replacing an existing file (a hard link fails when
/// the name exists), then fsyncs `dir`.
pub fn publicar(dir: &Path, tmp: &Path, base: &str, ext: &str) -> io::Result<String> {
    let first = numerados(dir, base, ext).last().map_or(1, |(n, _)| n + 1);
    for n in first..10_000u32 {
        let nome = if n == 1 {
            format!("{base}.{ext}")
        } else {
            format!("{base}_{n}.{ext}")
        };
        match fs::hard_link(tmp, dir.join(&nome)) {
            Ok(()) => {
                fs::remove_file(tmp)?;
                File::open(dir)?.sync_all()?;
                return Ok(nome);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("too many files in one second"))
}

/// Removes the temporary files a crash (kill -9 mid-backup, mid-upload or mid-report) left
/// behind: `.backup-*.tmp` and `.upload-*.tmp` in the backup folder, `.relatorio-*.tmp` in
/// the report folder. Called at start. `parados_ha`: `None` when nothing else can be writing
/// them (this process holds the data folder's lock); with several instances sharing the
/// folders, only files nobody has written to for that long go (another instance may be
/// writing the others right now). Returns how many it removed.
pub fn varrer_temporarios(
    backup_dir: &Path,
    reports_dir: &Path,
    parados_ha: Option<std::time::Duration>,
) -> usize {
    let parado = |e: &fs::DirEntry| {
        parados_ha.is_none_or(|d| {
            e.metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|idade| idade >= d))
        })
    };
    let mut n = 0;
    for (dir, prefixes) in [
        (backup_dir, &["backup", "upload"][..]),
        (reports_dir, &["relatorio"][..]),
    ] {
        let Ok(rd) = fs::read_dir(dir) else { continue };
        for e in rd.filter_map(Result::ok) {
            let Ok(nome) = e.file_name().into_string() else {
                continue;
            };
            let tmp = nome.ends_with(".tmp")
                && prefixes.iter().any(|p| {
                    nome.strip_prefix('.')
                        .is_some_and(|n| n.starts_with(&format!("{p}-")))
                });
            if tmp
                && e.file_type().is_ok_and(|t| t.is_file())
                && parado(&e)
                && fs::remove_file(e.path()).is_ok()
            {
                tracing::info!(target: "agendamento::backup", arquivo = %nome, "temporary file left by a crash removed");
                n += 1;
            }
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_go_at_start_and_with_shared_folders_only_once_nobody_writes_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (b, r) = (dir.path().join("b"), dir.path().join("r"));
        fs::create_dir_all(&b).expect("b");
        fs::create_dir_all(&r).expect("r");
        for f in [
            b.join(".backup-1.tmp"),
            b.join(".upload-2.tmp"),
            r.join(".relatorio-3.tmp"),
            b.join("backup-2026-01-01T00-00-00.zip"),
        ] {
            fs::write(&f, b"x").expect("write");
        }
        let hora = std::time::Duration::from_secs(3600);
        assert_eq!(
            varrer_temporarios(&b, &r, Some(hora)),
            0,
            "just written: another instance may be writing them"
        );
        let velho = std::time::SystemTime::now() - 2 * hora;
        fs::File::options()
            .write(true)
            .open(b.join(".upload-2.tmp"))
            .and_then(|f| f.set_modified(velho))
            .expect("set mtime");
        assert_eq!(
            varrer_temporarios(&b, &r, Some(hora)),
            1,
            "idle for two hours"
        );
        assert!(!b.join(".upload-2.tmp").exists());
        assert_eq!(
            varrer_temporarios(&b, &r, None),
            2,
            "with the lock: every leftover"
        );
        assert!(
            b.join("backup-2026-01-01T00-00-00.zip").exists(),
            "a backup stays"
        );
    }

    #[test]
    fn only_exact_names_are_valid() {
        for ok in [
            "backup_20260131_140509.zip",
            "backup_20260131_140509_2.zip",
            "backup_20260131_140509_1234.zip",
        ] {
            assert!(nome_valido(ok, "backup", "zip"), "{ok}");
        }
        for (bad, why) in [
            ("../backup_20260131_140509.zip", "parent dir"),
            ("backup_20260131_140509.zip/..", "suffix"),
            ("backup_2026013_140509.zip", "short date"),
            ("backup_20260131_140509_0.zip", "zero suffix"),
            ("backup_20260131_140509_.zip", "empty suffix"),
            ("backup_20260131_140509.ZIP", "case"),
            ("backup_20260131-140509.zip", "dash"),
            ("backup_20260131_140509.zip.bak", "extension"),
            ("/etc/passwd", "absolute"),
            ("backup_20260131_140509\\..zip", "backslash"),
            ("relatorio_20260131_140509.pdf", "other kind"),
            ("", "empty"),
        ] {
            assert!(!nome_valido(bad, "backup", "zip"), "{bad}: {why}");
        }
        assert!(nome_valido(
            "relatorio_20260131_140509.pdf",
            "relatorio",
            "pdf"
        ));
    }

    #[test]
    fn listing_is_newest_first_with_suffixes() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in [
            "backup_20260101_000000.zip",
            "backup_20260102_000000.zip",
            "backup_20260102_000000_2.zip",
            "backup_20260102_000000_10.zip",
            "nota.txt",
        ] {
            fs::write(dir.path().join(n), b"x").expect("write");
        }
        let names = listar(dir.path(), "backup", "zip").expect("list");
        assert_eq!(
            names,
            vec![
                "backup_20260102_000000_10.zip",
                "backup_20260102_000000_2.zip",
                "backup_20260102_000000.zip",
                "backup_20260101_000000.zip"
            ]
        );
    }

    #[test]
    fn publishing_numbers_after_every_existing_name_even_after_a_gap() {
        let dir = tempfile::tempdir().expect("tempdir");
        for n in ["x_1.zip", "x_1_3.zip", "x_1_10.zip"] {
            fs::write(dir.path().join(n), b"old").expect("write");
        }
        let tmp = dir.path().join("t.tmp");
        fs::write(&tmp, b"new").expect("write");
        assert_eq!(
            publicar(dir.path(), &tmp, "x_1", "zip").expect("publish"),
            "x_1_11.zip"
        );
        assert_eq!(
            com_base(dir.path(), "x_1", "zip"),
            ["x_1.zip", "x_1_3.zip", "x_1_10.zip", "x_1_11.zip"]
        );
    }

    #[test]
    fn publishing_never_replaces_an_existing_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        for expected in ["x_1.zip", "x_1_2.zip", "x_1_3.zip"] {
            let tmp = dir.path().join("t.tmp");
            fs::write(&tmp, expected).expect("write");
            assert_eq!(
                publicar(dir.path(), &tmp, "x_1", "zip").expect("publish"),
                expected
            );
        }
        assert_eq!(
            fs::read_to_string(dir.path().join("x_1.zip")).expect("read"),
            "x_1.zip"
        );
    }
}
