//! `remarcar`: `POST /consultas/{id}/remarcar` latency with many appointments stored
//! (SPEC-2 §11's target: p50 < 1 ms at 100,000).

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::sched::{Grid, get_text};
use crate::{Args, Errors, Res, Stats, client, error_kind, post_json, result};

/// `remarcar --base URL --state F --filled N [--count 300] [--warmup 20] [--max-secs 120]`
///
/// The grid cells `0..N` hold appointments (`sched-fill --from 0 --to N`). The appointment of
/// cell `i` (found first, untimed, with `GET /consultas?medico_id=&de=&ate=`) is moved, one
/// request at a time, to a free cell of the same doctor after `N`: every move is checked like a
/// booking (grid, hours, doctor and patient free, holds, rules) and decided in one write.
pub async fn remarcar(a: &Args) -> Res<()> {
    let base = a.s("base")?;
    let g = Grid::load(&a.s("state")?)?;
    let filled = a.n("filled")?;
    let count = a.n_or("count", 300)?;
    let warmup = a.n_or("warmup", 20)?;
    let max_secs = a.f_or("max-secs", 120.0)?;
    let nd = g.medicos.len() as u64;
    // First free cell of doctor 0, one time step past the filled ones.
    let free0 = filled.div_ceil(nd) * nd + nd;
    let c = client(1)?;
    let total = warmup + count;
    let mut alvos: Vec<(String, String)> = Vec::with_capacity(total as usize);
    for i in 0..total {
        let (m, ini, _, _) = g.cell(i);
        let dia = &ini[..10];
        let url = format!("{base}/consultas?medico_id={m}&de={dia}&ate={dia}");
        let (st, _, body) = get_text(&c, &url).await?;
        if st != 200 {
            return Err(format!("GET {url}: HTTP {st}: {body}"));
        }
        let lista: Value = serde_json::from_str(&body).map_err(|e| format!("{url}: {e}"))?;
        let id = lista
            .as_array()
            .and_then(|l| l.iter().find(|x| x["inicio"] == json!(ini)))
            .and_then(|x| x["id"].as_str())
            .ok_or_else(|| format!("no appointment at cell {i} ({m} {ini})"))?
            .to_owned();
        let (m2, novo, _, _) = g.cell(free0 + i * nd + i % nd);
        if m2 != m {
            return Err(format!("cell arithmetic: {m2} != {m}"));
        }
        alvos.push((id, novo));
    }
    let mut lat: Vec<Duration> = Vec::with_capacity(count as usize);
    let mut errors = Errors::default();
    let start = Instant::now();
    for (i, (id, novo)) in alvos.iter().enumerate() {
        if start.elapsed().as_secs_f64() > max_secs {
            break;
        }
        let url = format!("{base}/consultas/{id}/remarcar");
        match post_json(&c, &url, &json!({ "inicio": novo })).await {
            Ok((200, _, d)) => {
                if i as u64 >= warmup {
                    lat.push(d);
                }
            }
            Ok((st, text, _)) => errors.add(error_kind(st, &text), format!("{id}: {text}")),
            Err(e) => errors.add("transport".into(), format!("{id}: {e}")),
        }
    }
    let st = Stats::of(&mut lat);
    println!(
        "remarcar: {} sequential POST /consultas/{{id}}/remarcar (after {warmup} warm-up), {filled} consultas stored: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms",
        st.n, st.p50, st.p99, st.max
    );
    result("remarcar_n", st.n);
    result("remarcar_p50_ms", format!("{:.3}", st.p50));
    result("remarcar_p99_ms", format!("{:.3}", st.p99));
    errors.report("remarcar");
    Ok(())
}
