//! THE check of a booking target (SPEC §2, §3; SPEC-2 §11): on the doctor's own grid,
//! inside their working hours, clear of blocks and of other appointments with the doctor's
//! buffer. Below `agenda` and `lista_espera` so that holds, bookings, the worker, `remarcar`,
//! series and waiting-list offers all ask the same question.

use std::sync::Arc;

use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::bloqueios;
use super::grade::{self, day_minutes, grid, within_faixas};
use super::horarios::{self, horarios_do_dia};
use crate::domain::{DiaSemana, Intervalo, Momento, format_datetime};
use crate::error::AppError;
use crate::repositories::Db;

/// Whether `slot` is a grid start inside one of the doctor's horários (on the doctor's own
/// grid; `minutes` is the default length, `--slot-minutes`).
pub fn on_grid(db: &Db, medico_id: &str, slot: DateTime, minutes: u16) -> bool {
    let (minutes, _) = horarios::grade_do_medico(db, medico_id, minutes);
    let date = slot.date();
    horarios_do_dia(db, medico_id, DiaSemana::of(date))
        .iter()
        .any(|h| grid(h, date, minutes).any(|s| s == slot))
}

/// Whether `[inicio, fim)` lies inside the doctor's working hours of that day, adjacent
/// horários joining into one stretch.
pub fn within_hours(db: &Db, medico_id: &str, iv: Intervalo) -> bool {
    let date = iv.inicio.date();
    let Some((start, end)) = day_minutes(iv.inicio, iv.fim) else {
        return false;
    };
    let faixas = horarios_do_dia(db, medico_id, DiaSemana::of(date))
        .iter()
        .map(|h| (h.hora_inicio, h.hora_fim))
        .collect::<Vec<_>>();
    within_faixas(&faixas, start, end)
}

/// The field message for a `slot` that is not a grid start of `medico_id`.
pub(crate) fn fora_da_grade(db: &Db, medico_id: &str, slot: DateTime, minutes: u16) -> String {
    let (minutes, _) = horarios::grade_do_medico(db, medico_id, minutes);
    let dia = DiaSemana::of(slot.date());
    let faixas: Vec<(u16, u16)> = horarios_do_dia(db, medico_id, dia)
        .iter()
        .map(|h| (h.hora_inicio.minutes(), h.hora_fim.minutes()))
        .collect();
    grade::fora_da_grade(&faixas, dia, slot, minutes)
}

pub(crate) fn slot_taken(slot: DateTime) -> AppError {
    AppError::conflict(
        "horario_ocupado",
        format!("O horário {} já está ocupado.", format_datetime(slot)),
    )
}

/// Why a booking target is not bookable (see [`alvo`]).
#[derive(Debug, Clone)]
pub enum Impedimento {
    /// Its start is not on the doctor's grid: the field message.
    ForaDaGrade(String),
    /// It does not lie inside the doctor's working hours of that day.
    ForaDoHorario,
    /// A block (time off, holiday) overlaps it.
    Bloqueado(Arc<crate::models::Bloqueio>),
    /// A time-blocking appointment overlaps it or its buffer.
    Ocupado(Arc<crate::models::Consulta>),
}

impl Impedimento {
    /// The answer of a synchronous route (`reservar`, `agendar`, `remarcar`) that targets
    /// `inicio`: 422 (field `campo`) off the grid, 422 (field `fim`) outside working hours,
    /// 422 `horario_bloqueado`, 409 `horario_ocupado`.
    pub fn erro(&self, campo: &str, inicio: DateTime) -> AppError {
        match self {
            Self::ForaDaGrade(m) => AppError::campo(campo, m.clone()),
            Self::ForaDoHorario => AppError::campo(
                "fim",
                "a consulta deve terminar dentro do horário de atendimento do médico",
            ),
            Self::Bloqueado(b) => bloqueado(inicio, b),
            Self::Ocupado(_) => slot_taken(inicio),
        }
    }

    /// The task error of the worker's re-check.
    pub fn recusa(&self, inicio: DateTime) -> crate::models::ErroTarefa {
        let (code, detail) = match self {
            Self::ForaDaGrade(_) | Self::ForaDoHorario => (
                "fora_do_horario",
                "O horário não está mais dentro do horário de atendimento do médico.".to_owned(),
            ),
            Self::Bloqueado(b) => ("horario_bloqueado", texto_bloqueado(inicio, b)),
            // Not naming the appointment: the task may be a patient's, and it someone else's.
            Self::Ocupado(_) => (
                "horario_ocupado",
                format!("O horário {} já está ocupado.", format_datetime(inicio)),
            ),
        };
        crate::models::ErroTarefa {
            code: code.into(),
            detail,
            conflitos: Vec::new(),
        }
    }
}

fn texto_bloqueado(inicio: DateTime, b: &crate::models::Bloqueio) -> String {
    format!(
        "O horário {} está bloqueado ({}: de {} a {}).",
        format_datetime(inicio),
        b.motivo,
        format_datetime(b.inicio),
        format_datetime(b.fim)
    )
}

/// 422 `horario_bloqueado` (SPEC-2 §11).
fn bloqueado(inicio: DateTime, b: &crate::models::Bloqueio) -> AppError {
    AppError::Unprocessable {
        code: "horario_bloqueado",
        detail: texto_bloqueado(inicio, b),
    }
}

/// `iv` widened by `buffer` minutes on both sides: two appointments of a doctor with a
/// buffer conflict when `[inicio, fim + buffer)` of one meets that of the other, that is
/// when one overlaps the other widened by the buffer on both sides.
pub fn com_intervalo(iv: Intervalo, buffer: u16, tz: &TimeZone) -> Intervalo {
    if buffer == 0 {
        return iv;
    }
    let b = SignedDuration::from_mins(i64::from(buffer));
    let at = |t: Timestamp| Momento::at(t, tz);
    Intervalo::from_momentos(
        at(iv.inicio_em.saturating_sub(b).unwrap_or(iv.inicio_em)),
        at(iv.fim_em.saturating_add(b).unwrap_or(iv.fim_em)),
    )
}

/// THE check of a booking target (SPEC §2, §3; SPEC-2 §11), shared by `reservar`,
/// `agendar`, the worker's re-check under the write lock (and `remarcar`): `iv` of
/// `medico_id` starts on the doctor's grid (their `duracao_consulta_minutos`; `minutes` is
/// `--slot-minutes`, the default), lies inside their working hours, overlaps no block (the
/// doctor's or the whole clinic's), and no time-blocking appointment but `except` lies
/// within the doctor's `intervalo_minutos` of it. Checked in that order.
pub fn alvo(
    db: &Db,
    medico_id: &str,
    iv: Intervalo,
    except: Option<&str>,
    minutes: u16,
    tz: &TimeZone,
) -> Result<(), Impedimento> {
    if !on_grid(db, medico_id, iv.inicio, minutes) {
        return Err(Impedimento::ForaDaGrade(fora_da_grade(
            db, medico_id, iv.inicio, minutes,
        )));
    }
    if !within_hours(db, medico_id, iv) {
        return Err(Impedimento::ForaDoHorario);
    }
    if let Some(b) = bloqueios::em(db, medico_id, iv.inicio, iv.fim) {
        return Err(Impedimento::Bloqueado(b));
    }
    let (_, buffer) = horarios::grade_do_medico(db, medico_id, minutes);
    if let Some(c) =
        db.consultas
            .conflict(true, medico_id, com_intervalo(iv, buffer, tz), except, tz)
    {
        return Err(Impedimento::Ocupado(c.clone()));
    }
    Ok(())
}
