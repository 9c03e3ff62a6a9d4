//! Why a start is not on a doctor's slot grid (SPEC §2 `agendar`, §3 `reservar`): the answer
//! names the rule that failed (no working hours that weekday, outside the hours that day,
//! or between two grid steps) and what is allowed, instead of one sentence for all three.

use jiff::civil::DateTime;

use super::horarios;
use crate::domain::DiaSemana;
use crate::repositories::Db;

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

/// The field message for a `slot` (or `inicio`) that is not a grid start of `medico_id`.
pub fn fora_da_grade(db: &Db, medico_id: &str, slot: DateTime, minutes: u16) -> String {
    let dia = DiaSemana::of(slot.date());
    let faixas: Vec<(u16, u16)> = horarios::of_medico(db, medico_id)
        .filter(|h| h.dia_semana == dia)
        .map(|h| (h.hora_inicio.minutes(), h.hora_fim.minutes()))
        .collect();
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
