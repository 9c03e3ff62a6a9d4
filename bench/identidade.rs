//! Identity figures of issue 11 (SPEC-2 §10), driven by `bench/run.sh` (phase `identidade`).
//!
//! * `login --base URL --email E --senha S`: one `POST /auth/login`; prints the token alone on
//!   standard output (for `wrk -H` and `LOADGEN_BEARER`).
//! * `login-storm --base URL --url PROBE --email E --senha S [--logins 50] [--rounds 5]
//!   [--idle-secs 2] [--pace-ms 5]`: one keep-alive client GETs `PROBE` every `pace-ms`
//!   throughout; `rounds` times, an idle window of `idle-secs`, then a storm of `logins`
//!   concurrent logins (each from its own loopback address `127.1.R.I`, so the per-address
//!   limit of 30 a minute is not what is measured). A probe sample belongs to the phase it
//!   started and ended in; the figure is p99 during the storms / p99 idle.
//!
//! The e-mail and password are the bench server's own throwaway administrator.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{Args, Res, Stats, client, result};

/// `POST /auth/login` from the given client; the token on success.
async fn entrar(c: &reqwest::Client, base: &str, email: &str, senha: &str) -> Res<String> {
    let r = c
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": email, "senha": senha}))
        .send()
        .await
        .map_err(|e| format!("transport: {e}"))?;
    let st = r.status().as_u16();
    let text = r.text().await.map_err(|e| format!("transport: {e}"))?;
    if st != 200 {
        return Err(format!("login: HTTP {st}: {text}"));
    }
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("login: {e}"))?;
    v.get("token")
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| format!("login: no token in {text}"))
}

pub async fn login(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let c = client(1)?;
    println!(
        "{}",
        entrar(&c, &base, &a.s("email")?, &a.s("senha")?).await?
    );
    Ok(())
}

/// Phases of the probe: idle, storm, or between (samples across a change are dropped).
const OCIOSO: u8 = 0;
const TEMPESTADE: u8 = 1;

pub async fn login_storm(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let url = a.s("url")?;
    let email = a.s("email")?;
    let senha = a.s("senha")?;
    let logins = a.n_or("logins", 50)? as usize;
    let rounds = a.n_or("rounds", 5)?.clamp(1, 250) as u8;
    let idle = Duration::from_secs_f64(a.f_or("idle-secs", 2.0)?);
    let pace = Duration::from_millis(a.n_or("pace-ms", 5)?);
    if logins == 0 || logins > 250 {
        return Err("--logins must be 1..=250".into());
    }
    let fase = Arc::new(AtomicU8::new(OCIOSO));
    let parar = Arc::new(AtomicBool::new(false));
    let sonda = {
        let (fase, parar, url) = (fase.clone(), parar.clone(), url.clone());
        let c = client(1)?;
        tokio::spawn(async move {
            let (mut ociosas, mut durante, mut erros) = (Vec::new(), Vec::new(), 0u64);
            while !parar.load(Ordering::Relaxed) {
                let f0 = fase.load(Ordering::Relaxed);
                let t = Instant::now();
                let ok = match c.get(&url).send().await {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                let d = t.elapsed();
                if !ok {
                    erros += 1;
                } else if fase.load(Ordering::Relaxed) == f0 {
                    if f0 == OCIOSO {
                        ociosas.push(d);
                    } else {
                        durante.push(d);
                    }
                }
                tokio::time::sleep(pace).await;
            }
            (ociosas, durante, erros)
        })
    };
    let mut login_lat = Vec::new();
    let mut falhas = 0u64;
    let t0 = Instant::now();
    for r in 0..rounds {
        tokio::time::sleep(idle).await;
        fase.store(TEMPESTADE, Ordering::Relaxed);
        let mut tasks = Vec::new();
        for i in 0..logins {
            let origem = IpAddr::V4(Ipv4Addr::new(127, 1, r, i as u8 + 1));
            let _ = rustls::crypto::ring::default_provider().install_default(); // reqwest's rustls (SPEC-2 §13 webhooks) needs one
            let c = reqwest::Client::builder()
                .local_address(origem)
                .timeout(Duration::from_secs(60))
                .build()
                .map_err(|e| e.to_string())?;
            let (base, email, senha) = (base.clone(), email.clone(), senha.clone());
            tasks.push(tokio::spawn(async move {
                let t = Instant::now();
                entrar(&c, &base, &email, &senha).await.map(|_| t.elapsed())
            }));
        }
        for t in tasks {
            match t.await.map_err(|e| e.to_string())? {
                Ok(d) => login_lat.push(d),
                Err(e) => {
                    falhas += 1;
                    if falhas <= 3 {
                        println!("  login failed: {e}");
                    }
                }
            }
        }
        fase.store(OCIOSO, Ordering::Relaxed);
    }
    tokio::time::sleep(idle).await;
    parar.store(true, Ordering::Relaxed);
    let (mut ociosas, mut durante, erros) = sonda.await.map_err(|e| e.to_string())?;
    let (si, sd, sl) = (
        Stats::of(&mut ociosas),
        Stats::of(&mut durante),
        Stats::of(&mut login_lat),
    );
    let ratio = sd.p99 / si.p99;
    println!(
        "login storm: {rounds} rounds of {logins} concurrent logins ({} ok, {falhas} failed; login p50 {:.1} ms, p99 {:.1} ms) in {:.1} s; probe GET {url} every {} ms: idle {} samples p50 {:.3} ms p99 {:.3} ms, during storms {} samples p50 {:.3} ms p99 {:.3} ms -> p99 x{ratio:.2}; probe errors {erros}",
        sl.n,
        sl.p50,
        sl.p99,
        t0.elapsed().as_secs_f64(),
        pace.as_millis(),
        si.n,
        si.p50,
        si.p99,
        sd.n,
        sd.p50,
        sd.p99,
    );
    result("storm_logins_ok", sl.n);
    result("storm_logins_failed", falhas);
    result("storm_login_p50_ms", format!("{:.1}", sl.p50));
    result("storm_idle_n", si.n);
    result("storm_idle_p99_ms", format!("{:.3}", si.p99));
    result("storm_busy_n", sd.n);
    result("storm_busy_p99_ms", format!("{:.3}", sd.p99));
    result("storm_ratio", format!("{ratio:.2}"));
    result("storm_errors", erros + falhas);
    Ok(())
}
