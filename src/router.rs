//! Every URL in one place (STYLE 2), through utoipa-axum so the OpenAPI document cannot
//! drift from the routes.

use axum::Router;
use axum::extract::Request;
use axum::http::Uri;
use utoipa::OpenApi;
use utoipa::openapi::path::Operation;
use utoipa::openapi::{ContentBuilder, RefOr, ResponseBuilder};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::SwaggerUi;

use crate::controllers::{
    agenda, arquivos, consultas, horarios, medicos, pacientes, sistema, streams, tarefas,
};
use crate::error::{AppError, CampoErro, Problema};
use crate::services::AppState;

/// The document's header; paths come from the routes below.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agendamento",
        description = "Agendamento de consultas médicas: pacientes, médicos, horários e consultas.",
    ),
    components(schemas(Problema, CampoErro)),
    tags(
        (name = "pacientes", description = "Pacientes"),
        (name = "medicos", description = "Médicos"),
        (name = "horarios", description = "Horários de atendimento semanais"),
        (name = "consultas", description = "Consultas"),
        (name = "agenda", description = "Agenda de horários (slots) e reservas"),
        (name = "tarefas", description = "Fila de tarefas em segundo plano"),
        (name = "eventos", description = "Eventos ao vivo (Server-Sent Events)"),
        (name = "backup", description = "Backups ZIP e restauração"),
        (name = "relatorios", description = "Relatórios em PDF"),
        (name = "sistema", description = "Estado do servidor e logs"),
    )
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub fn api(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(sistema::find_root))
        .routes(routes!(sistema::find_saude))
        .routes(routes!(
            pacientes::list_pacientes,
            pacientes::create_paciente
        ))
        .routes(routes!(
            pacientes::find_paciente,
            pacientes::update_paciente,
            pacientes::delete_paciente
        ))
        .routes(routes!(medicos::list_medicos, medicos::create_medico))
        .routes(routes!(
            medicos::find_medico,
            medicos::update_medico,
            medicos::delete_medico
        ))
        .routes(routes!(horarios::list_horarios))
        .routes(routes!(
            horarios::list_horarios_medico,
            horarios::create_horario
        ))
        .routes(routes!(
            horarios::find_horario,
            horarios::update_horario,
            horarios::delete_horario
        ))
        .routes(routes!(
            consultas::list_consultas,
            consultas::create_consulta
        ))
        .routes(routes!(
            consultas::find_consulta,
            consultas::update_consulta,
            consultas::delete_consulta
        ))
        .routes(routes!(consultas::create_agendamento))
        .routes(routes!(agenda::list_slots))
        .routes(routes!(agenda::create_reserva))
        .routes(routes!(agenda::delete_reserva))
        .routes(routes!(tarefas::list_tarefas))
        .routes(routes!(tarefas::find_tarefa))
        .routes(routes!(streams::stream_agenda))
        .routes(routes!(streams::list_logs))
        .routes(routes!(streams::stream_logs))
        .routes(routes!(arquivos::create_backup))
        .routes(routes!(arquivos::create_backup_task))
        .routes(routes!(arquivos::list_backups))
        .routes(routes!(arquivos::find_backup))
        .routes(routes!(arquivos::restore_backup))
        .routes(routes!(arquivos::create_backup_upload))
        .routes(routes!(arquivos::create_relatorio))
        .routes(routes!(arquivos::create_relatorio_task))
        .routes(routes!(arquivos::list_relatorios))
        .routes(routes!(arquivos::find_relatorio))
        .with_state(state)
        .split_for_parts();
    add_problem_responses(&mut doc);
    for miss in refine_schemas(&mut doc) {
        // A renamed type, field or path: `refinements_all_find_their_target` fails on it.
        tracing::warn!(target: "agendamento", miss, "OpenAPI refinement found no target");
    }
    (router, doc)
}

/// The API plus Swagger UI at `/docs` and the document at `/openapi.json`.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api(state);
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
}

/// Every collection route answers with and without a trailing slash, with no redirect
/// (SPEC §1): the slash is dropped before routing. `/docs/` is Swagger UI's folder and is
/// left alone; `/docs` is too, so that Swagger UI's own redirect to `/docs/` reaches the
/// browser (its page loads `./swagger-ui-bundle.js`, which only resolves under `/docs/`).
pub fn normalize_path(mut req: Request) -> Request {
    let path = req.uri().path();
    let new_path = if path.len() > 1 && path.ends_with('/') && !path.starts_with("/docs/") {
        Some(path.trim_end_matches('/').to_owned())
    } else {
        None
    };
    if let Some(p) = new_path {
        let pq = match req.uri().query() {
            Some(q) => format!("{}?{q}", if p.is_empty() { "/" } else { &p }),
            None => {
                if p.is_empty() {
                    "/".to_owned()
                } else {
                    p
                }
            }
        };
        let mut parts = req.uri().clone().into_parts();
        if let Ok(pq) = pq.parse() {
            parts.path_and_query = Some(pq);
            if let Ok(uri) = Uri::from_parts(parts) {
                *req.uri_mut() = uri;
            }
        }
    }
    req
}

/// The errors an operation can answer, as the very values its handler returns: each one's
/// problem body is published as an example, so the document shows real codes, statuses and
/// sentences (`has_query`: it takes query parameters; `has_body`: a JSON body).
fn errors_of(op_id: &str, method: &str, has_query: bool, has_body: bool) -> Vec<AppError> {
    use crate::error::CampoErro;
    use crate::infra::store::StoreError;
    let campo = |c: &str, m: &str| AppError::campo(c, m);
    let conflict = |code: &'static str, detail: &str| AppError::conflict(code, detail);
    let id = "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b";
    let mut errors = vec![AppError::Internal("exemplo".into())];
    if has_query {
        errors.push(match op_id {
            "list_slots" => campo("days", "deve estar entre 1 e 90"),
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
        | "delete_reserva" => errors.push(medico()),
        "find_horario" | "update_horario" | "delete_horario" => errors.push(horario()),
        "find_consulta" | "update_consulta" | "delete_consulta" => errors.push(consulta()),
        "find_tarefa" => errors.push(AppError::not_found("Tarefa")),
        "find_backup" | "restore_backup" | "find_relatorio" => errors.push(arquivo()),
        _ => {}
    }
    match op_id {
        "create_paciente" | "update_paciente" => {
            errors.extend([campo("cpf", "CPF inválido"), dup_cpf()])
        }
        "delete_paciente" => errors.push(em_uso("paciente")),
        "create_medico" | "update_medico" => errors.extend([campo("crm", "CRM inválido"), dup_crm()]),
        "delete_medico" => errors.push(em_uso("médico")),
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
        "create_relatorio" | "create_relatorio_task" => errors.push(data("periodo_inicio")),
        "list_slots" => errors.push(AppError::Unprocessable {
            code: "agenda_too_large",
            detail: "A agenda pedida teria 250000 horários, acima do limite de 200000: peça menos dias (days) ou um médico só (medico_id).".into(),
        }),
        "restore_backup" | "create_backup_upload" => errors.push(conflict(
            "backup_busy",
            "Outra restauração ou envio de backup está em andamento; tente novamente quando terminar.",
        )),
        _ => {}
    }
    match op_id {
        "create_agendamento" | "create_reserva" => errors.push(AppError::Unprocessable {
            code: "fora_do_horizonte",
            detail: "O horário 2028-03-02T08:00:00 está além do horizonte de agendamento: só é possível reservar ou agendar até 2027-12-03 (366 dias a partir de hoje).".into(),
        }),
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
    errors
}

/// Describes, on every operation, each error status it can answer with its codes, and one
/// real problem body per code as an example (SPEC §1), so clients and fuzzers know every
/// answer the API may give. Also gives every response a description (OpenAPI requires one).
fn add_problem_responses(doc: &mut utoipa::openapi::OpenApi) {
    use std::collections::BTreeMap;
    use utoipa::openapi::example::ExampleBuilder;
    use utoipa::openapi::path::ParameterIn;

    for item in doc.paths.paths.values_mut() {
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
            for e in errors_of(&op_id, method, has_query, has_body) {
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

/// The rules of the input types that utoipa cannot derive, written into the document from
/// the same constants the parsers use, so the published contract is exactly what the server
/// accepts (fuzzers generate from it; clients validate against it). Returns every rule that
/// found no target (a schema, property, path or parameter renamed since it was written):
/// the unit test below fails on any, so no rule can silently stop applying.
#[must_use]
fn refine_schemas(doc: &mut utoipa::openapi::OpenApi) -> Vec<String> {
    use crate::domain::{
        Cpf, DATE_PATTERN, DATETIME_PATTERN, DiaSemana, Hora, TELEFONE_PATTERN, email_pattern,
        nome_pattern, not_blank_pattern,
    };
    use utoipa::openapi::schema::Schema;

    // Contains a character that is not whitespace (so trimming leaves something).
    let not_blank = not_blank_pattern();
    let not_blank = not_blank.as_str();
    // 1..=200 characters after trimming (SPEC §2): a length bound would count the padding.
    let nome = nome_pattern();
    /// No pattern, only lengths.
    const ANY: &str = "";
    let or_empty = |p: &str| format!("^$|{p}");
    let email = or_empty(&email_pattern());
    let telefone = or_empty(TELEFONE_PATTERN);
    // A report's period: a date, or a date-time whose date counts.
    let date_or_empty = format!("^$|{DATE_PATTERN}|{DATETIME_PATTERN}");
    let mut misses = Vec::new();
    /// (schema, property, pattern or "", min length, max length)
    type Rule<'a> = (&'a str, &'a str, &'a str, Option<usize>, Option<usize>);
    let rules: &[Rule] = &[
        ("PacienteCreate", "nome", &nome, Some(1), None),
        ("PacienteCreate", "cpf", Cpf::PATTERN, None, None),
        (
            "PacienteCreate",
            "data_nascimento",
            DATE_PATTERN,
            None,
            None,
        ),
        ("PacienteCreate", "email", &email, None, Some(254)),
        ("PacienteCreate", "telefone", &telefone, None, None),
        ("PacienteCreate", "convenio", ANY, None, Some(100)),
        ("PacienteUpdate", "nome", &nome, Some(1), None),
        ("PacienteUpdate", "cpf", Cpf::PATTERN, None, None),
        (
            "PacienteUpdate",
            "data_nascimento",
            DATE_PATTERN,
            None,
            None,
        ),
        ("PacienteUpdate", "email", &email, None, Some(254)),
        ("PacienteUpdate", "telefone", &telefone, None, None),
        ("PacienteUpdate", "convenio", ANY, None, Some(100)),
        ("MedicoCreate", "nome", &nome, Some(1), None),
        ("MedicoCreate", "crm", "[0-9]", Some(1), Some(40)),
        (
            "MedicoCreate",
            "especialidade",
            not_blank,
            Some(1),
            Some(100),
        ),
        ("MedicoCreate", "email", &email, None, Some(254)),
        ("MedicoCreate", "telefone", &telefone, None, None),
        ("MedicoUpdate", "nome", &nome, Some(1), None),
        (
            "MedicoUpdate",
            "especialidade",
            not_blank,
            Some(1),
            Some(100),
        ),
        ("MedicoUpdate", "email", &email, None, Some(254)),
        ("MedicoUpdate", "telefone", &telefone, None, None),
        ("HorarioCreate", "hora_inicio", Hora::PATTERN, None, None),
        ("HorarioCreate", "hora_fim", Hora::PATTERN, None, None),
        ("HorarioUpdate", "hora_inicio", Hora::PATTERN, None, None),
        ("HorarioUpdate", "hora_fim", Hora::PATTERN, None, None),
        ("ConsultaCreate", "paciente_id", not_blank, Some(1), None),
        ("ConsultaCreate", "medico_id", not_blank, Some(1), None),
        ("ConsultaCreate", "inicio", DATETIME_PATTERN, None, None),
        ("ConsultaCreate", "fim", DATETIME_PATTERN, None, None),
        ("ConsultaCreate", "observacoes", ANY, None, Some(2000)),
        ("ConsultaUpdate", "inicio", DATETIME_PATTERN, None, None),
        ("ConsultaUpdate", "fim", DATETIME_PATTERN, None, None),
        ("ConsultaUpdate", "observacoes", ANY, None, Some(2000)),
        ("SlotBody", "medico_id", not_blank, Some(1), None),
        ("SlotBody", "slot", DATETIME_PATTERN, None, None),
        (
            "RelatorioBody",
            "periodo_inicio",
            &date_or_empty,
            None,
            None,
        ),
        ("RelatorioBody", "periodo_fim", &date_or_empty, None, None),
    ];
    let Some(components) = doc.components.as_mut() else {
        return vec!["components".to_owned()];
    };
    for (schema, prop, pattern, min, max) in rules {
        let Some(RefOr::T(Schema::Object(obj))) = components.schemas.get_mut(*schema) else {
            misses.push(format!("schema {schema}"));
            continue;
        };
        let Some(RefOr::T(Schema::Object(p))) = obj.properties.get_mut(*prop) else {
            misses.push(format!("property {schema}.{prop}"));
            continue;
        };
        if !pattern.is_empty() {
            p.pattern = Some((*pattern).to_owned());
        }
        p.min_length = p.min_length.or(*min);
        p.max_length = p.max_length.or(*max);
    }
    for schema in ["HorarioCreate", "HorarioUpdate"] {
        let Some(RefOr::T(Schema::Object(obj))) = components.schemas.get_mut(schema) else {
            misses.push(format!("schema {schema}"));
            continue;
        };
        let Some(RefOr::T(Schema::Object(p))) = obj.properties.get_mut("dia_semana") else {
            misses.push(format!("property {schema}.dia_semana"));
            continue;
        };
        let mut values: Vec<serde_json::Value> = DiaSemana::ALL
            .iter()
            .map(|d| serde_json::to_value(d).unwrap_or_default())
            .collect();
        if schema == "HorarioUpdate" {
            values.push(serde_json::Value::Null);
        }
        p.enum_values = Some(values);
    }
    // Date query parameters.
    let mut date_params = 0;
    for item in doc.paths.paths.values_mut() {
        for op in [item.get.as_mut(), item.post.as_mut()]
            .into_iter()
            .flatten()
        {
            for param in op.parameters.iter_mut().flatten() {
                if let RefOr::T(param) = param
                    && matches!(param.name.as_str(), "de" | "ate")
                    && let Some(RefOr::T(Schema::Object(p))) = param.schema.as_mut()
                {
                    p.pattern = Some(DATE_PATTERN.to_owned());
                    date_params += 1;
                }
            }
        }
    }
    if date_params == 0 {
        misses.push("query parameters de/ate".to_owned());
    }
    // Every report filter is optional, and so is the body itself (no body = `{}`).
    for path in ["/relatorios/gerar", "/sistema/tasks/relatorio"] {
        if let Some(RefOr::T(body)) = doc
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut())
        {
            body.required = Some(utoipa::openapi::Required::False);
        } else {
            misses.push(format!("request body of POST {path}"));
        }
    }
    misses
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// The document as `api` builds it (refining it again finds the same targets).
    fn document() -> utoipa::openapi::OpenApi {
        let dir = tempfile::tempdir().expect("temp dir");
        let config = crate::Config::for_tests(dir.path());
        let logs = Arc::new(crate::infra::logs::LogHub::new(jiff::tz::TimeZone::UTC));
        let state = AppState(Arc::new(
            crate::services::App::open(config, logs).expect("state"),
        ));
        api(state).1
    }

    #[test]
    fn refinements_all_find_their_target() {
        let mut doc = document();
        let misses = refine_schemas(&mut doc);
        assert!(
            misses.is_empty(),
            "OpenAPI refinements that found nothing to refine (renamed?): {misses:?}"
        );
    }

    #[test]
    fn every_operation_on_a_record_documents_its_404() {
        // `errors_of` matches operation ids by name: a renamed handler would lose its 404.
        let doc = document();
        for (path, item) in &doc.paths.paths {
            if !path.contains('{') {
                continue;
            }
            let ops = [&item.get, &item.post, &item.put, &item.delete];
            for op in ops.into_iter().flatten() {
                assert!(
                    op.responses.responses.contains_key("404"),
                    "{path} {:?} documents no 404",
                    op.operation_id
                );
            }
        }
    }

    #[test]
    fn a_refinement_without_its_target_is_reported() {
        let mut doc = document();
        if let Some(components) = doc.components.as_mut() {
            components.schemas.remove("SlotBody");
        }
        doc.paths.paths.remove("/relatorios/gerar");
        let misses = refine_schemas(&mut doc);
        assert!(misses.contains(&"schema SlotBody".to_owned()), "{misses:?}");
        assert!(
            misses.contains(&"request body of POST /relatorios/gerar".to_owned()),
            "{misses:?}"
        );
    }
}
