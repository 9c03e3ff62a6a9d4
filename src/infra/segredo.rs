//! The server secret (SPEC-2 §13): 32 random bytes in the data folder (`segredo.bin`, mode
//! 0600), created at the first start and loaded at every later one. It signs the public
//! links (`/c/{token}`). It is per server: backups never hold it (they copy collections, not
//! the data folder), so a clinic restored on another server keeps that server's secret and
//! links signed before stop working.
//!
//! A file that exists but is not exactly 32 bytes is refused (the server does not start):
//! replacing it silently would break every link already sent.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

/// The file's name inside the data folder.
pub const ARQUIVO: &str = "segredo.bin";
/// Its length in bytes.
pub const TAMANHO: usize = 32;

/// The secret. `Debug` never shows it.
#[derive(Clone)]
pub struct SegredoServidor([u8; TAMANHO]);

impl std::fmt::Debug for SegredoServidor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SegredoServidor(***)")
    }
}

impl SegredoServidor {
    /// The key bytes (for HMAC).
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// An HMAC-SHA256 keyed with the secret that has already taken in `dominio`, so a MAC
    /// made for one purpose (a public link, a forwarded request) never verifies for another.
    pub fn mac(&self, dominio: &[u8]) -> hmac::Hmac<sha2::Sha256> {
        use hmac::Mac as _;
        // HMAC takes a key of any length: this cannot fail.
        let mut m = <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        m.update(dominio);
        m
    }

    /// A secret from given bytes (tests, and the one instances share in PostgreSQL).
    pub fn de_bytes(b: [u8; TAMANHO]) -> Self {
        Self(b)
    }

    /// Loads `<dir>/segredo.bin`, or creates it (32 bytes from the OS's random source, 0600,
    /// fsynced, published by an atomic rename) when it does not exist. Call with the data
    /// folder's lock held.
    pub fn carregar_ou_criar(dir: &Path) -> anyhow::Result<Self> {
        let path = dir.join(ARQUIVO);
        match std::fs::read(&path) {
            Ok(bytes) => {
                let Ok(b) = <[u8; TAMANHO]>::try_from(bytes.as_slice()) else {
                    bail!(
                        "o segredo do servidor em {} está corrompido (tem {} bytes, devia ter {TAMANHO}); \
                         restaure o arquivo original (os links já enviados dependem dele) ou, \
                         aceitando que eles deixem de valer, apague-o para criar outro",
                        path.display(),
                        bytes.len()
                    );
                };
                Ok(Self(b))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Self::criar(dir, &path),
            Err(e) => {
                Err(e).with_context(|| format!("não foi possível ler o segredo {}", path.display()))
            }
        }
    }

    fn criar(dir: &Path, path: &Path) -> anyhow::Result<Self> {
        let mut b = [0u8; TAMANHO];
        getrandom::fill(&mut b)
            .map_err(|e| anyhow::anyhow!("sem fonte de aleatoriedade para o segredo: {e}"))?;
        let tmp: PathBuf = dir.join(format!(".{ARQUIVO}.tmp"));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt as _;
            opts.mode(0o600);
        }
        let escrever = || -> std::io::Result<()> {
            let mut f = opts.open(&tmp)?;
            #[cfg(unix)]
            {
                // A leftover temporary file keeps its old mode: set it again.
                use std::os::unix::fs::PermissionsExt as _;
                f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
            f.write_all(&b)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)?;
            std::fs::File::open(dir)?.sync_all()
        };
        escrever()
            .with_context(|| format!("não foi possível criar o segredo {}", path.display()))?;
        tracing::info!(target: "agendamento", "server secret created in the data folder");
        Ok(Self(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_with_mode_0600_then_reused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = SegredoServidor::carregar_ou_criar(dir.path()).expect("create");
        let b = SegredoServidor::carregar_ou_criar(dir.path()).expect("load");
        assert_eq!(a.bytes(), b.bytes());
        assert_ne!(a.bytes(), &[0u8; TAMANHO]);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(ARQUIVO))
                .expect("meta")
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(format!("{a:?}"), "SegredoServidor(***)");
    }

    #[test]
    fn a_short_file_is_refused_and_left_as_it_is() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(ARQUIVO), b"curto").expect("write");
        let err = SegredoServidor::carregar_ou_criar(dir.path()).expect_err("refused");
        assert!(err.to_string().contains("corrompido"), "{err}");
        assert_eq!(
            std::fs::read(dir.path().join(ARQUIVO)).expect("read"),
            b"curto"
        );
    }
}
