//! Statistics of the clinic (SPEC-2 §15): every figure of `GET /relatorios/estatisticas`,
//! computed in one pass over the in-memory start-time indexes (per doctor when the request
//! names a doctor or a speciality, the whole by-start index otherwise). Nothing is stored.
//!
//! Definitions (also in the OpenAPI descriptions and the README):
//! - an appointment is *in the period* when its clinic-local start falls on a day from `de`
//!   to `ate`, both inclusive; `total` and every breakdown count all of them, cancelled
//!   ones included;
//! - `taxa_ocupacao` = minutes of non-cancelled appointments (real elapsed minutes between
//!   start and end) / working minutes of the doctors in scope (each day of the period, the
//!   minutes of that doctor's horários on its weekday; today's horários, since they keep no
//!   history; no blocks yet, SPEC-2 §11), capped at 1 (an appointment recorded outside the
//!   working hours would otherwise push it over);
//! - `taxa_faltas` = `faltou / (concluida + faltou)`; `taxa_cancelamento` = `cancelada / total`;
//! - `antecedencia_mediana_horas` = median of the hours from `created_at` to the start,
//!   over the appointments created before their start (a record entered after the fact
//!   would say nothing about how far ahead patients book);
//! - a rate whose denominator is zero is `null`.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};

use super::{App, Escopo, horarios};
use crate::domain::{DiaSemana, fold};
use crate::error::AppError;
use crate::models::{
    Consulta, EstatisticaConvenio, EstatisticaDiaSemana, EstatisticaEspecialidade, EstatisticaHora,
    EstatisticaMedico, Estatisticas, Medico, Periodo, PorStatus, StatusConsulta,
};
use crate::repositories::Db;

/// The longest period one request may cover, in days (a leap year).
pub const MAX_DIAS: i64 = 366;

/// Validated filters of a statistics request.
#[derive(Debug, Clone)]
pub struct FiltroEstatisticas {
    /// First day, inclusive.
    pub de: Date,
    /// Last day, inclusive (not before `de`, at most [`MAX_DIAS`] days from it).
    pub ate: Date,
    /// Only this doctor (404 when unknown).
    pub medico_id: Option<String>,
    /// Only doctors of this speciality (compared without case or accents).
    pub especialidade: Option<String>,
}

impl PorStatus {
    fn add(&mut self, s: StatusConsulta) {
        let n = match s {
            StatusConsulta::Agendada => &mut self.agendada,
            StatusConsulta::Confirmada => &mut self.confirmada,
            StatusConsulta::Concluida => &mut self.concluida,
            StatusConsulta::Faltou => &mut self.faltou,
            StatusConsulta::Cancelada => &mut self.cancelada,
        };
        *n += 1;
    }
}

/// `num / den` rounded to four decimals, `None` when `den` is zero.
fn taxa(num: u64, den: u64) -> Option<f64> {
    (den > 0).then(|| ((num as f64 / den as f64) * 10_000.0).round() / 10_000.0)
}

/// Occupancy: like [`taxa`], capped at 1.
fn ocupacao(ocupados: u64, trabalho: u64) -> Option<f64> {
    taxa(ocupados.min(trabalho), trabalho)
}

/// The median of `v` (sorted in place), `None` when empty.
fn mediana(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The clinic's UTC offset at the start of each day from `de` on, so that the instants of
/// an appointment on a day without an offset change are plain arithmetic instead of a
/// time-zone lookup (the lookups were most of the cost at 100,000 appointments).
struct Offsets {
    de: Date,
    /// `at[i]`: the offset at midnight of `de + i` (`compatible` if midnight is skipped).
    at: Vec<Offset>,
}

impl Offsets {
    fn new(tz: &TimeZone, de: Date, dias: usize) -> Self {
        let mut at = Vec::with_capacity(dias + 3);
        let mut d = de;
        for _ in 0..dias + 3 {
            let off = tz
                .to_ambiguous_zoned(d.at(0, 0, 0, 0))
                .compatible()
                .map_or(Offset::UTC, |z| z.offset());
            at.push(off);
            match d.tomorrow() {
                Ok(n) => d = n,
                Err(_) => break,
            }
        }
        Self { de, at }
    }

    /// The offset of `d` when it is the same all day (same at its midnight and the next).
    fn fixo(&self, d: Date) -> Option<Offset> {
        let i = usize::try_from((d - self.de).get_days()).ok()?;
        let (a, b) = (*self.at.get(i)?, *self.at.get(i + 1)?);
        (a == b).then_some(a)
    }

    /// `[inicio, fim)` of `c` as instants: arithmetic when both ends fall on days without an
    /// offset change and carry no stored fold offset, the full conversion otherwise.
    fn instantes(&self, c: &Consulta, tz: &TimeZone) -> (Timestamp, Timestamp) {
        if c.inicio_offset.is_none()
            && c.fim_offset.is_none()
            && let (Some(a), Some(b)) = (self.fixo(c.inicio.date()), self.fixo(c.fim.date()))
            && let (Ok(i), Ok(f)) = (a.to_timestamp(c.inicio), b.to_timestamp(c.fim))
        {
            return (i, f);
        }
        let iv = c.intervalo(tz);
        (iv.inicio_em, iv.fim_em)
    }
}

/// `created_at` (`YYYY-MM-DDTHH:MM:SS±HH:MM`, as the server writes it) as an instant; any
/// other RFC 3339 form through jiff's parser.
fn criada_em(s: &str) -> Option<Timestamp> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i32> {
        let mut n = 0i32;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            n = n * 10 + i32::from(c - b'0');
        }
        Some(n)
    };
    let rapido = || -> Option<Timestamp> {
        if b.len() != 25 || b[10] != b'T' || b[22] != b':' {
            return None;
        }
        let sinal = match b[19] {
            b'+' => 1,
            b'-' => -1,
            _ => return None,
        };
        let dt = DateTime::new(
            i16::try_from(num(0..4)?).ok()?,
            i8::try_from(num(5..7)?).ok()?,
            i8::try_from(num(8..10)?).ok()?,
            i8::try_from(num(11..13)?).ok()?,
            i8::try_from(num(14..16)?).ok()?,
            i8::try_from(num(17..19)?).ok()?,
            0,
        )
        .ok()?;
        let off = Offset::from_seconds(sinal * (num(20..22)? * 3600 + num(23..25)? * 60)).ok()?;
        off.to_timestamp(dt).ok()
    };
    rapido().or_else(|| s.parse().ok())
}

/// What is summed per doctor.
#[derive(Default)]
struct Acc {
    total: u64,
    por_status: PorStatus,
    minutos_ocupados: u64,
}

/// How many times each weekday (Monday first) occurs from `de` to `ate`, inclusive.
fn dias_da_semana(de: Date, ate: Date) -> [u64; 7] {
    let mut n = [0u64; 7];
    let dias = i64::from((ate - de).get_days()).max(-1) + 1;
    for k in 0..7i64 {
        let Ok(d) = de.checked_add(jiff::Span::new().days(k)) else {
            break;
        };
        if k >= dias {
            break;
        }
        // Every 7th day from `d` on is the same weekday.
        let vezes = (dias - k + 6) / 7;
        n[DiaSemana::of(d) as usize] = u64::try_from(vezes).unwrap_or(0);
    }
    n
}

/// A doctor's working minutes over the period: each weekday's horários times how often it
/// occurs.
fn minutos_trabalho(db: &Db, medico_id: &str, ocorrencias: &[u64; 7]) -> u64 {
    horarios::of_medico(db, medico_id)
        .map(|h| {
            let m = u64::from(h.hora_fim.minutes().saturating_sub(h.hora_inicio.minutes()));
            m * ocorrencias[h.dia_semana as usize]
        })
        .sum()
}

/// Narrows the filters to what the caller may see (SPEC-2 §10: staff all, a `medico` their
/// own figures; another doctor's id is 404, as if it did not exist).
pub fn restringir(f: &mut FiltroEstatisticas, escopo: &Escopo) -> Result<(), AppError> {
    match escopo {
        Escopo::Tudo => Ok(()),
        Escopo::Medico(m) if f.medico_id.as_ref().is_none_or(|x| x == m) => {
            f.medico_id = Some(m.clone());
            Ok(())
        }
        _ => Err(AppError::not_found("Médico")),
    }
}

/// Computes every figure of SPEC-2 §15 for the filters (404 for an unknown doctor).
pub fn calcular(app: &App, f: &FiltroEstatisticas) -> Result<Estatisticas, AppError> {
    let tz = app.clock.tz().clone();
    let db = app.store.read();
    let from = f.de.at(0, 0, 0, 0);
    let to = f.ate.tomorrow().map_or(DateTime::MAX, |d| d.at(0, 0, 0, 0));
    let esp = f.especialidade.as_deref().map(fold);
    // The doctors in scope; `None` = every doctor (and appointments of deleted ones).
    let escopo: Option<Vec<&Arc<Medico>>> = match (&f.medico_id, &esp) {
        (Some(id), _) => {
            let m = db
                .medicos
                .get(id)
                .ok_or_else(|| AppError::not_found("Médico"))?;
            let keep = esp.as_ref().is_none_or(|e| fold(&m.especialidade) == *e);
            Some(if keep { vec![m] } else { Vec::new() })
        }
        (None, Some(e)) => Some(
            db.medicos
                .iter()
                .filter(|m| fold(&m.especialidade) == *e)
                .collect(),
        ),
        (None, None) => None,
    };
    let consultas: Box<dyn Iterator<Item = &Arc<Consulta>>> = match &escopo {
        Some(ms) => Box::new(
            ms.iter()
                .flat_map(|m| db.consultas.of_medico(&m.id, from, to)),
        ),
        None => Box::new(db.consultas.starting_between(
            std::ops::Bound::Included(from),
            std::ops::Bound::Excluded(to),
        )),
    };

    let mut total = 0u64;
    let mut por_status = PorStatus::default();
    let mut por_medico: HashMap<&str, Acc> = HashMap::new();
    let mut por_dia = [0u64; 7];
    let mut por_hora = [0u64; 24];
    let mut por_convenio: HashMap<Option<&str>, u64> = HashMap::new();
    let mut antecedencias = Vec::new();
    let dias = usize::try_from((f.ate - f.de).get_days()).unwrap_or(0) + 1;
    let offsets = Offsets::new(&tz, f.de, dias);
    for c in consultas {
        total += 1;
        por_status.add(c.status);
        por_dia[DiaSemana::of(c.inicio.date()) as usize] += 1;
        por_hora[usize::try_from(c.inicio.hour()).unwrap_or(0).min(23)] += 1;
        let convenio = db
            .pacientes
            .get(&c.paciente_id)
            .and_then(|p| p.convenio.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty());
        *por_convenio.entry(convenio).or_default() += 1;
        let (inicio_em, fim_em) = offsets.instantes(c, &tz);
        let acc = por_medico.entry(c.medico_id.as_str()).or_default();
        acc.total += 1;
        acc.por_status.add(c.status);
        if c.blocks_time() {
            let secs = fim_em.as_second() - inicio_em.as_second();
            acc.minutos_ocupados += u64::try_from(secs.max(0) / 60).unwrap_or(0);
        }
        if let Some(criada) = criada_em(&c.created_at) {
            let secs = inicio_em.as_second() - criada.as_second();
            if secs >= 0 {
                antecedencias.push(secs as f64 / 3600.0);
            }
        }
    }

    // Doctors in scope: those named by the filters, or every doctor plus any deleted one
    // that still has appointments in the period.
    let ocorrencias = dias_da_semana(f.de, f.ate);
    let medicos: Vec<&Arc<Medico>> = match &escopo {
        Some(ms) => ms.clone(),
        None => db.medicos.iter().collect(),
    };
    let mut linhas: Vec<EstatisticaMedico> = Vec::new();
    let mut vistos = std::collections::HashSet::new();
    for m in medicos {
        vistos.insert(m.id.as_str());
        let trabalho = minutos_trabalho(&db, &m.id, &ocorrencias);
        let acc = por_medico.remove(m.id.as_str()).unwrap_or_default();
        if acc.total == 0 && trabalho == 0 {
            continue;
        }
        linhas.push(linha(
            m.id.clone(),
            m.nome.clone(),
            m.especialidade.clone(),
            acc,
            trabalho,
        ));
    }
    for (id, acc) in por_medico {
        if !vistos.contains(id) {
            linhas.push(linha(
                id.to_owned(),
                "(médico excluído)".to_owned(),
                String::new(),
                acc,
                0,
            ));
        }
    }
    linhas.sort_by(|a, b| {
        fold(&a.nome)
            .cmp(&fold(&b.nome))
            .then_with(|| a.medico_id.cmp(&b.medico_id))
    });

    let mut esp_acc: Vec<EstatisticaEspecialidade> = Vec::new();
    let mut esp_idx: HashMap<String, usize> = HashMap::new();
    for l in linhas.iter().filter(|l| !l.especialidade.is_empty()) {
        let k = fold(&l.especialidade);
        let i = *esp_idx.entry(k).or_insert_with(|| {
            esp_acc.push(EstatisticaEspecialidade {
                especialidade: l.especialidade.clone(),
                total: 0,
                minutos_ocupados: 0,
                minutos_trabalho: 0,
                taxa_ocupacao: None,
            });
            esp_acc.len() - 1
        });
        let e = &mut esp_acc[i];
        e.total += l.total;
        e.minutos_ocupados += l.minutos_ocupados;
        e.minutos_trabalho += l.minutos_trabalho;
    }
    for e in &mut esp_acc {
        e.taxa_ocupacao = ocupacao(e.minutos_ocupados, e.minutos_trabalho);
    }
    esp_acc.sort_by_key(|e| fold(&e.especialidade));

    let ocupados: u64 = linhas.iter().map(|l| l.minutos_ocupados).sum();
    let trabalho: u64 = linhas.iter().map(|l| l.minutos_trabalho).sum();
    let mut convenios: Vec<EstatisticaConvenio> = por_convenio
        .into_iter()
        .map(|(k, total)| EstatisticaConvenio {
            convenio: k.map(str::to_owned),
            total,
        })
        .collect();
    convenios.sort_by(|a, b| {
        b.total
            .cmp(&a.total)
            .then_with(|| a.convenio.is_none().cmp(&b.convenio.is_none()))
            .then_with(|| a.convenio.cmp(&b.convenio))
    });
    Ok(Estatisticas {
        periodo: Periodo {
            de: f.de,
            ate: f.ate,
            dias: u32::try_from(dias).unwrap_or(0),
        },
        total,
        taxa_ocupacao: ocupacao(ocupados, trabalho),
        taxa_faltas: taxa(por_status.faltou, por_status.concluida + por_status.faltou),
        taxa_cancelamento: taxa(por_status.cancelada, total),
        por_status,
        antecedencia_mediana_horas: mediana(&mut antecedencias)
            .map(|h| (h * 100.0).round() / 100.0),
        por_medico: linhas,
        por_especialidade: esp_acc,
        por_dia_semana: DiaSemana::ALL
            .iter()
            .map(|d| EstatisticaDiaSemana {
                dia_semana: *d,
                total: por_dia[*d as usize],
            })
            .collect(),
        por_hora: (0u8..24)
            .map(|h| EstatisticaHora {
                hora: h,
                total: por_hora[usize::from(h)],
            })
            .collect(),
        por_convenio: convenios,
    })
}

fn linha(
    medico_id: String,
    nome: String,
    especialidade: String,
    acc: Acc,
    trabalho: u64,
) -> EstatisticaMedico {
    EstatisticaMedico {
        medico_id,
        nome,
        especialidade,
        total: acc.total,
        por_status: acc.por_status,
        minutos_ocupados: acc.minutos_ocupados,
        minutos_trabalho: trabalho,
        taxa_ocupacao: ocupacao(acc.minutos_ocupados, trabalho),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::civil::date;

    #[test]
    fn weekdays_are_counted_over_the_period() {
        // 2026-03-02 is a Monday; 10 days = Mon..Wed twice, Thu..Sun once.
        let n = dias_da_semana(date(2026, 3, 2), date(2026, 3, 11));
        assert_eq!(n, [2, 2, 2, 1, 1, 1, 1]);
        assert_eq!(
            dias_da_semana(date(2026, 3, 4), date(2026, 3, 4)),
            [0, 0, 1, 0, 0, 0, 0]
        );
        assert_eq!(
            dias_da_semana(date(2026, 1, 1), date(2026, 12, 31))
                .iter()
                .sum::<u64>(),
            365
        );
    }

    #[test]
    fn created_at_is_read_fast_and_like_jiff() {
        for s in [
            "2026-02-27T08:00:00-03:00",
            "2026-10-31T23:59:59+00:00",
            "2024-02-29T12:30:15+05:45",
        ] {
            assert_eq!(criada_em(s), s.parse().ok(), "{s}");
        }
        assert_eq!(
            criada_em("2026-02-27T08:00:00Z"),
            "2026-02-27T08:00:00Z".parse().ok()
        );
        assert_eq!(criada_em("2026-02-30T08:00:00-03:00"), None);
    }

    #[test]
    fn instants_by_arithmetic_match_the_zone_conversion_across_a_dst_change() {
        // New York moved its clocks forward on 2026-03-08 and back on 2026-11-01.
        let tz = TimeZone::get("America/New_York").expect("zone");
        let offsets = Offsets::new(&tz, date(2026, 3, 1), 300);
        for (ini, fim) in [
            ("2026-03-02T09:00:00", "2026-03-02T09:30:00"),
            ("2026-03-07T23:30:00", "2026-03-08T03:30:00"),
            ("2026-03-08T01:30:00", "2026-03-08T03:30:00"),
            ("2026-11-01T00:30:00", "2026-11-01T01:30:00"),
            ("2026-11-02T10:00:00", "2026-11-02T11:00:00"),
        ] {
            let c = Consulta {
                id: "c".into(),
                paciente_id: "p".into(),
                medico_id: "m".into(),
                inicio: ini.parse().expect("inicio"),
                fim: fim.parse().expect("fim"),
                inicio_offset: None,
                fim_offset: None,
                status: StatusConsulta::Agendada,
                observacoes: None,
                created_at: String::new(),
                updated_at: String::new(),
                motivo_cancelamento: None,
            };
            let iv = c.intervalo(&tz);
            assert_eq!(
                offsets.instantes(&c, &tz),
                (iv.inicio_em, iv.fim_em),
                "{ini}"
            );
        }
    }

    #[test]
    fn rates_round_and_undefined_ones_are_none() {
        assert_eq!(taxa(1, 3), Some(0.3333));
        assert_eq!(taxa(0, 0), None);
        assert_eq!(ocupacao(500, 400), Some(1.0));
        assert_eq!(mediana(&mut [3.0, 1.0, 2.0, 10.0]), Some(2.5));
        assert_eq!(mediana(&mut []), None);
    }
}
