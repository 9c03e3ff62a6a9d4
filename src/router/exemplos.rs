//! The problem+json answers of every operation, published as examples: the values the
//! handlers really return.

use super::*;

/// The errors an operation can answer, as the very values its handler returns: each one's
/// problem body is published as an example, so the document shows real codes, statuses and
/// sentences (`has_query`: it takes query parameters; `has_body`: a JSON body).
fn errors_of(
    op_id: &str,
    method: &str,
    has_query: bool,
    has_body: bool,
    protegida: bool,
) -> Vec<AppError> {
    use crate::error::CampoErro;
    use crate::infra::store::StoreError;
    let campo = |c: &str, m: &str| AppError::campo(c, m);
    let conflict = |code: &'static str, detail: &str| AppError::conflict(code, detail);
    let id = "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b";
    let mut errors = vec![AppError::Internal("exemplo".into())];
    if protegida {
        // SPEC-2 §10: no valid session → 401; the /auth routes are open to every role.
        errors.push(AppError::nao_autenticado());
        if !op_id.ends_with("_eu") && !matches!(op_id, "create_logout" | "update_senha") {
            errors.push(AppError::Forbidden);
        }
    }
    if has_query {
        errors.push(match op_id {
            "list_slots" => campo("days", "deve estar entre 1 e 90"),
            "find_estatisticas" => campo("ate", "o período pode ter no máximo 366 dias"),
            "find_consulta" => campo(
                "incluir",
                "valor desconhecido \"convenio\": use paciente e/ou medico",
            ),
            _ => campo("limit", "deve estar entre 1 e 5000"),
        });
    }
    if has_body {
        errors.extend([
            AppError::InvalidJson("linha 1, coluna 12".into()),
            AppError::PayloadTooLarge,
            AppError::UnsupportedMediaType,
            AppError::Validation(vec![CampoErro::new(
                "apelido",
                "campo desconhecido; os campos aceitos são: …",
            )]),
        ]);
    }
    if method == "post" {
        errors.extend([
            crate::services::idempotency::in_progress(),
            crate::services::idempotency::reused(),
        ]);
    }
    if method != "get" {
        errors.push(AppError::Storage(StoreError::Unavailable("exemplo".into())));
    } else {
        errors.push(AppError::Busy {
            status: 503,
            code: "request_timeout",
            detail: "A requisição excedeu o tempo limite de 30 s e foi interrompida; tente novamente em instantes.".into(),
            retry_after_secs: 5,
        });
    }
    if method == "post" {
        errors.push(AppError::Busy {
            status: 429,
            code: "idempotency_limit",
            detail: "O limite de 50000 respostas guardadas para Idempotency-Key foi atingido; nada foi alterado. Tente novamente mais tarde ou envie a requisição sem a chave.".into(),
            retry_after_secs: 3600,
        });
    }
    let paciente = || AppError::not_found("Paciente");
    let medico = || AppError::not_found("Médico");
    let horario = || AppError::not_found("Horário");
    let consulta = || AppError::not_found("Consulta");
    let arquivo = || AppError::NotFound("Arquivo não encontrado.".into());
    let dup_cpf = || {
        conflict(
            "duplicate_cpf",
            &format!("Já existe um paciente com este CPF (id {id})."),
        )
    };
    let dup_crm = || {
        conflict(
            "duplicate_crm",
            &format!("Já existe um médico com este CRM (id {id})."),
        )
    };
    let em_uso = |quem: &str| {
        conflict(
            "record_in_use",
            &format!(
                "O {quem} tem consultas futuras agendadas ou confirmadas (por exemplo {id}); cancele-as antes de excluí-lo."
            ),
        )
    };
    let overlap_h = || {
        conflict(
            "working_hours_overlap",
            &format!(
                "O horário se sobrepõe a outro do mesmo médico na segunda (08:00–12:00, id {id})."
            ),
        )
    };
    let overlaps = || {
        [
            conflict(
                "doctor_overlap",
                &format!(
                    "O médico já tem a consulta {id} de 2026-03-02T08:00:00 a 2026-03-02T08:30:00 nesse horário."
                ),
            ),
            conflict(
                "patient_overlap",
                &format!(
                    "O paciente já tem a consulta {id} de 2026-03-02T08:00:00 a 2026-03-02T08:30:00 nesse horário."
                ),
            ),
        ]
    };
    let ocupado = || {
        conflict(
            "horario_ocupado",
            "O horário 2026-03-02T08:00:00 já está ocupado.",
        )
    };
    let fora = |c: &str| {
        campo(
            c,
            "12:30 está fora do horário de atendimento do médico nesse dia (das 08:00 às 12:00, das 13:00 às 17:00)",
        )
    };
    let data = |c: &str| campo(c, "data inválida: use AAAA-MM-DD");
    match op_id {
        "find_paciente" | "delete_paciente" | "update_paciente" => errors.push(paciente()),
        "find_medico"
        | "delete_medico"
        | "update_medico"
        | "list_horarios_medico"
        | "create_horario"
        | "list_slots"
        | "create_reserva"
        | "delete_reserva"
        | "find_estatisticas" => errors.push(medico()),
        "find_horario" | "update_horario" | "delete_horario" => errors.push(horario()),
        "find_consulta" | "update_consulta" => errors.push(consulta()),
        "delete_consulta" => errors.extend([
            consulta(),
            crate::services::consultas::pagamento_registrado(),
        ]),
        "create_cancelamento" | "create_remarcacao" | "list_historico" => errors.push(consulta()),
        "find_tarefa" => errors.push(AppError::not_found("Tarefa")),
        "find_usuario" | "update_usuario" | "delete_usuario" | "find_eu" | "update_senha" => {
            errors.push(AppError::not_found("Usuário"))
        }
        "find_backup" | "restore_backup" | "find_relatorio" => errors.push(arquivo()),
        "find_bloqueio" | "delete_bloqueio" => errors.push(AppError::not_found("Bloqueio")),
        "list_bloqueios" => errors.push(medico()),
        "find_lista_espera" | "delete_lista_espera" | "create_aceite" | "create_recusa" => {
            errors.push(AppError::not_found("Entrada da lista de espera"))
        }
        "create_cancelamento_serie" => errors.push(AppError::not_found("Série")),
        "update_pagamento" => errors.extend([
            consulta(),
            conflict(
                "transicao_pagamento_invalida",
                "O pagamento está isento e não pode passar a pago (permitido: pendente → pago ou isento; pago → estornado).",
            ),
        ]),
        "find_convenio" | "update_convenio" | "delete_convenio" => {
            errors.push(AppError::not_found("Convênio"))
        }
        "find_webhook" | "update_webhook" | "delete_webhook" => {
            errors.push(AppError::not_found("Webhook"))
        }
        "create_reenvio" => errors.push(AppError::not_found("Notificação")),
        _ => {}
    }
    match op_id {
        "create_paciente" | "update_paciente" => {
            errors.extend([campo("cpf", "CPF inválido"), dup_cpf()])
        }
        "delete_paciente" => errors.push(em_uso("paciente")),
        "create_usuario" => errors.extend([
            campo("senha", "deve ter pelo menos 8 caracteres"),
            conflict("duplicate_email", "Já existe um usuário com este e-mail."),
        ]),
        "update_usuario" => errors.extend([
            campo("senha", "deve ter pelo menos 8 caracteres"),
            conflict("duplicate_email", "Já existe um usuário com este e-mail."),
            conflict(
                "last_admin",
                "Este é o único administrador ativo; crie ou reative outro antes de desativá-lo ou mudar seu papel.",
            ),
        ]),
        "create_login" => errors.extend([
            AppError::Unauthorized {
                code: "credenciais_invalidas",
                detail: "E-mail ou senha incorretos.".into(),
            },
            crate::services::usuarios::muitas_tentativas(60),
        ]),
        "update_senha" => errors.extend([
            campo("senha_atual", "senha atual incorreta"),
            crate::services::usuarios::muitas_tentativas(840),
        ]),
        "delete_usuario" => errors.push(conflict(
            "last_admin",
            "Este é o único administrador ativo; crie ou reative outro antes de desativá-lo ou mudar seu papel.",
        )),
        "create_medico" | "update_medico" => errors.extend([campo("crm", "CRM inválido"), dup_crm()]),
        "delete_medico" => errors.push(em_uso("médico")),
        "create_convenio" | "update_convenio" => errors.extend([
            campo(
                "registro_ans",
                "registro ANS deve ter exatamente 6 dígitos (por exemplo 339679)",
            ),
            conflict(
                "duplicate_convenio",
                "Já existe um convênio com este nome (id 7c9e6679-7425-40de-944b-e07fc1f90ae7).",
            ),
        ]),
        "create_horario" | "update_horario" => errors.extend([
            campo("hora_fim", "hora_fim deve ser posterior a hora_inicio"),
            overlap_h(),
        ]),
        "create_consulta" => {
            errors.push(campo("paciente_id", "paciente não encontrado"));
            errors.extend(overlaps());
        }
        "update_consulta" => {
            errors.push(campo("fim", "inicio deve ser anterior a fim"));
            errors.push(conflict(
                "invalid_status_transition",
                "A consulta já foi concluída e não pode mais ser alterada (estado final).",
            ));
            errors.extend(overlaps());
        }
        "create_agendamento" => {
            errors.extend([fora("inicio"), ocupado()]);
            errors.extend(overlaps());
        }
        "create_reserva" => errors.extend([
            fora("slot"),
            ocupado(),
            conflict("horario_reservado", "O horário 2026-03-02T08:00:00 já está reservado."),
        ]),
        "delete_reserva" => errors.extend([fora("slot"), ocupado()]),
        "create_lista_espera" => errors.extend([
            campo("ate", "não pode ser anterior a hoje"),
            campo("paciente_id", "paciente não encontrado"),
        ]),
        "create_aceite" | "create_recusa" | "delete_lista_espera" => {
            let sem_oferta = conflict(
                "sem_oferta",
                &format!("A entrada {id} não tem oferta pendente (status: aguardando)."),
            );
            let aceita = conflict(
                "oferta_aceita",
                &format!("A oferta da entrada {id} já foi aceita; acompanhe a tarefa {id}."),
            );
            match op_id {
                "create_aceite" => errors.extend([
                    sem_oferta,
                    aceita,
                    conflict(
                        "oferta_expirada",
                        "A oferta do horário 2026-03-02T08:00:00 expirou.",
                    ),
                ]),
                "create_recusa" => errors.extend([sem_oferta, aceita]),
                _ => errors.extend([
                    aceita,
                    conflict(
                        "lista_espera_finalizada",
                        &format!(
                            "A entrada {id} já terminou (status: agendada) e não pode ser cancelada."
                        ),
                    ),
                ]),
            }
        }
        "create_serie" => errors.extend([
            campo("repeticao.ocorrencias", "deve estar entre 2 e 52"),
            campo("paciente_id", "paciente não encontrado"),
        ]),
        "create_cancelamento" | "create_remarcacao" => {
            errors.extend([
                conflict(
                    "already_cancelled",
                    "A consulta já foi cancelada e não pode ser cancelada.",
                ),
                conflict(
                    "appointment_finished",
                    "A consulta já foi encerrada (concluida) e não pode ser cancelada.",
                ),
                conflict(
                    "prazo_cancelamento",
                    "A consulta de 2026-03-02T08:00:00 começa em menos de 24 hora(s): o prazo para cancelar ou remarcar pela agenda acabou; fale com a recepção.",
                ),
            ]);
            if op_id == "create_remarcacao" {
                errors.extend([fora("inicio"), ocupado()]);
                errors.extend(overlaps());
                errors.push(conflict(
                    "horario_reservado",
                    "O horário 2026-03-02T08:00:00 está reservado por outro usuário.",
                ));
            } else {
                errors.push(campo("motivo", "deve ter no máximo 2000 caracteres"));
            }
        }
        "update_regras" => errors.push(campo("horizonte_dias", "deve estar entre 1 e 3650")),
        "create_webhook" | "update_webhook" => errors.extend([
            campo("url", "deve usar http ou https"),
            campo("eventos", "evento desconhecido: consulta.inventada"),
        ]),
        "list_notificacoes" => errors.push(campo("status", "deve ser pendente, enviada ou falhou")),
        "create_relatorio" | "create_relatorio_task" => errors.push(data("periodo_inicio")),
        "list_slots" => errors.push(AppError::Unprocessable {
            code: "agenda_too_large",
            detail: "A agenda pedida teria 250000 horários, acima do limite de 200000: peça menos dias (days) ou um médico só (medico_id).".into(),
        }),
        "create_bloqueio" => errors.extend([
            campo("medico_id", "médico não encontrado"),
            campo("fim", "fim deve ser posterior a inicio"),
        ]),
        "create_feriados" => errors.push(campo("ano", "deve ser um ano entre 1900 e 2200")),
        "list_bloqueios" => errors.push(data("de")),
        "restore_backup" | "create_backup_upload" => errors.push(conflict(
            "backup_busy",
            "Outra restauração ou envio de backup está em andamento; tente novamente quando terminar.",
        )),
        _ => {}
    }
    if matches!(op_id, "create_agendamento" | "create_reserva") {
        errors.push(AppError::Unprocessable {
            code: "horario_bloqueado",
            detail: "O horário 2026-03-02T08:00:00 está bloqueado (Congresso: de 2026-03-02T00:00:00 a 2026-03-07T00:00:00).".into(),
        });
    }
    match op_id {
        "create_agendamento" | "create_reserva" | "create_remarcacao" => {
            errors.extend([
                AppError::Unprocessable {
                    code: "fora_do_horizonte",
                    detail: "O horário 2028-03-02T08:00:00 está além do horizonte de agendamento: só é possível reservar ou agendar até 2027-12-03 (366 dias a partir de hoje).".into(),
                },
                AppError::Unprocessable {
                    code: "antecedencia_minima",
                    detail: "O horário 2026-03-02T08:00:00 está perto demais: a clínica pede 2 horas de antecedência.".into(),
                },
            ]);
            if op_id != "create_remarcacao" {
                errors.push(conflict(
                    "limite_reservas",
                    "Você já tem 2 reserva(s) ativa(s); a clínica permite no máximo 2 por paciente. Conclua ou libere uma reserva antes.",
                ));
            }
        }
        "create_backup" | "create_backup_task" | "create_relatorio" | "create_relatorio_task" => {
            errors.push(AppError::Busy {
                status: 429,
                code: "queue_full",
                detail: "Já há 32 backups e relatórios na fila (o máximo é 32); nada foi enfileirado. Tente novamente quando terminarem.".into(),
                retry_after_secs: 10,
            })
        }
        "restore_backup" => errors.push(AppError::Unprocessable {
            code: "backup_invalido",
            detail: "O backup backup_20260302_080000.zip é inválido: pacientes.json: soma de verificação (sha256) não confere.".into(),
        }),
        _ => {}
    }
    // The payment check of every booking path (SPEC-2 §12).
    if matches!(
        op_id,
        "create_agendamento" | "create_remarcacao" | "create_serie" | "create_aceite"
    ) {
        errors.extend([
            ("convenio_inativo", "O convênio Unimed está inativo."),
            (
                "convenio_nao_aceito",
                "O médico não atende pelo convênio do paciente.",
            ),
            (
                "carteirinha_vencida",
                "A carteirinha do convênio vale até 2026-03-01, antes da consulta em 2026-03-02.",
            ),
            ("particular_nao_aceito", "O médico não atende particular."),
        ]
        .map(|(code, detail)| AppError::Unprocessable {
            code,
            detail: detail.into(),
        }));
    }
    if op_id == "create_remarcacao" {
        errors.push(conflict(
            "pagamento_nao_pendente",
            "O pagamento da consulta está pago: a forma de pagamento só muda enquanto ele está pendente.",
        ));
    }
    // SPEC-2 §13–§14: calendars and public links.
    let link_429 = || AppError::Busy {
        status: 429,
        code: "muitas_tentativas",
        detail: "Acessos demais a links; aguarde e tente novamente.".into(),
        retry_after_secs: 60,
    };
    match op_id {
        "find_ics" => errors.push(consulta()),
        "create_token" => errors.extend([
            medico(),
            campo(
                "medico_id",
                "informe exatamente um: medico_id ou paciente_id",
            ),
        ]),
        "find_feed_medico" | "find_feed_paciente" => {
            errors.push(AppError::NotFound("Calendário não encontrado.".into()))
        }
        "find_link" => errors.extend([crate::services::links::link_invalido(), link_429()]),
        "create_confirmacao_link" => errors.extend([
            crate::services::links::link_invalido(),
            link_429(),
            conflict(
                "invalid_status_transition",
                "A consulta já foi cancelada e não pode mais ser alterada (estado final).",
            ),
        ]),
        "create_cancelamento_link" => errors.extend([
            crate::services::links::link_invalido(),
            link_429(),
            conflict(
                "prazo_cancelamento",
                "A consulta de 2026-03-02T08:00:00 começa em menos de 24 hora(s): o prazo para cancelar ou remarcar pela agenda acabou; fale com a recepção.",
            ),
        ]),
        _ => {}
    }
    errors
}

/// Describes, on every operation, each error status it can answer with its codes, and one
/// real problem body per code as an example (SPEC §1), so clients and fuzzers know every
/// answer the API may give. Also gives every response a description (OpenAPI requires one).
pub(super) fn add_problem_responses(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::BTreeMap;
    use utoipa::openapi::example::ExampleBuilder;
    use utoipa::openapi::path::ParameterIn;

    for (path, item) in doc.paths.paths.iter_mut() {
        let ops: [(&str, Option<&mut Operation>); 4] = [
            ("get", item.get.as_mut()),
            ("post", item.post.as_mut()),
            ("put", item.put.as_mut()),
            ("delete", item.delete.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            for (status, response) in op.responses.responses.iter_mut() {
                if let RefOr::T(r) = response
                    && r.description.is_empty()
                {
                    r.description = match status.as_str() {
                        "200" => "Sucesso",
                        "201" => "Criado",
                        "202" => "Aceito: a tarefa está gravada e será executada",
                        "204" => "Sem conteúdo",
                        _ => "Resposta",
                    }
                    .to_owned();
                }
            }
            let has_query = op.parameters.as_ref().is_some_and(|ps| {
                ps.iter()
                    .any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Query))
            });
            let has_body = op.request_body.is_some();
            let op_id = op.operation_id.clone().unwrap_or_default();
            // status → (code → example body), in status and code order.
            let mut by_status: BTreeMap<u16, BTreeMap<String, serde_json::Value>> = BTreeMap::new();
            let metodo = axum::http::Method::from_bytes(method.to_uppercase().as_bytes())
                .unwrap_or(axum::http::Method::GET);
            let protegida = !crate::controllers::auth::publica(&metodo, path);
            for e in errors_of(&op_id, method, has_query, has_body, protegida) {
                let p = e.problema();
                let name = match p.errors.as_deref() {
                    Some([first, ..]) => format!("{}: {}", p.code, first.campo),
                    _ => p.code.clone(),
                };
                let body = serde_json::to_value(&p).unwrap_or_default();
                by_status
                    .entry(p.status)
                    .or_default()
                    .entry(name)
                    .or_insert(body);
            }
            for (status, examples) in by_status {
                let mut codes: Vec<&str> = examples
                    .keys()
                    .map(|k| k.split(':').next().unwrap_or(k))
                    .collect();
                codes.dedup();
                let description = format!("{}: {}", crate::error::titulo(status), codes.join(", "));
                let content = ContentBuilder::new()
                    .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                        "Problema",
                    ))))
                    .examples_from_iter(examples.into_iter().map(|(code, body)| {
                        (
                            code.clone(),
                            ExampleBuilder::new()
                                .summary(code)
                                .value(Some(body))
                                .build(),
                        )
                    }))
                    .build();
                let response = ResponseBuilder::new()
                    .description(description)
                    .content("application/problem+json", content)
                    .build();
                // An operation that documents this status itself (e.g. 503 of /sistema/saude)
                // keeps its own answer.
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert(RefOr::T(response));
            }
        }
    }
}
