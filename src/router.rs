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
        .routes(routes!(arquivos::create_relatorio))
        .routes(routes!(arquivos::create_relatorio_task))
        .routes(routes!(arquivos::list_relatorios))
        .routes(routes!(arquivos::find_relatorio))
        .with_state(state)
        .split_for_parts();
    add_problem_responses(&mut doc);
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
