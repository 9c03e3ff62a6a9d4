//! `GET /painel` (SPEC-2 §15): the clinic's live page, served from the binary.
//!
//! Plain HTML, CSS and JavaScript under `controllers/painel/`, compiled in with
//! `include_str!` (no build step, nothing from another host). The page reads the public API
//! (`/agenda/slots`, `/medicos`, `/sistema/tasks`, `/sistema/logs`) and follows
//! `/sistema/agenda/stream` and `/sistema/logs/stream`. The only server-side value in it is
//! today's date in the clinic's time zone, so the date picker starts on the clinic's day
//! whatever the browser's zone. The shell is public and holds no record: with sign-in on,
//! `painel.js` (`entrar`) shows its own sign-in form, whose `POST /auth/login` sets the
//! session cookie every later `GET` and `EventSource` of the page carries.

use std::sync::LazyLock;

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::services::AppState;

/// The page's markup; `<!--estilo-->`, `<!--script-->` and `__HOJE__` are filled in.
const HTML: &str = include_str!("painel/painel.html");
/// The page's stylesheet, inlined into `<style>`.
const CSS: &str = include_str!("painel/painel.css");
/// The page's script, inlined into `<script>`.
const JS: &str = include_str!("painel/painel.js");
/// Where today's clinic-local date goes.
const HOJE: &str = "__HOJE__";

/// Nothing but this page's own inline code and same-origin requests.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The page split around today's date, assembled once.
static PARTES: LazyLock<(String, String)> = LazyLock::new(|| {
    let page = HTML
        .replacen("<!--estilo-->", CSS, 1)
        .replacen("<!--script-->", JS, 1);
    match page.split_once(HOJE) {
        Some((a, b)) => (a.to_owned(), b.to_owned()),
        None => (page, String::new()),
    }
});

/// The page with today's date (`YYYY-MM-DD`) in place.
pub fn pagina(hoje: &str) -> String {
    let (a, b) = &*PARTES;
    let mut s = String::with_capacity(a.len() + hoje.len() + b.len());
    s.push_str(a);
    s.push_str(hoje);
    s.push_str(b);
    s
}

/// The live page: today's agenda per doctor, tasks and the log tail.
///
/// One HTML page (Portuguese, no external assets) whose grid of slots per doctor is
/// coloured by state and updates live over `/sistema/agenda/stream` (reconnecting with
/// `Last-Event-ID` and refetching what it may have missed); tasks with progress bars; the
/// newest log lines; a date picker for other days (README "Painel").
#[utoipa::path(get, path = "/painel", tag = "sistema",
    responses((status = 200, description = "Página HTML do painel", content_type = "text/html", body = String)))]
pub async fn find_painel(State(app): State<AppState>) -> Response {
    let hoje = app.clock.today().to_string();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(CSP),
            ),
            (
                header::X_CONTENT_TYPE_OPTIONS,
                HeaderValue::from_static("nosniff"),
            ),
        ],
        pagina(&hoje),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_its_parts_and_the_date_in_place() {
        let p = pagina("2026-12-03");
        assert!(p.contains("2026-12-03"));
        assert!(!p.contains(HOJE), "placeholder left");
        assert!(!p.contains("<!--estilo-->") && !p.contains("<!--script-->"));
        assert!(p.contains("function entrar"), "the script is inlined");
        assert!(p.contains(".slot"), "the stylesheet is inlined");
    }

    #[test]
    fn the_page_loads_nothing_from_another_host() {
        let p = pagina("2026-12-03");
        for bad in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "url(http",
            "@import",
        ] {
            assert!(!p.contains(bad), "external asset: {bad}");
        }
    }
}
