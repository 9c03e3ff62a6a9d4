//! Links without login (SPEC-2 §13): `GET /c/{token}` (a small page in Portuguese with the
//! appointment and the buttons "Confirmar" and "Cancelar", plain forms, no JavaScript),
//! `POST /c/{token}/confirmar` and `POST /c/{token}/cancelar`. HTML by default, JSON when
//! the request accepts `application/json`. A tampered, expired or unknown link is the same
//! 404 page. The token never reaches a log (the request log prints the route template
//! `/c/{token}`), the pages send no referrer and allow no script.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::auth::Origem;
use super::extract::{ApiPath, Json, Requisicao};
use crate::error::AppError;
use crate::models::{ConsultaPublica, StatusConsulta};
use crate::services::links::Visao;
use crate::services::{self, AppState};

/// No script, no external asset, forms only to this server.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
    form-action 'self'; frame-ancestors 'none'";

const ESTILO: &str = "body{font-family:system-ui,sans-serif;max-width:32rem;margin:2rem auto;\
padding:0 1rem;color:#1d2733}h1{font-size:1.3rem}dl{display:grid;grid-template-columns:auto 1fr;\
gap:.4rem 1rem}dt{font-weight:600}.aviso{padding:.6rem .8rem;border-radius:.4rem;background:#eef4fb}\
.erro{background:#fdecea}form{display:inline-block;margin:1rem .5rem 0 0}button{font-size:1rem;\
padding:.6rem 1.2rem;border-radius:.4rem;border:1px solid #345;cursor:pointer}\
.confirmar{background:#1f7a3d;color:#fff;border-color:#1f7a3d}";

use crate::domain::extenso::{data as data_extenso, html as h};

fn status_pt(s: StatusConsulta) -> &'static str {
    match s {
        StatusConsulta::Agendada => "Agendada (aguardando sua confirmação)",
        StatusConsulta::Confirmada => "Confirmada",
        StatusConsulta::Concluida => "Concluída",
        StatusConsulta::Faltou => "Não compareceu",
        StatusConsulta::Cancelada => "Cancelada",
    }
}

/// The page around `corpo`.
fn pagina(clinica: &str, titulo: &str, corpo: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"pt-BR\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><meta name=\"robots\" content=\"noindex\">\
<title>{} — {}</title><style>{ESTILO}</style></head><body><main>\
<h1>{}</h1>{corpo}</main></body></html>\n",
        h(titulo),
        h(clinica),
        h(clinica),
    )
}

/// The appointment's page; `acoes` is where the forms post (relative: `<token>/` from
/// `/c/{token}`, `` from `/c/{token}/…`).
fn pagina_consulta(app: &AppState, v: &Visao, acoes: &str, aviso: Option<(&str, bool)>) -> String {
    let c = &v.consulta;
    let mut corpo = String::new();
    if let Some(nome) = &v.primeiro_nome {
        corpo.push_str(&format!("<p>Olá, {}.</p>", h(nome)));
    }
    if let Some((msg, erro)) = aviso {
        let classe = if erro { "aviso erro" } else { "aviso" };
        corpo.push_str(&format!(
            "<p class=\"{classe}\" role=\"status\">{}</p>",
            h(msg)
        ));
    }
    corpo.push_str("<p>Sua consulta:</p><dl>");
    if let Some(m) = &v.medico {
        corpo.push_str(&format!(
            "<dt>Médico(a)</dt><dd>{}</dd><dt>Especialidade</dt><dd>{}</dd>",
            h(&m.nome),
            h(&m.especialidade)
        ));
    }
    corpo.push_str(&format!(
        "<dt>Data</dt><dd>{}</dd><dt>Horário</dt><dd>{} às {}</dd><dt>Situação</dt><dd>{}</dd></dl>",
        data_extenso(c.inicio.date()),
        c.inicio.strftime("%H:%M"),
        c.fim.strftime("%H:%M"),
        status_pt(c.status),
    ));
    if c.status == StatusConsulta::Agendada {
        corpo.push_str(&format!(
            "<form method=\"post\" action=\"{acoes}confirmar\">\
<button class=\"confirmar\" type=\"submit\">Confirmar</button></form>"
        ));
    }
    if matches!(
        c.status,
        StatusConsulta::Agendada | StatusConsulta::Confirmada
    ) {
        if v.cancelavel {
            corpo.push_str(&format!(
                "<form method=\"post\" action=\"{acoes}cancelar\">\
<button type=\"submit\">Cancelar</button></form>"
            ));
        } else {
            corpo.push_str(
                "<p>O prazo para cancelar por aqui já passou; se não puder comparecer, avise a clínica.</p>",
            );
        }
    }
    pagina(&app.config.clinica_nome, "Sua consulta", &corpo)
}

/// Whether the client asked for JSON.
fn quer_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// An HTML answer with the link pages' headers.
fn html(status: StatusCode, corpo: String) -> Response {
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        corpo,
    )
        .into_response()
}

/// Adds the link pages' headers to a JSON or problem answer.
fn com_cabecalhos(mut r: Response) -> Response {
    let hs = r.headers_mut();
    hs.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    hs.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

fn publica(v: &Visao, mensagem: Option<String>) -> ConsultaPublica {
    ConsultaPublica {
        inicio: crate::domain::format_datetime(v.consulta.inicio),
        fim: crate::domain::format_datetime(v.consulta.fim),
        status: v.consulta.status,
        medico: v.medico.as_ref().map(|m| m.nome.clone()),
        especialidade: v.medico.as_ref().map(|m| m.especialidade.clone()),
        paciente: v.primeiro_nome.clone(),
        mensagem,
    }
}

/// An error as HTML (the 404 page for every invalid link) or problem+json.
fn erro(app: &AppState, e: AppError, json: bool, visao: Option<(&Visao, &str)>) -> Response {
    if json {
        return com_cabecalhos(e.into_response());
    }
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let detail = e.problema().detail;
    match (e, visao) {
        (AppError::NotFound(_), _) | (_, None) => {
            let corpo = format!(
                "<p class=\"aviso erro\">{}</p><p>Se precisar, fale com a clínica.</p>",
                h(if status == StatusCode::NOT_FOUND {
                    "Este link não é válido ou já expirou."
                } else {
                    &detail
                })
            );
            html(status, pagina(&app.config.clinica_nome, "Link", &corpo))
        }
        (_, Some((v, acoes))) => html(
            status,
            pagina_consulta(app, v, acoes, Some((&detail, true))),
        ),
    }
}

/// The link routes' limit per address, as for sign-in (SPEC-2 §10): 30 a minute.
fn limitar(app: &AppState, ip: &str) -> Result<(), AppError> {
    let agora = jiff::Timestamp::now().as_second();
    app.tentativas
        .entrada_ip("link", ip, agora)
        .map_err(|secs| AppError::Busy {
            status: 429,
            code: "muitas_tentativas",
            detail: "Acessos demais a links; aguarde e tente novamente.".into(),
            retry_after_secs: secs,
        })
}

/// The appointment a public link names (SPEC-2 §13), as a page with "Confirmar" and
/// "Cancelar" (or JSON with `Accept: application/json`): doctor, speciality, date and time
/// in the clinic's zone, status and the patient's first name; nothing else of the patient.
/// A tampered, expired (the appointment has started) or unknown link: the same 404.
#[utoipa::path(get, path = "/c/{token}", tag = "links",
    params(("token" = String, Path, description = "O token do link (e-mail da clínica)")),
    responses((status = 200, description = "A página da consulta (ou JSON com Accept: application/json)",
        content((String = "text/html"), (ConsultaPublica = "application/json"))),
        (status = 404, description = "Link inválido ou expirado: a mesma página para todos (problem+json com Accept: application/json)",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json"))),
        (status = 429, description = "Acessos demais a links deste endereço",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json")))))]
pub async fn find_link(
    State(app): State<AppState>,
    Origem(ip): Origem,
    headers: HeaderMap,
    ApiPath(token): ApiPath<String>,
) -> Response {
    let acoes = format!("{}/", h(&token));
    mostrar(&app, &ip, &headers, &token, &acoes)
}

/// The appointment's page (or JSON) for a `GET`, whose forms post to `acoes`.
fn mostrar(app: &AppState, ip: &str, headers: &HeaderMap, token: &str, acoes: &str) -> Response {
    let json = quer_json(headers);
    if let Err(e) = limitar(app, ip) {
        return erro(app, e, json, None);
    }
    match services::links::abrir(app, token) {
        None => erro(app, services::links::link_invalido(), json, None),
        Some(v) if json => com_cabecalhos(Json(publica(&v, None)).into_response()),
        Some(v) => html(StatusCode::OK, pagina_consulta(app, &v, acoes, None)),
    }
}

/// The page a button led to, opened again by its address (a copied address, a mail app's
/// browser handing it to another, a bookmark): the same page as `GET /c/{token}`, acting on
/// nothing (a `GET` never acts).
#[utoipa::path(get, path = "/c/{token}/confirmar", tag = "links",
    params(("token" = String, Path, description = "O token do link")),
    responses((status = 200, description = "A página da consulta, sem agir (como GET /c/{token})",
        content((String = "text/html"), (ConsultaPublica = "application/json"))),
        (status = 404, description = "Link inválido ou expirado",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json"))),
        (status = 429, description = "Acessos demais a links deste endereço",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json")))))]
pub async fn find_confirmacao_link(
    State(app): State<AppState>,
    Origem(ip): Origem,
    headers: HeaderMap,
    ApiPath(token): ApiPath<String>,
) -> Response {
    mostrar(&app, &ip, &headers, &token, "")
}

/// Like [`find_confirmacao_link`], for the cancel button's address.
#[utoipa::path(get, path = "/c/{token}/cancelar", tag = "links",
    params(("token" = String, Path, description = "O token do link")),
    responses((status = 200, description = "A página da consulta, sem agir (como GET /c/{token})",
        content((String = "text/html"), (ConsultaPublica = "application/json"))),
        (status = 404, description = "Link inválido ou expirado",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json"))),
        (status = 429, description = "Acessos demais a links deste endereço",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json")))))]
pub async fn find_cancelamento_link(
    State(app): State<AppState>,
    Origem(ip): Origem,
    headers: HeaderMap,
    ApiPath(token): ApiPath<String>,
) -> Response {
    mostrar(&app, &ip, &headers, &token, "")
}

/// Which action.
#[derive(Clone, Copy)]
enum Acao {
    Confirmar,
    Cancelar,
}

async fn agir(
    app: AppState,
    ip: String,
    headers: HeaderMap,
    req: Requisicao,
    token: String,
    acao: Acao,
) -> Response {
    let json = quer_json(&headers);
    if let Err(e) = limitar(&app, &ip) {
        return erro(&app, e, json, None);
    }
    let r = req.responde(StatusCode::OK);
    let feito = match acao {
        Acao::Confirmar => services::links::confirmar(&app, r.ctx(), &token).await,
        Acao::Cancelar => services::links::cancelar(&app, r.ctx(), &token).await,
    };
    match feito {
        Ok(v) => {
            let msg = match acao {
                Acao::Confirmar => "Consulta confirmada. Obrigado!",
                Acao::Cancelar => "Consulta cancelada.",
            };
            if json {
                com_cabecalhos(Json(publica(&v, Some(msg.to_owned()))).into_response())
            } else {
                html(
                    StatusCode::OK,
                    pagina_consulta(&app, &v, "", Some((msg, false))),
                )
            }
        }
        Err(e) => {
            // A refusal (the cancellation cutoff, a cancelled appointment) shows the
            // appointment again with the reason; an invalid link is the 404 page.
            let v = services::links::abrir(&app, &token);
            erro(&app, e, json, v.as_ref().map(|v| (v, "")))
        }
    }
}

/// Confirms the appointment of a public link, through the same service as the front
/// desk's confirmation; audited with `request_id` `link público:<x-request-id>`. 200 the
/// page (or JSON); 404 for an invalid link; 409 when it can no longer be confirmed.
#[utoipa::path(post, path = "/c/{token}/confirmar", tag = "links",
    params(("token" = String, Path, description = "O token do link")),
    responses((status = 200, description = "A consulta, confirmada (página, ou JSON com Accept: application/json)",
        content((String = "text/html"), (ConsultaPublica = "application/json"))),
        (status = 404, description = "Link inválido ou expirado: a mesma página para todos (problem+json com Accept: application/json)",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json"))),
        (status = 409, description = "Recusado (prazo de cancelamento, consulta cancelada ou encerrada): a página explica",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json"))),
        (status = 429, description = "Acessos demais a links deste endereço",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json")))))]
pub async fn create_confirmacao_link(
    State(app): State<AppState>,
    Origem(ip): Origem,
    headers: HeaderMap,
    req: Requisicao,
    ApiPath(token): ApiPath<String>,
) -> Response {
    agir(app, ip, headers, req, token, Acao::Confirmar).await
}

/// Cancels the appointment of a public link, through `cancelar` (SPEC-2 §11): the clinic's
/// cancellation cutoff applies (409 `prazo_cancelamento`, explained in the page). 200 the
/// page (or JSON); 404 for an invalid link.
#[utoipa::path(post, path = "/c/{token}/cancelar", tag = "links",
    params(("token" = String, Path, description = "O token do link")),
    responses((status = 200, description = "A consulta, cancelada (página, ou JSON com Accept: application/json)",
        content((String = "text/html"), (ConsultaPublica = "application/json"))),
        (status = 404, description = "Link inválido ou expirado: a mesma página para todos (problem+json com Accept: application/json)",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json"))),
        (status = 409, description = "Recusado (prazo de cancelamento, consulta cancelada ou encerrada): a página explica",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json"))),
        (status = 429, description = "Acessos demais a links deste endereço",
            content((String = "text/html"), (crate::error::Problema = "application/problem+json")))))]
pub async fn create_cancelamento_link(
    State(app): State<AppState>,
    Origem(ip): Origem,
    headers: HeaderMap,
    req: Requisicao,
    ApiPath(token): ApiPath<String>,
) -> Response {
    agir(app, ip, headers, req, token, Acao::Cancelar).await
}
