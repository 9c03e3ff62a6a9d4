//! The slot agenda (SPEC §3): the grid of `slot_minutes` steps inside each horário, slot
//! states, holds, and the synchronous half of `POST /consultas/agendar` (SPEC §2).

use std::collections::HashSet;
use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

pub use super::consultas::{Liberacao, vaga_liberada};
use super::consultas::{NovaConsulta, check_overlaps, check_refs};
use super::grade::grid;
use super::horarios::covered_slots;
use super::{App, Contexto, Escopo, bloqueios, horarios, lista_espera, new_id, tarefas};
use crate::domain::{DiaSemana, Intervalo, Momento, format_datetime};
use crate::error::AppError;
use crate::models::{Agendado, Estado, Horario, Liberado, Papel, Reserva, Reservado, TipoTarefa};
use crate::repositories::{Db, Op};

mod agendar;
mod oferta;
mod operacoes;
mod reservas;
mod serie;
mod slots;

pub use super::alvo::*;
pub use agendar::*;
pub use oferta::*;
pub use operacoes::*;
pub use reservas::*;
pub use serie::*;
pub use slots::*;

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
