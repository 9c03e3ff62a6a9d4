//! The login limits of SPEC-2 §10, in memory: failures per e-mail over 15 minutes and
//! logins per address over one minute, each map bounded by sweeping stale keys.

use std::collections::{HashMap, VecDeque};

/// Failures for one e-mail tolerated in [`JANELA_FALHAS_SECS`] (SPEC-2 §10: more → 429).
pub const MAX_FALHAS: usize = 5;
/// The window of the per-e-mail failure count: 15 minutes.
pub const JANELA_FALHAS_SECS: i64 = 15 * 60;
/// Logins tolerated from one address in a minute (SPEC-2 §10: more → 429).
pub const MAX_LOGINS_IP: usize = 30;
/// Keys kept by each limiter before old ones are swept (bounded memory under a spray).
const MAX_CHAVES: usize = 50_000;

/// Recent login attempts: failures per e-mail (15 min) and logins per address (1 min).
#[derive(Debug, Default)]
pub struct Tentativas {
    inner: parking_lot::Mutex<Janelas>,
}

#[derive(Debug, Default)]
struct Janelas {
    falhas: HashMap<String, VecDeque<i64>>,
    por_ip: HashMap<String, VecDeque<i64>>,
}

/// Drops the instants of `q` at or before `corte`.
fn podar(q: &mut VecDeque<i64>, corte: i64) {
    while q.front().is_some_and(|t| *t <= corte) {
        q.pop_front();
    }
}

/// Seconds until the oldest instant of `q` leaves a window of `janela` seconds (at least 1).
fn espera(q: &VecDeque<i64>, janela: i64, agora: i64) -> u64 {
    let oldest = q.front().copied().unwrap_or(agora);
    u64::try_from((oldest + janela - agora).max(1)).unwrap_or(1)
}

/// Counts one instant under `chave`; sweeps stale keys when the map grows too large.
fn contar(map: &mut HashMap<String, VecDeque<i64>>, chave: &str, agora: i64, janela: i64) {
    if !map.contains_key(chave) && map.len() >= MAX_CHAVES {
        map.retain(|_, q| q.back().is_some_and(|t| *t > agora - janela));
    }
    map.entry(chave.to_owned()).or_default().push_back(agora);
}

/// The key an address is counted under: an IPv6 address by its /64 (one host commonly
/// holds a whole /64, so counting single addresses would give it billions of budgets), any
/// other address as it is.
fn rede(ip: &str) -> String {
    match ip.parse::<std::net::Ipv6Addr>() {
        Ok(v6) if v6.to_ipv4_mapped().is_none() => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Ok(v6) => v6
            .to_ipv4_mapped()
            .map_or_else(|| ip.to_owned(), |v4| v4.to_string()),
        Err(_) => ip.to_owned(),
    }
}

impl Tentativas {
    /// Counts an attempt from `ip` for `escopo` (sign-in, public links: each its own
    /// budget); `Err(secs)` when it is one more than the minute allows.
    pub fn entrada_ip(&self, escopo: &str, ip: &str, agora: i64) -> Result<(), u64> {
        let chave = format!("{escopo}:{}", rede(ip));
        let mut j = self.inner.lock();
        if let Some(q) = j.por_ip.get_mut(&chave) {
            podar(q, agora - 60);
            if q.len() >= MAX_LOGINS_IP {
                return Err(espera(q, 60, agora));
            }
        }
        contar(&mut j.por_ip, &chave, agora, 60);
        Ok(())
    }

    /// Starts a password check for `email`: `Err(secs)` while it has more failures than
    /// allowed in the window; else the attempt counts as a failure at once, so checks sent
    /// together cannot all pass this test before any of them failed. A success forgets the
    /// failures ([`Tentativas::sucesso`]); an attempt that could not be checked is taken
    /// back ([`Tentativas::desfazer`]).
    pub fn comecar(&self, email: &str, agora: i64) -> Result<(), u64> {
        let mut j = self.inner.lock();
        if let Some(q) = j.falhas.get_mut(email) {
            podar(q, agora - JANELA_FALHAS_SECS);
            if q.len() > MAX_FALHAS {
                return Err(espera(q, JANELA_FALHAS_SECS, agora));
            }
        }
        contar(&mut j.falhas, email, agora, JANELA_FALHAS_SECS);
        Ok(())
    }

    /// A started attempt failed (it already counts); `Some(secs)` when it is one too many.
    pub fn falhou(&self, email: &str, agora: i64) -> Option<u64> {
        let mut j = self.inner.lock();
        let q = j.falhas.get_mut(email)?;
        podar(q, agora - JANELA_FALHAS_SECS);
        (q.len() > MAX_FALHAS).then(|| espera(q, JANELA_FALHAS_SECS, agora))
    }

    /// A started attempt that could not be checked (an internal error) does not count.
    pub fn desfazer(&self, email: &str, agora: i64) {
        let mut j = self.inner.lock();
        if let Some(q) = j.falhas.get_mut(email)
            && let Some(i) = q.iter().rposition(|t| *t == agora)
        {
            q.remove(i);
        }
    }

    /// A successful check forgets the e-mail's failures.
    pub fn sucesso(&self, email: &str) {
        self.inner.lock().falhas.remove(email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixth_failure_in_the_window_is_refused() {
        let t = Tentativas::default();
        for _ in 0..MAX_FALHAS {
            assert_eq!(t.comecar("a@b", 1000), Ok(()));
            assert_eq!(t.falhou("a@b", 1000), None);
        }
        assert_eq!(t.comecar("a@b", 1000), Ok(()));
        assert!(t.falhou("a@b", 1000).is_some());
        assert!(t.comecar("a@b", 1000).is_err());
        assert_eq!(t.comecar("a@b", 1000 + JANELA_FALHAS_SECS), Ok(()));
        assert_eq!(t.comecar("outro@b", 1000), Ok(()));
    }

    /// Checks started together count before any of them ends: six pass (the sixth may
    /// still be the right password), the seventh is refused without a check.
    #[test]
    fn attempts_started_together_count_before_they_end() {
        let t = Tentativas::default();
        for _ in 0..=MAX_FALHAS {
            assert_eq!(t.comecar("a@b", 1000), Ok(()));
        }
        assert!(t.comecar("a@b", 1000).is_err());
        // One could not be checked: taken back, room for one more.
        t.desfazer("a@b", 1000);
        assert_eq!(t.comecar("a@b", 1000), Ok(()));
        // The right password forgets them all.
        t.sucesso("a@b");
        assert_eq!(t.comecar("a@b", 1000), Ok(()));
    }

    #[test]
    fn the_31st_login_in_a_minute_from_one_address_is_refused() {
        let t = Tentativas::default();
        for _ in 0..MAX_LOGINS_IP {
            assert_eq!(t.entrada_ip("login", "1.2.3.4", 50), Ok(()));
        }
        assert_eq!(t.entrada_ip("login", "1.2.3.4", 59), Err(51));
        assert_eq!(
            t.entrada_ip("link", "1.2.3.4", 59),
            Ok(()),
            "another budget"
        );
        assert_eq!(t.entrada_ip("login", "5.6.7.8", 59), Ok(()));
        assert_eq!(t.entrada_ip("login", "1.2.3.4", 111), Ok(()));
    }

    /// The addresses of one IPv6 /64 share a budget; an IPv4-mapped one counts as IPv4.
    #[test]
    fn an_ipv6_network_counts_as_one_address() {
        let t = Tentativas::default();
        for i in 0..MAX_LOGINS_IP {
            let ip = format!("2001:db8:1:2::{:x}", i + 1);
            assert_eq!(t.entrada_ip("login", &ip, 50), Ok(()));
        }
        assert!(t.entrada_ip("login", "2001:db8:1:2:ffff::9", 59).is_err());
        assert_eq!(t.entrada_ip("login", "2001:db8:1:3::1", 59), Ok(()));
        assert_eq!(rede("::ffff:10.0.0.1"), "10.0.0.1");
        assert_eq!(rede("10.0.0.1"), "10.0.0.1");
    }
}
