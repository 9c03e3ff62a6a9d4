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
//!   history; less the minutes of their blocks, SPEC-2 §11), capped at 1 (an appointment
//!   recorded outside the working hours would otherwise push it over);
//! - `taxa_faltas` = `faltou / (concluida + faltou)`; `taxa_cancelamento` = `cancelada / total`;
//! - `antecedencia_mediana_horas` = median of the hours from `created_at` to the start,
//!   over the appointments created before their start (a record entered after the fact
//!   would say nothing about how far ahead patients book);
//! - a rate whose denominator is zero is `null`;
//! - `por_plano` and `recebido_centavos` (SPEC-2 §12) come from each appointment's own
//!   `pagamento`, counted in the same pass (a plan id is an [`Fx`] lookup of the few plans
//!   met); amounts received are the `valor_centavos` of payments `pago`.

use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};

use super::{App, bloqueios, horarios};
use crate::domain::{DiaSemana, fold};
use crate::error::AppError;
use crate::models::{
    Consulta, EstatisticaConvenio, EstatisticaDiaSemana, EstatisticaEspecialidade, EstatisticaHora,
    EstatisticaMedico, EstatisticaPlano, Estatisticas, FormaPagamento, Medico, PorStatus,
    StatusConsulta, StatusPagamento,
};
use crate::repositories::Db;

/// How a deleted doctor shows: their row's name, and their speciality in `por_especialidade`.
const EXCLUIDO: &str = "(médico excluído)";

/// The longest period one request may cover, in days (a leap year).
pub const MAX_DIAS: i64 = 366;

/// Validated filters of a statistics request.
#[derive(Debug, Clone)]
pub struct FiltroEstatisticas {
    /// First day, inclusive.
    pub de: Date,
    /// Last day, inclusive (not before `de`; the period is at most [`MAX_DIAS`] days).
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

/// A doctor's occupied minutes that count toward a clinic-wide or per-speciality occupancy:
/// at most their working minutes, so a deleted doctor (no working hours any more), one whose
/// hours were removed, or one booked past their hours never lends minutes to the others'
/// hours.
fn ocupados_na_jornada(l: &EstatisticaMedico) -> u64 {
    l.minutos_ocupados.min(l.minutos_trabalho)
}

/// Occupancy: like [`taxa`], capped at 1.
fn ocupacao(ocupados: u64, trabalho: u64) -> Option<f64> {
    taxa(ocupados.min(trabalho), trabalho)
}

/// The median of `v` (reordered in place), `None` when empty.
fn mediana(v: &mut [f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    // Selection instead of a full sort: the same order statistics in linear time.
    let n = v.len();
    let (menores, meio, _) = v.select_nth_unstable_by(n / 2, f64::total_cmp);
    let meio = *meio;
    Some(if n % 2 == 1 {
        meio
    } else {
        let abaixo = menores
            .iter()
            .copied()
            .max_by(f64::total_cmp)
            .unwrap_or(meio);
        (abaixo + meio) / 2.0
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

/// The working minutes of `medico_id` in `[from, to)` that blocks take away (SPEC-2 §15:
/// occupancy excludes blocks): each merged blocked stretch (the doctor's and the whole
/// clinic's) against each day's horários, in clock minutes.
fn minutos_bloqueados(db: &Db, medico_id: &str, from: DateTime, to: DateTime) -> u64 {
    let minuto = |t: DateTime| i32::from(t.hour()) * 60 + i32::from(t.minute());
    let mut total = 0u64;
    for (s, e) in bloqueios::uniao(db, medico_id, from, to) {
        let (s, e) = (s.max(from), e.min(to));
        let mut d = s.date();
        while d.at(0, 0, 0, 0) < e {
            let ini = if s.date() == d { minuto(s) } else { 0 };
            let fim = if e.date() == d { minuto(e) } else { 24 * 60 };
            for h in horarios::horarios_do_dia(db, medico_id, DiaSemana::of(d)) {
                let a = i32::from(h.hora_inicio.minutes()).max(ini);
                let b = i32::from(h.hora_fim.minutes()).min(fim);
                total += u64::try_from(b - a).unwrap_or(0);
            }
            let Ok(next) = d.tomorrow() else { break };
            d = next;
        }
    }
    total
}

/// Computes every figure of SPEC-2 §15 for the filters (404 for an unknown doctor).
///
/// One pass under the store's read lock over the appointments of the period only (the
/// whole start-time index between the period's bounds, or each doctor's own index when the
/// request names a doctor or a speciality). Per appointment nothing is allocated and no id is
/// hashed with SipHash: the doctor is a small index (known from the per-doctor scan, or an
/// [`Fx`] lookup of the few doctors), the patient's convenio an index remembered per patient,
/// the local weekday and the instants plain arithmetic on the stored value ([`Periodo`]).
/// Everything that allocates (names, rows) happens once per doctor, after the pass.
pub fn calcular(app: &App, f: &FiltroEstatisticas) -> Result<Estatisticas, AppError> {
    let tz = app.clock.tz();
    let from = f.de.at(0, 0, 0, 0);
    let to = f.ate.tomorrow().map_or(DateTime::MAX, |d| d.at(0, 0, 0, 0));
    let esp = f.especialidade.as_deref().map(fold);
    let dias = usize::try_from((f.ate - f.de).get_days()).unwrap_or(0) + 1;
    let periodo = Periodo::new(tz, f.de, dias);
    let ocorrencias = dias_da_semana(f.de, f.ate);

    let db = app.store.read();
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
    let medicos: Vec<&Arc<Medico>> = match &escopo {
        Some(ms) => ms.clone(),
        None => db.medicos.iter().collect(),
    };
    // Row `i < medicos.len()` is `medicos[i]`; rows after them are deleted doctors met in the
    // pass (only when every doctor is in scope).
    let mut contas = Contas::new(medicos.iter().map(|m| m.id.as_str()));
    match &escopo {
        Some(ms) => {
            for (i, m) in ms.iter().enumerate() {
                for c in db.consultas.of_medico(&m.id, from, to) {
                    contas.add(i, c, &db, &periodo, tz);
                }
            }
        }
        None => {
            let consultas = db.consultas.starting_between(
                std::ops::Bound::Included(from),
                std::ops::Bound::Excluded(to),
            );
            for c in consultas {
                let i = contas.medico(&c.medico_id);
                contas.add(i, c, &db, &periodo, tz);
            }
        }
    }

    // Doctors in scope: those named by the filters, or every doctor plus any deleted one
    // that still has appointments in the period.
    let mut linhas: Vec<EstatisticaMedico> = Vec::new();
    for (i, acc) in contas.por_medico.iter_mut().enumerate() {
        let acc = std::mem::take(acc);
        match medicos.get(i) {
            Some(m) => {
                let trabalho = minutos_trabalho(&db, &m.id, &ocorrencias)
                    .saturating_sub(minutos_bloqueados(&db, &m.id, from, to));
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
            None => linhas.push(linha(
                contas.ids[i].to_owned(),
                EXCLUIDO.to_owned(),
                String::new(),
                acc,
                0,
            )),
        }
    }
    let por_convenio: Vec<(Option<String>, u64)> = contas
        .convenios
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| (k.map(str::to_owned), *n))
        .collect();
    let mut recebido_centavos = 0u64;
    let mut por_plano: Vec<EstatisticaPlano> = contas
        .planos
        .iter()
        .filter(|p| p.total > 0)
        .map(|p| {
            recebido_centavos = recebido_centavos.saturating_add(p.recebido);
            EstatisticaPlano {
                forma: p.forma,
                convenio_id: p.convenio_id.map(str::to_owned),
                nome: match (p.forma, p.convenio_id) {
                    (None, _) => "Sem pagamento".to_owned(),
                    (Some(FormaPagamento::Particular), _) => "Particular".to_owned(),
                    (Some(FormaPagamento::Convenio), id) => {
                        super::convenios::nome_do_plano(&db, id)
                    }
                },
                total: p.total,
                recebido_centavos: p.recebido,
            }
        })
        .collect();
    por_plano.sort_by_cached_key(|p| {
        let ordem = match p.forma {
            Some(FormaPagamento::Convenio) => 0u8,
            Some(FormaPagamento::Particular) => 1,
            None => 2,
        };
        (
            std::cmp::Reverse(p.total),
            ordem,
            fold(&p.nome),
            p.convenio_id.clone(),
        )
    });
    let mut antecedencias = std::mem::take(&mut contas.antecedencias);
    let (por_dia, por_hora) = (contas.por_dia, contas.por_hora);
    drop(contas);
    drop(medicos);
    drop(escopo);
    drop(db);

    let mut total = 0u64;
    let mut por_status = PorStatus::default();
    for l in &linhas {
        total += l.total;
        por_status.agendada += l.por_status.agendada;
        por_status.confirmada += l.por_status.confirmada;
        por_status.concluida += l.por_status.concluida;
        por_status.faltou += l.por_status.faltou;
        por_status.cancelada += l.por_status.cancelada;
    }
    // Stable, like the comparison it replaces: the name without case or accents, then the id.
    linhas.sort_by_cached_key(|l| (fold(&l.nome), l.medico_id.clone()));

    let mut esp_acc: Vec<EstatisticaEspecialidade> = Vec::new();
    let mut esp_idx: HashMap<String, usize> = HashMap::new();
    for l in &linhas {
        // A deleted doctor's speciality is gone with their record: their appointments still
        // count, under the same label as their row.
        let especialidade = if l.especialidade.is_empty() {
            EXCLUIDO
        } else {
            l.especialidade.as_str()
        };
        let k = fold(especialidade);
        let i = *esp_idx.entry(k).or_insert_with(|| {
            esp_acc.push(EstatisticaEspecialidade {
                especialidade: especialidade.to_owned(),
                total: 0,
                minutos_ocupados: 0,
                minutos_trabalho: 0,
                taxa_ocupacao: None,
            });
            esp_acc.len() - 1
        });
        let e = &mut esp_acc[i];
        e.total += l.total;
        e.minutos_ocupados += ocupados_na_jornada(l);
        e.minutos_trabalho += l.minutos_trabalho;
    }
    for e in &mut esp_acc {
        e.taxa_ocupacao = ocupacao(e.minutos_ocupados, e.minutos_trabalho);
    }
    esp_acc.sort_by_cached_key(|e| fold(&e.especialidade));

    let ocupados: u64 = linhas.iter().map(ocupados_na_jornada).sum();
    let trabalho: u64 = linhas.iter().map(|l| l.minutos_trabalho).sum();
    let mut convenios: Vec<EstatisticaConvenio> = por_convenio
        .into_iter()
        .map(|(convenio, total)| EstatisticaConvenio { convenio, total })
        .collect();
    convenios.sort_by(|a, b| {
        b.total
            .cmp(&a.total)
            .then_with(|| a.convenio.is_none().cmp(&b.convenio.is_none()))
            .then_with(|| a.convenio.cmp(&b.convenio))
    });
    Ok(Estatisticas {
        periodo: crate::models::Periodo {
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
        por_plano,
        recebido_centavos,
    })
}

/// The FxHash function (rustc's): a multiply and a rotate per 8 bytes, several times faster
/// than SipHash on 36-byte ids. The maps it keys are built per request from the store's own
/// ids (a few dozen doctors, the patients met), so no caller can choose colliding keys.
#[derive(Default, Clone, Copy)]
struct Fx(u64);

impl Fx {
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

impl std::hash::Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fx>>;

/// What one pass sums, borrowed from the store while its read lock is held.
struct Contas<'a> {
    /// Doctor ids by row (those in scope first, then deleted ones met in the pass).
    ids: Vec<&'a str>,
    /// Row of each doctor id.
    linha_de: FxMap<&'a str, usize>,
    por_medico: Vec<Acc>,
    por_dia: [u64; 7],
    por_hora: [u64; 24],
    /// Convenio (trimmed, `None` when absent or blank) and its count, in order of first sight.
    convenios: Vec<(Option<&'a str>, u64)>,
    /// Index into `convenios` of each convenio, and of each patient already met.
    convenio_idx: FxMap<Option<&'a str>, usize>,
    paciente_convenio: FxMap<&'a str, usize>,
    /// Per form of payment and plan (SPEC-2 §12): row 0 no `pagamento`, row 1 private pay,
    /// then each plan in order of first sight.
    planos: Vec<ContaPlano<'a>>,
    /// Row in `planos` of each plan id met.
    plano_idx: FxMap<Option<&'a str>, usize>,
    antecedencias: Vec<f64>,
}

/// One row of the totals by form of payment and plan.
struct ContaPlano<'a> {
    forma: Option<FormaPagamento>,
    convenio_id: Option<&'a str>,
    total: u64,
    recebido: u64,
}

impl<'a> ContaPlano<'a> {
    fn new(forma: Option<FormaPagamento>, convenio_id: Option<&'a str>) -> Self {
        Self {
            forma,
            convenio_id,
            total: 0,
            recebido: 0,
        }
    }
}

impl<'a> Contas<'a> {
    fn new(medicos: impl Iterator<Item = &'a str>) -> Self {
        let ids: Vec<&str> = medicos.collect();
        let linha_de = ids.iter().enumerate().map(|(i, id)| (*id, i)).collect();
        Self {
            por_medico: ids.iter().map(|_| Acc::default()).collect(),
            ids,
            linha_de,
            por_dia: [0; 7],
            por_hora: [0; 24],
            convenios: Vec::new(),
            convenio_idx: FxMap::default(),
            paciente_convenio: FxMap::default(),
            planos: vec![
                ContaPlano::new(None, None),
                ContaPlano::new(Some(FormaPagamento::Particular), None),
            ],
            plano_idx: FxMap::default(),
            antecedencias: Vec::new(),
        }
    }

    /// Counts appointment `c` under its form of payment and plan.
    fn plano(&mut self, c: &'a Consulta) {
        let Some(p) = c.pagamento.as_ref() else {
            self.planos[0].total += 1;
            return;
        };
        let i = match (p.forma, p.convenio_id.as_deref()) {
            (FormaPagamento::Convenio, id) => {
                // A plan payment recorded without a plan is a row of its own.
                let id = id.filter(|id| !id.is_empty());
                match self.plano_idx.get(&id) {
                    Some(i) => *i,
                    None => {
                        self.planos
                            .push(ContaPlano::new(Some(FormaPagamento::Convenio), id));
                        self.plano_idx.insert(id, self.planos.len() - 1);
                        self.planos.len() - 1
                    }
                }
            }
            (FormaPagamento::Particular, _) => 1,
        };
        let conta = &mut self.planos[i];
        conta.total += 1;
        if p.status == StatusPagamento::Pago {
            conta.recebido = conta.recebido.saturating_add(p.valor_centavos.unwrap_or(0));
        }
    }

    /// The row of doctor `id`, added for a deleted doctor on first sight.
    fn medico(&mut self, id: &'a str) -> usize {
        if let Some(i) = self.linha_de.get(id) {
            return *i;
        }
        let i = self.ids.len();
        self.ids.push(id);
        self.linha_de.insert(id, i);
        self.por_medico.push(Acc::default());
        i
    }

    /// Index into `convenios` of the patient's convenio (looked up once per patient).
    fn convenio(&mut self, db: &'a Db, paciente_id: &'a str) -> usize {
        if let Some(i) = self.paciente_convenio.get(paciente_id) {
            return *i;
        }
        let convenio = db
            .pacientes
            .get(paciente_id)
            .and_then(|p| p.convenio.as_deref())
            .map(str::trim)
            .filter(|s| !s.is_empty());
        let i = match self.convenio_idx.get(&convenio) {
            Some(i) => *i,
            None => {
                self.convenios.push((convenio, 0));
                self.convenio_idx.insert(convenio, self.convenios.len() - 1);
                self.convenios.len() - 1
            }
        };
        self.paciente_convenio.insert(paciente_id, i);
        i
    }

    /// Counts appointment `c` (in the period) under doctor row `i`.
    fn add(&mut self, i: usize, c: &'a Consulta, db: &'a Db, p: &Periodo, tz: &TimeZone) {
        let dia = p.dia(c.inicio.date());
        self.por_dia[dia.map_or_else(|| DiaSemana::of(c.inicio.date()) as usize, |d| d.1)] += 1;
        self.por_hora[usize::try_from(c.inicio.hour()).unwrap_or(0).min(23)] += 1;
        let k = self.convenio(db, &c.paciente_id);
        self.convenios[k].1 += 1;
        self.plano(c);
        let (inicio, fim) = p.segundos(c, dia.map(|d| d.0), tz);
        let acc = &mut self.por_medico[i];
        acc.total += 1;
        acc.por_status.add(c.status);
        if c.blocks_time() {
            acc.minutos_ocupados += u64::try_from((fim - inicio).max(0) / 60).unwrap_or(0);
        }
        if let Some(criada) = criada_em(&c.created_at) {
            let secs = inicio - criada.as_second();
            if secs >= 0 {
                self.antecedencias.push(secs as f64 / 3600.0);
            }
        }
    }
}

/// The period's days as plain numbers: for each day its weekday and, when the clinic's
/// offset is the same all day, that offset, so an appointment's instants are arithmetic on
/// its stored clinic-local value ([`Offsets`] in seconds, without jiff's date differences).
struct Periodo {
    offsets: Offsets,
    /// Days from 0000-03-01 of the first day.
    dia0: i64,
    /// Weekday (Monday = 0) of the first day.
    semana0: usize,
    /// `fixo[i]`: the UTC offset in seconds of day `i` when it does not change that day.
    fixo: Vec<Option<i64>>,
}

/// Days from 0000-03-01 (proleptic Gregorian) of a civil date: Howard Hinnant's
/// `days_from_civil`, a few integer operations.
fn dia_absoluto(d: Date) -> i64 {
    let (y, m, dd) = (
        i64::from(d.year()),
        i64::from(d.month()),
        i64::from(d.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + dd - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe
}

/// Seconds since 0000-03-01T00:00:00 local of a whole-second clinic-local time.
fn segundos_locais(dia: i64, t: DateTime) -> i64 {
    dia * 86_400 + i64::from(t.hour()) * 3600 + i64::from(t.minute()) * 60 + i64::from(t.second())
}

/// Seconds from 0000-03-01 to 1970-01-01.
const EPOCA: i64 = 719_468 * 86_400;

impl Periodo {
    fn new(tz: &TimeZone, de: Date, dias: usize) -> Self {
        let offsets = Offsets::new(tz, de, dias);
        let fixo = (0..offsets.at.len())
            .map(|i| {
                let (a, b) = (offsets.at.get(i)?, offsets.at.get(i + 1)?);
                (a == b).then(|| i64::from(a.seconds()))
            })
            .collect();
        Self {
            dia0: dia_absoluto(de),
            semana0: DiaSemana::of(de) as usize,
            offsets,
            fixo,
        }
    }

    /// `(day index in the period, weekday)` of `d`, `None` before the period.
    fn dia(&self, d: Date) -> Option<(usize, usize)> {
        let i = usize::try_from(dia_absoluto(d) - self.dia0).ok()?;
        Some((i, (self.semana0 + i) % 7))
    }

    /// The Unix seconds of `[inicio, fim)` of `c`, exactly `Offsets::instantes` in whole
    /// seconds: arithmetic when both ends fall on days without an offset change, carry no
    /// stored fold offset and lie well inside jiff's range, that function otherwise.
    fn segundos(&self, c: &Consulta, dia: Option<usize>, tz: &TimeZone) -> (i64, i64) {
        let simples =
            |t: DateTime| t.subsec_nanosecond() == 0 && (-9000..=9000).contains(&t.year());
        if c.inicio_offset.is_none()
            && c.fim_offset.is_none()
            && simples(c.inicio)
            && simples(c.fim)
            && let Some(i) = dia
            && let Some(Some(oi)) = self.fixo.get(i).copied()
        {
            let di = self.dia0 + i as i64;
            let df = dia_absoluto(c.fim.date());
            if let Some(Some(of)) = usize::try_from(df - self.dia0)
                .ok()
                .and_then(|j| self.fixo.get(j).copied())
            {
                return (
                    segundos_locais(di, c.inicio) - oi - EPOCA,
                    segundos_locais(df, c.fim) - of - EPOCA,
                );
            }
        }
        let (i, f) = self.offsets.instantes(c, tz);
        (i.as_second(), f.as_second())
    }
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
                serie_id: None,
                created_at: String::new(),
                updated_at: String::new(),
                motivo_cancelamento: None,
                pagamento: None,
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
    fn day_numbers_and_weekdays_match_jiff() {
        let base = date(2026, 1, 1);
        for d in [
            date(1, 1, 1),
            date(1900, 2, 28),
            date(1970, 1, 1),
            date(2000, 2, 29),
            date(2024, 12, 31),
            date(2026, 3, 1),
            date(9999, 12, 31),
        ] {
            assert_eq!(
                dia_absoluto(d) - dia_absoluto(base),
                i64::from((d - base).get_days()),
                "{d}"
            );
        }
        let p = Periodo::new(&TimeZone::UTC, date(2024, 1, 1), 366);
        let mut d = date(2024, 1, 1);
        for i in 0..366 {
            assert_eq!(p.dia(d), Some((i, DiaSemana::of(d) as usize)), "{d}");
            d = d.tomorrow().expect("tomorrow");
        }
        assert_eq!(p.dia(date(2023, 12, 31)), None);
    }

    #[test]
    fn instants_in_seconds_match_the_zone_conversion_across_a_dst_change() {
        let tz = TimeZone::get("America/New_York").expect("zone");
        let de = date(2026, 3, 1);
        let p = Periodo::new(&tz, de, 300);
        for (ini, fim, fold) in [
            ("2026-03-02T09:00:00", "2026-03-02T09:30:00", None),
            ("2026-03-07T23:30:00", "2026-03-08T03:30:00", None),
            ("2026-03-08T01:30:00", "2026-03-08T03:30:00", None),
            ("2026-03-08T02:30:00", "2026-03-08T03:30:00", None),
            ("2026-11-01T00:30:00", "2026-11-01T01:30:00", None),
            ("2026-11-01T01:30:00", "2026-11-01T02:00:00", Some(-5)),
            ("2026-11-02T10:00:00", "2026-11-02T11:00:00", None),
            ("2026-12-25T23:45:10", "2026-12-26T00:15:00", None),
            ("2026-12-26T10:00:00", "2027-01-03T00:00:00", None),
        ] {
            let c = Consulta {
                id: "c".into(),
                paciente_id: "p".into(),
                medico_id: "m".into(),
                inicio: ini.parse().expect("inicio"),
                fim: fim.parse().expect("fim"),
                inicio_offset: fold.map(Offset::constant),
                fim_offset: None,
                status: StatusConsulta::Agendada,
                observacoes: None,
                serie_id: None,
                motivo_cancelamento: None,
                created_at: String::new(),
                updated_at: String::new(),
                pagamento: None,
            };
            let iv = c.intervalo(&tz);
            let dia = p.dia(c.inicio.date()).map(|d| d.0);
            assert_eq!(
                p.segundos(&c, dia, &tz),
                (iv.inicio_em.as_second(), iv.fim_em.as_second()),
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
