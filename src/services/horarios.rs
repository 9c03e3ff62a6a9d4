//! Weekly working hours: `hora_inicio < hora_fim`, no overlap with another horário of the
//! same doctor on the same weekday (touching ends are fine).

use std::ops::Bound;
use std::sync::Arc;

use axum::http::StatusCode;

use super::{App, new_id};
use crate::domain::{DiaSemana, Hora, overlaps};
use crate::error::AppError;
use crate::models::Horario;
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

/// A doctor's horários by weekday and start.
pub fn of_medico<'a>(
    db: &'a Db,
    medico_id: &str,
) -> impl DoubleEndedIterator<Item = &'a Arc<Horario>> + 'a {
    let lo = (medico_id.to_owned(), DiaSemana::Segunda, Hora::MIN);
    let hi = (medico_id.to_owned(), DiaSemana::Domingo, Hora::MAX);
    db.horarios.range(Bound::Included(lo), Bound::Included(hi))
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
pub async fn create(app: &App, medico_id: &str, f: Faixa) -> Result<Arc<Horario>, AppError> {
    app.commit(StatusCode::CREATED, |db| {
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

/// Changes a horário (404 unknown, 422 bad range, 409 overlap).
pub async fn update(app: &App, id: &str, alt: AlteraHorario) -> Result<Arc<Horario>, AppError> {
    app.commit(StatusCode::OK, |db| {
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
            return Ok((vec![], old.clone()));
        }
        Ok((vec![Op::PutHorario(h.clone())], h))
    })
    .await
    .inspect(|h| announce(app, &h.medico_id))
}

/// Deletes a horário (404 unknown).
pub async fn delete(app: &App, id: &str) -> Result<Arc<Horario>, AppError> {
    app.commit(StatusCode::NO_CONTENT, |db| {
        let old = db
            .horarios
            .get(id)
            .ok_or_else(|| AppError::not_found("Horário"))?;
        Ok((vec![Op::DelHorario(id.to_owned())], old.clone()))
    })
    .await
    .inspect(|h| announce(app, &h.medico_id))
}

/// `horario_atualizado`: the doctor's grid changed.
pub fn announce(app: &App, medico_id: &str) {
    app.events.publish(
        "horario_atualizado",
        &serde_json::json!({ "medico_id": medico_id }),
    );
}
