//! The slot agenda (SPEC §3): the grid of `slot_minutes` steps inside each horário, slot
//! states, holds, and the synchronous half of `POST /consultas/agendar` (SPEC §2).

use std::collections::HashSet;
use std::sync::Arc;

use axum::http::StatusCode;
use jiff::civil::{Date, DateTime};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::consultas::{NovaConsulta, check_overlaps, check_refs};
use super::{App, horarios, new_id, tarefas};
use crate::domain::{DiaSemana, Intervalo, format_datetime};
use crate::error::AppError;
use crate::models::{Horario, Reserva, TipoTarefa};
use crate::repositories::{Db, Op};

/// A slot's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Estado {
    /// Free.
    Disponivel,
    /// Held by a live hold.
    Reservado,
    /// Covered by a non-cancelled appointment.
    Ocupado,
}

fn step(minutes: u16) -> SignedDuration {
    SignedDuration::from_mins(i64::from(minutes))
}

/// A doctor's horários on one weekday, by start.
pub fn horarios_do_dia(db: &Db, medico_id: &str, dia: DiaSemana) -> Vec<Arc<Horario>> {
    horarios::of_medico(db, medico_id)
        .filter(|h| h.dia_semana == dia)
        .cloned()
        .collect()
}

/// The grid slot starts of one horário on one date.
fn grid(h: &Horario, date: Date, minutes: u16) -> impl Iterator<Item = DateTime> + '_ {
    let end = h.hora_fim.minutes();
    (h.hora_inicio.minutes()..)
        .step_by(usize::from(minutes.max(1)))
        .take_while(move |m| m + minutes <= end)
        .map(move |m| date.at((m / 60) as i8, (m % 60) as i8, 0, 0))
}

/// Whether `slot` is a grid start inside one of the doctor's horários.
pub fn on_grid(db: &Db, medico_id: &str, slot: DateTime, minutes: u16) -> bool {
    let date = slot.date();
    horarios_do_dia(db, medico_id, DiaSemana::of(date))
        .iter()
        .any(|h| grid(h, date, minutes).any(|s| s == slot))
}

/// Whether `[inicio, fim)` lies inside the doctor's working hours of that day, adjacent
/// horários joining into one stretch.
pub fn within_hours(db: &Db, medico_id: &str, iv: Intervalo) -> bool {
    let date = iv.inicio.date();
    let start = i32::from(iv.inicio.hour()) * 60 + i32::from(iv.inicio.minute());
    let end = if iv.fim.date() == date {
        i32::from(iv.fim.hour()) * 60 + i32::from(iv.fim.minute()) + i32::from(iv.fim.second() > 0)
    } else {
        return false;
    };
    let mut stretch: Option<(i32, i32)> = None;
    for h in horarios_do_dia(db, medico_id, DiaSemana::of(date)) {
        let (a, b) = (
            i32::from(h.hora_inicio.minutes()),
            i32::from(h.hora_fim.minutes()),
        );
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

/// The grid slots of the doctor that `[inicio, fim)` covers, in time order.
pub fn covered_slots(
    db: &Db,
    medico_id: &str,
    inicio: DateTime,
    fim: DateTime,
    minutes: u16,
) -> Vec<DateTime> {
    let mut out = Vec::new();
    let mut date = inicio.date();
    while date <= fim.date() {
        for h in horarios_do_dia(db, medico_id, DiaSemana::of(date)) {
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

/// Whether a live hold covers the doctor's slot.
fn held(db: &Db, medico_id: &str, slot: DateTime, now: Timestamp) -> bool {
    db.reservas
        .get(&Reserva::key(medico_id, slot))
        .is_some_and(|r| r.expira_em > now)
}

/// The state of one slot.
pub fn slot_state(
    db: &Db,
    medico_id: &str,
    slot: DateTime,
    minutes: u16,
    now: Timestamp,
) -> Estado {
    let iv = Intervalo {
        inicio: slot,
        fim: slot.saturating_add(step(minutes)),
    };
    if db.consultas.conflict(true, medico_id, iv, None).is_some() {
        Estado::Ocupado
    } else if held(db, medico_id, slot, now) {
        Estado::Reservado
    } else {
        Estado::Disponivel
    }
}

/// One doctor's slots in time order.
pub type SlotsMedico = (String, Vec<(DateTime, Estado)>);

/// Seconds since 1970-01-01T00:00 of a civil datetime, in plain integer arithmetic
/// (days-from-civil), so the agenda sweep does no calendar work per slot.
fn secs(dt: DateTime) -> i64 {
    let (y, m, d) = (
        i64::from(dt.year()),
        i64::from(dt.month()),
        i64::from(dt.day()),
    );
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400
        + i64::from(dt.hour()) * 3600
        + i64::from(dt.minute()) * 60
        + i64::from(dt.second())
}

/// The agenda from `de` for `days` days: every doctor with horários (or just `medico`),
/// by name. Each doctor's appointments are fetched once (from the per-doctor index, which
/// holds the records) and swept against the grid in integer seconds, so the cost is
/// slots + appointments, not their product.
pub fn slots(
    db: &Db,
    medico: Option<&str>,
    de: Date,
    days: u16,
    minutes: u16,
    now: Timestamp,
) -> Vec<SlotsMedico> {
    let from = de.at(0, 0, 0, 0);
    let to = from.saturating_add(SignedDuration::from_hours(24 * i64::from(days)));
    let reach = SignedDuration::from_hours(Intervalo::MAX_HORAS);
    let reach_secs = Intervalo::MAX_HORAS * 3600;
    let step_secs = i64::from(minutes) * 60;
    let medicos: Vec<String> = match medico {
        Some(m) => vec![m.to_owned()],
        None => db
            .medicos
            .iter()
            .filter(|m| horarios::of_medico(db, &m.id).next().is_some())
            .map(|m| m.id.clone())
            .collect(),
    };
    let mut out = Vec::with_capacity(medicos.len());
    for id in medicos {
        let mut by_day: [Vec<Arc<Horario>>; 7] = Default::default();
        for h in horarios::of_medico(db, &id) {
            by_day[h.dia_semana as usize].push(h.clone());
        }
        // (start, end) in seconds, by start.
        let busy: Vec<(i64, i64)> = db
            .consultas
            .of_medico(&id, from.saturating_sub(reach), to)
            .filter(|c| c.blocks_time())
            .map(|c| (secs(c.inicio), secs(c.fim)))
            .collect();
        let holds: HashSet<i64> = db
            .reservas
            .range(
                std::ops::Bound::Included((id.clone(), from)),
                std::ops::Bound::Excluded((id.clone(), to)),
            )
            .filter(|r| r.expira_em > now)
            .map(|r| secs(r.slot))
            .collect();
        let mut list = Vec::new();
        let mut date = de;
        for _ in 0..days {
            let day0 = secs(date.at(0, 0, 0, 0));
            // A doctor's horários on one day never overlap and come by start: the
            // slots come out in time order without sorting.
            for h in &by_day[DiaSemana::of(date) as usize] {
                for s in grid(h, date, minutes) {
                    let start = day0 + i64::from(s.hour()) * 3600 + i64::from(s.minute()) * 60;
                    let end = start + step_secs;
                    let floor = start - reach_secs;
                    // Appointments starting before the slot ends, newest first, within reach.
                    let upto = busy.partition_point(|(i, _)| *i < end);
                    let taken = busy[..upto]
                        .iter()
                        .rev()
                        .take_while(|(i, _)| *i > floor)
                        .any(|(_, f)| *f > start);
                    let estado = if taken {
                        Estado::Ocupado
                    } else if !holds.is_empty() && holds.contains(&start) {
                        Estado::Reservado
                    } else {
                        Estado::Disponivel
                    };
                    list.push((s, estado));
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        out.push((id, list));
    }
    out
}

/// Answer of `POST /agenda/reservar`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Reservado {
    /// `reservado`.
    #[schema(example = "reservado")]
    pub status: String,
    /// The slot, clinic-local.
    #[schema(example = "2026-03-02T08:00:00")]
    pub slot: String,
    /// The doctor.
    pub medico_id: String,
    /// When the hold lapses (RFC 3339).
    pub expira_em: String,
}

/// Answer of `POST /agenda/liberar`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Liberado {
    /// `liberado` when a hold was released, `disponivel` when the slot was already free.
    #[schema(example = "liberado")]
    pub status: String,
    /// The slot, clinic-local.
    pub slot: String,
    /// The doctor.
    pub medico_id: String,
}

/// Answer of `POST /consultas/agendar`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Agendado {
    /// `pendente`.
    #[schema(example = "pendente")]
    pub status: String,
    /// The booking task; follow it at `/sistema/tasks/{task_id}`.
    pub task_id: String,
    /// The first slot, clinic-local.
    pub slot: String,
    /// `Consulta em processamento.`
    pub mensagem: String,
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
/// horizon (422), on their grid (422) and not in the past (422).
fn check_slot(app: &App, db: &Db, medico_id: &str, slot: DateTime) -> Result<(), AppError> {
    if db.medicos.get(medico_id).is_none() {
        return Err(AppError::not_found("Médico"));
    }
    check_horizon(app, slot)?;
    if !on_grid(db, medico_id, slot, app.config.slot_minutes) {
        return Err(AppError::campo(
            "slot",
            "fora da grade de horários do médico (início de um intervalo dentro do horário de atendimento)",
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

/// Holds a free slot for the configured TTL.
pub async fn reservar(app: &App, medico_id: &str, slot: DateTime) -> Result<Reservado, AppError> {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let expira = now
        .saturating_add(SignedDuration::from_secs(app.config.hold_ttl_secs as i64))
        .unwrap_or(now);
    let out = app
        .commit(StatusCode::OK, |db| {
            check_slot(app, db, medico_id, slot)?;
            match slot_state(db, medico_id, slot, minutes, now) {
                Estado::Ocupado => return Err(slot_taken(slot)),
                Estado::Reservado => {
                    return Err(AppError::conflict(
                        "horario_reservado",
                        format!("O horário {} já está reservado.", format_datetime(slot)),
                    ));
                }
                Estado::Disponivel => {}
            }
            let r = Arc::new(Reserva {
                id: Reserva::key(medico_id, slot),
                medico_id: medico_id.to_owned(),
                slot,
                expira_em: expira,
            });
            let out = Reservado {
                status: "reservado".into(),
                slot: format_datetime(slot),
                medico_id: medico_id.to_owned(),
                expira_em: app.clock.stamp_at(expira),
            };
            Ok((vec![Op::PutReserva(r)], out))
        })
        .await?;
    app.events.publish(
        "horario_reservado",
        &serde_json::json!({"medico_id": out.medico_id, "slot": out.slot, "expira_em": out.expira_em}),
    );
    Ok(out)
}

/// Releases a hold: `liberado` if there was one, `disponivel` if the slot was free, 409 if booked.
pub async fn liberar(app: &App, medico_id: &str, slot: DateTime) -> Result<Liberado, AppError> {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let out = app
        .commit_reply(
            StatusCode::OK,
            |db| {
                if db.medicos.get(medico_id).is_none() {
                    return Err(AppError::not_found("Médico"));
                }
                if !on_grid(db, medico_id, slot, minutes) {
                    return Err(AppError::campo(
                        "slot",
                        "fora da grade de horários do médico",
                    ));
                }
                let estado = slot_state(db, medico_id, slot, minutes, now);
                if estado == Estado::Ocupado {
                    return Err(slot_taken(slot));
                }
                let key = Reserva::key(medico_id, slot);
                // A hold that lapsed but was not swept yet is removed here, announced as expired.
                let lapsed = estado != Estado::Reservado && db.reservas.get(&key).is_some();
                let ops = if estado == Estado::Reservado || lapsed {
                    vec![Op::DelReserva(key)]
                } else {
                    vec![]
                };
                let status = if estado == Estado::Reservado {
                    "liberado"
                } else {
                    "disponivel"
                };
                let out = Liberado {
                    status: status.into(),
                    slot: format_datetime(slot),
                    medico_id: medico_id.to_owned(),
                };
                Ok((ops, (out, lapsed)))
            },
            |(out, _)| out,
        )
        .await?;
    let (out, lapsed) = out;
    if out.status == "liberado" || lapsed {
        let motivo = if lapsed { "expirou" } else { "liberado" };
        app.events.publish(
            "horario_liberado",
            &serde_json::json!({"medico_id": out.medico_id, "slot": out.slot, "motivo": motivo}),
        );
    }
    Ok(out)
}

/// Removes the holds that have lapsed and announces each (`motivo: "expirou"`).
pub async fn expire_holds(app: &App) -> Result<usize, AppError> {
    let now = Timestamp::now();
    if !app.store.read().reservas.iter().any(|r| r.expira_em <= now) {
        return Ok(0);
    }
    let gone = app
        .write(|db| {
            let gone: Vec<Arc<Reserva>> = db
                .reservas
                .iter()
                .filter(|r| r.expira_em <= now)
                .cloned()
                .collect();
            let ops = gone.iter().map(|r| Op::DelReserva(r.id.clone())).collect();
            Ok((ops, gone))
        })
        .await?;
    for r in &gone {
        tracing::info!(target: "agendamento::agenda", medico_id = %r.medico_id, slot = %format_datetime(r.slot), "hold expired");
        app.events.publish(
            "horario_liberado",
            &serde_json::json!({"medico_id": r.medico_id, "slot": format_datetime(r.slot), "motivo": "expirou"}),
        );
    }
    Ok(gone.len())
}

/// What the booking task needs; the appointment id is chosen when the task is accepted, so
/// a re-run after a crash finds the appointment it already created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamsAgendar {
    /// Id the appointment will have.
    pub consulta_id: String,
    /// The patient.
    pub paciente_id: String,
    /// The doctor.
    pub medico_id: String,
    /// Start.
    #[serde(with = "crate::models::local_dt")]
    pub inicio: DateTime,
    /// End.
    #[serde(with = "crate::models::local_dt")]
    pub fim: DateTime,
    /// Notes.
    pub observacoes: Option<String>,
}

/// The synchronous half of `POST /consultas/agendar`: checks the body, the grid, working
/// hours and the slot; holds the free slots it covers and journals the task, all in one
/// write; then hands the task to the worker. Answers 202.
pub async fn agendar(app: &App, nova: NovaConsulta) -> Result<Agendado, AppError> {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let expira = now
        .saturating_add(SignedDuration::from_secs(app.config.hold_ttl_secs as i64))
        .unwrap_or(now);
    let criado = app.clock.stamp();
    let iv = nova.intervalo;
    let (out, tarefa, new_holds) = app
        .commit_reply(
            StatusCode::ACCEPTED,
            |db| {
                check_refs(db, &nova.paciente_id, &nova.medico_id)?;
                check_slot(app, db, &nova.medico_id, iv.inicio).map_err(|e| match e {
                    AppError::Validation(mut errs) => {
                        for er in &mut errs {
                            er.campo = "inicio".into();
                        }
                        AppError::Validation(errs)
                    }
                    other => other,
                })?;
                if !within_hours(db, &nova.medico_id, iv) {
                    return Err(AppError::campo(
                        "fim",
                        "a consulta deve terminar dentro do horário de atendimento do médico",
                    ));
                }
                let cobertos = covered_slots(db, &nova.medico_id, iv.inicio, iv.fim, minutes);
                if db
                    .consultas
                    .conflict(true, &nova.medico_id, iv, None)
                    .is_some()
                {
                    return Err(slot_taken(iv.inicio));
                }
                check_overlaps(db, &nova.medico_id, &nova.paciente_id, iv, None)?;
                let mut ops = Vec::new();
                let mut new_holds = Vec::new();
                for s in &cobertos {
                    if !held(db, &nova.medico_id, *s, now) {
                        ops.push(Op::PutReserva(Arc::new(Reserva {
                            id: Reserva::key(&nova.medico_id, *s),
                            medico_id: nova.medico_id.clone(),
                            slot: *s,
                            expira_em: expira,
                        })));
                        new_holds.push(*s);
                    }
                }
                let params = ParamsAgendar {
                    consulta_id: new_id(),
                    paciente_id: nova.paciente_id.clone(),
                    medico_id: nova.medico_id.clone(),
                    inicio: iv.inicio,
                    fim: iv.fim,
                    observacoes: nova.observacoes.clone(),
                };
                let t = tarefas::nova(TipoTarefa::AgendarConsulta, &params, criado.clone())?;
                ops.push(Op::PutTarefa(t.clone()));
                let out = Agendado {
                    status: "pendente".into(),
                    task_id: t.id.clone(),
                    slot: format_datetime(iv.inicio),
                    mensagem: "Consulta em processamento.".into(),
                };
                Ok((ops, (out, t, new_holds)))
            },
            |(out, _, _)| out,
        )
        .await?;
    let expira_em = app.clock.stamp_at(expira);
    for s in new_holds {
        app.events.publish(
            "horario_reservado",
            &serde_json::json!({"medico_id": nova.medico_id, "slot": format_datetime(s), "expira_em": expira_em}),
        );
    }
    tarefas::accepted(app, &tarefa);
    Ok(out)
}

/// How the booking task's decision went.
enum Desfecho {
    /// The appointment exists (created now, or by an earlier run of the same task).
    Criada(Arc<crate::models::Consulta>, Vec<DateTime>),
    /// Refused: why, and the slots that became free.
    Recusada(crate::models::ErroTarefa, Vec<DateTime>),
}

/// A booking task's outcome, decided and applied in memory, to announce once durable.
pub struct Decisao {
    desfecho: Desfecho,
    tarefa: Arc<crate::models::Tarefa>,
    medico_id: String,
}

/// The worker's half of a booking, run under the write lock: re-validates everything and,
/// in one journal entry, either creates the appointment (releasing its holds, task
/// `concluida`) or fails the task with a reason (releasing its holds). A re-run after a
/// crash finds the appointment by its pre-chosen id and only completes the task.
pub fn decidir(
    db: &Db,
    t: &crate::models::Tarefa,
    minutes: u16,
    agora: &str,
) -> (Vec<Op>, Decisao) {
    use crate::models::{Consulta, ErroTarefa, StatusConsulta};
    let recusa = |code: &str, detail: String| ErroTarefa {
        code: code.into(),
        detail,
    };
    let p: ParamsAgendar = match serde_json::from_value(t.parametros.clone()) {
        Ok(p) => p,
        Err(e) => {
            let err = recusa(
                "parametros_invalidos",
                format!("Parâmetros da tarefa ilegíveis: {e}"),
            );
            let done = tarefas::finished(t, agora.to_owned(), Err(err.clone()));
            let d = Decisao {
                desfecho: Desfecho::Recusada(err, Vec::new()),
                tarefa: done.clone(),
                medico_id: String::new(),
            };
            return (vec![Op::PutTarefa(done)], d);
        }
    };
    let iv = Intervalo {
        inicio: p.inicio,
        fim: p.fim,
    };
    let cobertos = covered_slots(db, &p.medico_id, p.inicio, p.fim, minutes);
    let mut ops: Vec<Op> = cobertos
        .iter()
        .map(|s| Reserva::key(&p.medico_id, *s))
        .filter(|k| db.reservas.get(k).is_some())
        .map(Op::DelReserva)
        .collect();
    let existing = db.consultas.get(&p.consulta_id).cloned();
    let problema = if existing.is_some() {
        None
    } else if db.pacientes.get(&p.paciente_id).is_none() {
        Some(recusa(
            "paciente_inexistente",
            "O paciente não existe mais.".into(),
        ))
    } else if db.medicos.get(&p.medico_id).is_none() {
        Some(recusa(
            "medico_inexistente",
            "O médico não existe mais.".into(),
        ))
    } else if let Some(c) = db.consultas.conflict(true, &p.medico_id, iv, None) {
        Some(recusa(
            "horario_ocupado",
            format!(
                "O horário {} já está ocupado pela consulta {}.",
                format_datetime(p.inicio),
                c.id
            ),
        ))
    } else if let Some(c) = db.consultas.conflict(false, &p.paciente_id, iv, None) {
        Some(recusa(
            "patient_overlap",
            format!("O paciente já tem a consulta {} nesse horário.", c.id),
        ))
    } else if !within_hours(db, &p.medico_id, iv) || !on_grid(db, &p.medico_id, p.inicio, minutes) {
        Some(recusa(
            "fora_do_horario",
            "O horário não está mais dentro do horário de atendimento do médico.".into(),
        ))
    } else {
        None
    };
    let desfecho = match (problema, existing) {
        (Some(err), _) => {
            let freed = cobertos
                .iter()
                .copied()
                .filter(|s| db.reservas.get(&Reserva::key(&p.medico_id, *s)).is_some())
                .filter(|s| {
                    slot_state(db, &p.medico_id, *s, minutes, Timestamp::MIN) != Estado::Ocupado
                })
                .collect();
            Desfecho::Recusada(err, freed)
        }
        (None, Some(c)) => Desfecho::Criada(c, cobertos),
        (None, None) => {
            let c = Arc::new(Consulta {
                id: p.consulta_id.clone(),
                paciente_id: p.paciente_id.clone(),
                medico_id: p.medico_id.clone(),
                inicio: p.inicio,
                fim: p.fim,
                status: StatusConsulta::Agendada,
                observacoes: p.observacoes.clone(),
                created_at: agora.to_owned(),
                updated_at: agora.to_owned(),
            });
            ops.insert(0, Op::PutConsulta(c.clone()));
            Desfecho::Criada(c, cobertos)
        }
    };
    let resultado = match &desfecho {
        Desfecho::Criada(c, _) => Ok(serde_json::json!({ "consulta": c })),
        Desfecho::Recusada(err, _) => Err(err.clone()),
    };
    let done = tarefas::finished(t, agora.to_owned(), resultado);
    ops.push(Op::PutTarefa(done.clone()));
    let d = Decisao {
        desfecho,
        tarefa: done,
        medico_id: p.medico_id,
    };
    (ops, d)
}

/// Announces a durable booking decision; `Err(Recusada)` when the booking was refused.
pub fn anunciar(app: &App, d: Decisao) -> Result<(), tarefas::Falha> {
    let result = match d.desfecho {
        Desfecho::Criada(c, slots) => {
            tracing::info!(target: "agendamento::agenda", consulta_id = %c.id, task_id = %d.tarefa.id, "appointment booked");
            super::consultas::announce_taken(app, &c, &slots);
            Ok(())
        }
        Desfecho::Recusada(err, freed) => {
            tracing::info!(target: "agendamento::agenda", task_id = %d.tarefa.id, code = %err.code, "booking refused");
            for s in freed {
                app.events.publish(
                    "horario_disponivel",
                    &serde_json::json!({"medico_id": d.medico_id, "slot": format_datetime(s), "motivo": "falhou"}),
                );
            }
            Err(tarefas::Falha::Recusada)
        }
    };
    tarefas::announce(app, &d.tarefa);
    result
}

/// Runs one booking task to its decision and announces it.
pub fn executar(
    app: &App,
    rt: &tokio::runtime::Handle,
    t: &crate::models::Tarefa,
) -> Result<(), tarefas::Falha> {
    let minutes = app.config.slot_minutes;
    let agora = app.clock.stamp();
    let d = rt.block_on(app.write(|db| Ok(decidir(db, t, minutes, &agora))))?;
    anunciar(app, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn secs_counts_like_jiff(y in 1900i16..2200, doy in 0i64..366, h in 0i8..24, m in 0i8..60, y2 in 1900i16..2200, doy2 in 0i64..366) {
            let a = jiff::civil::date(y, 1, 1).at(h, m, 0, 0).saturating_add(SignedDuration::from_hours(24 * doy));
            let b = jiff::civil::date(y2, 1, 1).at(0, 0, 0, 0).saturating_add(SignedDuration::from_hours(24 * doy2));
            prop_assert_eq!(secs(a) - secs(b), a.duration_since(b).as_secs());
        }
    }

    #[test]
    fn secs_of_the_epoch_is_zero() {
        assert_eq!(secs(jiff::civil::date(1970, 1, 1).at(0, 0, 0, 0)), 0);
        assert_eq!(secs(jiff::civil::date(1970, 1, 2).at(0, 0, 1, 0)), 86_401);
    }
}
