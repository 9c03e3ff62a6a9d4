//! Appointments: patient and doctor exist, `inicio < fim`, no overlap for the doctor or the
//! patient among non-cancelled appointments, and the status life cycle of SPEC §2.

use std::ops::Bound;
use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use super::{App, Contexto, Escopo, Janela, Recorte, new_id};
use crate::domain::{Intervalo, Momento, format_datetime};
use crate::error::{AppError, CampoErro};
use crate::models::{Consulta, StatusConsulta};
use crate::repositories::{Db, Op};

/// A validated new appointment.
#[derive(Debug)]
pub struct NovaConsulta {
    /// The patient.
    pub paciente_id: String,
    /// The doctor.
    pub medico_id: String,
    /// When.
    pub intervalo: Intervalo,
    /// Initial status (default `agendada`).
    pub status: StatusConsulta,
    /// Notes.
    pub observacoes: Option<String>,
    /// How it is paid (SPEC-2 §12; `None`: `pagamento::forma_padrao`).
    pub forma_pagamento: Option<crate::models::FormaPagamento>,
}

/// A validated partial update: `None` keeps a field, `Some(None)` clears the notes.
#[derive(Debug, Default)]
pub struct AlteraConsulta {
    /// New start.
    pub inicio: Option<Momento>,
    /// New end.
    pub fim: Option<Momento>,
    /// New status.
    pub status: Option<StatusConsulta>,
    /// New notes.
    pub observacoes: Option<Option<String>>,
}

/// List filters (dates inclusive).
#[derive(Debug, Default)]
pub struct Filtro {
    /// Only this doctor's.
    pub medico_id: Option<String>,
    /// Only this patient's.
    pub paciente_id: Option<String>,
    /// Only this status.
    pub status: Option<StatusConsulta>,
    /// Starting on or after this date.
    pub de: Option<Date>,
    /// Starting on or before this date.
    pub ate: Option<Date>,
}

/// Finds one appointment.
pub fn find(app: &App, id: &str) -> Result<Arc<Consulta>, AppError> {
    let found = app.store.read().consultas.get(id).cloned();
    found.ok_or_else(|| AppError::not_found("Consulta"))
}

/// Whether `escopo` may see appointment `c`.
pub fn visivel(c: &Consulta, escopo: &Escopo) -> bool {
    match escopo {
        Escopo::Tudo => true,
        Escopo::Medico(m) => c.medico_id == *m,
        Escopo::Paciente(p) => c.paciente_id == *p,
        Escopo::Nada => false,
    }
}

/// Finds one appointment the caller may see (404 otherwise, as if it did not exist).
pub fn find_visivel(app: &App, id: &str, escopo: &Escopo) -> Result<Arc<Consulta>, AppError> {
    find(app, id)
        .ok()
        .filter(|c| visivel(c, escopo))
        .ok_or_else(|| AppError::not_found("Consulta"))
}

/// One page of the appointments the caller may see: the filter narrowed to their doctor or
/// patient (a filter naming someone else's finds nothing).
pub fn page_visivel(
    app: &App,
    mut f: Filtro,
    escopo: &Escopo,
    janela: Janela,
) -> Recorte<Consulta> {
    let nada = Recorte {
        itens: Vec::new(),
        total: 0,
    };
    match escopo {
        Escopo::Tudo => {}
        Escopo::Medico(m) => {
            if f.medico_id.as_ref().is_some_and(|x| x != m) {
                return nada;
            }
            f.medico_id = Some(m.clone());
        }
        Escopo::Paciente(p) => {
            if f.paciente_id.as_ref().is_some_and(|x| x != p) {
                return nada;
            }
            f.paciente_id = Some(p.clone());
        }
        Escopo::Nada => return nada,
    }
    page(app, &f, janela)
}

/// One page of [`list`].
pub fn page(app: &App, f: &Filtro, janela: Janela) -> Recorte<Consulta> {
    let db = app.store.read();
    let (iter, total) = list(&db, f);
    janela.recortar(iter, total)
}

/// Appointments by start time, filtered, using the narrowest index available; plus the
/// total when it is known without counting (no filter at all).
pub fn list<'a>(
    db: &'a Db,
    f: &'a Filtro,
) -> (
    Box<dyn Iterator<Item = &'a Arc<Consulta>> + 'a>,
    Option<usize>,
) {
    let from = f.de.map(|d| d.at(0, 0, 0, 0));
    let to = f
        .ate
        .and_then(|d| d.tomorrow().ok())
        .map(|d| d.at(0, 0, 0, 0));
    let keep = move |c: &&Arc<Consulta>| {
        f.status.is_none_or(|s| c.status == s)
            && f.medico_id.as_deref().is_none_or(|m| c.medico_id == m)
            && f.paciente_id.as_deref().is_none_or(|p| c.paciente_id == p)
    };
    let lo = from.unwrap_or(DateTime::MIN);
    let hi = to.unwrap_or(DateTime::MAX);
    if let Some(m) = &f.medico_id {
        (
            Box::new(db.consultas.of_medico(m, lo, hi).filter(keep)),
            None,
        )
    } else if let Some(p) = &f.paciente_id {
        (
            Box::new(db.consultas.of_paciente(p, lo, hi).filter(keep)),
            None,
        )
    } else if from.is_none() && to.is_none() && f.status.is_none() {
        (Box::new(db.consultas.iter()), Some(db.consultas.len()))
    } else {
        let lo = from.map_or(Bound::Unbounded, Bound::Included);
        let hi = to.map_or(Bound::Unbounded, Bound::Excluded);
        (
            Box::new(db.consultas.starting_between(lo, hi).filter(keep)),
            None,
        )
    }
}

/// The first `agendada`/`confirmada` appointment of a doctor (`by_medico`) or patient that is
/// not over at `now`: what blocks deleting them.
pub fn first_active_after(
    db: &Db,
    by_medico: bool,
    owner: &str,
    now: DateTime,
) -> Option<Arc<Consulta>> {
    let from = now.saturating_sub(jiff::SignedDuration::from_hours(Intervalo::MAX_HORAS));
    let mut it: Box<dyn Iterator<Item = &Arc<Consulta>>> = if by_medico {
        Box::new(db.consultas.of_medico(owner, from, DateTime::MAX))
    } else {
        Box::new(db.consultas.of_paciente(owner, from, DateTime::MAX))
    };
    it.find(|c| c.status.is_active() && c.fim > now).cloned()
}

/// The grid slots an appointment covers (none when it is cancelled).
pub fn slots_of(app: &App, c: &Consulta) -> Vec<DateTime> {
    if !c.blocks_time() {
        return Vec::new();
    }
    super::horarios::covered_slots(
        &app.store.read(),
        &c.medico_id,
        c.inicio,
        c.fim,
        app.config.slot_minutes,
    )
}

/// Announces the slots an appointment took, and the appointment itself. Reads the store:
/// never call it while holding the store's lock.
pub fn announce_taken(app: &App, c: &Arc<Consulta>, slots: &[DateTime]) {
    for s in slots {
        app.events.publish(
            "horario_ocupado",
            &serde_json::json!({"medico_id": c.medico_id, "slot": format_datetime(*s), "consulta": c}),
        );
    }
    let (_, buffer) =
        super::horarios::grade_do_medico(&app.store.read(), &c.medico_id, app.config.slot_minutes);
    announce_buffer(app, &c.medico_id, slots, buffer);
    announce(app, c);
}

/// With a buffer (SPEC-2 §11) an appointment also takes or gives back the slots around it
/// (one ending within the buffer before it, one starting within the buffer after it), which
/// their own events do not name: `horario_atualizado` tells a dashboard to read that
/// doctor's grid again. Nothing without a buffer or when no slot changed.
fn announce_buffer(app: &App, medico_id: &str, slots: &[DateTime], buffer: u16) {
    if !slots.is_empty() && buffer > 0 {
        super::horarios::announce(app, medico_id);
    }
}

/// `consulta_atualizada`.
pub fn announce(app: &App, c: &Arc<Consulta>) {
    app.events.publish(
        "consulta_atualizada",
        &serde_json::json!({"consulta": c, "medico_id": c.medico_id, "status": c.status}),
    );
}

/// Why a slot became free.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liberacao {
    /// Its appointment was cancelled.
    Cancelada,
    /// Its appointment moved.
    Remarcada,
    /// Its appointment was deleted.
    Excluida,
    /// A booking task for it was refused.
    Falhou,
    /// A hold on it was released.
    Liberado,
    /// A hold on it lapsed.
    Expirou,
}

impl Liberacao {
    /// The event's `motivo`.
    pub fn motivo(self) -> &'static str {
        match self {
            Self::Cancelada => "cancelada",
            Self::Remarcada => "remarcada",
            Self::Excluida => "excluida",
            Self::Falhou => "falhou",
            Self::Liberado => "liberado",
            Self::Expirou => "expirou",
        }
    }

    /// The event: `horario_disponivel` when an appointment or a booking let it go,
    /// `horario_liberado` when a hold did (SPEC §3).
    pub fn evento(self) -> &'static str {
        match self {
            Self::Cancelada | Self::Remarcada | Self::Excluida | Self::Falhou => {
                "horario_disponivel"
            }
            Self::Liberado | Self::Expirou => "horario_liberado",
        }
    }
}

/// The one place every path that frees a slot calls, once the change is durable:
/// cancellation, a move, a deletion, a refused booking, a released or lapsed hold. It
/// announces the slot; the waiting list (SPEC-2 §11) offers it from here.
pub fn vaga_liberada(app: &App, medico_id: &str, slot: DateTime, por: Liberacao) {
    app.events.publish(
        por.evento(),
        &serde_json::json!({"medico_id": medico_id, "slot": format_datetime(slot), "motivo": por.motivo()}),
    );
}

/// Announces slots an appointment no longer holds (and, with a buffer, that the doctor's
/// grid changed around them). A slot another appointment of the doctor still covers (two
/// off-grid appointments of the front desk can share one) stays `ocupado`: no
/// `horario_disponivel` for it. Reads the store: never call it while holding its lock.
pub fn announce_freed(app: &App, medico_id: &str, slots: &[DateTime], por: Liberacao) {
    let (livres, buffer): (Vec<DateTime>, u16) = {
        let db = app.store.read();
        let tz = app.clock.tz();
        let (len, buffer) =
            super::horarios::grade_do_medico(&db, medico_id, app.config.slot_minutes);
        let livres = slots
            .iter()
            .copied()
            .filter(|s| {
                db.consultas
                    .conflict(true, medico_id, Intervalo::slot(*s, len, tz), None, tz)
                    .is_none()
            })
            .collect();
        (livres, buffer)
    };
    for s in &livres {
        vaga_liberada(app, medico_id, *s, por);
    }
    announce_buffer(app, medico_id, slots, buffer);
}

/// 409 when the doctor or the patient already has a time-blocking appointment overlapping
/// (compared as instants in the clinic's zone `tz`).
pub fn check_overlaps(
    db: &Db,
    medico_id: &str,
    paciente_id: &str,
    iv: Intervalo,
    except: Option<&str>,
    tz: &TimeZone,
) -> Result<(), AppError> {
    if let Some(c) = db.consultas.conflict(true, medico_id, iv, except, tz) {
        return Err(AppError::conflict(
            "doctor_overlap",
            format!(
                "O médico já tem a consulta {} de {} a {} nesse horário.",
                c.id,
                format_datetime(c.inicio),
                format_datetime(c.fim)
            ),
        ));
    }
    if let Some(c) = db.consultas.conflict(false, paciente_id, iv, except, tz) {
        return Err(AppError::conflict(
            "patient_overlap",
            format!(
                "O paciente já tem a consulta {} de {} a {} nesse horário.",
                c.id,
                format_datetime(c.inicio),
                format_datetime(c.fim)
            ),
        ));
    }
    Ok(())
}

/// 422 when the patient or the doctor of a body does not exist.
pub fn check_refs(db: &Db, paciente_id: &str, medico_id: &str) -> Result<(), AppError> {
    let mut errs = Vec::new();
    if db.pacientes.get(paciente_id).is_none() {
        errs.push(CampoErro::new("paciente_id", "paciente não encontrado"));
    }
    if db.medicos.get(medico_id).is_none() {
        errs.push(CampoErro::new("medico_id", "médico não encontrado"));
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(AppError::Validation(errs))
    }
}

/// Creates an appointment synchronously (the front desk's form; may be off-grid or past).
pub async fn create(
    app: &App,
    ctx: &Contexto,
    nova: NovaConsulta,
) -> Result<Arc<Consulta>, AppError> {
    let now = app.clock.stamp();
    let tz = app.clock.tz();
    let c = app
        .commit(ctx, |db| {
            check_refs(db, &nova.paciente_id, &nova.medico_id)?;
            if nova.status != StatusConsulta::Cancelada {
                check_overlaps(
                    db,
                    &nova.medico_id,
                    &nova.paciente_id,
                    nova.intervalo,
                    None,
                    tz,
                )?;
            }
            let (inicio_offset, fim_offset) = nova.intervalo.offsets(tz);
            // The front desk's booking records the payment but is exempt from the
            // refusals, like the §11 rules (see `pagamento::registrar`).
            let pagamento = super::pagamento::registrar(
                db,
                &nova.paciente_id,
                &nova.medico_id,
                nova.forma_pagamento,
                nova.intervalo.inicio.date(),
            );
            let c = Arc::new(Consulta {
                id: new_id(),
                paciente_id: nova.paciente_id,
                medico_id: nova.medico_id,
                inicio: nova.intervalo.inicio,
                fim: nova.intervalo.fim,
                inicio_offset,
                fim_offset,
                status: nova.status,
                observacoes: nova.observacoes,
                serie_id: None,
                created_at: now.clone(),
                updated_at: now,
                motivo_cancelamento: None,
                pagamento: Some(pagamento),
            });
            let mut ops = ofertas_tomadas(db, &c, app.config.slot_minutes);
            ops.push(Op::PutConsulta(c.clone()));
            Ok((ops, c))
        })
        .await?;
    let slots = slots_of(app, &c);
    announce_taken(app, &c, &slots);
    Ok(c)
}

/// The holds of waiting-list offers on the slots appointment `c` takes (the front desk's
/// synchronous booking or move takes any slot, SPEC-2 §11): deleted with the write, which
/// withdraws those offers (`lista_espera::ofertas_retiradas`), instead of leaving a patient
/// an offer of a slot already given away.
fn ofertas_tomadas(db: &Db, c: &Consulta, minutes: u16) -> Vec<Op> {
    if !c.blocks_time() {
        return Vec::new();
    }
    super::horarios::covered_slots(db, &c.medico_id, c.inicio, c.fim, minutes)
        .into_iter()
        .filter_map(|s| {
            db.reservas
                .get(&crate::models::Reserva::key(&c.medico_id, s))
                .filter(|r| r.lista_espera_id.is_some())
                .map(|r| Op::DelReserva(r.id.clone()))
        })
        .collect()
}

/// Changes an appointment, re-validating times, overlaps and the status transition.
/// A final appointment (`concluida`, `faltou`, `cancelada`) may only have its notes changed.
pub async fn update(
    app: &App,
    ctx: &Contexto,
    id: &str,
    alt: AlteraConsulta,
) -> Result<Arc<Consulta>, AppError> {
    let now = app.clock.stamp();
    let tz = app.clock.tz();
    let before = app.store.read().consultas.get(id).cloned();
    let c = app
        .commit(ctx, |db| {
            let old = db
                .consultas
                .get(id)
                .ok_or_else(|| AppError::not_found("Consulta"))?;
            let was = old.intervalo(tz);
            let inicio = alt.inicio.unwrap_or(was.inicio_momento());
            let fim = alt.fim.unwrap_or(was.fim_momento());
            let status = alt.status.unwrap_or(old.status);
            let moved = inicio != was.inicio_momento() || fim != was.fim_momento();
            if old.status.is_final() && (moved || status != old.status) {
                return Err(AppError::conflict(
                    "invalid_status_transition",
                    format!(
                        "A consulta {} e não pode mais ser alterada (estado final).",
                        match old.status {
                            StatusConsulta::Concluida => "já foi concluída",
                            StatusConsulta::Faltou => "já foi registrada como falta",
                            _ => "já foi cancelada",
                        }
                    ),
                ));
            }
            if !old.status.can_become(status) {
                return Err(AppError::conflict(
                    "invalid_status_transition",
                    format!(
                        "Mudança de status não permitida: de \"{}\" para \"{}\"; a partir de \"{}\" são permitidos: {}.",
                        old.status.as_str(),
                        status.as_str(),
                        old.status.as_str(),
                        StatusConsulta::ALL
                            .iter()
                            .filter(|s| old.status.can_become(**s) && **s != old.status)
                            .map(|s| s.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ));
            }
            let iv = Intervalo::new(inicio, fim).map_err(|m| {
                AppError::campo(if alt.fim.is_some() { "fim" } else { "inicio" }, m)
            })?;
            if status != StatusConsulta::Cancelada && moved {
                check_overlaps(db, &old.medico_id, &old.paciente_id, iv, Some(id), tz)?;
            }
            let (inicio_offset, fim_offset) = iv.offsets(tz);
            let mut c = Consulta {
                inicio: iv.inicio,
                fim: iv.fim,
                inicio_offset,
                fim_offset,
                status,
                ..Consulta::clone(old)
            };
            if let Some(obs) = alt.observacoes {
                c.observacoes = obs;
            }
            if c == **old {
                return Ok((vec![], old.clone()));
            }
            c.updated_at = now;
            let c = Arc::new(c);
            let mut ops = ofertas_tomadas(db, &c, app.config.slot_minutes);
            ops.push(Op::PutConsulta(c.clone()));
            Ok((ops, c))
        })
        .await?;
    if let Some(old) = before.filter(|old| **old != *c) {
        let (was, is) = (slots_of(app, &old), slots_of(app, &c));
        let freed: Vec<DateTime> = was.iter().filter(|s| !is.contains(s)).copied().collect();
        let taken: Vec<DateTime> = is.iter().filter(|s| !was.contains(s)).copied().collect();
        let motivo = if c.status == StatusConsulta::Cancelada {
            Liberacao::Cancelada
        } else {
            Liberacao::Remarcada
        };
        announce_freed(app, &c.medico_id, &freed, motivo);
        super::lista_espera::vaga_liberada(app, &c.medico_id, &freed).await;
        if taken.is_empty() {
            announce(app, &c);
        } else {
            announce_taken(app, &c, &taken);
        }
    }
    Ok(c)
}

/// The refusal to delete an appointment whose payment was received (see [`delete`]).
pub fn pagamento_registrado() -> AppError {
    AppError::conflict(
        "pagamento_registrado",
        "A consulta tem pagamento recebido: excluí-la tiraria o valor dos relatórios. Registre o estorno do pagamento (status estornado) ou cancele a consulta em vez de excluí-la.",
    )
}

/// Deletes an appointment (404 unknown; 409 `pagamento_registrado` while its payment is
/// `pago`: the money received would leave the statistics and the report with no trace, so
/// it is refunded (`estornado`) first, or the appointment cancelled instead); returns what
/// was deleted.
pub async fn delete(app: &App, ctx: &Contexto, id: &str) -> Result<Arc<Consulta>, AppError> {
    let old = app
        .commit(ctx, |db| {
            let old = db
                .consultas
                .get(id)
                .ok_or_else(|| AppError::not_found("Consulta"))?;
            if old
                .pagamento
                .as_ref()
                .is_some_and(|p| p.status == crate::models::StatusPagamento::Pago)
            {
                return Err(pagamento_registrado());
            }
            Ok((vec![Op::DelConsulta(id.to_owned())], old.clone()))
        })
        .await?;
    let freed = slots_of(app, &old);
    announce_freed(app, &old.medico_id, &freed, Liberacao::Excluida);
    if old.blocks_time() {
        super::lista_espera::vaga_liberada(app, &old.medico_id, &freed).await;
    }
    Ok(old)
}

/// Which records `GET /consultas?incluir=` embeds in each appointment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Incluir {
    /// `paciente`: `{id, nome, telefone}`.
    pub paciente: bool,
    /// `medico`: `{id, nome, especialidade}`.
    pub medico: bool,
}

impl Incluir {
    /// Nothing to embed.
    pub fn nada(self) -> bool {
        !self.paciente && !self.medico
    }
}

/// Appointments with what `incluir` asks embedded, read in one pass under one read lock.
/// The caller already may see each appointment, hence its patient's name and phone and its
/// doctor's public data (SPEC-2 §10).
pub fn detalhar(
    app: &App,
    itens: &[Arc<Consulta>],
    incluir: Incluir,
) -> Vec<Arc<crate::models::ConsultaDetalhada>> {
    use crate::models::{ConsultaDetalhada, MedicoResumo, PacienteResumo};
    let db = app.store.read();
    itens
        .iter()
        .map(|c| {
            let paciente = incluir.paciente.then(|| {
                db.pacientes.get(&c.paciente_id).map(|p| PacienteResumo {
                    id: p.id.clone(),
                    nome: p.nome.clone(),
                    telefone: p.telefone.clone(),
                })
            });
            let medico = incluir.medico.then(|| {
                db.medicos.get(&c.medico_id).map(|m| MedicoResumo {
                    id: m.id.clone(),
                    nome: m.nome.clone(),
                    especialidade: m.especialidade.clone(),
                })
            });
            Arc::new(ConsultaDetalhada {
                consulta: c.clone(),
                paciente,
                medico,
            })
        })
        .collect()
}

/// The history of an appointment the caller may see (404 otherwise), oldest first.
pub fn historico(
    app: &App,
    id: &str,
    escopo: &Escopo,
) -> Result<Vec<Arc<crate::models::EntradaHistorico>>, AppError> {
    let c = find_visivel(app, id, escopo)?;
    Ok(super::historico::de(&app.store.read(), &c))
}
