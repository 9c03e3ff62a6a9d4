//! Forwarding writes to the leader (SPEC-2 §16, several instances): where the leader takes
//! them, the HTTP client that carries them, and the header that tells the leader a request
//! comes from another instance of the same clinic (so it trusts the client address that
//! instance saw).
//!
//! With one writer, every write's turn on the journal is the leader's: the instances no
//! longer take the append lock from each other for every booking (measured in
//! `bench/instancias.rs`). Forwarding is only a shortcut: an instance that cannot reach the
//! leader appends the write itself under the append lock, as every instance could before.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hmac::Mac;
use parking_lot::RwLock;

use super::segredo::SegredoServidor;

/// The header a forwarded request carries: a MAC of the server secret, which only the
/// clinic's instances know.
pub const ENCAMINHADA: &str = "x-agendamento-encaminhada";
/// What the MAC covers: a value of another kind made with the same secret never matches.
const DOMINIO: &[u8] = b"agendamento/encaminhamento/v1";
/// The longest wait for a connection to the leader before the write is made here.
pub const CONEXAO: Duration = Duration::from_secs(1);

/// Where writes go and how.
pub struct Encaminhamento {
    /// This instance's own address, announced while it leads (`None`: unreachable).
    proprio: OnceLock<Option<String>>,
    /// The leader's address (`None`: this instance leads, or the leader announced none).
    lider: RwLock<Option<Arc<str>>>,
    /// The value of [`ENCAMINHADA`].
    token: String,
    /// The client, built at the first forward (it needs the process's TLS provider only
    /// to exist; the instances speak plain HTTP).
    cliente: OnceLock<Option<reqwest::Client>>,
}

fn mac(segredo: &SegredoServidor) -> hmac::Hmac<sha2::Sha256> {
    // HMAC takes a key of any length: this cannot fail.
    let mut m =
        <hmac::Hmac<sha2::Sha256> as hmac::digest::KeyInit>::new_from_slice(segredo.bytes())
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    m.update(DOMINIO);
    m
}

impl Encaminhamento {
    /// Forwarding with the clinic's server secret.
    pub fn new(segredo: &SegredoServidor) -> Self {
        Self {
            proprio: OnceLock::new(),
            lider: RwLock::new(None),
            token: hex::encode(mac(segredo).finalize().into_bytes()),
            cliente: OnceLock::new(),
        }
    }

    /// Sets this instance's address (once, when it listens).
    pub fn definir_proprio(&self, endereco: Option<String>) {
        let _ = self.proprio.set(endereco);
    }

    /// This instance's address, if the others can reach it.
    pub fn proprio(&self) -> Option<&str> {
        self.proprio.get().and_then(Option::as_deref)
    }

    /// Sets where writes are forwarded (`None`: made here).
    pub fn definir_lider(&self, endereco: Option<String>) {
        let novo: Option<Arc<str>> = endereco.map(Into::into);
        let mut atual = self.lider.write();
        if atual.as_deref() != novo.as_deref() {
            *atual = novo;
        }
    }

    /// Where writes are forwarded, if anywhere.
    pub fn lider(&self) -> Option<Arc<str>> {
        self.lider.read().clone()
    }

    /// The value a forwarded request carries in [`ENCAMINHADA`].
    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether `valor` is the clinic's forwarding token (compared in constant time).
    pub fn confere(&self, segredo: &SegredoServidor, valor: &[u8]) -> bool {
        let Ok(bytes) = hex::decode(valor) else {
            return false;
        };
        mac(segredo).verify_slice(&bytes).is_ok()
    }

    /// The HTTP client for the leader (`None` if it could not be built: writes are then
    /// made here). It drops a connection idle for half of `ocioso` (the servers'
    /// `--timeout-ocioso-secs`), before the leader would close it under a request.
    pub fn cliente(&self, ocioso: Duration) -> Option<&reqwest::Client> {
        self.cliente
            .get_or_init(|| {
                let _ = rustls::crypto::ring::default_provider().install_default();
                reqwest::Client::builder()
                    .connect_timeout(CONEXAO)
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .tcp_nodelay(true)
                    .pool_idle_timeout((ocioso / 2).min(Duration::from_secs(30)))
                    .build()
                    .inspect_err(|e| tracing::warn!(target: "agendamento::store", error = %e, "no HTTP client to forward writes to the leader; each write is made here"))
                    .ok()
            })
            .as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Only a token made with the same secret passes; another clinic's, a link-style MAC of
    /// the same secret or garbage do not.
    #[test]
    fn only_the_clinics_own_token_is_accepted() {
        let segredo = SegredoServidor::de_bytes([7; crate::infra::segredo::TAMANHO]);
        let outro = SegredoServidor::de_bytes([8; crate::infra::segredo::TAMANHO]);
        let e = Encaminhamento::new(&segredo);
        assert_eq!(e.token().len(), 64);
        assert!(e.confere(&segredo, e.token().as_bytes()));
        assert!(!e.confere(&outro, e.token().as_bytes()));
        let alheio = Encaminhamento::new(&outro);
        assert!(!e.confere(&segredo, alheio.token().as_bytes()));
        for ruim in ["", "00", &"0".repeat(64), "não é hex", &e.token()[..62]] {
            assert!(!e.confere(&segredo, ruim.as_bytes()), "{ruim:?}");
        }
    }

    #[test]
    fn the_leader_address_can_be_set_and_cleared() {
        let e = Encaminhamento::new(&SegredoServidor::de_bytes(
            [1; crate::infra::segredo::TAMANHO],
        ));
        assert!(e.lider().is_none());
        e.definir_lider(Some("http://10.0.0.5:8000".into()));
        assert_eq!(e.lider().as_deref(), Some("http://10.0.0.5:8000"));
        e.definir_lider(None);
        assert!(e.lider().is_none());
        e.definir_proprio(Some("http://10.0.0.6:8000".into()));
        e.definir_proprio(Some("ignored".into()));
        assert_eq!(e.proprio(), Some("http://10.0.0.6:8000"));
    }
}
