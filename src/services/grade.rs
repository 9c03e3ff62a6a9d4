//! Slot arithmetic (SPEC §3), pure over the data it is given: the grid of `slot_minutes`
//! steps inside a horário, the minutes an interval covers, whether they fit the day's
//! horários, and why a start is not on the grid (SPEC §2 `agendar`, §3 `reservar`: the answer
//! names the rule that failed — no working hours that weekday, outside the hours that day, or
//! between two grid steps — and what is allowed). No store, no App: only domain and models.

use std::sync::Arc;

use jiff::SignedDuration;
use jiff::civil::{Date, DateTime};

use crate::domain::{DiaSemana, Hora};
use crate::models::Horario;

/// One grid step of `minutes`.
pub fn step(minutes: u16) -> SignedDuration {
    SignedDuration::from_mins(i64::from(minutes))
}

/// The grid slot starts of one horário on one date.
pub fn grid(h: &Horario, date: Date, minutes: u16) -> impl Iterator<Item = DateTime> + '_ {
    let end = h.hora_fim.minutes();
    (h.hora_inicio.minutes()..)
        .step_by(usize::from(minutes.max(1)))
        .take_while(move |m| m + minutes <= end)
        .map(move |m| date.at((m / 60) as i8, (m % 60) as i8, 0, 0))
}

/// `[inicio, fim)` as minutes of `inicio`'s day (an end with seconds rounds up), or `None`
/// when it ends on another day.
pub fn day_minutes(inicio: DateTime, fim: DateTime) -> Option<(i32, i32)> {
    let start = i32::from(inicio.hour()) * 60 + i32::from(inicio.minute());
    if fim.date() != inicio.date() {
        return None;
    }
    Some((
        start,
        i32::from(fim.hour()) * 60 + i32::from(fim.minute()) + i32::from(fim.second() > 0),
    ))
}

/// Whether the minutes `[start, end)` of a day lie inside one stretch of `faixas`
/// (`(inicio, fim)` of that day's horários, by start; adjacent ones join).
pub fn within_faixas(faixas: &[(Hora, Hora)], start: i32, end: i32) -> bool {
    let mut stretch: Option<(i32, i32)> = None;
    for (ini, fim) in faixas {
        let (a, b) = (i32::from(ini.minutes()), i32::from(fim.minutes()));
        stretch = match stretch {
            Some((s, e)) if a <= e => Some((s, e.max(b))),
            Some((s, e)) => {
                if s <= start && end <= e {
                    return true;
                }
                Some((a, b))
            }
            None => Some((a, b)),
        };
    }
    stretch.is_some_and(|(s, e)| s <= start && end <= e)
}

/// The grid slots that `[inicio, fim)` covers, in time order, given the doctor's horários
/// of each weekday (`horarios_do_dia`).
pub fn covered_slots(
    horarios_do_dia: impl Fn(DiaSemana) -> Vec<Arc<Horario>>,
    inicio: DateTime,
    fim: DateTime,
    minutes: u16,
) -> Vec<DateTime> {
    let mut out = Vec::new();
    let mut date = inicio.date();
    while date <= fim.date() {
        for h in horarios_do_dia(DiaSemana::of(date)) {
            out.extend(
                grid(&h, date, minutes)
                    .filter(|s| *s < fim && s.saturating_add(step(minutes)) > inicio),
            );
        }
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    out.sort();
    out.dedup();
    out
}

/// "às segundas-feiras", "aos sábados": the weekday as a sentence says it.
fn nos_dias(dia: DiaSemana) -> &'static str {
    match dia {
        DiaSemana::Segunda => "às segundas-feiras",
        DiaSemana::Terca => "às terças-feiras",
        DiaSemana::Quarta => "às quartas-feiras",
        DiaSemana::Quinta => "às quintas-feiras",
        DiaSemana::Sexta => "às sextas-feiras",
        DiaSemana::Sabado => "aos sábados",
        DiaSemana::Domingo => "aos domingos",
    }
}

/// "HH:MM".
fn hhmm(m: u16) -> String {
    format!("{:02}:{:02}", m / 60, m % 60)
}

/// The field message for a `slot` (or `inicio`) that is not a grid start, given the
/// doctor's `faixas` (start and end minutes) of the slot's weekday `dia`.
pub fn fora_da_grade(
    faixas: &[(u16, u16)],
    dia: DiaSemana,
    slot: DateTime,
    minutes: u16,
) -> String {
    if faixas.is_empty() {
        return format!("o médico não atende {}", nos_dias(dia));
    }
    let lista = faixas
        .iter()
        .map(|(a, b)| format!("das {} às {}", hhmm(*a), hhmm(*b)))
        .collect::<Vec<_>>()
        .join(", ");
    let t = u16::from(slot.hour() as u8) * 60 + u16::from(slot.minute() as u8);
    let hora = hhmm(t);
    let step = minutes.max(1);
    let dentro = faixas.iter().find(|(a, b)| *a <= t && t < *b);
    match dentro {
        None => format!("{hora} está fora do horário de atendimento do médico nesse dia ({lista})"),
        Some((a, _))
            if slot.second() != 0 || slot.subsec_nanosecond() != 0 || (t - a) % step != 0 =>
        {
            format!(
                "{hora} não é início de um horário da agenda: os horários começam a cada {step} minutos a partir de {} ({lista})",
                hhmm(*a)
            )
        }
        Some((_, b)) => format!(
            "o horário das {hora} terminaria depois do fim do atendimento ({}); o último começa {step} minutos antes do fim",
            hhmm(*b)
        ),
    }
}
