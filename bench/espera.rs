//! The waiting-list figure (SPEC-2 §11): a freed slot to its `vaga_oferecida` event.
//!
//! `espera --base URL --state F [--from C0] [--count 200] [--warmup 10]`
//! On the grid of `sched-setup` (state file `F`): for each of `count` cells from `C0`, one
//! patient joins the waiting list for that cell's doctor and day, the front desk books the
//! cell for another patient (`POST /consultas`), then cancels it (`PUT status cancelada`)
//! and the time from sending the cancellation to reading the entry's `vaga_oferecida` on
//! `/sistema/agenda/stream` is recorded. The entry is cancelled afterwards (freeing the
//! slot), so every round starts from an empty list. Prints p50/p99 (target p50 < 50 ms).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::sched::Grid;
use super::sse::{SseConn, host_port};
use super::{Args, Res, Stats, client, post_json, result};

/// Reads `conn` until the `vaga_oferecida` of entry `id` (bounded by `timeout`).
async fn oferta_de(conn: &mut SseConn, id: &str, timeout: Duration) -> Res<Instant> {
    let fim = Instant::now() + timeout;
    loop {
        let left = fim.saturating_duration_since(Instant::now());
        let ev = tokio::time::timeout(left, conn.next())
            .await
            .map_err(|_| format!("no vaga_oferecida for {id} within {timeout:?}"))??
            .ok_or("the stream ended")?;
        let now = Instant::now();
        let Ok(v) = serde_json::from_str::<Value>(&ev.data) else {
            continue;
        };
        if v["tipo"] == "vaga_oferecida" && v["dados"]["lista_espera_id"] == json!(id) {
            return Ok(now);
        }
    }
}

fn id_of(text: &str) -> Res<String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("answer is not JSON: {e}"))?;
    v["id"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no id in {text}"))
}

/// See the module documentation.
pub async fn espera(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let g = Grid::load(&a.s("state")?)?;
    let from = a.n_or("from", 0)?;
    let count = a.n_or("count", 200)?;
    let warmup = a.n_or("warmup", 10)?;
    let c = client(4)?;
    let mut conn = SseConn::open(&host_port(&base)?, "/sistema/agenda/stream", None).await?;
    let np = g.pacientes.len() as u64;
    let mut lat = Vec::new();
    for k in 0..warmup + count {
        let cell = from + k;
        let (m, ini, fim, p) = g.cell(cell);
        let espera_p = &g.pacientes[((cell + np / 2) % np) as usize];
        let dia = &ini[..10];
        let (st, text, _) = post_json(
            &c,
            &format!("{base}/lista-espera"),
            &json!({"paciente_id": espera_p, "medico_id": m, "de": dia, "ate": dia}),
        )
        .await?;
        if st != 201 {
            return Err(format!("POST /lista-espera: {st} {text}"));
        }
        let entrada = id_of(&text)?;
        let (st, text, _) = post_json(
            &c,
            &format!("{base}/consultas"),
            &json!({"paciente_id": p, "medico_id": m, "inicio": ini, "fim": fim}),
        )
        .await?;
        if st != 201 {
            return Err(format!("POST /consultas: {st} {text}"));
        }
        let consulta = id_of(&text)?;
        let t0 = Instant::now();
        let r = c
            .put(format!("{base}/consultas/{consulta}"))
            .json(&json!({"status": "cancelada"}))
            .send()
            .await
            .map_err(|e| format!("PUT /consultas: {e}"))?;
        if r.status().as_u16() != 200 {
            return Err(format!("PUT /consultas: {}", r.status()));
        }
        let visto = oferta_de(&mut conn, &entrada, Duration::from_secs(10)).await?;
        if k >= warmup {
            lat.push(visto - t0);
        }
        let r = c
            .delete(format!("{base}/lista-espera/{entrada}"))
            .send()
            .await
            .map_err(|e| format!("DELETE /lista-espera: {e}"))?;
        if r.status().as_u16() != 200 {
            return Err(format!("DELETE /lista-espera: {}", r.status()));
        }
    }
    let s = Stats::of(&mut lat);
    println!(
        "espera: {} cancellations -> vaga_oferecida on the stream: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        s.n, s.p50, s.p99, s.max
    );
    result("espera_n", s.n);
    result("espera_p50_ms", format!("{:.3}", s.p50));
    result("espera_p99_ms", format!("{:.3}", s.p99));
    Ok(())
}
