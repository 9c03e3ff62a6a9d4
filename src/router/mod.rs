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
    agenda, arquivos, auditoria, auth, bloqueios, consultas, estatisticas, horarios, medicos,
    metricas, pacientes, painel, regras, sistema, streams, tarefas, usuarios,
};
use crate::controllers::{calendario, links};
use crate::controllers::{convenios, pagamentos};
use crate::controllers::{lista_espera, series};
use crate::controllers::{notificacoes, webhooks};
use crate::error::{AppError, CampoErro, Problema};
use crate::services::AppState;

mod exemplos;
mod refine;

use exemplos::add_problem_responses;
use refine::refine_schemas;

/// The document's header; paths come from the routes below.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Agendamento",
        description = "Agendamento de consultas médicas: pacientes, médicos, horários e consultas.\n\nToda resposta traz o cabeçalho `x-posicao`: a posição do diário que esta instância já aplicou. Com várias instâncias num PostgreSQL (`--database-url`), uma requisição com `x-posicao-minima: N` espera até 1 s esta instância alcançar a posição N (senão 503 `posicao_nao_alcancada` com `Retry-After`): devolva o maior `x-posicao` recebido para ler as próprias escritas através de qualquer instância. Uma escrita (POST, PUT, DELETE) feita numa instância que não é a líder é encaminhada à líder, e a resposta só volta quando esta instância já aplicou a escrita; se a resposta da líder se perder, a instância responde 503 `lider_sem_resposta` com `Retry-After` (a escrita pode ter sido feita: repita com o mesmo `Idempotency-Key`).",
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
        (name = "auth", description = "Entrar, sair, o usuário atual e a troca de senha"),
        (name = "usuarios", description = "Usuários e papéis (somente administradores)"),
        (name = "bloqueios", description = "Bloqueios de agenda: folgas, férias e feriados"),
        (name = "lista-espera", description = "Lista de espera: ofertas de horários liberados"),
        (name = "convenios", description = "Convênios (planos de saúde) aceitos pela clínica"),
        (name = "calendario", description = "Calendários iCalendar: uma consulta e as assinaturas (feeds)"),
        (name = "links", description = "Links públicos para o paciente confirmar ou cancelar"),
        (name = "webhooks", description = "Webhooks: eventos da clínica assinados (somente administradores)"),
        (name = "notificacoes", description = "Notificações: a caixa de saída e seus envios"),
    )
)]
struct ApiDoc;

/// The API routes and their OpenAPI document.
pub fn api(state: AppState) -> (Router, utoipa::openapi::OpenApi) {
    let (router, mut doc) = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(sistema::find_root))
        .routes(routes!(sistema::find_saude))
        .routes(routes!(auditoria::list_auditoria))
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
        .routes(routes!(estatisticas::find_estatisticas))
        .routes(routes!(metricas::find_metrics))
        .routes(routes!(painel::find_painel))
        .routes(routes!(auth::create_login))
        .routes(routes!(auth::create_logout))
        .routes(routes!(auth::find_eu))
        .routes(routes!(auth::update_senha))
        .routes(routes!(usuarios::list_usuarios, usuarios::create_usuario))
        .routes(routes!(
            usuarios::find_usuario,
            usuarios::update_usuario,
            usuarios::delete_usuario
        ))
        .routes(routes!(
            bloqueios::list_bloqueios,
            bloqueios::create_bloqueio
        ))
        .routes(routes!(bloqueios::create_feriados))
        .routes(routes!(
            bloqueios::find_bloqueio,
            bloqueios::delete_bloqueio
        ))
        .routes(routes!(
            lista_espera::list_lista_espera,
            lista_espera::create_lista_espera
        ))
        .routes(routes!(
            lista_espera::find_lista_espera,
            lista_espera::delete_lista_espera
        ))
        .routes(routes!(lista_espera::create_aceite))
        .routes(routes!(lista_espera::create_recusa))
        .routes(routes!(series::create_serie))
        .routes(routes!(series::create_cancelamento_serie))
        .routes(routes!(consultas::create_cancelamento))
        .routes(routes!(consultas::create_remarcacao))
        .routes(routes!(consultas::list_historico))
        .routes(routes!(regras::find_regras, regras::update_regras))
        .routes(routes!(
            convenios::list_convenios,
            convenios::create_convenio
        ))
        .routes(routes!(
            convenios::find_convenio,
            convenios::update_convenio,
            convenios::delete_convenio
        ))
        .routes(routes!(pagamentos::update_pagamento))
        .routes(routes!(calendario::find_ics))
        .routes(routes!(calendario::create_token))
        .routes(routes!(calendario::find_feed_medico))
        .routes(routes!(calendario::find_feed_paciente))
        .routes(routes!(links::find_link))
        .routes(routes!(
            links::create_confirmacao_link,
            links::find_confirmacao_link
        ))
        .routes(routes!(
            links::create_cancelamento_link,
            links::find_cancelamento_link
        ))
        .routes(routes!(webhooks::list_webhooks, webhooks::create_webhook))
        .routes(routes!(
            webhooks::find_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(notificacoes::list_notificacoes))
        .routes(routes!(notificacoes::create_reenvio))
        .with_state(state)
        .split_for_parts();
    add_problem_responses(&mut doc);
    declare_bearer(&mut doc);
    for miss in refine_schemas(&mut doc) {
        // A renamed type, field or path: `refinements_all_find_their_target` fails on it.
        tracing::warn!(target: "agendamento", miss, "OpenAPI refinement found no target");
    }
    (router, doc)
}

/// The name of the bearer scheme in the document.
pub const BEARER: &str = "bearer";

/// Declares the bearer scheme (SPEC-2 §10) and requires it on every operation but the
/// public ones, so Swagger UI's "Authorize" sends the token where it is needed.
fn declare_bearer(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::security::{
        HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
    };
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        BEARER,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some(
                    "O token de POST /auth/login. Com --auth off nenhum token é pedido.",
                ))
                .build(),
        ),
    );
    for (path, item) in doc.paths.paths.iter_mut() {
        let ops = [
            (axum::http::Method::GET, item.get.as_mut()),
            (axum::http::Method::POST, item.post.as_mut()),
            (axum::http::Method::PUT, item.put.as_mut()),
            (axum::http::Method::DELETE, item.delete.as_mut()),
        ];
        for (method, op) in ops {
            let Some(op) = op else { continue };
            op.security = (!auth::publica(&method, path))
                .then(|| vec![SecurityRequirement::new::<_, [&str; 0], &str>(BEARER, [])]);
        }
    }
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
    fn every_operation_but_the_public_ones_requires_the_bearer_scheme() {
        let doc = document();
        let json = serde_json::to_value(&doc).expect("json");
        assert_eq!(
            json["components"]["securitySchemes"][BEARER],
            serde_json::json!({"type": "http", "scheme": "bearer",
                "description": "O token de POST /auth/login. Com --auth off nenhum token é pedido."})
        );
        let mut publicas = Vec::new();
        for (path, item) in json["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                match op.get("security") {
                    Some(s) => {
                        assert_eq!(s, &serde_json::json!([{ BEARER: [] }]), "{method} {path}")
                    }
                    None => publicas.push(format!("{method} {path}")),
                }
            }
        }
        publicas.sort();
        assert_eq!(
            publicas,
            [
                "get /",
                "get /c/{token}",
                "get /c/{token}/cancelar",
                "get /c/{token}/confirmar",
                "get /calendario/medico/{arquivo}",
                "get /calendario/paciente/{arquivo}",
                "get /painel",
                "get /sistema/saude",
                "post /auth/login",
                "post /c/{token}/cancelar",
                "post /c/{token}/confirmar"
            ]
        );
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
