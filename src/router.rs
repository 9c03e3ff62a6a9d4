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
use crate::error::{CampoErro, Problema};
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
    refine_schemas(&mut doc);
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
        }
    }
    (router, doc)
}

/// The API plus Swagger UI at `/docs` and the document at `/openapi.json`.
pub fn router(state: AppState) -> Router {
    let (api, doc) = api(state);
    api.merge(SwaggerUi::new("/docs").url("/openapi.json", doc))
}

/// Every collection route answers with and without a trailing slash, with no redirect
/// (SPEC §1): the slash is dropped before routing. `/docs` is Swagger UI's folder.
pub fn normalize_path(mut req: Request) -> Request {
    let path = req.uri().path();
    let new_path = if path == "/docs" {
        Some("/docs/".to_owned())
    } else if path.len() > 1 && path.ends_with('/') && !path.starts_with("/docs/") {
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

/// Adds the problem+json error answers each operation can give, so clients and fuzzers
/// know every status the API may answer.
fn add_problem_responses(doc: &mut utoipa::openapi::OpenApi) {
    let problem = |desc: &str| -> RefOr<utoipa::openapi::Response> {
        RefOr::T(
            ResponseBuilder::new()
                .description(desc)
                .content(
                    "application/problem+json",
                    ContentBuilder::new()
                        .schema(Some(RefOr::Ref(utoipa::openapi::Ref::from_schema_name(
                            "Problema",
                        ))))
                        .build(),
                )
                .build(),
        )
    };
    for (path, item) in doc.paths.paths.iter_mut() {
        let has_id = path.contains('{');
        let ops: [(&str, Option<&mut Operation>); 4] = [
            ("get", item.get.as_mut()),
            ("post", item.post.as_mut()),
            ("put", item.put.as_mut()),
            ("delete", item.delete.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            let mut codes: Vec<(&str, &str)> = vec![("500", "Erro interno")];
            if method == "get" && op.parameters.as_ref().is_some_and(|p| p.iter().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == utoipa::openapi::path::ParameterIn::Query))) {
                codes.push(("422", "Parâmetro de consulta inválido"));
            }
            // A path id, or a doctor named in the body or query of the agenda routes.
            if has_id || path.starts_with("/agenda/") {
                codes.push(("404", "Não encontrado"));
            }
            if method == "post" || method == "put" {
                codes.extend([
                    ("400", "JSON malformado"),
                    ("413", "Corpo grande demais"),
                    ("415", "Corpo não é JSON"),
                    ("422", "Dados inválidos"),
                ]);
            }
            if method != "get" {
                codes.extend([
                    ("409", "Conflito"),
                    ("503", "Armazenamento indisponível; nada foi alterado"),
                ]);
            }
            for (code, desc) in codes {
                op.responses
                    .responses
                    .entry(code.to_owned())
                    .or_insert_with(|| problem(desc));
            }
        }
    }
}

/// The rules of the input types that utoipa cannot derive, written into the document from
/// the same constants the parsers use, so the published contract is exactly what the server
/// accepts (fuzzers generate from it; clients validate against it).
fn refine_schemas(doc: &mut utoipa::openapi::OpenApi) {
    use crate::domain::{
        Cpf, DATE_PATTERN, DATETIME_PATTERN, Hora, TELEFONE_PATTERN, email_pattern,
        not_blank_pattern,
    };
    use utoipa::openapi::schema::Schema;

    // Contains a character that is not whitespace (so trimming leaves something).
    let not_blank = not_blank_pattern();
    let not_blank = not_blank.as_str();
    /// No pattern, only lengths.
    const ANY: &str = "";
    let or_empty = |p: &str| format!("^$|{p}");
    let email = or_empty(&email_pattern());
    let telefone = or_empty(TELEFONE_PATTERN);
    // A report's period: a date, or a date-time whose date counts.
    let date_or_empty = format!("^$|{DATE_PATTERN}|{DATETIME_PATTERN}");
    let dias = [
        "segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo",
    ];
    /// (schema, property, pattern or "", min length, max length)
    type Rule<'a> = (&'a str, &'a str, &'a str, Option<usize>, Option<usize>);
    let rules: &[Rule] = &[
        ("PacienteCreate", "nome", not_blank, Some(1), Some(200)),
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
        ("PacienteUpdate", "nome", not_blank, Some(1), Some(200)),
        ("PacienteUpdate", "email", &email, None, Some(254)),
        ("PacienteUpdate", "telefone", &telefone, None, None),
        ("PacienteUpdate", "convenio", ANY, None, Some(100)),
        ("MedicoCreate", "nome", not_blank, Some(1), Some(200)),
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
        ("MedicoUpdate", "nome", not_blank, Some(1), Some(200)),
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
        return;
    };
    for (schema, prop, pattern, min, max) in rules {
        let Some(RefOr::T(Schema::Object(obj))) = components.schemas.get_mut(*schema) else {
            continue;
        };
        if let Some(RefOr::T(Schema::Object(p))) = obj.properties.get_mut(*prop) {
            if !pattern.is_empty() {
                p.pattern = Some((*pattern).to_owned());
            }
            p.min_length = p.min_length.or(*min);
            p.max_length = p.max_length.or(*max);
        }
    }
    for schema in ["HorarioCreate", "HorarioUpdate"] {
        if let Some(RefOr::T(Schema::Object(obj))) = components.schemas.get_mut(schema)
            && let Some(RefOr::T(Schema::Object(p))) = obj.properties.get_mut("dia_semana")
        {
            let mut values: Vec<serde_json::Value> =
                dias.iter().map(|d| serde_json::json!(d)).collect();
            if schema == "HorarioUpdate" {
                values.push(serde_json::Value::Null);
            }
            p.enum_values = Some(values);
        }
    }
    // Date query parameters.
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
                }
            }
        }
    }
}
