//! Time off and holidays (SPEC-2 §11): `/bloqueios`. A block is `[inicio, fim)` in
//! clinic-local time for one doctor, or (no `medico_id`) for the whole clinic. Nobody holds
//! or books a slot that overlaps one (`agenda::alvo`), and `/agenda/slots` leaves such slots
//! out; appointments already inside a block stay (`consultas_afetadas`).
//!
//! Lookup is a range scan: the collection is ordered by (doctor or `""`, start) and no block
//! is longer than [`MAX_DIAS`], so the blocks of one owner overlapping `[a, b)` are those
//! starting in `[a - MAX_DIAS, b)` whose end is after `a`.
//!
//! `POST /bloqueios/feriados` creates Brazil's national holidays of a year as whole-clinic
//! blocks with ids `feriado-AAAA-MM-DD` (so a second call creates nothing twice); Easter by
//! the anonymous Gregorian algorithm (Meeus/Butcher).

use std::ops::Bound;
use std::sync::Arc;

use jiff::SignedDuration;
use jiff::civil::{Date, DateTime};

use super::{App, Contexto, Janela, Recorte, new_id};
use crate::domain::{Intervalo, overlaps};
use crate::error::AppError;
use crate::models::{Bloqueio, BloqueioCriado};
use crate::repositories::{Db, Op};

/// The longest block accepted, in days (a year of leave; bounds the overlap scan).
pub const MAX_DIAS: i64 = 366;

/// First and last year `POST /bloqueios/feriados` accepts.
pub const ANOS: std::ops::RangeInclusive<i16> = 1900..=2200;

/// A validated new block.
#[derive(Debug, Clone)]
pub struct NovoBloqueio {
    /// The doctor (`None`: the whole clinic).
    pub medico_id: Option<String>,
    /// Start, clinic-local.
    pub inicio: DateTime,
    /// End, clinic-local, after the start, at most [`MAX_DIAS`] later.
    pub fim: DateTime,
    /// Why.
    pub motivo: String,
}

/// Longest `motivo`, in characters.
pub const MAX_MOTIVO: usize = 200;

/// The rules of a block's own fields, as `(campo, mensagem)`: `fim` after `inicio` and at
/// most [`MAX_DIAS`] later; `motivo` trimmed, 1 to [`MAX_MOTIVO`] characters. The API's input
/// and a restored backup are checked by this one function.
pub fn regras(inicio: DateTime, fim: DateTime, motivo: &str) -> Vec<(&'static str, String)> {
    let mut out = Vec::new();
    if fim <= inicio {
        out.push(("fim", "fim deve ser posterior a inicio".to_owned()));
    } else if fim.duration_since(inicio) > SignedDuration::from_hours(24 * MAX_DIAS) {
        out.push(("fim", format!("um bloqueio dura no máximo {MAX_DIAS} dias")));
    }
    let t = crate::domain::trim(motivo);
    if t.is_empty() {
        out.push(("motivo", "não pode ser vazio".to_owned()));
    } else if motivo.chars().count() > MAX_MOTIVO {
        out.push((
            "motivo",
            format!("deve ter no máximo {MAX_MOTIVO} caracteres"),
        ));
    } else if t != motivo {
        out.push((
            "motivo",
            "não pode começar ou terminar com espaços".to_owned(),
        ));
    }
    out
}

/// The filters of `GET /bloqueios`.
#[derive(Debug, Default, Clone)]
pub struct FiltroBloqueios {
    /// The blocks that apply to this doctor: theirs and the whole clinic's.
    pub medico_id: Option<String>,
    /// Only blocks reaching into this day or later.
    pub de: Option<Date>,
    /// Only blocks starting on or before this day.
    pub ate: Option<Date>,
}

/// The blocks of one owner (`""` = the whole clinic) that overlap `[a, b)`, by start.
fn do_dono<'a>(
    db: &'a Db,
    dono: &str,
    a: DateTime,
    b: DateTime,
) -> impl Iterator<Item = &'a Arc<Bloqueio>> + 'a {
    let from = a.saturating_sub(SignedDuration::from_hours(24 * MAX_DIAS));
    db.bloqueios
        .range(
            Bound::Included((dono.to_owned(), from)),
            Bound::Excluded((dono.to_owned(), b)),
        )
        .filter(move |x| x.fim > a)
}

/// The first block (the doctor's, then the whole clinic's) that overlaps `[a, b)` for
/// `medico_id`.
pub fn em(db: &Db, medico_id: &str, a: DateTime, b: DateTime) -> Option<Arc<Bloqueio>> {
    if db.bloqueios.is_empty() {
        return None;
    }
    do_dono(db, medico_id, a, b)
        .next()
        .or_else(|| do_dono(db, "", a, b).next())
        .cloned()
}

/// The blocked stretches of `medico_id` within reach of `[a, b)` (the doctor's and the
/// whole clinic's), merged and by start: what the slot sweep skips.
pub fn uniao(db: &Db, medico_id: &str, a: DateTime, b: DateTime) -> Vec<(DateTime, DateTime)> {
    if db.bloqueios.is_empty() {
        return Vec::new();
    }
    let mut v: Vec<(DateTime, DateTime)> = do_dono(db, medico_id, a, b)
        .chain(do_dono(db, "", a, b))
        .map(|x| (x.inicio, x.fim))
        .collect();
    v.sort_unstable();
    let mut out: Vec<(DateTime, DateTime)> = Vec::with_capacity(v.len());
    for (i, f) in v {
        match out.last_mut() {
            Some(last) if i <= last.1 => last.1 = last.1.max(f),
            _ => out.push((i, f)),
        }
    }
    out
}

/// Finds one block.
pub fn find(app: &App, id: &str) -> Result<Arc<Bloqueio>, AppError> {
    let found = app.store.read().bloqueios.get(id).cloned();
    found.ok_or_else(|| AppError::not_found("Bloqueio"))
}

/// One page of the blocks that pass `f`, by start (404 for an unknown `medico_id`).
pub fn page(app: &App, f: &FiltroBloqueios, janela: Janela) -> Result<Recorte<Bloqueio>, AppError> {
    let db = app.store.read();
    if let Some(m) = &f.medico_id
        && db.medicos.get(m).is_none()
    {
        return Err(AppError::not_found("Médico"));
    }
    let de = f.de.map(|d| d.at(0, 0, 0, 0));
    let ate = f
        .ate
        .map(|d| d.tomorrow().unwrap_or(d).at(0, 0, 0, 0))
        .unwrap_or(DateTime::MAX);
    let keep = |x: &&Arc<Bloqueio>| {
        de.is_none_or(|de| x.fim > de)
            && x.inicio < ate
            && f.medico_id
                .as_ref()
                .is_none_or(|m| x.medico_id.as_ref().is_none_or(|xm| xm == m))
    };
    let mut all: Vec<Arc<Bloqueio>> = db.bloqueios.iter().filter(keep).cloned().collect();
    all.sort_by(|a, b| (a.inicio, &a.id).cmp(&(b.inicio, &b.id)));
    Ok(janela.de(&all))
}

/// The active appointments overlapping block `b` (any doctor's for a whole-clinic block).
fn afetadas(db: &Db, b: &Bloqueio) -> Vec<String> {
    let from = b
        .inicio
        .saturating_sub(SignedDuration::from_hours(Intervalo::MAX_HORAS));
    let hit = |c: &&Arc<crate::models::Consulta>| {
        c.status.is_active() && overlaps(c.inicio, c.fim, b.inicio, b.fim)
    };
    match &b.medico_id {
        Some(m) => db
            .consultas
            .of_medico(m, from, b.fim)
            .filter(hit)
            .map(|c| c.id.clone())
            .collect(),
        None => db
            .consultas
            .starting_between(Bound::Included(from), Bound::Excluded(b.fim))
            .filter(hit)
            .map(|c| c.id.clone())
            .collect(),
    }
}

/// `horario_atualizado` for the doctors a block concerns (every doctor for the whole clinic).
fn announce(app: &App, medico_id: Option<&str>) {
    match medico_id {
        Some(m) => super::horarios::announce(app, m),
        None => {
            let ids: Vec<String> = app
                .store
                .read()
                .medicos
                .iter()
                .map(|m| m.id.clone())
                .collect();
            for id in ids {
                super::horarios::announce(app, &id);
            }
        }
    }
}

/// Creates a block (422 for an unknown `medico_id`); answers it with the active
/// appointments inside it, which stay booked.
pub async fn create(
    app: &App,
    ctx: &Contexto,
    novo: NovoBloqueio,
) -> Result<BloqueioCriado, AppError> {
    let now = app.clock.stamp();
    let out = app
        .commit(ctx, |db| {
            if let Some(m) = &novo.medico_id
                && db.medicos.get(m).is_none()
            {
                return Err(AppError::campo("medico_id", "médico não encontrado"));
            }
            let b = Bloqueio {
                id: new_id(),
                medico_id: novo.medico_id.clone(),
                inicio: novo.inicio,
                fim: novo.fim,
                motivo: novo.motivo.clone(),
                created_at: now,
            };
            let out = BloqueioCriado {
                consultas_afetadas: afetadas(db, &b),
                bloqueio: b.clone(),
            };
            Ok((vec![Op::PutBloqueio(Arc::new(b))], out))
        })
        .await?;
    if !out.consultas_afetadas.is_empty() {
        tracing::warn!(target: "agendamento::bloqueios", bloqueio_id = %out.bloqueio.id,
            consultas_afetadas = ?out.consultas_afetadas, "block covers active appointments");
    }
    announce(app, out.bloqueio.medico_id.as_deref());
    Ok(out)
}

/// Deletes a block (404 unknown); its slots are offered again.
pub async fn delete(app: &App, ctx: &Contexto, id: &str) -> Result<Arc<Bloqueio>, AppError> {
    let old = app
        .commit(ctx, |db| {
            let old = db
                .bloqueios
                .get(id)
                .cloned()
                .ok_or_else(|| AppError::not_found("Bloqueio"))?;
            Ok((vec![Op::DelBloqueio(id.to_owned())], old))
        })
        .await?;
    announce(app, old.medico_id.as_deref());
    Ok(old)
}

/// Easter Sunday of `ano` (Gregorian; Meeus/Butcher's anonymous algorithm).
pub fn pascoa(ano: i16) -> Date {
    let y = i32::from(ano);
    let a = y % 19;
    let b = y / 100;
    let c = y % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let mes = (h + l - 7 * m + 114) / 31;
    let dia = (h + l - 7 * m + 114) % 31 + 1;
    // mes is 3 or 4 and dia 1..=31 by construction.
    jiff::civil::date(ano, mes as i8, dia as i8)
}

/// Brazil's national holidays of `ano` (with `facultativos`, also Carnival Monday and
/// Tuesday and Corpus Christi), by date, with their names. 20 November (Zumbi e da
/// Consciência Negra) is national from 2024 on (Lei 14.759/2023).
pub fn feriados_do_ano(ano: i16, facultativos: bool) -> Vec<(Date, &'static str)> {
    let d = |m: i8, dia: i8| jiff::civil::date(ano, m, dia);
    let pascoa = pascoa(ano);
    let rel = |dias: i64| {
        pascoa
            .checked_add(jiff::Span::new().days(dias))
            .unwrap_or(pascoa)
    };
    let mut v = vec![
        (d(1, 1), "Confraternização Universal"),
        (rel(-2), "Paixão de Cristo"),
        (d(4, 21), "Tiradentes"),
        (d(5, 1), "Dia do Trabalho"),
        (d(9, 7), "Independência do Brasil"),
        (d(10, 12), "Nossa Senhora Aparecida"),
        (d(11, 2), "Finados"),
        (d(11, 15), "Proclamação da República"),
        (d(12, 25), "Natal"),
    ];
    if ano >= 2024 {
        v.push((d(11, 20), "Dia Nacional de Zumbi e da Consciência Negra"));
    }
    if facultativos {
        v.push((rel(-48), "Carnaval (ponto facultativo)"));
        v.push((rel(-47), "Carnaval (ponto facultativo)"));
        v.push((rel(60), "Corpus Christi (ponto facultativo)"));
    }
    v.sort();
    // Good Friday falls on Tiradentes when Easter is 23 April (2000, 2079): one block.
    v.dedup_by_key(|(data, _)| *data);
    v
}

/// The id of the holiday block of `data`.
fn id_feriado(data: Date) -> String {
    format!("feriado-{data}")
}

/// `POST /bloqueios/feriados`: creates the whole-clinic blocks of `ano`'s holidays that do
/// not exist yet (a second call creates nothing) and answers every holiday block of that
/// year, by start.
pub async fn feriados(
    app: &App,
    ctx: &Contexto,
    ano: i16,
    facultativos: bool,
) -> Result<Vec<Arc<Bloqueio>>, AppError> {
    let now = app.clock.stamp();
    let lista = feriados_do_ano(ano, facultativos);
    let (out, criou) = app
        .commit_reply(
            ctx,
            |db| {
                let ops: Vec<Op> = lista
                    .iter()
                    .filter(|(data, _)| db.bloqueios.get(&id_feriado(*data)).is_none())
                    .map(|(data, nome)| {
                        Op::PutBloqueio(Arc::new(Bloqueio {
                            id: id_feriado(*data),
                            medico_id: None,
                            inicio: data.at(0, 0, 0, 0),
                            fim: data.tomorrow().unwrap_or(*data).at(0, 0, 0, 0),
                            motivo: format!("Feriado: {nome}"),
                            created_at: now.clone(),
                        }))
                    })
                    .collect();
                let mut out: Vec<Arc<Bloqueio>> = db
                    .bloqueios
                    .iter()
                    .filter(|b| b.id.starts_with(&format!("feriado-{ano:04}-")))
                    .cloned()
                    .collect();
                out.extend(ops.iter().filter_map(|op| match op {
                    Op::PutBloqueio(b) => Some(b.clone()),
                    _ => None,
                }));
                out.sort_by(|a, b| (a.inicio, &a.id).cmp(&(b.inicio, &b.id)));
                let criou = !ops.is_empty();
                Ok((ops, (out, criou)))
            },
            |(out, _)| out,
        )
        .await?;
    if criou {
        announce(app, None);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn easter_matches_published_dates() {
        for (ano, m, d) in [
            (1961, 4, 2),
            (2000, 4, 23),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2038, 4, 25),
            (1900, 4, 15),
        ] {
            assert_eq!(pascoa(ano), jiff::civil::date(ano, m, d), "{ano}");
        }
    }

    #[test]
    fn good_friday_on_tiradentes_is_one_holiday() {
        let v = feriados_do_ano(2079, false);
        let abril21 = jiff::civil::date(2079, 4, 21);
        assert_eq!(v.iter().filter(|(d, _)| *d == abril21).count(), 1, "{v:?}");
        assert_eq!(v.len(), 9);
    }
}
