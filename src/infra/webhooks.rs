//! Outgoing webhook requests (SPEC-2 §13): one shared HTTP client that never follows a
//! redirect, gives up after 10 s, ignores proxy variables and, unless the local network is
//! allowed (`--webhooks-rede-local`), refuses to connect to loopback, private, link-local,
//! CGNAT, benchmarking, reserved, unspecified or multicast addresses (and the IPv6 forms
//! that carry one: IPv4-mapped, IPv4-compatible, NAT64).
//!
//! The check sits in the client's own DNS resolver: the addresses checked are exactly the
//! ones the connection uses, so a DNS answer that changes between a check and the connect
//! (rebinding) cannot slip past it. A URL whose host is an IP literal is checked before the
//! request (the resolver is not asked for those). Every new connection checks again; an
//! attempt that reuses a pooled connection goes to an address already checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

/// Per-attempt timeout (connect, send, answer headers).
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The most of an answer's body read (and dropped) so its connection can be reused; a
/// longer one ends the connection instead.
const RESPOSTA_MAX: usize = 64 * 1024;

/// Why an address was refused.
#[derive(Debug)]
struct Bloqueado(String);

impl std::fmt::Display for Bloqueado {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Bloqueado {}

/// Whether a webhook may reach `ip` when the local network is not allowed.
pub fn publico(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => publico_v4(a),
        // IPv4-mapped (::ffff:a.b.c.d), the old IPv4-compatible form (::a.b.c.d) and NAT64
        // (64:ff9b::a.b.c.d) reach an IPv4 address: it is that address that is checked.
        IpAddr::V6(a) => match a.to_ipv4().or_else(|| nat64(a)) {
            Some(v4) => publico_v4(v4) && publico_v6(a),
            None => publico_v6(a),
        },
    }
}

/// The IPv4 address inside a NAT64 address (64:ff9b::/96, RFC 6052).
fn nat64(a: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = a.segments();
    (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]).then(|| {
        let [.., a, b, c, d] = a.octets();
        Ipv4Addr::new(a, b, c, d)
    })
}

fn publico_v4(a: Ipv4Addr) -> bool {
    let [o0, o1, ..] = a.octets();
    let cgnat = o0 == 100 && (64..128).contains(&o1);
    let benchmark = o0 == 198 && (o1 == 18 || o1 == 19); // 198.18.0.0/15
    let reservado = o0 >= 240; // 240.0.0.0/4 and broadcast
    !(benchmark
        || reservado
        || a.is_loopback()
        || a.is_private()
        || a.is_link_local()
        || a.is_unspecified()
        || a.is_broadcast()
        || a.is_multicast()
        || cgnat
        || o0 == 0)
}

fn publico_v6(a: Ipv6Addr) -> bool {
    let s0 = a.segments()[0];
    let unico_local = (s0 & 0xfe00) == 0xfc00; // fc00::/7
    let link_local = (s0 & 0xffc0) == 0xfe80; // fe80::/10
    let site_local = (s0 & 0xffc0) == 0xfec0; // fec0::/10 (deprecated, still routed in places)
    !(a.is_loopback()
        || a.is_unspecified()
        || a.is_multicast()
        || unico_local
        || link_local
        || site_local)
}

fn recusa(ip: IpAddr) -> Bloqueado {
    Bloqueado(format!(
        "endereço {ip} recusado: rede local ou privada (permita com --webhooks-rede-local)"
    ))
}

/// Resolves names itself and keeps only the addresses a webhook may reach.
struct Resolvedor {
    rede_local: bool,
}

impl reqwest::dns::Resolve for Resolvedor {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_owned();
        let rede_local = self.rede_local;
        Box::pin(async move {
            let todos: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let permitidos: Vec<SocketAddr> = todos
                .iter()
                .copied()
                .filter(|a| rede_local || publico(a.ip()))
                .collect();
            match (permitidos.is_empty(), todos.first()) {
                (false, _) => Ok(Box::new(permitidos.into_iter()) as reqwest::dns::Addrs),
                (true, Some(a)) => Err(Box::new(recusa(a.ip())) as _),
                (true, None) => {
                    Err(Box::new(Bloqueado(format!("o nome {host} não tem endereço"))) as _)
                }
            }
        })
    }
}

/// The shared webhook client.
#[derive(Clone)]
pub struct Cliente {
    http: reqwest::Client,
    rede_local: bool,
}

impl Cliente {
    /// A client; `rede_local` allows loopback and private addresses (tests, intranets).
    pub fn new(rede_local: bool) -> Result<Self, String> {
        // reqwest's rustls needs a process-wide crypto provider; a second install is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(Resolvedor { rede_local }))
            .user_agent(concat!("agendamento/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cliente HTTP: {e}"))?;
        Ok(Self { http, rede_local })
    }

    /// `POST`s `body` (JSON) to `url` with `headers`; the answer's status, or why no answer
    /// came (Portuguese, for `ultimo_erro`). The answer's body is read but not kept.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: Vec<u8>,
    ) -> Result<u16, String> {
        let parsed = reqwest::Url::parse(url).map_err(|_| "URL inválida".to_owned())?;
        let host = parsed.host_str().unwrap_or_default();
        let literal = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = literal.parse::<IpAddr>()
            && !self.rede_local
            && !publico(ip)
        {
            return Err(recusa(ip).0);
        }
        let mut req = self
            .http
            .post(parsed)
            .header("content-type", "application/json");
        for (k, v) in headers {
            req = req.header(*k, v.as_str());
        }
        match req.body(body).send().await {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                // The answer's body is read to its end (up to RESPOSTA_MAX, within the same
                // timeout) and dropped: only then does the connection go back to the pool,
                // instead of a new connection per delivery. The status alone decides.
                let mut resto = RESPOSTA_MAX;
                while let Ok(Some(parte)) = resp.chunk().await {
                    resto = match resto.checked_sub(parte.len()) {
                        Some(r) => r,
                        None => break,
                    };
                }
                Ok(status)
            }
            Err(e) => Err(explica(&e)),
        }
    }
}

/// A short Portuguese account of a failed request: the refused address, a timeout, or the
/// innermost cause.
fn explica(e: &reqwest::Error) -> String {
    let mut fonte: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut ultima = e.to_string();
    while let Some(f) = fonte {
        if let Some(b) = f.downcast_ref::<Bloqueado>() {
            return b.0.clone();
        }
        ultima = f.to_string();
        fonte = f.source();
    }
    if e.is_timeout() {
        return format!("sem resposta em {} s", TIMEOUT.as_secs());
    }
    if e.is_connect() {
        return format!("falha ao conectar: {ultima}");
    }
    format!("falha no envio: {ultima}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_and_private_addresses_are_refused_public_ones_pass() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.1.1",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "fec0::1",
            "198.18.0.1",
            "198.19.255.255",
            "240.0.0.1",
        ] {
            assert!(!publico(ip.parse().expect("ip")), "{ip} should be refused");
        }
        for ip in [
            "8.8.8.8",
            "100.128.0.1",
            "200.160.2.3",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
        ] {
            assert!(publico(ip.parse().expect("ip")), "{ip} should pass");
        }
    }
}
