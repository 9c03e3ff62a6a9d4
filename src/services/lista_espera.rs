//! The waiting list (SPEC-2 §11): entries, and the offers of freed slots.
//!
//! Every path that frees a slot calls [`vaga_liberada`] once its own write is durable: in
//! one write under the store's lock it re-checks that each slot is still free (on the
//! doctor's grid, in the future, not taken, not held) and holds it for the oldest matching
//! `aguardando` entry, which becomes `oferecida`. Because the decision re-reads the state
//! under the same lock every booking and hold takes, a slot can never be given to two: a
//! booking that got there first leaves nothing to offer, and an offer's hold makes every
//! other booking and hold of that slot a 409 `horario_reservado`.
//!
//! An offer is a hold ([`Reserva`] with `lista_espera_id`) plus the entry's `oferta`, both
//! journaled in the same entry, so it survives a restart; [`expirar`] (run by the hold-expiry
//! timer, also right after start) lapses offers past their time and passes the slot on.
//! Accepting books through the booking queue (`services::agenda::aceitar`).
//!
//! This file sits below `consultas` and `agenda` (it reads the grid and the tables only),
//! so the services that free slots can call it.

use std::collections::HashSet;
use std::sync::Arc;

use jiff::civil::{Date, DateTime};
use jiff::{SignedDuration, Timestamp};

use super::grade::grid;
use super::{App, Contexto, Escopo, Janela, Recorte, new_id};
use super::{alvo, horarios, pagamento, regras};
use crate::domain::{DiaSemana, Intervalo, Momento, fold, format_datetime};
use crate::error::{AppError, CampoErro};
use crate::models::{
    Bloqueio, EntradaEspera, Horario, Medico, Oferta, Reserva, StatusEspera, VagaRecusada,
};
use crate::repositories::{Db, Op};

/// How long an offer made now lasts: `--oferta-segundos` when given (tests, benchmarks),
/// else the clinic rule `oferta_minutos` (SPEC-2 §11, `/sistema/regras`, default 30).
pub fn oferta_duracao(app: &App, db: &Db) -> SignedDuration {
    match app.config.oferta_segundos {
        Some(s) => SignedDuration::from_secs(i64::try_from(s).unwrap_or(i64::MAX)),
        None => SignedDuration::from_mins(i64::from(regras::atuais(db).oferta_minutos)),
    }
}

/// A new entry, validated by the controller.
#[derive(Debug, Clone)]
pub struct NovaEntrada {
    /// The patient.
    pub paciente_id: String,
    /// Only this doctor.
    pub medico_id: Option<String>,
    /// Only this speciality.
    pub especialidade: Option<String>,
    /// First acceptable day.
    pub de: Date,
    /// Last acceptable day.
    pub ate: Date,
}

/// Filters of `GET /lista-espera`.
#[derive(Debug, Clone, Default)]
pub struct FiltroEspera {
    /// Only this patient's.
    pub paciente_id: Option<String>,
    /// Only entries for this doctor (named, or offered one of theirs).
    pub medico_id: Option<String>,
    /// Only this status.
    pub status: Option<StatusEspera>,
}

fn nao_encontrada() -> AppError {
    AppError::not_found("Entrada da lista de espera")
}

/// Whether the caller's scope sees entry `e`: staff all, a patient their own, a doctor the
/// entries naming them or offered one of their slots.
pub fn visivel(e: &EntradaEspera, escopo: &Escopo) -> bool {
    match escopo {
        Escopo::Tudo => true,
        Escopo::Paciente(p) => e.paciente_id == *p,
        Escopo::Medico(m) => {
            e.medico_id.as_deref() == Some(m.as_str())
                || e.oferta.as_ref().is_some_and(|o| o.medico_id == *m)
        }
        Escopo::Nada => false,
    }
}

/// One entry the caller may see (404 otherwise).
pub fn find_visivel(app: &App, id: &str, escopo: &Escopo) -> Result<Arc<EntradaEspera>, AppError> {
    app.store
        .read()
        .lista_espera
        .get(id)
        .filter(|e| visivel(e, escopo))
        .cloned()
        .ok_or_else(nao_encontrada)
}

/// The entries the caller may see, oldest first, filtered.
pub fn page_visivel(
    app: &App,
    f: &FiltroEspera,
    escopo: &Escopo,
    janela: Janela,
) -> Recorte<EntradaEspera> {
    let db = app.store.read();
    let it = db.lista_espera.iter().filter(|e| {
        visivel(e, escopo)
            && f.paciente_id.as_ref().is_none_or(|p| e.paciente_id == *p)
            && f.medico_id.as_ref().is_none_or(|m| {
                e.medico_id.as_ref() == Some(m)
                    || e.oferta.as_ref().is_some_and(|o| o.medico_id == *m)
            })
            && f.status.is_none_or(|s| e.status == s)
    });
    janela.recortar(it, None)
}

/// `POST /lista-espera`: a patient user only for themselves (403 otherwise); the patient
/// and the doctor must exist (422), `ate` must not be in the past (422).
pub async fn criar(
    app: &App,
    ctx: &Contexto,
    nova: NovaEntrada,
) -> Result<Arc<EntradaEspera>, AppError> {
    let agora = app.clock.stamp();
    let hoje = app.clock.today();
    let e = app
        .commit(ctx, |db| {
            match ctx.chamador.as_ref().map(super::Chamador::escopo) {
                Some(Escopo::Paciente(p)) if p == nova.paciente_id => {}
                Some(Escopo::Paciente(_) | Escopo::Nada | Escopo::Medico(_)) => {
                    return Err(AppError::Forbidden);
                }
                Some(Escopo::Tudo) | None => {}
            }
            let mut errs = Vec::new();
            if db.pacientes.get(&nova.paciente_id).is_none() {
                errs.push(CampoErro::new("paciente_id", "paciente não encontrado"));
            }
            if let Some(m) = &nova.medico_id
                && db.medicos.get(m).is_none()
            {
                errs.push(CampoErro::new("medico_id", "médico não encontrado"));
            }
            if nova.ate < hoje {
                errs.push(CampoErro::new("ate", "não pode ser anterior a hoje"));
            }
            if !errs.is_empty() {
                return Err(AppError::Validation(errs));
            }
            let e = Arc::new(EntradaEspera {
                id: new_id(),
                paciente_id: nova.paciente_id.clone(),
                medico_id: nova.medico_id.clone(),
                especialidade: nova.especialidade.clone(),
                de: nova.de,
                ate: nova.ate,
                status: StatusEspera::Aguardando,
                oferta: None,
                recusadas: Vec::new(),
                tarefa_id: None,
                consulta_id: None,
                created_at: agora.clone(),
                updated_at: agora.clone(),
            });
            Ok((vec![Op::PutEspera(e.clone())], e))
        })
        .await?;
    announce(app, &e);
    Ok(e)
}

/// The hold of `e`'s pending offer, when it is still there.
fn hold_da_oferta(db: &Db, e: &EntradaEspera) -> Option<Arc<Reserva>> {
    let o = e.oferta.as_ref()?;
    db.reservas
        .get(&Reserva::key(&o.medico_id, o.slot))
        .filter(|r| r.lista_espera_id.as_deref() == Some(e.id.as_str()))
        .cloned()
}

/// 409 `sem_oferta`: the entry has no pending offer to answer.
fn sem_oferta(e: &EntradaEspera) -> AppError {
    AppError::conflict(
        "sem_oferta",
        format!(
            "A entrada {} não tem oferta pendente (status: {}).",
            e.id,
            e.status.as_str()
        ),
    )
}

/// 409 `oferta_aceita`: the offer was accepted and its booking is running.
fn oferta_aceita(e: &EntradaEspera) -> AppError {
    AppError::conflict(
        "oferta_aceita",
        format!(
            "A oferta da entrada {} já foi aceita; acompanhe a tarefa {}.",
            e.id,
            e.tarefa_id.as_deref().unwrap_or("")
        ),
    )
}

/// `DELETE /lista-espera/{id}`: cancels an entry (`cancelada`); a pending offer is withdrawn
/// and its slot passed on. Cancelling a cancelled entry answers it unchanged; a booked or
/// expired one, or one whose offer is being booked, is 409.
pub async fn cancelar(
    app: &App,
    ctx: &Contexto,
    id: &str,
    escopo: &Escopo,
) -> Result<Arc<EntradaEspera>, AppError> {
    let agora = app.clock.stamp();
    let (e, liberada) = app
        .commit_reply(
            ctx,
            |db| {
                let e = db
                    .lista_espera
                    .get(id)
                    .filter(|e| visivel(e, escopo))
                    .ok_or_else(nao_encontrada)?;
                match e.status {
                    StatusEspera::Cancelada => return Ok((vec![], (e.clone(), None))),
                    StatusEspera::Agendada | StatusEspera::Expirada => {
                        return Err(AppError::conflict(
                            "lista_espera_finalizada",
                            format!(
                                "A entrada {} já terminou (status: {}) e não pode ser cancelada.",
                                e.id,
                                e.status.as_str()
                            ),
                        ));
                    }
                    StatusEspera::Oferecida if e.tarefa_id.is_some() => {
                        return Err(oferta_aceita(e));
                    }
                    StatusEspera::Aguardando | StatusEspera::Oferecida => {}
                }
                let mut ops = Vec::new();
                let mut liberada = None;
                if let Some(r) = hold_da_oferta(db, e) {
                    ops.push(Op::DelReserva(r.id.clone()));
                    liberada = Some((r.medico_id.clone(), r.slot));
                }
                let novo = Arc::new(EntradaEspera {
                    status: StatusEspera::Cancelada,
                    oferta: None,
                    updated_at: agora.clone(),
                    ..EntradaEspera::clone(e)
                });
                ops.push(Op::PutEspera(novo.clone()));
                Ok((ops, (novo, liberada)))
            },
            |(e, _)| e,
        )
        .await?;
    announce(app, &e);
    if let Some((m, slot)) = liberada {
        repassar(app, &m, slot, "cancelada").await;
    }
    Ok(e)
}

/// `POST /lista-espera/{id}/recusar`: the entry goes back to `aguardando` keeping its place,
/// the slot is remembered as refused (never offered to it again) and offered to the next.
pub async fn recusar(
    app: &App,
    ctx: &Contexto,
    id: &str,
    escopo: &Escopo,
) -> Result<Arc<EntradaEspera>, AppError> {
    let agora = app.clock.stamp();
    let (e, liberada) = app
        .commit_reply(
            ctx,
            |db| {
                let e = db
                    .lista_espera
                    .get(id)
                    .filter(|e| visivel(e, escopo))
                    .ok_or_else(nao_encontrada)?;
                if e.status != StatusEspera::Oferecida {
                    return Err(sem_oferta(e));
                }
                if e.tarefa_id.is_some() {
                    return Err(oferta_aceita(e));
                }
                let Some(o) = e.oferta.clone() else {
                    return Err(sem_oferta(e));
                };
                let mut ops = Vec::new();
                if let Some(r) = hold_da_oferta(db, e) {
                    ops.push(Op::DelReserva(r.id.clone()));
                }
                let novo = Arc::new(de_volta_na_fila(e, &o, &agora));
                ops.push(Op::PutEspera(novo.clone()));
                Ok((ops, (novo, (o.medico_id, o.slot))))
            },
            |(e, _)| e,
        )
        .await?;
    announce(app, &e);
    repassar(app, &liberada.0, liberada.1, "recusada").await;
    Ok(e)
}

/// A slot an offer no longer holds: announced free, then offered to the next in line.
async fn repassar(app: &App, medico_id: &str, slot: DateTime, motivo: &str) {
    app.events.publish(
        "horario_liberado",
        &serde_json::json!({"medico_id": medico_id, "slot": format_datetime(slot), "motivo": motivo}),
    );
    vaga_liberada(app, medico_id, &[slot]).await;
}

/// Whether entry `e` wants a slot of doctor `medico_id` (speciality folded `esp`) on `dia`.
fn casa(e: &EntradaEspera, medico_id: &str, esp: &str, dia: Date) -> bool {
    e.de <= dia
        && dia <= e.ate
        && match (&e.medico_id, &e.especialidade) {
            (Some(m), _) => m == medico_id,
            (None, Some(s)) => fold(s) == esp,
            (None, None) => true,
        }
}

/// Whether patient `paciente_id` could book `medico_id` on `dia` with some form of payment
/// (SPEC-2 §12): their default one, or paying privately. A slot no form would let them book
/// is not offered to them (it would sit held for nobody until the offer lapsed).
fn pode_pagar(db: &Db, paciente_id: &str, medico_id: &str, dia: Date) -> bool {
    pagamento::checar(db, paciente_id, medico_id, None, dia).is_ok()
        || pagamento::checar(
            db,
            paciente_id,
            medico_id,
            Some(crate::models::FormaPagamento::Particular),
            dia,
        )
        .is_ok()
}

/// The offers to make for the freed `slots` of `medico_id`, decided on `db` under the write
/// lock: the operations (hold + entry per offer) and the entries offered.
fn ofertar(
    app: &App,
    db: &Db,
    medico_id: &str,
    slots: &[DateTime],
    now: Timestamp,
) -> (Vec<Op>, Vec<Arc<EntradaEspera>>) {
    let mut ops = Vec::new();
    let mut feitas = Vec::new();
    let Some(medico) = db.medicos.get(medico_id) else {
        return (ops, feitas);
    };
    let esp = fold(&medico.especialidade);
    // The doctor's own slot length (SPEC-2 §11); `alvo` checks grid, hours, blocks, buffer.
    let (len, _) = horarios::grade_do_medico(db, medico_id, app.config.slot_minutes);
    let tz = app.clock.tz();
    let agora_local = app.clock.now_local();
    let expira = now.saturating_add(oferta_duracao(app, db)).unwrap_or(now);
    let expira_em = app.clock.stamp_at(expira);
    let agora = app.clock.stamp();
    // A slot the clinic's rules would refuse to `agendar` is not offered (SPEC-2 §11).
    let r = regras::atuais(db);
    let mut usadas: HashSet<&str> = HashSet::new();
    // One live offer per patient: a patient with several entries (or the same one posted
    // twice) would otherwise take every slot a cancelled afternoon frees, ahead of everyone
    // else in line, each held from the front desk too.
    let mut com_oferta: HashSet<&str> = db
        .lista_espera
        .iter()
        .filter(|e| e.status == StatusEspera::Oferecida)
        .map(|e| e.paciente_id.as_str())
        .collect();
    // The slots of this doctor each patient refused, through any of their entries.
    let recusadas: HashSet<(&str, DateTime)> = db
        .lista_espera
        .iter()
        .flat_map(|e| {
            e.recusadas
                .iter()
                .filter(|v| v.medico_id == medico_id)
                .map(|v| (e.paciente_id.as_str(), v.slot))
        })
        .collect();
    let mut vistos: HashSet<DateTime> = HashSet::new();
    for &slot in slots {
        if !vistos.insert(slot) || slot <= agora_local || Momento::resolve(slot, tz).is_err() {
            continue;
        }
        let key = Reserva::key(medico_id, slot);
        if db.reservas.get(&key).is_some_and(|r| r.expira_em > now) {
            continue;
        }
        let iv = Intervalo::slot(slot, len, tz);
        if alvo::alvo(db, medico_id, iv, None, app.config.slot_minutes, tz).is_err()
            || regras::marcacao(&r, now, tz, iv.inicio_em, iv.inicio).is_err()
        {
            continue;
        }
        let escolhida = db.lista_espera.iter().find(|e| {
            e.status == StatusEspera::Aguardando
                && !usadas.contains(e.id.as_str())
                && !com_oferta.contains(e.paciente_id.as_str())
                && casa(e, medico_id, &esp, slot.date())
                && db.pacientes.get(&e.paciente_id).is_some()
                // Refused through this entry or another of the same patient.
                && !recusadas.contains(&(e.paciente_id.as_str(), slot))
                && db
                    .consultas
                    .conflict(false, &e.paciente_id, iv, None, tz)
                    .is_none()
                && pode_pagar(db, &e.paciente_id, medico_id, slot.date())
        });
        let Some(e) = escolhida else {
            continue;
        };
        usadas.insert(e.id.as_str());
        com_oferta.insert(e.paciente_id.as_str());
        ops.push(Op::PutReserva(Arc::new(Reserva {
            id: key,
            medico_id: medico_id.to_owned(),
            slot,
            expira_em: expira,
            usuario_id: None,
            lista_espera_id: Some(e.id.clone()),
        })));
        let novo = Arc::new(EntradaEspera {
            status: StatusEspera::Oferecida,
            oferta: Some(Oferta {
                medico_id: medico_id.to_owned(),
                slot,
                expira_em: expira_em.clone(),
            }),
            updated_at: agora.clone(),
            ..EntradaEspera::clone(e)
        });
        ops.push(Op::PutEspera(novo.clone()));
        feitas.push(novo);
    }
    (ops, feitas)
}

/// The offers a write takes away (SPEC-2 §10: staff book or release any hold): for each
/// offer's hold that `ops` delete or give to someone else, while the write does not update
/// the entry itself (accepting, refusing, expiry and cancelling do), the entry goes back to
/// `aguardando`, keeping its place in line, without the offer (and never offered that slot
/// again, as if it had refused it). An accepted offer (its booking
/// task queued) is left to that task. Runs inside every write (the store's derive step),
/// so no path can leave a patient an offer of a slot given away.
pub fn ofertas_retiradas(db: &Db, ops: &[Op], agora: Timestamp, em: &str) -> Vec<Op> {
    let mut out: Vec<Op> = Vec::new();
    for op in ops {
        let (chave, nova) = match op {
            Op::DelReserva(k) => (k.as_str(), None),
            Op::PutReserva(r) => (r.id.as_str(), r.lista_espera_id.as_deref()),
            _ => continue,
        };
        let Some((hold, eid)) = db
            .reservas
            .get(chave)
            .and_then(|r| Some((r, r.lista_espera_id.as_deref()?)))
        else {
            continue;
        };
        let a_entrada = |o: &Op| match o {
            Op::PutEspera(x) => x.id == eid,
            Op::DelEspera(id) => id == eid,
            _ => false,
        };
        if nova == Some(eid) || ops.iter().any(a_entrada) || out.iter().any(a_entrada) {
            continue;
        }
        // Only the hold of the entry's current offer (a stale one of an earlier offer may
        // linger until swept).
        let Some(e) = db.lista_espera.get(eid).filter(|e| {
            e.status == StatusEspera::Oferecida
                && e.tarefa_id.is_none()
                && e.oferta
                    .as_ref()
                    .is_some_and(|o| o.medico_id == hold.medico_id && o.slot == hold.slot)
        }) else {
            continue;
        };
        if hold.expira_em <= agora {
            // Lapsed, not yet swept by the expiry timer: it ends as any lapsed offer does.
            out.push(Op::PutEspera(Arc::new(EntradaEspera {
                status: StatusEspera::Expirada,
                updated_at: em.to_owned(),
                ..EntradaEspera::clone(e)
            })));
            continue;
        }
        tracing::info!(target: "agendamento::lista_espera", lista_espera_id = %e.id, "offer withdrawn: its slot was booked or released by staff");
        // Never offered that slot again (a released one goes to the next in line).
        if let Some(o) = &e.oferta {
            out.push(Op::PutEspera(Arc::new(de_volta_na_fila(e, o, em))));
        }
    }
    out
}

/// Entry `e` back in line without its offer `o`, keeping its place; `o`'s slot is never
/// offered to it again (a refusal, or an offer staff took back).
fn de_volta_na_fila(e: &EntradaEspera, o: &Oferta, em: &str) -> EntradaEspera {
    let mut recusadas = e.recusadas.clone();
    recusadas.push(VagaRecusada {
        medico_id: o.medico_id.clone(),
        slot: o.slot,
    });
    EntradaEspera {
        status: StatusEspera::Aguardando,
        oferta: None,
        recusadas,
        updated_at: em.to_owned(),
        ..EntradaEspera::clone(e)
    }
}

/// The one entry point of every path that frees slots (SPEC-2 §11): offers each of `slots`
/// of `medico_id` that is still free to the oldest matching waiting entry, in one write
/// under the store's lock, then announces `vaga_oferecida` and calls the notification hook.
/// Called after the freeing write is durable. Returns the entries offered; a storage
/// failure is logged and offers nothing (the slots stay free).
pub async fn vaga_liberada(
    app: &App,
    medico_id: &str,
    slots: &[DateTime],
) -> Vec<Arc<EntradaEspera>> {
    if slots.is_empty()
        || !app
            .store
            .read()
            .lista_espera
            .iter()
            .any(|e| e.status == StatusEspera::Aguardando)
    {
        return Vec::new();
    }
    let now = Timestamp::now();
    let feitas = app
        .write(|db| Ok(ofertar(app, db, medico_id, slots, now)))
        .await;
    match feitas {
        Ok(feitas) => {
            for e in &feitas {
                announce_oferta(app, e);
            }
            feitas
        }
        Err(e) => {
            tracing::warn!(target: "agendamento::lista_espera", medico_id = %medico_id, error = %e, "could not offer freed slots");
            Vec::new()
        }
    }
}

/// A new horário opens slots: those of its weekday inside a matching waiting entry's range
/// (from today, up to the booking horizon) are offered as if freed.
pub async fn horario_novo(app: &App, h: &Horario) {
    let hoje = app.clock.today();
    let limite = hoje.saturating_add(jiff::Span::new().days(i64::from(app.config.horizonte_dias)));
    let (dias, len): (Vec<Date>, u16) = {
        let db = app.store.read();
        let Some(medico) = db.medicos.get(&h.medico_id) else {
            return;
        };
        let (len, _) = horarios::grade_do_medico(&db, &h.medico_id, app.config.slot_minutes);
        let esp = fold(&medico.especialidade);
        let mut dias = std::collections::BTreeSet::new();
        for e in db
            .lista_espera
            .iter()
            .filter(|e| e.status == StatusEspera::Aguardando)
        {
            let mut d = e.de.max(hoje);
            while d <= e.ate.min(limite) {
                if DiaSemana::of(d) == h.dia_semana && casa(e, &h.medico_id, &esp, d) {
                    dias.insert(d);
                }
                d = d.saturating_add(jiff::Span::new().days(1));
                if dias.len() > 400 {
                    break;
                }
            }
        }
        (dias.into_iter().collect(), len)
    };
    let slots: Vec<DateTime> = dias.iter().flat_map(|d| grid(h, *d, len)).collect();
    vaga_liberada(app, &h.medico_id, &slots).await;
}

/// A removed block opens the slots it covered (SPEC-2 §11): for each doctor it concerned
/// (one, or every doctor for a whole-clinic block), the covered slots of the days a waiting
/// entry wants (from today, up to the booking horizon) are offered as if freed.
pub async fn bloqueio_removido(app: &App, b: &Bloqueio) {
    let hoje = app.clock.today();
    let limite = hoje.saturating_add(jiff::Span::new().days(i64::from(app.config.horizonte_dias)));
    let por_medico: Vec<(String, Vec<DateTime>)> = {
        let db = app.store.read();
        let aguardando = |e: &&Arc<EntradaEspera>| e.status == StatusEspera::Aguardando;
        if !db.lista_espera.iter().any(|e| aguardando(&e)) {
            return;
        }
        let medicos: Vec<Arc<Medico>> = match &b.medico_id {
            Some(id) => db.medicos.get(id).cloned().into_iter().collect(),
            None => db.medicos.iter().cloned().collect(),
        };
        medicos
            .iter()
            .filter_map(|m| {
                let esp = fold(&m.especialidade);
                let (len, _) = horarios::grade_do_medico(&db, &m.id, app.config.slot_minutes);
                let passo = SignedDuration::from_mins(i64::from(len));
                let mut slots = Vec::new();
                let mut d = b.inicio.date().max(hoje);
                let ultimo = b.fim.date().min(limite);
                while d <= ultimo {
                    if db
                        .lista_espera
                        .iter()
                        .filter(aguardando)
                        .any(|e| casa(e, &m.id, &esp, d))
                    {
                        for h in horarios::horarios_do_dia(&db, &m.id, DiaSemana::of(d)) {
                            slots.extend(grid(&h, d, len).filter(|s| {
                                *s < b.fim && s.checked_add(passo).is_ok_and(|f| f > b.inicio)
                            }));
                        }
                    }
                    let Ok(next) = d.tomorrow() else { break };
                    d = next;
                }
                (!slots.is_empty()).then(|| (m.id.clone(), slots))
            })
            .collect()
    };
    for (medico_id, slots) in por_medico {
        vaga_liberada(app, &medico_id, &slots).await;
    }
}

/// Lapses the offers past their time (SPEC-2 §11): in one write each such entry becomes
/// `expirada` and its hold goes (an accepted offer, whose booking is running, is left to
/// its task); holds left by an entry that no longer has that offer go too. Then each slot
/// is announced free and offered to the next in line. Returns how many slots were freed.
pub async fn expirar(app: &App) -> Result<usize, AppError> {
    let now = Timestamp::now();
    let vencida = |e: &EntradaEspera| {
        e.status == StatusEspera::Oferecida
            && e.tarefa_id.is_none()
            && e.oferta
                .as_ref()
                .is_none_or(|o| o.expira_em.parse::<Timestamp>().map_or(true, |t| t <= now))
    };
    let orfa = |db: &Db, r: &Reserva| {
        r.expira_em <= now
            && r.lista_espera_id.as_ref().is_some_and(|id| {
                db.lista_espera
                    .get(id)
                    .is_none_or(|e| e.status != StatusEspera::Oferecida || e.tarefa_id.is_none())
            })
    };
    {
        let db = app.store.read();
        if !db.lista_espera.iter().any(|e| vencida(e)) && !db.reservas.iter().any(|r| orfa(&db, r))
        {
            return Ok(0);
        }
    }
    let agora = app.clock.stamp();
    let (expiradas, livres) = app
        .write(|db| {
            let mut ops = Vec::new();
            let mut expiradas = Vec::new();
            let mut livres: Vec<(String, DateTime)> = Vec::new();
            let mut apagadas: HashSet<String> = HashSet::new();
            for e in db.lista_espera.iter().filter(|e| vencida(e)) {
                if let Some(r) = hold_da_oferta(db, e) {
                    apagadas.insert(r.id.clone());
                    ops.push(Op::DelReserva(r.id.clone()));
                    livres.push((r.medico_id.clone(), r.slot));
                }
                let novo = Arc::new(EntradaEspera {
                    status: StatusEspera::Expirada,
                    updated_at: agora.clone(),
                    ..EntradaEspera::clone(e)
                });
                ops.push(Op::PutEspera(novo.clone()));
                expiradas.push(novo);
            }
            for r in db.reservas.iter().filter(|r| orfa(db, r)) {
                if apagadas.insert(r.id.clone()) {
                    ops.push(Op::DelReserva(r.id.clone()));
                    livres.push((r.medico_id.clone(), r.slot));
                }
            }
            Ok((ops, (expiradas, livres)))
        })
        .await?;
    for e in &expiradas {
        tracing::info!(target: "agendamento::lista_espera", lista_espera_id = %e.id, "offer expired");
        announce(app, e);
    }
    for (m, slot) in &livres {
        repassar(app, m, *slot, "expirou").await;
    }
    Ok(livres.len())
}

/// `lista_espera_atualizada`: an entry changed (per-role filtered on the stream: patient
/// data only to staff, the entry's doctor and that patient).
pub fn announce(app: &App, e: &Arc<EntradaEspera>) {
    app.events.publish(
        "lista_espera_atualizada",
        &serde_json::json!({"lista_espera_id": e.id, "paciente_id": e.paciente_id,
            "medico_id": e.medico_id.as_ref().or(e.oferta.as_ref().map(|o| &o.medico_id)),
            "status": e.status}),
    );
}

/// `vaga_oferecida` and `horario_reservado` for a new offer, and its log line.
fn announce_oferta(app: &App, e: &Arc<EntradaEspera>) {
    let Some(o) = &e.oferta else {
        return;
    };
    let slot = format_datetime(o.slot);
    app.events.publish(
        "horario_reservado",
        &serde_json::json!({"medico_id": o.medico_id, "slot": slot, "expira_em": o.expira_em}),
    );
    app.events.publish(
        "vaga_oferecida",
        &serde_json::json!({"lista_espera_id": e.id, "paciente_id": e.paciente_id,
            "medico_id": o.medico_id, "slot": slot, "expira_em": o.expira_em}),
    );
    registrar_oferta(e);
}

/// Logs an offer (the entry's id only: no personal data in logs). The patient hears of it
/// through the outbox: the write that makes the offer also writes its
/// `lista_espera.vaga_oferecida` notifications (`notificacoes::derivar`).
fn registrar_oferta(e: &EntradaEspera) {
    tracing::info!(target: "agendamento::lista_espera", lista_espera_id = %e.id, "slot offered");
}
