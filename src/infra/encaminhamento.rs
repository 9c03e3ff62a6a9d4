//! Forwarding writes to the leader (SPEC-2 §16, several instances): where the leader takes
//! them, the HTTP client that carries them, and the header that tells the leader a request
//! comes from another instance of the same clinic (so it trusts the client address that
//! instance saw).
//!
//! With one writer, every write's turn on the journal is the leader's: the instances no
//! longer take the append lock from each other for every booking (measured in
//! `bench/instancias.rs`). Forwarding is only a shortcut: an instance that cannot reach the
//! leader appends the write itself under the append lock, as every instance could before.

use std::net::IpAddr;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hmac::Mac;
use parking_lot::{Mutex, RwLock};

use super::segredo::SegredoServidor;

/// The header a forwarded request carries: `<unix seconds>.<MAC>`, the MAC (of the server
/// secret, which only the clinic's instances know) covering the time, the client address,
/// the method and the path, so a captured value is worth one request for one minute.
pub const ENCAMINHADA: &str = "x-agendamento-encaminhada";
/// What the MAC covers first: a value of another kind made with the same secret never matches.
const DOMINIO: &[u8] = b"agendamento/encaminhamento/v2";
/// How far a forwarded request's time may be from the leader's clock.
const VALIDADE_SECS: i64 = 60;
/// The longest wait for a connection to the leader before the write is made here.
pub const CONEXAO: Duration = Duration::from_secs(1);
/// How long an address that could not be reached is not tried again.
const ESPERA_APOS_FALHA: Duration = Duration::from_secs(10);
/// Writes forwarded at once at most; more are made here (the leader's connections are
/// bounded too).
const EM_VOO: usize = 64;

/// Where writes go and how.
pub struct Encaminhamento {
    /// This instance's own address, announced while it leads (`None`: unreachable).
    proprio: OnceLock<Option<String>>,
    /// This machine's name: a loopback address is only used on the machine that announced it.
    maquina: String,
    /// The leader's address (`None`: this instance leads, or the leader announced none).
    lider: RwLock<Option<Arc<str>>>,
    /// The last address that could not be reached, and when.
    falhou: Mutex<Option<(Arc<str>, Instant)>>,
    /// Room for forwarded writes in flight.
    vagas: Arc<tokio::sync::Semaphore>,
    /// The client, built at the first forward (it needs the process's TLS provider only
    /// to exist; the instances speak plain HTTP).
    cliente: OnceLock<Option<reqwest::Client>>,
}

impl Default for Encaminhamento {
    fn default() -> Self {
        Self::new()
    }
}

/// Who this process's loopback belongs to: the host name (each container has its own) and
/// the kernel's boot id (each machine, or each boot of it, has its own). Unknown parts make
/// a value no other process shares, so a loopback address is then never taken.
fn nome_da_maquina() -> String {
    let ler = |p: &str| {
        std::fs::read_to_string(p)
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    match (
        ler("/proc/sys/kernel/hostname"),
        ler("/proc/sys/kernel/random/boot_id"),
    ) {
        (Some(h), Some(b)) => format!("{h}/{b}"),
        _ => format!("desconhecida/{}", uuid::Uuid::new_v4()),
    }
}

/// Whether `endereco` (`http://host:port`) names this machine itself: a loopback or
/// unspecified address, or `localhost`.
fn loopback(endereco: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(endereco) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_unspecified(),
        Some(url::Host::Ipv6(ip)) => {
            let ip = IpAddr::V6(ip).to_canonical();
            ip.is_loopback() || ip.is_unspecified()
        }
        None => false,
    }
}

fn mac(
    segredo: &SegredoServidor,
    quando: i64,
    cliente: &str,
    metodo: &str,
    caminho: &str,
) -> hmac::Hmac<sha2::Sha256> {
    let mut m = segredo.mac(DOMINIO);
    for parte in [
        quando.to_string().as_bytes(),
        cliente.as_bytes(),
        metodo.as_bytes(),
        caminho.as_bytes(),
    ] {
        m.update(&[0]);
        m.update(parte);
    }
    m
}

/// The value of [`ENCAMINHADA`] for a request from `cliente` (its address, `""` when
/// unknown) with `metodo` and `caminho` (path and query), made at `agora` (Unix seconds).
pub fn assinar(
    segredo: &SegredoServidor,
    agora: i64,
    cliente: &str,
    metodo: &str,
    caminho: &str,
) -> String {
    let tag = mac(segredo, agora, cliente, metodo, caminho)
        .finalize()
        .into_bytes();
    format!("{agora}.{}", hex::encode(tag))
}

/// Whether `valor` is a value of [`ENCAMINHADA`] made by an instance of this clinic for this
/// very request, within [`VALIDADE_SECS`] of `agora` (compared in constant time).
pub fn confere(
    segredo: &SegredoServidor,
    valor: &[u8],
    agora: i64,
    cliente: &str,
    metodo: &str,
    caminho: &str,
) -> bool {
    let Some((quando, tag)) = std::str::from_utf8(valor)
        .ok()
        .and_then(|v| v.split_once('.'))
    else {
        return false;
    };
    let (Ok(quando), Ok(tag)) = (quando.parse::<i64>(), hex::decode(tag)) else {
        return false;
    };
    if agora.abs_diff(quando) > VALIDADE_SECS.unsigned_abs() {
        return false;
    }
    mac(segredo, quando, cliente, metodo, caminho)
        .verify_slice(&tag)
        .is_ok()
}

/// The client address a forwarded request names, as [`assinar`] covered it.
pub fn cliente_de(ip: Option<IpAddr>) -> String {
    ip.map(|ip| ip.to_canonical().to_string())
        .unwrap_or_default()
}

impl Encaminhamento {
    /// No leader known yet.
    pub fn new() -> Self {
        Self {
            proprio: OnceLock::new(),
            maquina: nome_da_maquina(),
            lider: RwLock::new(None),
            falhou: Mutex::new(None),
            vagas: Arc::new(tokio::sync::Semaphore::new(EM_VOO)),
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

    /// This machine's name, announced with the address.
    pub fn maquina(&self) -> &str {
        &self.maquina
    }

    /// Sets where writes are forwarded from what the leader announced (address and machine;
    /// `None`: made here). Never to this instance itself, to a loopback address announced by
    /// another machine, or to an address that could not be reached in the last seconds.
    pub fn definir_lider(&self, anunciado: Option<(String, String)>) {
        let novo = anunciado.and_then(|(endereco, maquina)| {
            if Some(endereco.as_str()) == self.proprio()
                || (loopback(&endereco) && maquina != self.maquina)
            {
                return None;
            }
            let recente = self.falhou.lock().as_ref().is_some_and(|(a, quando)| {
                **a == *endereco && quando.elapsed() < ESPERA_APOS_FALHA
            });
            (!recente).then(|| Arc::<str>::from(endereco))
        });
        *self.lider.write() = novo;
    }

    /// The leader at `endereco` could not be reached: writes are made here, and it is not
    /// tried again for a few seconds.
    pub fn falhou(&self, endereco: &Arc<str>) {
        *self.falhou.lock() = Some((endereco.clone(), Instant::now()));
        let mut atual = self.lider.write();
        if atual.as_deref() == Some(&**endereco) {
            *atual = None;
        }
    }

    /// Where writes are forwarded, if anywhere.
    pub fn lider(&self) -> Option<Arc<str>> {
        self.lider.read().clone()
    }

    /// Room for one more forwarded write (`None`: as many are in flight as allowed; the
    /// write is made here).
    pub fn vaga(&self) -> Option<tokio::sync::OwnedSemaphorePermit> {
        self.vagas.clone().try_acquire_owned().ok()
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

    const CAMINHO: &str = "/consultas/agendar?x=1";

    /// Only a value made with the same secret, for the same client, method and path, within
    /// a minute, passes.
    #[test]
    fn only_the_clinics_own_fresh_value_for_this_request_is_accepted() {
        let segredo = SegredoServidor::de_bytes([7; crate::infra::segredo::TAMANHO]);
        let outro = SegredoServidor::de_bytes([8; crate::infra::segredo::TAMANHO]);
        let agora = 1_800_000_000;
        let v = assinar(&segredo, agora, "203.0.113.7", "POST", CAMINHO);
        let ok = |s: &SegredoServidor, v: &str, t: i64, ip: &str, m: &str, c: &str| {
            confere(s, v.as_bytes(), t, ip, m, c)
        };
        assert!(ok(&segredo, &v, agora, "203.0.113.7", "POST", CAMINHO));
        assert!(ok(&segredo, &v, agora + 60, "203.0.113.7", "POST", CAMINHO));
        assert!(ok(&segredo, &v, agora - 60, "203.0.113.7", "POST", CAMINHO));
        assert!(
            !ok(&segredo, &v, agora + 61, "203.0.113.7", "POST", CAMINHO),
            "stale"
        );
        assert!(
            !ok(&outro, &v, agora, "203.0.113.7", "POST", CAMINHO),
            "other secret"
        );
        assert!(
            !ok(&segredo, &v, agora, "198.51.100.9", "POST", CAMINHO),
            "other client"
        );
        assert!(
            !ok(&segredo, &v, agora, "203.0.113.7", "PUT", CAMINHO),
            "other method"
        );
        assert!(
            !ok(&segredo, &v, agora, "203.0.113.7", "POST", "/pacientes"),
            "other path"
        );
        let (_, tag) = v.split_once('.').expect("two parts");
        for ruim in [
            String::new(),
            "00".into(),
            tag.to_owned(),
            format!("{}.{tag}", agora + 1),
            format!("{agora}.{}", "0".repeat(64)),
            format!("{agora}.não é hex"),
            v[..v.len() - 2].to_owned(),
        ] {
            assert!(
                !ok(&segredo, &ruim, agora, "203.0.113.7", "POST", CAMINHO),
                "{ruim:?}"
            );
        }
    }

    #[test]
    fn the_leader_address_is_never_this_instance_another_machines_loopback_or_one_that_just_failed()
    {
        let e = Encaminhamento::new();
        let aqui = e.maquina().to_owned();
        e.definir_proprio(Some("http://10.0.0.6:8000".into()));
        e.definir_proprio(Some("ignored".into()));
        assert_eq!(e.proprio(), Some("http://10.0.0.6:8000"));
        assert!(e.lider().is_none());
        e.definir_lider(Some(("http://10.0.0.5:8000".into(), "outra".into())));
        assert_eq!(e.lider().as_deref(), Some("http://10.0.0.5:8000"));
        e.definir_lider(None);
        assert!(e.lider().is_none());
        e.definir_lider(Some(("http://10.0.0.6:8000".into(), aqui.clone())));
        assert!(e.lider().is_none(), "itself");
        for local in [
            "http://127.0.0.1:8001",
            "http://[::1]:8001",
            "http://localhost:8001",
            "http://0.0.0.0:8001",
            "http://[::ffff:127.0.0.1]:8001",
            "http://app.localhost:8001",
        ] {
            e.definir_lider(Some((local.into(), "outra".into())));
            assert!(e.lider().is_none(), "{local} of another machine");
            e.definir_lider(Some((local.into(), aqui.clone())));
            assert_eq!(e.lider().as_deref(), Some(local), "{local} of this machine");
        }
        let a: Arc<str> = Arc::from("http://10.0.0.5:8000");
        e.definir_lider(Some((a.to_string(), "outra".into())));
        e.falhou(&a);
        assert!(e.lider().is_none());
        e.definir_lider(Some((a.to_string(), "outra".into())));
        assert!(e.lider().is_none(), "tried again too soon");
        e.definir_lider(Some(("http://10.0.0.7:8000".into(), "outra".into())));
        assert_eq!(e.lider().as_deref(), Some("http://10.0.0.7:8000"));
    }

    #[test]
    fn forwarded_writes_in_flight_are_bounded() {
        let e = Encaminhamento::new();
        let vagas: Vec<_> = (0..EM_VOO).map_while(|_| e.vaga()).collect();
        assert_eq!(vagas.len(), EM_VOO);
        assert!(e.vaga().is_none());
        drop(vagas);
        assert!(e.vaga().is_some());
    }
}
