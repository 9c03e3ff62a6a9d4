//! The clinic's rules (SPEC-2 §11, `/sistema/regras`): minimum notice, booking horizon,
//! cancellation cutoff, holds per patient, the waiting list's offer time and the reminders'
//! lead times. One function per check, each called by every path the rule governs
//! (`agendar` and its booking task, `reservar`, `remarcar`, `cancelar`) inside the write
//! that decides, under the store's write lock. The front desk's synchronous
//! `POST /consultas` and `PUT /consultas/{id}` stay free of them (exceptions go there).
//!
//! The checks take `agora` and `hoje` as values, so their boundaries are tested exactly.

use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use super::{App, Contexto};
use crate::domain::format_datetime;
use crate::error::AppError;
use crate::models::{Papel, Regras};
use crate::repositories::{Db, Op};

/// Largest minimum notice: one year, in minutes.
pub const MAX_ANTECEDENCIA_MINUTOS: u32 = 525_600;
/// Largest horizon, in days (ten years).
pub const MAX_HORIZONTE_DIAS: u32 = 3_650;
/// Largest cancellation cutoff: one year, in hours.
pub const MAX_PRAZO_HORAS: u32 = 8_760;
/// Largest holds-per-patient limit.
pub const MAX_RESERVAS: u32 = 1_000;
/// Offer time bounds, in minutes (one minute to one day).
pub const OFERTA_MINUTOS: std::ops::RangeInclusive<u32> = 1..=1_440;
/// A reminder's lead time bounds, in hours (one hour to thirty days).
pub const LEMBRETE_HORAS: std::ops::RangeInclusive<u32> = 1..=720;
/// At most this many reminders per appointment.
pub const MAX_LEMBRETES: usize = 10;

/// The rules in force in `db` (the defaults until an administrator changes them).
pub fn atuais(db: &Db) -> Regras {
    db.regras
        .get(Regras::ID)
        .map_or_else(Regras::default, |r| Regras::clone(r))
}

/// `GET /sistema/regras`.
pub fn ler(app: &App) -> Regras {
    atuais(&app.store.read())
}

/// A validated partial change: `None` keeps a field; for the first four, `Some(None)`
/// removes the rule.
#[derive(Debug, Default)]
pub struct AlteraRegras {
    /// New minimum notice.
    pub antecedencia_minima_minutos: Option<Option<u32>>,
    /// New horizon.
    pub horizonte_dias: Option<Option<u32>>,
    /// New cutoff.
    pub prazo_cancelamento_horas: Option<Option<u32>>,
    /// New holds limit.
    pub max_reservas_por_paciente: Option<Option<u32>>,
    /// New offer time.
    pub oferta_minutos: Option<u32>,
    /// New reminder lead times (sorted, longest first).
    pub lembretes_horas: Option<Vec<u32>>,
}

/// `PUT /sistema/regras`: changes the fields sent, journaled (and audited) in one write.
pub async fn alterar(app: &App, ctx: &Contexto, alt: AlteraRegras) -> Result<Regras, AppError> {
    app.commit(ctx, |db| {
        let old = atuais(db);
        let mut r = old.clone();
        if let Some(v) = alt.antecedencia_minima_minutos {
            r.antecedencia_minima_minutos = v;
        }
        if let Some(v) = alt.horizonte_dias {
            r.horizonte_dias = v;
        }
        if let Some(v) = alt.prazo_cancelamento_horas {
            r.prazo_cancelamento_horas = v;
        }
        if let Some(v) = alt.max_reservas_por_paciente {
            r.max_reservas_por_paciente = v;
        }
        if let Some(v) = alt.oferta_minutos {
            r.oferta_minutos = v;
        }
        if let Some(v) = alt.lembretes_horas.clone() {
            r.lembretes_horas = v;
        }
        if r == old && db.regras.get(Regras::ID).is_some() {
            return Ok((vec![], r));
        }
        Ok((vec![Op::PutRegras(Arc::new(r.clone()))], r))
    })
    .await
}

/// What is wrong with stored rules `r` against the bounds `PUT /sistema/regras` enforces
/// (for a restored archive; empty when they are valid).
pub fn problemas(r: &Regras) -> Vec<String> {
    let mut out = Vec::new();
    let mut fora = |campo: &str, v: Option<u32>, min: u32, max: u32| {
        if let Some(v) = v.filter(|v| *v < min || *v > max) {
            out.push(format!("{campo}: {v} fora do intervalo {min}..{max}"));
        }
    };
    fora(
        "antecedencia_minima_minutos",
        r.antecedencia_minima_minutos,
        0,
        MAX_ANTECEDENCIA_MINUTOS,
    );
    fora("horizonte_dias", r.horizonte_dias, 1, MAX_HORIZONTE_DIAS);
    fora(
        "prazo_cancelamento_horas",
        r.prazo_cancelamento_horas,
        0,
        MAX_PRAZO_HORAS,
    );
    fora(
        "max_reservas_por_paciente",
        r.max_reservas_por_paciente,
        0,
        MAX_RESERVAS,
    );
    fora(
        "oferta_minutos",
        Some(r.oferta_minutos),
        *OFERTA_MINUTOS.start(),
        *OFERTA_MINUTOS.end(),
    );
    for h in &r.lembretes_horas {
        fora(
            "lembretes_horas",
            Some(*h),
            *LEMBRETE_HORAS.start(),
            *LEMBRETE_HORAS.end(),
        );
    }
    let mut vistos = r.lembretes_horas.clone();
    vistos.sort_unstable();
    vistos.dedup();
    if vistos.len() != r.lembretes_horas.len() || r.lembretes_horas.len() > MAX_LEMBRETES {
        out.push(format!(
            "lembretes_horas: no máximo {MAX_LEMBRETES}, sem repetições"
        ));
    }
    out
}

/// 422 `antecedencia_minima`: a booking, hold or move to `inicio` (an instant) sooner than
/// the minimum notice after `agora`. Exactly at the notice is allowed.
pub fn antecedencia(
    r: &Regras,
    agora: Timestamp,
    inicio: Timestamp,
    local: DateTime,
) -> Result<(), AppError> {
    let Some(min) = r.antecedencia_minima_minutos else {
        return Ok(());
    };
    let limite = agora
        .saturating_add(SignedDuration::from_mins(i64::from(min)))
        .unwrap_or(Timestamp::MAX);
    if inicio < limite {
        return Err(AppError::Unprocessable {
            code: "antecedencia_minima",
            detail: format!(
                "O horário {} está perto demais: a clínica pede {} de antecedência.",
                format_datetime(local),
                duracao(min)
            ),
        });
    }
    Ok(())
}

/// 422 `fora_do_horizonte`: a booking, hold or move to a day after `hoje` plus the
/// clinic's horizon. The last day of the horizon is allowed.
fn horizonte(r: &Regras, hoje: Date, local: DateTime) -> Result<(), AppError> {
    let Some(dias) = r.horizonte_dias else {
        return Ok(());
    };
    let limite = hoje.saturating_add(jiff::Span::new().days(i64::from(dias)));
    if local.date() > limite {
        return Err(AppError::Unprocessable {
            code: "fora_do_horizonte",
            detail: format!(
                "O horário {} está além do horizonte de agendamento da clínica: só é possível agendar até {limite} ({dias} dias a partir de hoje).",
                format_datetime(local)
            ),
        });
    }
    Ok(())
}

/// The rules a booking, hold, move or waiting-list offer to `inicio` (an instant; `local`,
/// the clinic's time of it) must pass as of `agora` (SPEC-2 §11): the minimum notice
/// ([`antecedencia`]), then the horizon ([`horizonte`], counted from today in `tz`).
pub fn marcacao(
    r: &Regras,
    agora: Timestamp,
    tz: &TimeZone,
    inicio: Timestamp,
    local: DateTime,
) -> Result<(), AppError> {
    antecedencia(r, agora, inicio, local)?;
    horizonte(r, agora.to_zoned(tz.clone()).date(), local)
}

/// 409 `prazo_cancelamento`: cancelling or moving an appointment that starts at `inicio`
/// (an instant) less than the cutoff after `agora` (or already started). Exactly at the
/// cutoff is allowed.
pub fn prazo_cancelamento(
    r: &Regras,
    agora: Timestamp,
    inicio: Timestamp,
    local: DateTime,
) -> Result<(), AppError> {
    let Some(horas) = r.prazo_cancelamento_horas else {
        return Ok(());
    };
    let limite = agora
        .saturating_add(SignedDuration::from_hours(i64::from(horas)))
        .unwrap_or(Timestamp::MAX);
    if inicio < limite {
        return Err(AppError::conflict(
            "prazo_cancelamento",
            format!(
                "A consulta de {} começa em menos de {horas} hora(s): o prazo para cancelar ou remarcar pela agenda acabou; fale com a recepção.",
                format_datetime(local)
            ),
        ));
    }
    Ok(())
}

/// 409 `limite_reservas`: a `paciente` user who would hold more than the allowed live
/// holds at `agora` after adding `novas`. Other roles hold without this limit.
pub fn limite_reservas(
    r: &Regras,
    db: &Db,
    ctx: &Contexto,
    novas: usize,
    agora: Timestamp,
) -> Result<(), AppError> {
    let Some(max) = r.max_reservas_por_paciente else {
        return Ok(());
    };
    let Some(c) = ctx.chamador.as_ref().filter(|c| c.papel == Papel::Paciente) else {
        return Ok(());
    };
    let Some(usuario) = c.usuario_id.as_deref() else {
        return Ok(());
    };
    if novas == 0 {
        return Ok(());
    }
    let vivas = db
        .reservas
        .iter()
        .filter(|h| h.expira_em > agora && h.usuario_id.as_deref() == Some(usuario))
        .count();
    if vivas.saturating_add(novas) > max as usize {
        return Err(AppError::conflict(
            "limite_reservas",
            format!(
                "Você já tem {vivas} reserva(s) ativa(s); a clínica permite no máximo {max} por paciente. Conclua ou libere uma reserva antes."
            ),
        ));
    }
    Ok(())
}

/// "90 minutos", "2 horas", "1 dia" for a number of minutes.
fn duracao(min: u32) -> String {
    match min {
        1 => "1 minuto".into(),
        m if m % 1440 == 0 && m >= 1440 => {
            let d = m / 1440;
            if d == 1 {
                "1 dia".into()
            } else {
                format!("{d} dias")
            }
        }
        m if m % 60 == 0 && m >= 60 => {
            let h = m / 60;
            if h == 1 {
                "1 hora".into()
            } else {
                format!("{h} horas")
            }
        }
        m => format!("{m} minutos"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::tz::TimeZone;

    fn sp() -> TimeZone {
        TimeZone::get("America/Sao_Paulo").expect("zone")
    }

    /// `local` in São Paulo as an instant.
    fn em(local: DateTime) -> Timestamp {
        local.to_zoned(sp()).expect("exists").timestamp()
    }

    fn regras() -> Regras {
        Regras {
            antecedencia_minima_minutos: Some(120),
            horizonte_dias: Some(30),
            prazo_cancelamento_horas: Some(24),
            ..Regras::default()
        }
    }

    #[test]
    fn stored_rules_out_of_bounds_are_named() {
        assert!(problemas(&Regras::default()).is_empty());
        let r = Regras {
            horizonte_dias: Some(0),
            oferta_minutos: 0,
            lembretes_horas: vec![24, 24],
            ..Regras::default()
        };
        let p = problemas(&r);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("horizonte_dias"), "{p:?}");
    }

    #[test]
    fn minimum_notice_allows_exactly_the_notice_and_refuses_a_minute_less() {
        let agora = em(jiff::civil::datetime(2026, 3, 2, 8, 0, 0, 0));
        let r = regras();
        let ok = jiff::civil::datetime(2026, 3, 2, 10, 0, 0, 0);
        assert!(antecedencia(&r, agora, em(ok), ok).is_ok());
        let cedo = jiff::civil::datetime(2026, 3, 2, 9, 59, 0, 0);
        let e = antecedencia(&r, agora, em(cedo), cedo).expect_err("too soon");
        assert_eq!(e.status(), 422);
        assert_eq!(e.problema().code, "antecedencia_minima");
        assert!(
            e.problema().detail.contains("2 horas"),
            "{}",
            e.problema().detail
        );
        // No rule: anything goes.
        assert!(antecedencia(&Regras::default(), agora, em(cedo), cedo).is_ok());
    }

    #[test]
    fn horizon_allows_its_last_day_and_refuses_the_next() {
        let hoje = jiff::civil::date(2026, 3, 2);
        let r = regras();
        let ultimo = jiff::civil::datetime(2026, 4, 1, 23, 30, 0, 0);
        assert!(horizonte(&r, hoje, ultimo).is_ok());
        let depois = jiff::civil::datetime(2026, 4, 2, 0, 0, 0, 0);
        let e = horizonte(&r, hoje, depois).expect_err("beyond");
        assert_eq!(e.status(), 422);
        assert_eq!(e.problema().code, "fora_do_horizonte");
    }

    #[test]
    fn cutoff_allows_exactly_the_cutoff_and_refuses_a_minute_less() {
        let agora = em(jiff::civil::datetime(2026, 3, 2, 8, 0, 0, 0));
        let r = regras();
        let no_prazo = jiff::civil::datetime(2026, 3, 3, 8, 0, 0, 0);
        assert!(prazo_cancelamento(&r, agora, em(no_prazo), no_prazo).is_ok());
        let tarde = jiff::civil::datetime(2026, 3, 3, 7, 59, 0, 0);
        let e = prazo_cancelamento(&r, agora, em(tarde), tarde).expect_err("within");
        assert_eq!(e.status(), 409);
        assert_eq!(e.problema().code, "prazo_cancelamento");
    }

    /// The cutoff counts real hours: across the clinic's (historical) daylight-saving end
    /// of 2019-02-17 in São Paulo, 24 hours before 08:00 is 09:00 local of the day before.
    #[test]
    fn cutoff_counts_real_hours_across_a_clock_change() {
        let r = regras();
        let inicio = jiff::civil::datetime(2019, 2, 17, 8, 0, 0, 0);
        let agora_ok = em(jiff::civil::datetime(2019, 2, 16, 9, 0, 0, 0));
        assert!(prazo_cancelamento(&r, agora_ok, em(inicio), inicio).is_ok());
        let agora_tarde = em(jiff::civil::datetime(2019, 2, 16, 9, 1, 0, 0));
        assert!(prazo_cancelamento(&r, agora_tarde, em(inicio), inicio).is_err());
    }
}
