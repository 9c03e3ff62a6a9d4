//! The outbox figures (SPEC-2 §13).
//!
//! `receptor --addr-file F [--max-secs 1800]`: a webhook receiver on 127.0.0.1:0 answering
//! 200 to every `POST /gancho` (no signature check: speed only); writes its base URL to `F`.
//! `avisos-webhook --base URL --url U [--eventos a,b]`: subscribes `U` (every event by default).
//! `avisos-drenar --base URL --pid P --count N [--max-secs 300]`: polls
//! `GET /notificacoes?status=enviada` until `N` are delivered; reports the rate and the
//! server's peak resident memory (VmRSS of `P`) while it drains.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::sched::get_text;
use super::{Args, Res, client, post_json, result};

/// See the module documentation.
pub async fn receptor(a: &Args) -> Res<()> {
    let file = a.s("addr-file")?;
    let max_secs = a.f_or("max-secs", 1800.0)?;
    let n = Arc::new(AtomicU64::new(0));
    let contador = n.clone();
    let app = axum::Router::new().route(
        "/gancho",
        axum::routing::post(move || {
            let n = contador.clone();
            async move {
                n.fetch_add(1, Ordering::Relaxed);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("bind: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    std::fs::write(&file, format!("http://{addr}")).map_err(|e| format!("{file}: {e}"))?;
    let serve = axum::serve(listener, app);
    let _ = tokio::time::timeout(Duration::from_secs_f64(max_secs), serve).await;
    println!("receptor: {} requests", n.load(Ordering::Relaxed));
    Ok(())
}

/// See the module documentation.
pub async fn webhook(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let url = a.s("url")?;
    let eventos: Vec<String> = a
        .s_or(
            "eventos",
            "consulta.agendada,consulta.confirmada,consulta.remarcada,consulta.cancelada,consulta.faltou,consulta.lembrete,lista_espera.vaga_oferecida",
        )
        .split(',')
        .map(str::to_owned)
        .collect();
    let c = client(1)?;
    let (st, text, _) = post_json(
        &c,
        &format!("{base}/webhooks"),
        &json!({"url": url, "eventos": eventos}),
    )
    .await?;
    if st != 201 {
        return Err(format!("POST /webhooks: {st} {text}"));
    }
    println!("webhook subscribed to {} events at {url}", eventos.len());
    Ok(())
}

fn rss_kib(pid: u64) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let l = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    l.trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// See the module documentation.
pub async fn drenar(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let pid = a.n("pid")?;
    let count = a.n("count")?;
    let max_secs = a.f_or("max-secs", 300.0)?;
    let c = client(1)?;
    let t0 = Instant::now();
    let mut rss_max = rss_kib(pid).unwrap_or(0);
    let rss_inicio = rss_max;
    let mut primeiro: Option<f64> = None;
    let enviadas = loop {
        let (st, tc, body) =
            get_text(&c, &format!("{base}/notificacoes?status=enviada&limit=1")).await?;
        if st != 200 {
            return Err(format!("GET /notificacoes: {st} {body}"));
        }
        let n = tc.unwrap_or(0);
        if n > 0 && primeiro.is_none() {
            primeiro = Some(t0.elapsed().as_secs_f64());
        }
        rss_max = rss_max.max(rss_kib(pid).unwrap_or(0));
        if n >= count || t0.elapsed().as_secs_f64() > max_secs {
            break n;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let secs = t0.elapsed().as_secs_f64();
    let rate = enviadas as f64 / secs;
    let (_, pend, _) =
        get_text(&c, &format!("{base}/notificacoes?status=pendente&limit=1")).await?;
    let (_, falhou, _) =
        get_text(&c, &format!("{base}/notificacoes?status=falhou&limit=1")).await?;
    println!(
        "drain: {enviadas} of {count} notifications delivered in {secs:.2} s ({rate:.0}/s; first after {:.2} s); pendente {:?}, falhou {:?}; server RSS {} MiB at start, peak {} MiB",
        primeiro.unwrap_or(0.0),
        pend,
        falhou,
        rss_inicio / 1024,
        rss_max / 1024
    );
    result("avisos_drain_n", enviadas);
    result("avisos_drain_secs", format!("{secs:.2}"));
    result("avisos_drain_rps", format!("{rate:.0}"));
    result("avisos_drain_falhou", falhou.unwrap_or(0));
    result("avisos_drain_rss_mib", rss_max / 1024);
    Ok(())
}
