//! `agendamento saude`: a health probe for container `HEALTHCHECK`s (the runtime image has
//! neither curl nor wget). One plain HTTP/1.1 `GET /sistema/saude` to the server's own
//! address over std's `TcpStream`, with timeouts; healthy means status 200.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Where to probe: `addr`, with an unspecified listening address (`0.0.0.0`, `::`) turned
/// into the loopback of its family.
pub fn alvo(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), addr.port())
        }
        _ => addr,
    }
}

/// Probes `GET /sistema/saude` at `addr` (a `HOST:PORT`); `Ok` when it answers 200, else
/// why not (in Portuguese, for the container's health log).
pub fn verificar(addr: &str, timeout: Duration) -> Result<(), String> {
    let alvo = addr
        .to_socket_addrs()
        .map_err(|e| format!("endereço inválido {addr}: {e}"))?
        .next()
        .map(alvo)
        .ok_or_else(|| format!("endereço inválido {addr}"))?;
    let mut s = TcpStream::connect_timeout(&alvo, timeout)
        .map_err(|e| format!("sem conexão com {alvo}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.set_write_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    write!(
        s,
        "GET /sistema/saude HTTP/1.1\r\nHost: {alvo}\r\nConnection: close\r\nUser-Agent: agendamento-saude\r\n\r\n"
    )
    .map_err(|e| format!("falha ao enviar: {e}"))?;
    let mut head = [0u8; 64];
    let n = s
        .read(&mut head)
        .map_err(|e| format!("sem resposta: {e}"))?;
    let linha = String::from_utf8_lossy(&head[..n]);
    let status = linha.split_whitespace().nth(1).unwrap_or("");
    if status == "200" {
        Ok(())
    } else {
        Err(format!(
            "o servidor respondeu {}",
            if status.is_empty() {
                "algo inesperado"
            } else {
                status
            }
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unspecified_address_is_probed_on_loopback() {
        assert_eq!(
            alvo("0.0.0.0:8000".parse().expect("addr")),
            "127.0.0.1:8000".parse().expect("addr")
        );
        assert_eq!(
            alvo("[::]:80".parse().expect("addr")),
            "[::1]:80".parse().expect("addr")
        );
        assert_eq!(
            alvo("10.0.0.2:1".parse().expect("addr")),
            "10.0.0.2:1".parse().expect("addr")
        );
    }

    #[test]
    fn a_closed_port_is_unhealthy() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = l.local_addr().expect("addr").to_string();
        drop(l);
        assert!(verificar(&addr, Duration::from_secs(1)).is_err());
    }
}
