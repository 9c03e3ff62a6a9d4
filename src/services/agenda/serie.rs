//! Recurring appointments (SPEC-2 §11): `POST /consultas/agendar-serie` books every
//! occurrence or none, in one write, through the booking lane; `POST
//! /consultas/series/{serie_id}/cancelar` cancels the future ones.

use super::*;
use crate::models::{
    Consulta, ErroTarefa, FormaPagamento, SerieAgendada, SerieCancelada, StatusConsulta, Tarefa,
};
use crate::services::pagamento;

/// A series to book, validated by the controller.
#[derive(Debug, Clone)]
pub struct NovaSerie {
    /// The patient.
    pub paciente_id: String,
    /// The doctor.
    pub medico_id: String,
    /// The first occurrence's start, clinic-local.
    pub inicio: DateTime,
    /// The first occurrence's end.
    pub fim: DateTime,
    /// Weeks between occurrences, 1..=8.
    pub a_cada_semanas: u8,
    /// How many occurrences, 2..=52.
    pub ocorrencias: u8,
    /// The form of payment asked for (SPEC-2 §12); `None`: the default form.
    pub forma_pagamento: Option<FormaPagamento>,
}

/// What the series task needs; `serie_id` is chosen when it is accepted, so a re-run finds
/// the appointments it already created.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ParamsSerie {
    /// The series' id, on each appointment.
    pub serie_id: String,
    /// The patient.
    pub paciente_id: String,
    /// The doctor.
    pub medico_id: String,
    /// First start.
    #[serde(with = "crate::models::local_dt")]
    pub inicio: DateTime,
    /// First end.
    #[serde(with = "crate::models::local_dt")]
    pub fim: DateTime,
    /// Weeks between occurrences.
    pub a_cada_semanas: u8,
    /// How many.
    pub ocorrencias: u8,
    /// The form of payment resolved at acceptance (SPEC-2 §12); absent in a task accepted
    /// before payments existed (then the default form).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forma_pagamento: Option<FormaPagamento>,
}

/// The synchronous half of `POST /consultas/agendar-serie`: the patient and doctor exist
/// (422) and the payment check passes for every occurrence's date (422 with its code,
/// [`pagamento::checar_dias`]), then the task is journaled and queued on the booking lane.
/// Answers 202.
pub async fn agendar_serie(
    app: &App,
    ctx: &Contexto,
    nova: NovaSerie,
) -> Result<SerieAgendada, AppError> {
    let criado = app.clock.stamp();
    let (out, tarefa) = app
        .commit_reply(
            ctx,
            |db| {
                check_refs(db, &nova.paciente_id, &nova.medico_id)?;
                let forma = pagamento::forma_padrao(db, &nova.paciente_id, nova.forma_pagamento);
                let params = ParamsSerie {
                    serie_id: new_id(),
                    paciente_id: nova.paciente_id.clone(),
                    medico_id: nova.medico_id.clone(),
                    inicio: nova.inicio,
                    fim: nova.fim,
                    a_cada_semanas: nova.a_cada_semanas,
                    ocorrencias: nova.ocorrencias,
                    forma_pagamento: Some(forma),
                };
                let dias: Vec<Date> = ocorrencias(&params).iter().map(|o| o.0.date()).collect();
                pagamento::checar_dias(
                    db,
                    &params.paciente_id,
                    &params.medico_id,
                    params.forma_pagamento,
                    &dias,
                )
                .map_err(|(e, _)| pagamento::erro_api(e))?;
                let mut t = tarefas::nova(TipoTarefa::AgendarSerie, &params, criado.clone())?;
                if let Some(c) = ctx.chamador.as_ref() {
                    Arc::make_mut(&mut t).usuario_id = c.usuario_id.clone();
                }
                let out = SerieAgendada {
                    status: "pendente".into(),
                    task_id: t.id.clone(),
                    serie_id: params.serie_id.clone(),
                    ocorrencias: nova.ocorrencias,
                    mensagem: "Série em processamento.".into(),
                };
                Ok((vec![Op::PutTarefa(t.clone())], (out, t)))
            },
            |(out, _)| out,
        )
        .await?;
    tarefas::accepted(app, &tarefa);
    Ok(out)
}

/// The occurrences of a series: each start and end, `a_cada_semanas` weeks apart.
pub fn ocorrencias(p: &ParamsSerie) -> Vec<(DateTime, DateTime)> {
    (0..i64::from(p.ocorrencias))
        .filter_map(|k| {
            let dias = jiff::Span::new().days(k * 7 * i64::from(p.a_cada_semanas));
            Some((
                p.inicio.checked_add(dias).ok()?,
                p.fim.checked_add(dias).ok()?,
            ))
        })
        .collect()
}

/// Why one occurrence cannot be booked, if it cannot: the same target checks as a booking
/// (`agendar` and its worker half): the clinic's zone, the past, the horizon, the grid and
/// working hours, the doctor's and the patient's appointments, and live holds.
#[allow(clippy::too_many_arguments)]
fn conflito(
    app: &App,
    db: &Db,
    p: &ParamsSerie,
    inicio: DateTime,
    fim: DateTime,
    minutes: u16,
    now: Timestamp,
) -> Result<Intervalo, &'static str> {
    let tz = app.clock.tz();
    let ini = Momento::resolve(inicio, tz).map_err(|_| "horário inexistente no fuso")?;
    let fi = Momento::resolve(fim, tz).map_err(|_| "horário inexistente no fuso")?;
    let iv = Intervalo::new(ini, fi).map_err(|_| "intervalo inválido")?;
    if inicio < app.clock.now_local() {
        return Err("no passado");
    }
    if check_horizon(app, inicio).is_err() {
        return Err("além do horizonte de agendamento");
    }
    // The clinic's minimum notice, as for `agendar` (only the first dates can be that
    // close). Its horizon (`horizonte_dias`) is not applied: a weekly treatment of a year
    // is what a series is for; `--horizonte-dias` above still is.
    if crate::services::regras::antecedencia(
        &crate::services::regras::atuais(db),
        now,
        iv.inicio_em,
        inicio,
    )
    .is_err()
    {
        return Err("antes da antecedência mínima da clínica");
    }
    // The booking-target check every path shares: grid, hours, blocks, buffer.
    match alvo(db, &p.medico_id, iv, None, minutes, tz) {
        Ok(()) => {}
        Err(Impedimento::Bloqueado(_)) => return Err("horário bloqueado"),
        Err(Impedimento::Ocupado(_)) => return Err("horário ocupado"),
        Err(Impedimento::ForaDaGrade(_) | Impedimento::ForaDoHorario) => {
            return Err("fora do horário de atendimento");
        }
    }
    if db
        .consultas
        .conflict(false, &p.paciente_id, iv, None, tz)
        .is_some()
    {
        return Err("o paciente já tem consulta nesse horário");
    }
    if covered_slots(db, &p.medico_id, inicio, fim, minutes)
        .iter()
        .any(|s| held(db, &p.medico_id, *s, now))
    {
        return Err("horário reservado");
    }
    Ok(iv)
}

/// A series task's outcome, to announce once durable.
pub struct DecisaoSerie {
    criadas: Vec<Arc<Consulta>>,
    tarefa: Arc<Tarefa>,
    recusada: bool,
}

/// The worker's half, under the write lock: every occurrence is checked and either all are
/// created (same `serie_id`, task `concluida`) or none (task `falhou` with `erro.code`
/// `serie_com_conflitos` and `erro.conflitos`, the dates), in one journal entry.
pub fn decidir_serie(app: &App, db: &Db, t: &Tarefa, agora: &str) -> (Vec<Op>, DecisaoSerie) {
    let minutes = app.config.slot_minutes;
    let now = Timestamp::now();
    let tz = app.clock.tz();
    let falha = |code: &str, detail: String, conflitos: Vec<String>| {
        let done = tarefas::finished(
            t,
            agora.to_owned(),
            Err(ErroTarefa {
                code: code.into(),
                detail,
                conflitos,
            }),
        );
        let d = DecisaoSerie {
            criadas: Vec::new(),
            tarefa: done.clone(),
            recusada: true,
        };
        (vec![Op::PutTarefa(done)], d)
    };
    let p: ParamsSerie = match serde_json::from_value(t.parametros.clone()) {
        Ok(p) => p,
        Err(e) => {
            return falha(
                "parametros_invalidos",
                format!("Parâmetros da tarefa ilegíveis: {e}"),
                Vec::new(),
            );
        }
    };
    // A re-run after a crash: the series exists already.
    let existentes: Vec<Arc<Consulta>> = db
        .consultas
        .iter()
        .filter(|c| c.serie_id.as_deref() == Some(p.serie_id.as_str()))
        .cloned()
        .collect();
    if !existentes.is_empty() {
        let done = tarefas::finished(
            t,
            agora.to_owned(),
            Ok(serde_json::json!({"serie_id": p.serie_id, "consultas": existentes})),
        );
        let d = DecisaoSerie {
            criadas: Vec::new(),
            tarefa: done.clone(),
            recusada: false,
        };
        return (vec![Op::PutTarefa(done)], d);
    }
    if db.pacientes.get(&p.paciente_id).is_none() {
        return falha(
            "paciente_inexistente",
            "O paciente não existe mais.".into(),
            Vec::new(),
        );
    }
    if db.medicos.get(&p.medico_id).is_none() {
        return falha(
            "medico_inexistente",
            "O médico não existe mais.".into(),
            Vec::new(),
        );
    }
    let datas = ocorrencias(&p);
    // The payment check again under the write lock (SPEC-2 §12), for every date: a plan
    // deactivated or a card expired since the acceptance refuses the whole series with its
    // code, the refused dates in `conflitos`.
    let dias: Vec<Date> = datas.iter().map(|d| d.0.date()).collect();
    let pagamentos =
        match pagamento::checar_dias(db, &p.paciente_id, &p.medico_id, p.forma_pagamento, &dias) {
            Ok(v) => v,
            Err((e, _)) => return falha(&e.code, e.detail, e.conflitos),
        };
    let mut conflitos = Vec::new();
    let mut motivos = Vec::new();
    let mut ivs = Vec::new();
    if datas.len() != usize::from(p.ocorrencias) {
        return falha(
            "serie_com_conflitos",
            "A série passa do calendário suportado.".into(),
            Vec::new(),
        );
    }
    for (ini, fim) in &datas {
        match conflito(app, db, &p, *ini, *fim, minutes, now) {
            Ok(iv) => ivs.push(iv),
            Err(m) => {
                conflitos.push(ini.date().to_string());
                motivos.push(format!("{} ({m})", ini.date()));
            }
        }
    }
    if !conflitos.is_empty() {
        return falha(
            "serie_com_conflitos",
            format!(
                "Nenhuma consulta da série foi agendada: {} de {} datas não estão disponíveis: {}.",
                conflitos.len(),
                datas.len(),
                motivos.join(", ")
            ),
            conflitos,
        );
    }
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
    let mut ops = Vec::new();
    let mut criadas = Vec::new();
    for (iv, pag) in ivs.into_iter().zip(pagamentos) {
        let (inicio_offset, fim_offset) = iv.offsets(tz);
        let c = Arc::new(Consulta {
            id: new_id(),
            paciente_id: p.paciente_id.clone(),
            medico_id: p.medico_id.clone(),
            inicio: iv.inicio,
            fim: iv.fim,
            inicio_offset,
            fim_offset,
            status: StatusConsulta::Agendada,
            observacoes: None,
            serie_id: Some(p.serie_id.clone()),
            created_at: agora.to_owned(),
            updated_at: agora.to_owned(),
            motivo_cancelamento: None,
            pagamento: Some(pag),
        });
        let put = Op::PutConsulta(c.clone());
        // Its history starts in the same write (SPEC-2 §11).
        let historia = crate::services::historico::derivar(
            db,
            std::slice::from_ref(&put),
            agora,
            t.usuario_id.as_deref(),
        );
        ops.push(put);
        ops.extend(historia);
        ops.push(Op::PutAuditoria(crate::services::trilha::registro(
            agora.to_owned(),
            &ctx,
            crate::models::Acao::Criar,
            "consultas",
            Some(c.id.clone()),
        )));
        criadas.push(c);
    }
    let done = tarefas::finished(
        t,
        agora.to_owned(),
        Ok(serde_json::json!({"serie_id": p.serie_id, "consultas": criadas})),
    );
    ops.push(Op::PutTarefa(done.clone()));
    let d = DecisaoSerie {
        criadas,
        tarefa: done,
        recusada: false,
    };
    (ops, d)
}

/// Runs one series task to its decision and announces it.
pub fn executar_serie(
    app: &App,
    rt: &tokio::runtime::Handle,
    t: &Tarefa,
) -> Result<(), tarefas::Falha> {
    let agora = app.clock.stamp();
    let d = rt.block_on(app.write(|db| {
        tarefas::ainda_aberta(db, &t.id)?;
        Ok(decidir_serie(app, db, t, &agora))
    }))?;
    let minutes = app.config.slot_minutes;
    // The slots under one read of the store, announced after it is released (announcing
    // reads the store again, and a second read on this thread could wait behind a writer
    // that waits for the first).
    let tomados: Vec<Vec<_>> = {
        let db = app.store.read();
        d.criadas
            .iter()
            .map(|c| covered_slots(&db, &c.medico_id, c.inicio, c.fim, minutes))
            .collect()
    };
    for (c, slots) in d.criadas.iter().zip(&tomados) {
        crate::services::consultas::announce_taken(app, c, slots);
    }
    tracing::info!(target: "agendamento::agenda", task_id = %d.tarefa.id, consultas = d.criadas.len(), "series decided");
    tarefas::announce(app, &d.tarefa);
    if d.recusada {
        Err(tarefas::Falha::Recusada)
    } else {
        Ok(())
    }
}

/// `POST /consultas/series/{serie_id}/cancelar`: cancels, in one write, the series'
/// appointments that are active and start after now (404 for an unknown series); their
/// slots are announced free and offered to the waiting list.
pub async fn cancelar_serie(
    app: &App,
    ctx: &Contexto,
    serie_id: &str,
    motivo: Option<String>,
) -> Result<SerieCancelada, AppError> {
    let agora = app.clock.stamp();
    let agora_local = app.clock.now_local();
    let out = app
        .commit(ctx, |db| {
            let da_serie: Vec<&Arc<Consulta>> = db
                .consultas
                .iter()
                .filter(|c| c.serie_id.as_deref() == Some(serie_id))
                .collect();
            if da_serie.is_empty() {
                return Err(AppError::not_found("Série"));
            }
            let canceladas: Vec<Consulta> = da_serie
                .into_iter()
                .filter(|c| c.status.is_active() && c.inicio > agora_local)
                .map(|c| Consulta {
                    status: StatusConsulta::Cancelada,
                    motivo_cancelamento: motivo.clone(),
                    updated_at: agora.clone(),
                    ..Consulta::clone(c)
                })
                .collect();
            let mut ops: Vec<Op> = canceladas
                .iter()
                .map(|c| Op::PutConsulta(Arc::new(c.clone())))
                .collect();
            // One audit entry per appointment (SPEC-2 §10: a change never exists without its
            // entry), as the series' booking writes: `commit` records the first one.
            ops.extend(canceladas.iter().skip(1).map(|c| {
                Op::PutAuditoria(crate::services::trilha::registro(
                    agora.clone(),
                    ctx,
                    crate::models::Acao::Alterar,
                    "consultas",
                    Some(c.id.clone()),
                ))
            }));
            Ok((
                ops,
                SerieCancelada {
                    serie_id: serie_id.to_owned(),
                    canceladas,
                    motivo: motivo.clone(),
                },
            ))
        })
        .await?;
    let minutes = app.config.slot_minutes;
    for c in &out.canceladas {
        let slots = covered_slots(&app.store.read(), &c.medico_id, c.inicio, c.fim, minutes);
        crate::services::consultas::announce_freed(app, &c.medico_id, &slots, Liberacao::Cancelada);
        app.events.publish(
            "consulta_atualizada",
            &serde_json::json!({"consulta": c, "medico_id": c.medico_id, "status": c.status}),
        );
        lista_espera::vaga_liberada(app, &c.medico_id, &slots).await;
    }
    Ok(out)
}
