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

impl Tentativas {
    /// Counts a login from `ip`; `Err(secs)` when it is one more than the minute allows.
    pub fn entrada_ip(&self, ip: &str, agora: i64) -> Result<(), u64> {
        let mut j = self.inner.lock();
        if let Some(q) = j.por_ip.get_mut(ip) {
            podar(q, agora - 60);
            if q.len() >= MAX_LOGINS_IP {
                return Err(espera(q, 60, agora));
            }
        }
        contar(&mut j.por_ip, ip, agora, 60);
        Ok(())
    }

    /// `Some(secs)` while `email` has more failures than allowed in the window.
    pub fn bloqueado(&self, email: &str, agora: i64) -> Option<u64> {
        let mut j = self.inner.lock();
        let q = j.falhas.get_mut(email)?;
        podar(q, agora - JANELA_FALHAS_SECS);
        (q.len() > MAX_FALHAS).then(|| espera(q, JANELA_FALHAS_SECS, agora))
    }

    /// Records a failure for `email`; `Some(secs)` when it is one too many.
    pub fn falhou(&self, email: &str, agora: i64) -> Option<u64> {
        let mut j = self.inner.lock();
        contar(&mut j.falhas, email, agora, JANELA_FALHAS_SECS);
        let q = j.falhas.get_mut(email)?;
        podar(q, agora - JANELA_FALHAS_SECS);
        (q.len() > MAX_FALHAS).then(|| espera(q, JANELA_FALHAS_SECS, agora))
    }

    /// A successful login forgets the e-mail's failures.
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
            assert_eq!(t.falhou("a@b", 1000), None);
        }
        assert!(t.falhou("a@b", 1000).is_some());
        assert!(t.bloqueado("a@b", 1000).is_some());
        assert_eq!(t.bloqueado("a@b", 1000 + JANELA_FALHAS_SECS), None);
        assert_eq!(t.bloqueado("outro@b", 1000), None);
    }

    #[test]
    fn the_31st_login_in_a_minute_from_one_address_is_refused() {
        let t = Tentativas::default();
        for _ in 0..MAX_LOGINS_IP {
            assert_eq!(t.entrada_ip("1.2.3.4", 50), Ok(()));
        }
        assert_eq!(t.entrada_ip("1.2.3.4", 59), Err(51));
        assert_eq!(t.entrada_ip("5.6.7.8", 59), Ok(()));
        assert_eq!(t.entrada_ip("1.2.3.4", 111), Ok(()));
    }
}
