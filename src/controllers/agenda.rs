//! `/agenda` (SPEC §3): the slot grid and holds.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Autenticado, Autorizado, Reservas};
use super::extract::{ApiQuery, Json, JsonBody, Requisicao};
use crate::domain::{parse_date, parse_datetime};
use crate::error::{AppError, Erros};
use crate::models::{Estado, Liberado, Papel, Reservado};
use crate::services::agenda::{self, SlotsMedico};
use crate::services::{AppState, Escopo};

/// Query of `GET /agenda/slots`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SlotsQuery {
    /// How many days, 1..=90 (default 7).
    #[param(minimum = 1, maximum = 90)]
    pub days: Option<i64>,
    /// Only this doctor.
    pub medico_id: Option<String>,
    /// First day (`YYYY-MM-DD`, default today in the clinic).
    pub de: Option<String>,
}

/// Body of `POST /agenda/reservar` and `POST /agenda/liberar`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotBody {
    /// The doctor.
    pub medico_id: String,
    /// The slot's clinic-local start.
    #[schema(example = "2026-03-02T08:00:00")]
    pub slot: String,
}

/// A slot's key, `YYYY-MM-DDTHH:MM:SS`, written digit by digit (tens of thousands per answer).
fn slot_key(d: jiff::civil::DateTime) -> [u8; 19] {
    let mut b = *b"0000-00-00T00:00:00";
    let mut put = |at: usize, width: usize, v: i64| {
        let mut v = v.unsigned_abs();
        for k in (0..width).rev() {
            b[at + k] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(0, 4, i64::from(d.year()));
    put(5, 2, i64::from(d.month()));
    put(8, 2, i64::from(d.day()));
    put(11, 2, i64::from(d.hour()));
    put(14, 2, i64::from(d.minute()));
    put(17, 2, i64::from(d.second()));
    b
}

/// A state as its JSON string (the `lowercase` names of [`Estado`]'s serde form).
fn estado_json(e: Estado) -> &'static [u8] {
    match e {
        Estado::Disponivel => b"\"disponivel\"",
        Estado::Reservado => b"\"reservado\"",
        Estado::Ocupado => b"\"ocupado\"",
    }
}

/// `{ medico_id: { slot: state } }`, written in order straight into one buffer sized up
/// front: the answer is tens of thousands of fixed-shape entries (2 MiB for 50 doctors over
/// 30 days), where a generic serializer spent a fifth of the request checking the keys for
/// escapes and growing its buffer. Only the doctors' ids go through `serde_json`.
fn slots_json(view: &[SlotsMedico]) -> Result<Vec<u8>, AppError> {
    let n: usize = view.iter().map(|(_, l)| l.len()).sum();
    // `"YYYY-MM-DDTHH:MM:SS":"disponivel",` is at most 35 bytes.
    let mut out = Vec::with_capacity(2 + n * 35 + view.len() * 48);
    out.push(b'{');
    for (i, (id, slots)) in view.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, id).map_err(|e| AppError::Internal(e.to_string()))?;
        out.extend_from_slice(b":{");
        for (k, (slot, estado)) in slots.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.push(b'"');
            out.extend_from_slice(&slot_key(*slot));
            out.extend_from_slice(b"\":");
            out.extend_from_slice(estado_json(*estado));
        }
        out.push(b'}');
    }
    out.push(b'}');
    Ok(out)
}

impl SlotBody {
    fn validate(
        &self,
        tz: &jiff::tz::TimeZone,
    ) -> Result<(String, jiff::civil::DateTime), AppError> {
        let mut e = Erros::default();
        if crate::domain::trim(&self.medico_id).is_empty() {
            e.push("medico_id", "campo obrigatório");
        }
        let slot = e.check("slot", parse_datetime(&self.slot, tz));
        e.finish()?;
        let slot =
            slot.ok_or_else(|| AppError::Internal("validation passed without values".into()))?;
        Ok((crate::domain::trim(&self.medico_id).to_owned(), slot))
    }
}

/// The agenda: each doctor's slots and their states (`disponivel`, `reservado`, `ocupado`).
///
/// A request whose grid would exceed `--max-slots` slots is refused with 422
/// `agenda_too_large`: ask for fewer days or one doctor.
#[utoipa::path(get, path = "/agenda/slots", tag = "agenda", params(SlotsQuery),
    responses((status = 200, description = "Por médico, cada slot (data e hora locais) e seu estado",
        body = std::collections::HashMap<String, std::collections::HashMap<String, Estado>>),
        (status = 422, description = "Parâmetros inválidos, ou agenda acima de --max-slots horários (agenda_too_large)",
        body = crate::error::Problema, content_type = "application/problem+json")))]
pub async fn list_slots(
    _: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiQuery(q): ApiQuery<SlotsQuery>,
) -> Result<Response, AppError> {
    let mut e = Erros::default();
    let days = match q.days {
        None => 7,
        Some(d @ 1..=90) => d as u16,
        Some(_) => {
            e.push("days", "deve estar entre 1 e 90");
            7
        }
    };
    let de = q.de.as_deref().and_then(|d| e.check("de", parse_date(d)));
    e.finish()?;
    let de = de.unwrap_or_else(|| app.clock.today());
    let medico = q
        .medico_id
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty());
    let body = slots_json(&agenda::agenda(&app, medico, de, days)?)?;
    let mut res = body.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(res)
}

/// Holds a free slot for the configured time (default 300 s).
#[utoipa::path(post, path = "/agenda/reservar", tag = "agenda", request_body = SlotBody,
    responses((status = 200, body = Reservado)))]
pub async fn create_reserva(
    quem: Autorizado<Reservas>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<SlotBody>,
) -> Result<(StatusCode, Json<Reservado>), AppError> {
    let (medico_id, slot) = body.validate(app.clock.tz())?;
    propria_agenda(&quem, &medico_id)?;
    let r = req.responde(StatusCode::OK);
    agenda::reservar(&app, r.ctx(), &medico_id, slot)
        .await
        .map(|v| r.json(v))
}

/// Releases a held slot.
#[utoipa::path(post, path = "/agenda/liberar", tag = "agenda", request_body = SlotBody,
    responses((status = 200, body = Liberado)))]
pub async fn delete_reserva(
    quem: Autorizado<Reservas>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<SlotBody>,
) -> Result<(StatusCode, Json<Liberado>), AppError> {
    let (medico_id, slot) = body.validate(app.clock.tz())?;
    propria_agenda(&quem, &medico_id)?;
    let r = req.responde(StatusCode::OK);
    agenda::liberar(&app, r.ctx(), &medico_id, slot)
        .await
        .map(|v| r.json(v))
}

/// SPEC-2 §10 "agenda slots, holds": a `medico` holds and releases slots of their own
/// agenda only; another doctor's is 403 `sem_permissao`, as for another doctor's horários
/// (the agenda itself is readable by every role, so nothing is hidden behind a 404). Staff
/// and patients (who hold for themselves) pass; whose hold a release may end is decided by
/// the service (the holder or staff).
fn propria_agenda(quem: &Autorizado<Reservas>, medico_id: &str) -> Result<(), AppError> {
    match quem.escopo() {
        Escopo::Medico(m) if m != medico_id => Err(AppError::Forbidden),
        Escopo::Nada if quem.0.papel == Papel::Medico => Err(AppError::Forbidden),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_keys_match_the_clinic_datetime_format() {
        for dt in [
            jiff::civil::date(2026, 3, 2).at(8, 0, 0, 0),
            jiff::civil::date(999, 12, 31).at(23, 59, 59, 0),
            jiff::civil::date(2024, 2, 29).at(0, 30, 0, 0),
        ] {
            let ours = std::str::from_utf8(&slot_key(dt)).ok().map(str::to_owned);
            assert_eq!(ours, Some(crate::domain::format_datetime(dt)));
        }
    }

    #[test]
    fn the_hand_written_agenda_is_the_json_serde_would_write() {
        let d = jiff::civil::date(2026, 3, 2);
        let view: Vec<SlotsMedico> = vec![
            (
                "m-1".into(),
                vec![
                    (d.at(8, 0, 0, 0), Estado::Disponivel),
                    (d.at(8, 30, 0, 0), Estado::Reservado),
                    (d.at(9, 0, 0, 0), Estado::Ocupado),
                ],
            ),
            ("id \"estranho\"\\".into(), vec![]),
            ("m-3".into(), vec![(d.at(17, 45, 0, 0), Estado::Ocupado)]),
        ];
        let ours: serde_json::Value =
            serde_json::from_slice(&slots_json(&view).expect("written")).expect("valid JSON");
        let mut expected = serde_json::Map::new();
        for (id, slots) in &view {
            let mut m = serde_json::Map::new();
            for (slot, estado) in slots {
                m.insert(
                    crate::domain::format_datetime(*slot),
                    serde_json::to_value(estado).expect("estado"),
                );
            }
            expected.insert(id.clone(), serde_json::Value::Object(m));
        }
        assert_eq!(ours, serde_json::Value::Object(expected));
        assert_eq!(slots_json(&[]).expect("written"), b"{}");
    }
}
