//! The slot agenda (SPEC §3): the grid of `slot_minutes` steps inside each horário, slot
//! states, holds, and the synchronous half of `POST /consultas/agendar` (SPEC §2).

use std::collections::HashSet;
use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::consultas::{NovaConsulta, check_overlaps, check_refs};
use super::grade::{self, day_minutes, grid, within_faixas};
use super::horarios::{covered_slots, horarios_do_dia};
use super::{App, Contexto, Escopo, bloqueios, horarios, new_id, tarefas};
use crate::domain::{DiaSemana, Intervalo, Momento, format_datetime};
use crate::error::AppError;
use crate::models::{Agendado, Estado, Horario, Liberado, Papel, Reserva, Reservado, TipoTarefa};
use crate::repositories::{Db, Op};

mod agendar;
mod reservas;
mod slots;

pub use agendar::*;
pub use reservas::*;
pub use slots::*;

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
fn fora_da_grade(db: &Db, medico_id: &str, slot: DateTime, minutes: u16) -> String {
    let (minutes, _) = horarios::grade_do_medico(db, medico_id, minutes);
    let dia = DiaSemana::of(slot.date());
    let faixas: Vec<(u16, u16)> = horarios_do_dia(db, medico_id, dia)
        .iter()
        .map(|h| (h.hora_inicio.minutes(), h.hora_fim.minutes()))
        .collect();
    grade::fora_da_grade(&faixas, dia, slot, minutes)
}

fn slot_taken(slot: DateTime) -> AppError {
    AppError::conflict(
        "horario_ocupado",
        format!("O horário {} já está ocupado.", format_datetime(slot)),
    )
}

/// 422 `fora_do_horizonte` (SPEC-2 §11's code) for a slot on a day after today plus
/// `--horizonte-dias`: one client cannot hold a doctor's agenda for months or years ahead.
fn check_horizon(app: &App, slot: DateTime) -> Result<(), AppError> {
    let dias = app.config.horizonte_dias;
    let limite = app
        .clock
        .today()
        .saturating_add(jiff::Span::new().days(i64::from(dias)));
    if slot.date() > limite {
        return Err(AppError::Unprocessable {
            code: "fora_do_horizonte",
            detail: format!(
                "O horário {} está além do horizonte de agendamento: só é possível reservar ou agendar até {limite} ({dias} dias a partir de hoje).",
                format_datetime(slot)
            ),
        });
    }
    Ok(())
}

/// Checks a slot for a hold or a booking: the doctor exists (404), the slot is inside the
/// horizon (422), on their grid (422), exists in the clinic's zone (not skipped by a
/// daylight-saving change, 422) and is not in the past (422).
fn check_slot(app: &App, db: &Db, medico_id: &str, slot: DateTime) -> Result<(), AppError> {
    if db.medicos.get(medico_id).is_none() {
        return Err(AppError::not_found("Médico"));
    }
    check_horizon(app, slot)?;
    if let Err(m) = Momento::resolve(slot, app.clock.tz()) {
        return Err(AppError::campo("slot", m));
    }
    if !on_grid(db, medico_id, slot, app.config.slot_minutes) {
        return Err(AppError::campo(
            "slot",
            fora_da_grade(db, medico_id, slot, app.config.slot_minutes),
        ));
    }
    if slot < app.clock.now_local() {
        return Err(AppError::campo(
            "slot",
            "não é possível usar um horário no passado",
        ));
    }
    Ok(())
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
            Self::Ocupado(c) => (
                "horario_ocupado",
                format!(
                    "O horário {} já está ocupado pela consulta {}.",
                    format_datetime(inicio),
                    c.id
                ),
            ),
        };
        crate::models::ErroTarefa {
            code: code.into(),
            detail,
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
