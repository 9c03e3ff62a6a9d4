//! Weekly working hours: `hora_inicio < hora_fim`, no overlap with another horário of the
//! same doctor on the same weekday (touching ends are fine).

use std::ops::Bound;
use std::sync::Arc;

use jiff::civil::DateTime;

use super::{App, Contexto, Janela, Recorte, grade, new_id};
use crate::domain::{DiaSemana, Hora, Intervalo, overlaps};
use crate::error::AppError;
use crate::models::{Horario, HorarioAlterado};
use crate::repositories::{Db, Op};

/// A validated horário (new, or the result of an update).
#[derive(Debug, Clone, Copy)]
pub struct Faixa {
    /// Weekday.
    pub dia_semana: DiaSemana,
    /// Start.
    pub hora_inicio: Hora,
    /// End, after the start.
    pub hora_fim: Hora,
}

/// A validated partial update.
#[derive(Debug, Default)]
pub struct AlteraHorario {
    /// New weekday.
    pub dia_semana: Option<DiaSemana>,
    /// New start.
    pub hora_inicio: Option<Hora>,
    /// New end.
    pub hora_fim: Option<Hora>,
}

/// Finds one horário.
pub fn find(app: &App, id: &str) -> Result<Arc<Horario>, AppError> {
    let found = app.store.read().horarios.get(id).cloned();
    found.ok_or_else(|| AppError::not_found("Horário"))
}

/// One page of all horários.
pub fn page(app: &App, janela: Janela) -> Recorte<Horario> {
    let db = app.store.read();
    janela.recortar(db.horarios.iter(), Some(db.horarios.len()))
}

/// One page of a doctor's horários (404 unknown doctor).
pub fn page_of_medico(
    app: &App,
    medico_id: &str,
    janela: Janela,
) -> Result<Recorte<Horario>, AppError> {
    let db = app.store.read();
    if db.medicos.get(medico_id).is_none() {
        return Err(AppError::not_found("Médico"));
    }
    Ok(janela.recortar(of_medico(&db, medico_id), None))
}

/// A doctor's horários by weekday and start.
pub fn of_medico<'a>(
    db: &'a Db,
    medico_id: &str,
) -> impl DoubleEndedIterator<Item = &'a Arc<Horario>> + 'a {
    let lo = (medico_id.to_owned(), DiaSemana::Segunda, Hora::MIN);
    let hi = (medico_id.to_owned(), DiaSemana::Domingo, Hora::MAX);
    db.horarios.range(Bound::Included(lo), Bound::Included(hi))
}

/// A doctor's horários on one weekday, by start.
pub fn horarios_do_dia(db: &Db, medico_id: &str, dia: DiaSemana) -> Vec<Arc<Horario>> {
    of_medico(db, medico_id)
        .filter(|h| h.dia_semana == dia)
        .cloned()
        .collect()
}

/// The grid slots of the doctor that `[inicio, fim)` covers, in time order (on the
/// doctor's own grid; `minutes` is the default length, `--slot-minutes`).
pub fn covered_slots(
    db: &Db,
    medico_id: &str,
    inicio: DateTime,
    fim: DateTime,
    minutes: u16,
) -> Vec<DateTime> {
    let (minutes, _) = grade_do_medico(db, medico_id, minutes);
    grade::covered_slots(
        |dia| horarios_do_dia(db, medico_id, dia),
        inicio,
        fim,
        minutes,
    )
}

pub(crate) fn check(
    db: &Db,
    medico_id: &str,
    f: Faixa,
    except: Option<&str>,
) -> Result<(), AppError> {
    if f.hora_inicio >= f.hora_fim {
        return Err(AppError::campo(
            "hora_fim",
            "hora_fim deve ser posterior a hora_inicio",
        ));
    }
    let clash = of_medico(db, medico_id).find(|h| {
        Some(h.id.as_str()) != except
            && h.dia_semana == f.dia_semana
            && overlaps(h.hora_inicio, h.hora_fim, f.hora_inicio, f.hora_fim)
    });
    match clash {
        Some(h) => Err(AppError::conflict(
            "working_hours_overlap",
            format!(
                "O horário se sobrepõe a outro do mesmo médico na {} ({}–{}, id {}).",
                serde_plain_dia(h.dia_semana),
                h.hora_inicio,
                h.hora_fim,
                h.id
            ),
        )),
        None => Ok(()),
    }
}

fn serde_plain_dia(d: DiaSemana) -> String {
    serde_json::to_value(d)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Adds a horário to a doctor (404 unknown doctor, 409 overlap).
pub async fn create(
    app: &App,
    ctx: &Contexto,
    medico_id: &str,
    f: Faixa,
) -> Result<Arc<Horario>, AppError> {
    app.commit(ctx, |db| {
        if db.medicos.get(medico_id).is_none() {
            return Err(AppError::not_found("Médico"));
        }
        check(db, medico_id, f, None)?;
        let h = Arc::new(Horario {
            id: new_id(),
            medico_id: medico_id.to_owned(),
            dia_semana: f.dia_semana,
            hora_inicio: f.hora_inicio,
            hora_fim: f.hora_fim,
        });
        Ok((vec![Op::PutHorario(h.clone())], h))
    })
    .await
    .inspect(|h| announce(app, &h.medico_id))
}

/// The doctor's active appointments, not over at `now`, that overlap `old` on its weekday
/// and do not lie inside the working hours the doctor has once `old` is replaced by `new`
/// (`None`: deleted).
fn afetadas(db: &Db, old: &Horario, new: Option<Faixa>, now: DateTime) -> Vec<String> {
    let from = now.saturating_sub(jiff::SignedDuration::from_hours(Intervalo::MAX_HORAS));
    let day = |h: &Horario| (h.hora_inicio, h.hora_fim);
    db.consultas
        .of_medico(&old.medico_id, from, DateTime::MAX)
        .filter(|c| c.status.is_active() && c.fim > now)
        .filter(|c| DiaSemana::of(c.inicio.date()) == old.dia_semana)
        .filter(|c| {
            // Minutes of the appointment's first day (one that runs past midnight to its end).
            let (start, end) = grade::day_minutes(c.inicio, c.fim).unwrap_or((
                i32::from(c.inicio.hour()) * 60 + i32::from(c.inicio.minute()),
                24 * 60,
            ));
            let (a, b) = (
                i32::from(old.hora_inicio.minutes()),
                i32::from(old.hora_fim.minutes()),
            );
            overlaps(start, end, a, b)
        })
        .filter(|c| {
            let Some((start, end)) = grade::day_minutes(c.inicio, c.fim) else {
                return true;
            };
            let mut faixas: Vec<(Hora, Hora)> = of_medico(db, &old.medico_id)
                .filter(|h| h.id != old.id && h.dia_semana == old.dia_semana)
                .map(|h| day(h))
                .collect();
            if let Some(f) = new.filter(|f| f.dia_semana == old.dia_semana) {
                faixas.push((f.hora_inicio, f.hora_fim));
                faixas.sort();
            }
            !grade::within_faixas(&faixas, start, end)
        })
        .map(|c| c.id.clone())
        .collect()
}

/// Logs the appointments a change of working hours left outside them (ids only).
fn log_afetadas(h: &Horario, ids: &[String], what: &str) {
    if !ids.is_empty() {
        tracing::warn!(target: "agendamento::horarios", horario_id = %h.id, medico_id = %h.medico_id,
            consultas_afetadas = ?ids, "{what} left active appointments outside working hours");
    }
}

/// Changes a horário (404 unknown, 422 bad range, 409 overlap); also answers which active
/// appointments now lie outside the doctor's working hours.
pub async fn update(
    app: &App,
    ctx: &Contexto,
    id: &str,
    alt: AlteraHorario,
) -> Result<HorarioAlterado, AppError> {
    let now = app.clock.now_local();
    app.commit(ctx, |db| {
        let old = db
            .horarios
            .get(id)
            .ok_or_else(|| AppError::not_found("Horário"))?;
        let f = Faixa {
            dia_semana: alt.dia_semana.unwrap_or(old.dia_semana),
            hora_inicio: alt.hora_inicio.unwrap_or(old.hora_inicio),
            hora_fim: alt.hora_fim.unwrap_or(old.hora_fim),
        };
        check(db, &old.medico_id, f, Some(id))?;
        let h = Arc::new(Horario {
            dia_semana: f.dia_semana,
            hora_inicio: f.hora_inicio,
            hora_fim: f.hora_fim,
            ..Horario::clone(old)
        });
        if h == *old {
            let out = HorarioAlterado {
                horario: Horario::clone(old),
                consultas_afetadas: Vec::new(),
            };
            return Ok((vec![], out));
        }
        let out = HorarioAlterado {
            horario: Horario::clone(&h),
            consultas_afetadas: afetadas(db, old, Some(f), now),
        };
        Ok((vec![Op::PutHorario(h)], out))
    })
    .await
    .inspect(|out| {
        log_afetadas(&out.horario, &out.consultas_afetadas, "horario update");
        announce(app, &out.horario.medico_id);
    })
}

/// Deletes a horário (404 unknown). The active appointments it leaves outside working
/// hours are logged (the answer is a bodiless 204, SPEC §2).
pub async fn delete(app: &App, ctx: &Contexto, id: &str) -> Result<Arc<Horario>, AppError> {
    let now = app.clock.now_local();
    app.commit(ctx, |db| {
        let old = db
            .horarios
            .get(id)
            .ok_or_else(|| AppError::not_found("Horário"))?;
        let ids = afetadas(db, old, None, now);
        Ok((vec![Op::DelHorario(id.to_owned())], (old.clone(), ids)))
    })
    .await
    .map(|(h, ids)| {
        log_afetadas(&h, &ids, "horario delete");
        announce(app, &h.medico_id);
        h
    })
}

/// `horario_atualizado`: the doctor's grid changed.
pub fn announce(app: &App, medico_id: &str) {
    app.events.publish(
        "horario_atualizado",
        &serde_json::json!({ "medico_id": medico_id }),
    );
}

/// The doctor's slot length and buffer in minutes (SPEC-2 §11): their own, or
/// `slot_minutes` (`--slot-minutes`) and no buffer for a record stored before the fields
/// existed (or an unknown doctor).
pub fn grade_do_medico(db: &Db, medico_id: &str, slot_minutes: u16) -> (u16, u16) {
    match db.medicos.get(medico_id) {
        Some(m) => grade_de(m, slot_minutes),
        None => (slot_minutes.max(1), 0),
    }
}

/// Doctor `m`'s slot length and buffer in minutes (see [`grade_do_medico`]).
pub fn grade_de(m: &crate::models::Medico, slot_minutes: u16) -> (u16, u16) {
    (
        m.duracao_consulta_minutos.unwrap_or(slot_minutes).max(1),
        m.intervalo_minutos.unwrap_or(0),
    )
}
