//! `POST /consultas/agendar` (SPEC §2): the synchronous half (checks, holds and the task in
//! one write) and the booking job the worker runs (decide, journal, announce).

use super::*;
use crate::services::pagamento;

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
    /// The waiting-list entry whose accepted offer this books (SPEC-2 §11).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lista_espera_id: Option<String>,
    /// The form of payment resolved at acceptance (SPEC-2 §12); absent in a task accepted
    /// before payments existed (then the default form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forma_pagamento: Option<crate::models::FormaPagamento>,
}

/// The synchronous half of `POST /consultas/agendar`: checks the body, the grid, working
/// hours and the slot; holds the free slots it covers and journals the task, all in one
/// write; then hands the task to the worker. Answers 202.
pub async fn agendar(app: &App, ctx: &Contexto, nova: NovaConsulta) -> Result<Agendado, AppError> {
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
                // A patient books for themselves only (SPEC-2 §10).
                match ctx.chamador.as_ref().map(crate::services::Chamador::escopo) {
                    Some(Escopo::Paciente(p)) if p == nova.paciente_id => {}
                    Some(Escopo::Paciente(_) | Escopo::Nada | Escopo::Medico(_)) => {
                        return Err(AppError::Forbidden);
                    }
                    Some(Escopo::Tudo) | None => {}
                }
                check_refs(db, &nova.paciente_id, &nova.medico_id)?;
                let cobertos = check_alvo(
                    app,
                    db,
                    ctx,
                    &nova.medico_id,
                    &nova.paciente_id,
                    iv,
                    None,
                    now,
                )?;
                let forma = pagamento::forma_padrao(db, &nova.paciente_id, nova.forma_pagamento);
                pagamento::checar(
                    db,
                    &nova.paciente_id,
                    &nova.medico_id,
                    Some(forma),
                    iv.inicio.date(),
                )
                .map_err(pagamento::erro_api)?;
                let regras = crate::services::regras::atuais(db);
                let novas = cobertos
                    .iter()
                    .filter(|s| !held(db, &nova.medico_id, **s, now))
                    .count();
                crate::services::regras::limite_reservas(&regras, db, ctx, novas, now)?;
                let tz = app.clock.tz();
                let (inicio_offset, fim_offset) = iv.offsets(tz);
                let mut ops = Vec::new();
                let mut new_holds = Vec::new();
                for s in &cobertos {
                    // A free slot, or one offered to the waiting list that staff book (the
                    // hold becomes theirs, which takes the offer back in this write).
                    if !held_apart_from_offers(db, &nova.medico_id, *s, now) {
                        ops.push(Op::PutReserva(Arc::new(Reserva {
                            id: Reserva::key(&nova.medico_id, *s),
                            medico_id: nova.medico_id.clone(),
                            slot: *s,
                            expira_em: expira,
                            usuario_id: ctx.chamador.as_ref().and_then(|c| c.usuario_id.clone()),
                            lista_espera_id: None,
                        })));
                        new_holds.push(*s);
                    } else if let Some(r) = db
                        .reservas
                        .get(&Reserva::key(&nova.medico_id, *s))
                        .filter(|r| {
                            r.lista_espera_id.is_none()
                                && r.expira_em < expira
                                && r.usuario_id
                                    == ctx.chamador.as_ref().and_then(|c| c.usuario_id.clone())
                        })
                    {
                        // The caller's own hold lasts as long as a new one would: a task
                        // that waits (a backlog, a restart) must not see it lapse, announced
                        // free and offered to the waiting list, before it books.
                        ops.push(Op::PutReserva(Arc::new(Reserva {
                            expira_em: expira,
                            ..Reserva::clone(r)
                        })));
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
                    lista_espera_id: None,
                    forma_pagamento: Some(forma),
                };
                let mut t = tarefas::nova(TipoTarefa::AgendarConsulta, &params, criado.clone())?;
                // Whose task it is: a patient sees their own, and the appointment's audit
                // entry names the user (SPEC-2 §10).
                if let Some(c) = ctx.chamador.as_ref() {
                    Arc::make_mut(&mut t).usuario_id = c.usuario_id.clone();
                }
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

/// Checks a booking target `iv` of `medico_id` for `paciente_id`, as `agendar` and
/// `remarcar` both do, under the write lock: the slot (doctor, horizon, grid, daylight
/// saving, past; [`check_slot`]), the clinic's minimum notice and horizon
/// ([`crate::services::regras`]), working hours, the doctor and the patient free (ignoring
/// appointment `except`, the one being moved), and no slot held by another user. Returns
/// the grid slots `iv` covers.
#[allow(clippy::too_many_arguments)]
pub fn check_alvo(
    app: &App,
    db: &Db,
    ctx: &Contexto,
    medico_id: &str,
    paciente_id: &str,
    iv: Intervalo,
    except: Option<&str>,
    now: Timestamp,
) -> Result<Vec<DateTime>, AppError> {
    let minutes = app.config.slot_minutes;
    let tz = app.clock.tz();
    check_slot(app, db, medico_id, iv.inicio).map_err(|e| match e {
        AppError::Validation(mut errs) => {
            for er in &mut errs {
                er.campo = "inicio".into();
            }
            AppError::Validation(errs)
        }
        other => other,
    })?;
    let regras = crate::services::regras::atuais(db);
    crate::services::regras::marcacao(&regras, now, tz, iv.inicio_em, iv.inicio)?;
    // Grid, working hours, blocks, the doctor's buffer (SPEC-2 §11): the one check.
    alvo(db, medico_id, iv, except, minutes, tz).map_err(|e| e.erro("inicio", iv.inicio))?;
    let cobertos = covered_slots(db, medico_id, iv.inicio, iv.fim, minutes);
    check_overlaps(db, medico_id, paciente_id, iv, except, tz)?;
    // A slot another user holds is theirs to book (SPEC-2 §10).
    if let Some(s) = cobertos
        .iter()
        .find(|s| held_by_other(db, medico_id, **s, now, ctx))
    {
        return Err(reservado_por_outro(*s));
    }
    Ok(cobertos)
}

/// How the booking task's decision went.
pub(super) enum Desfecho {
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
        conflitos: Vec::new(),
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
    // The clinic's rules again, now (SPEC-2 §11): time passed since the task was accepted.
    let agora_em = agora
        .parse::<Timestamp>()
        .unwrap_or_else(|_| Timestamp::now());
    let regras = crate::services::regras::atuais(db);
    let regra = crate::services::regras::marcacao(&regras, agora_em, tz, iv.inicio_em, iv.inicio)
        .err()
        .map(|e| {
            let p = e.problema();
            recusa(&p.code, p.detail)
        });
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
    } else if iv.inicio_em <= agora_em {
        // "Not in the past" again (SPEC §2: the worker re-validates everything): a task left
        // queued across downtime, or while the worker was paused, past its slot's start.
        Some(recusa(
            "horario_passado",
            format!(
                "O horário {} já tinha passado quando a tarefa foi executada.",
                crate::domain::format_datetime(p.inicio)
            ),
        ))
    } else if let Err(imp) = alvo(db, &p.medico_id, iv, None, minutes, tz) {
        // The same check as the synchronous half, now under the write lock: a block or an
        // appointment (with its buffer) that appeared since the task was accepted wins.
        Some(imp.recusa(p.inicio))
    } else if let Err(err) = pagamento::checar(
        db,
        &p.paciente_id,
        &p.medico_id,
        p.forma_pagamento,
        p.inicio.date(),
    ) {
        // The payment check again under the write lock (SPEC-2 §12): a plan deactivated
        // or a card expired since the acceptance fails the task with its code.
        Some(err)
    } else {
        db.consultas
            .conflict(false, &p.paciente_id, iv, None, tz)
            .map(|c| {
                recusa(
                    "patient_overlap",
                    format!("O paciente já tem a consulta {} nesse horário.", c.id),
                )
            })
            .or(regra)
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
                serie_id: None,
                created_at: agora.to_owned(),
                updated_at: agora.to_owned(),
                motivo_cancelamento: None,
                pagamento: pagamento::checar(
                    db,
                    &p.paciente_id,
                    &p.medico_id,
                    p.forma_pagamento,
                    p.inicio.date(),
                )
                .ok(),
            });
            ops.insert(0, Op::PutConsulta(c.clone()));
            // The appointment's own audit entry, in the same write (SPEC-2 §10): the user
            // who asked for the booking, and the task as its request.
            let ctx = Contexto {
                request_id: format!("interno:tarefa:{}", t.id),
                idempotencia: None,
                status: 200,
                chamador: t.usuario_id.as_ref().map(|u| crate::services::Chamador {
                    usuario_id: Some(u.clone()),
                    papel: db.usuarios.get(u).map_or(Papel::Paciente, |x| x.papel),
                    medico_id: None,
                    paciente_id: None,
                    sessao: None,
                }),
                ip: None,
            };
            ops.extend(crate::services::historico::derivar(
                db,
                &ops[..1],
                agora,
                t.usuario_id.as_deref(),
            ));
            ops.push(Op::PutAuditoria(crate::services::trilha::registro(
                agora.to_owned(),
                &ctx,
                crate::models::Acao::Criar,
                "consultas",
                Some(c.id.clone()),
            )));
            Desfecho::Criada(c, cobertos)
        }
    };
    if let Some(e) = p
        .lista_espera_id
        .as_ref()
        .and_then(|id| db.lista_espera.get(id))
    {
        ops.extend(desfecho_da_oferta(e, &desfecho, &p, agora));
    }
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

/// What a booking of an accepted waiting-list offer does to its entry: `agendada` with the
/// appointment, or (refused) back to `aguardando` with the slot counted as refused.
fn desfecho_da_oferta(
    e: &crate::models::EntradaEspera,
    desfecho: &Desfecho,
    p: &ParamsAgendar,
    agora: &str,
) -> Option<Op> {
    use crate::models::{EntradaEspera, StatusEspera, VagaRecusada};
    if e.status != StatusEspera::Oferecida {
        return None;
    }
    let novo = match desfecho {
        Desfecho::Criada(c, _) => EntradaEspera {
            status: StatusEspera::Agendada,
            consulta_id: Some(c.id.clone()),
            updated_at: agora.to_owned(),
            ..e.clone()
        },
        Desfecho::Recusada(..) => {
            let mut recusadas = e.recusadas.clone();
            recusadas.push(VagaRecusada {
                medico_id: p.medico_id.clone(),
                slot: p.inicio,
            });
            EntradaEspera {
                status: StatusEspera::Aguardando,
                oferta: None,
                tarefa_id: None,
                recusadas,
                updated_at: agora.to_owned(),
                ..e.clone()
            }
        }
    };
    Some(Op::PutEspera(Arc::new(novo)))
}

/// Announces a durable booking decision; `Err(Recusada)` when the booking was refused. The
/// slots a refused booking freed are offered to the waiting list (on `rt`).
pub fn announce(app: &App, rt: &tokio::runtime::Handle, d: Decisao) -> Result<(), tarefas::Falha> {
    let result = match d.desfecho {
        Desfecho::Criada(c, slots) => {
            tracing::info!(target: "agendamento::agenda", consulta_id = %c.id, task_id = %d.tarefa.id, "appointment booked");
            crate::services::consultas::announce_taken(app, &c, &slots);
            Ok(())
        }
        Desfecho::Recusada(err, freed) => {
            tracing::info!(target: "agendamento::agenda", task_id = %d.tarefa.id, code = %err.code, "booking refused");
            for s in &freed {
                vaga_liberada(app, &d.medico_id, *s, Liberacao::Falhou);
            }
            rt.block_on(lista_espera::vaga_liberada(app, &d.medico_id, &freed));
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
    let d = rt.block_on(app.write(|db| {
        tarefas::ainda_aberta(db, &t.id)?;
        Ok(decidir(db, t, minutes, &agora, tz))
    }))?;
    announce(app, rt, d)
}
