//! The slot agenda (SPEC §3): the grid of `slot_minutes` steps inside each horário, slot
//! states, holds, and the synchronous half of `POST /consultas/agendar` (SPEC §2).

use std::collections::HashSet;
use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::consultas::{NovaConsulta, check_overlaps, check_refs};
use super::grade::{self, day_minutes, grid, within_faixas};
use super::horarios::{covered_slots, horarios_do_dia};
use super::{App, Contexto, horarios, new_id, tarefas};
use crate::domain::{DiaSemana, Intervalo, Momento, format_datetime};
use crate::error::AppError;
use crate::models::{Agendado, Estado, Horario, Liberado, Reserva, Reservado, TipoTarefa};
use crate::repositories::{Db, Op};

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
    let Some((start, end)) = day_minutes(iv.inicio, iv.fim) else {
        return false;
    };
    let faixas = horarios_do_dia(db, medico_id, DiaSemana::of(date))
        .iter()
        .map(|h| (h.hora_inicio, h.hora_fim))
        .collect::<Vec<_>>();
    within_faixas(&faixas, start, end)
}

/// The field message for a `slot` that is not a grid start of `medico_id`.
fn fora_da_grade(db: &Db, medico_id: &str, slot: DateTime, minutes: u16) -> String {
    let dia = DiaSemana::of(slot.date());
    let faixas: Vec<(u16, u16)> = horarios_do_dia(db, medico_id, dia)
        .iter()
        .map(|h| (h.hora_inicio.minutes(), h.hora_fim.minutes()))
        .collect();
    grade::fora_da_grade(&faixas, dia, slot, minutes)
}

/// Whether a live hold covers the doctor's slot.
fn held(db: &Db, medico_id: &str, slot: DateTime, now: Timestamp) -> bool {
    db.reservas
        .get(&Reserva::key(medico_id, slot))
        .is_some_and(|r| r.expira_em > now)
}

/// The state of one slot (overlaps judged as instants in the clinic's zone `tz`).
pub fn slot_state(
    db: &Db,
    medico_id: &str,
    slot: DateTime,
    minutes: u16,
    now: Timestamp,
    tz: &TimeZone,
) -> Estado {
    let iv = Intervalo::slot(slot, minutes, tz);
    if db
        .consultas
        .conflict(true, medico_id, iv, None, tz)
        .is_some()
    {
        Estado::Ocupado
    } else if held(db, medico_id, slot, now) {
        Estado::Reservado
    } else {
        Estado::Disponivel
    }
}

/// How many grid slots [`slots`] would list at most (started ones included): per doctor,
/// the slots of each weekday's horários times how often that weekday falls in the range.
/// Cheap (doctors × horários + days), so a too-large request is refused before any work.
pub fn grid_size(db: &Db, medico: Option<&str>, de: Date, days: u16, minutes: u16) -> u64 {
    let mut per_weekday = [0u64; 7];
    let mut date = de;
    for _ in 0..days {
        per_weekday[DiaSemana::of(date) as usize] += 1;
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    let step = u64::from(minutes.max(1));
    let of = |id: &str| -> u64 {
        horarios::of_medico(db, id)
            .map(|h| {
                let len = u64::from(h.hora_fim.minutes().saturating_sub(h.hora_inicio.minutes()));
                (len / step) * per_weekday[h.dia_semana as usize]
            })
            .sum()
    };
    match medico {
        Some(m) => of(m),
        None => db.medicos.iter().map(|m| of(&m.id)).sum(),
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

/// The UTC offset (seconds) of each clinic day from `first`, `None` on a day whose offset
/// changes (a daylight-saving day): civil seconds minus it are Unix seconds, so the sweep
/// converts times to instants with one array lookup, and asks the zone only on those days.
struct Offsets<'a> {
    tz: &'a TimeZone,
    first: i64,
    days: Vec<Option<i64>>,
}

impl<'a> Offsets<'a> {
    fn new(tz: &'a TimeZone, first: Date, n: usize) -> Self {
        // A midnight inside a gap or a fold gives `None`, so its day takes the slow path.
        let offset_at = |d: Date| match tz.to_ambiguous_timestamp(d.at(0, 0, 0, 0)).offset() {
            jiff::tz::AmbiguousOffset::Unambiguous { offset } => Some(offset.seconds()),
            _ => None,
        };
        let mut days = Vec::with_capacity(n);
        let mut date = first;
        let mut cur = offset_at(date);
        for _ in 0..n {
            let Ok(next_date) = date.tomorrow() else {
                break;
            };
            let next = offset_at(next_date);
            days.push(if cur == next {
                cur.map(i64::from)
            } else {
                None
            });
            // (Two `None`s compare equal: that day stays `None` too.)
            (date, cur) = (next_date, next);
        }
        Self {
            tz,
            first: secs(first.at(0, 0, 0, 0)),
            days,
        }
    }

    /// The offset of the whole of `date` (`None` on a day the offset changes).
    fn of_day(&self, date: Date) -> Option<i64> {
        let idx = (secs(date.at(0, 0, 0, 0)) - self.first).div_euclid(86_400);
        usize::try_from(idx)
            .ok()
            .and_then(|i| self.days.get(i))
            .copied()
            .flatten()
    }

    /// Unix seconds of a clinic-local datetime (`civil` = [`secs`] of it): `offset` when one
    /// is stored; in a gap, `None` for `strict` (a grid slot that does not exist) else the
    /// compatible instant; in a fold, the earlier occurrence.
    fn instant(
        &self,
        dt: DateTime,
        civil: i64,
        offset: Option<Offset>,
        strict: bool,
    ) -> Option<i64> {
        if let Some(o) = offset {
            return Some(civil - i64::from(o.seconds()));
        }
        let idx = (civil - self.first).div_euclid(86_400);
        if let Some(Some(off)) = usize::try_from(idx).ok().and_then(|i| self.days.get(i)) {
            return Some(civil - off);
        }
        if strict {
            Momento::resolve(dt, self.tz).ok()
        } else {
            Some(Momento::stored(dt, None, self.tz))
        }
        .map(|m| m.instante.as_second())
    }
}

/// The agenda from `de` for `days` days: every doctor with horários (or just `medico`),
/// by name. Each doctor's appointments are fetched once (from the per-doctor index, which
/// holds the records) and swept against the grid in integer Unix seconds, so the cost is
/// slots + appointments, not their product.
///
/// Times are compared as instants in the clinic's zone `tz`: a grid time skipped by a
/// daylight-saving change is not a slot; a grid time that happens twice is listed once and
/// means its earlier occurrence. Slots that start before `now` are left out: they can no
/// longer be held or booked (`check_slot`).
pub fn slots(
    db: &Db,
    medico: Option<&str>,
    de: Date,
    days: u16,
    minutes: u16,
    now: Timestamp,
    tz: &TimeZone,
) -> Vec<SlotsMedico> {
    let from = de.at(0, 0, 0, 0);
    let to = from.saturating_add(SignedDuration::from_hours(24 * i64::from(days)));
    let slack = SignedDuration::from_hours(crate::repositories::SLACK_HORAS);
    let reach = SignedDuration::from_hours(Intervalo::MAX_HORAS).saturating_add(slack);
    let reach_secs = Intervalo::MAX_HORAS * 3600;
    let step_secs = i64::from(minutes) * 60;
    let now_secs = now.as_second();
    // One day before the range (appointments reaching into it) and two after.
    let offsets = Offsets::new(tz, de.yesterday().unwrap_or(de), usize::from(days) + 3);
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
        // (start, end) as Unix seconds, by start.
        let mut busy: Vec<(i64, i64)> = db
            .consultas
            .of_medico(&id, from.saturating_sub(reach), to.saturating_add(slack))
            .filter(|c| c.blocks_time())
            .filter_map(|c| {
                Some((
                    offsets.instant(c.inicio, secs(c.inicio), c.inicio_offset, false)?,
                    offsets.instant(c.fim, secs(c.fim), c.fim_offset, false)?,
                ))
            })
            .collect();
        // Local order is instant order except around a fold.
        if !busy.is_sorted() {
            busy.sort_unstable();
        }
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
            let day_off = offsets.of_day(date);
            // A doctor's horários on one day never overlap and come by start: the
            // slots come out in time order without sorting.
            for h in &by_day[DiaSemana::of(date) as usize] {
                for s in grid(h, date, minutes) {
                    let local = day0 + i64::from(s.hour()) * 3600 + i64::from(s.minute()) * 60;
                    let start = match day_off {
                        Some(off) => local - off,
                        None => match offsets.instant(s, local, None, true) {
                            Some(t) => t,
                            None => continue,
                        },
                    };
                    if start < now_secs {
                        continue;
                    }
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
                    } else if !holds.is_empty() && holds.contains(&local) {
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

/// Holds a free slot for the configured TTL.
pub async fn reservar(
    app: &App,
    ctx: &Contexto,
    medico_id: &str,
    slot: DateTime,
) -> Result<Reservado, AppError> {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let expira = now
        .saturating_add(SignedDuration::from_secs(app.config.hold_ttl_secs as i64))
        .unwrap_or(now);
    let out = app
        .commit(ctx, |db| {
            check_slot(app, db, medico_id, slot)?;
            match slot_state(db, medico_id, slot, minutes, now, app.clock.tz()) {
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
pub async fn liberar(
    app: &App,
    ctx: &Contexto,
    medico_id: &str,
    slot: DateTime,
) -> Result<Liberado, AppError> {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let out = app
        .commit_reply(
            ctx,
            |db| {
                if db.medicos.get(medico_id).is_none() {
                    return Err(AppError::not_found("Médico"));
                }
                if !on_grid(db, medico_id, slot, minutes) {
                    return Err(AppError::campo(
                        "slot",
                        fora_da_grade(db, medico_id, slot, minutes),
                    ));
                }
                let estado = slot_state(db, medico_id, slot, minutes, now, app.clock.tz());
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
    /// UTC offset of `inicio` when it is the later occurrence of a repeated hour.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::models::offset_opt"
    )]
    pub inicio_offset: Option<Offset>,
    /// UTC offset of `fim` when it is the later occurrence of a repeated hour.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "crate::models::offset_opt"
    )]
    pub fim_offset: Option<Offset>,
    /// Notes.
    pub observacoes: Option<String>,
}

/// The synchronous half of `POST /consultas/agendar`: checks the body, the grid, working
/// hours and the slot; holds the free slots it covers and journals the task, all in one
/// write; then hands the task to the worker. Answers 202.
pub async fn agendar(app: &App, ctx: &Contexto, nova: NovaConsulta) -> Result<Agendado, AppError> {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let expira = now
        .saturating_add(SignedDuration::from_secs(app.config.hold_ttl_secs as i64))
        .unwrap_or(now);
    let criado = app.clock.stamp();
    let iv = nova.intervalo;
    let (out, tarefa, new_holds) = app
        .commit_reply(
            ctx,
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
                let tz = app.clock.tz();
                if db
                    .consultas
                    .conflict(true, &nova.medico_id, iv, None, tz)
                    .is_some()
                {
                    return Err(slot_taken(iv.inicio));
                }
                check_overlaps(db, &nova.medico_id, &nova.paciente_id, iv, None, tz)?;
                let (inicio_offset, fim_offset) = iv.offsets(tz);
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
                    inicio_offset,
                    fim_offset,
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
    tz: &TimeZone,
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
    let iv = Intervalo::from_momentos(
        Momento::stored(p.inicio, p.inicio_offset, tz),
        Momento::stored(p.fim, p.fim_offset, tz),
    );
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
    } else if let Some(c) = db.consultas.conflict(true, &p.medico_id, iv, None, tz) {
        Some(recusa(
            "horario_ocupado",
            format!(
                "O horário {} já está ocupado pela consulta {}.",
                format_datetime(p.inicio),
                c.id
            ),
        ))
    } else if let Some(c) = db.consultas.conflict(false, &p.paciente_id, iv, None, tz) {
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
                    slot_state(db, &p.medico_id, *s, minutes, Timestamp::MIN, tz) != Estado::Ocupado
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
                inicio_offset: p.inicio_offset,
                fim_offset: p.fim_offset,
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
pub fn announce(app: &App, d: Decisao) -> Result<(), tarefas::Falha> {
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
    let tz = app.clock.tz();
    let d = rt.block_on(app.write(|db| Ok(decidir(db, t, minutes, &agora, tz))))?;
    announce(app, d)
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
