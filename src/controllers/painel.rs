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

/// The page's markup; `<!--estilo-->`, `<!--script-->`, `__HOJE__`, `__FUSO__` and
/// `__AGORA__` are filled in.
const HTML: &str = include_str!("painel/painel.html");
/// The page's stylesheet, inlined into `<style>`.
const CSS: &str = include_str!("painel/painel.css");
/// The page's script, inlined into `<script>`.
const JS: &str = include_str!("painel/painel.js");
/// Where today's clinic-local date goes.
const HOJE: &str = "__HOJE__";
/// Where the clinic's time zone (IANA name) goes.
const FUSO: &str = "__FUSO__";
/// Where the server's clock (Unix milliseconds) goes.
const AGORA: &str = "__AGORA__";

/// Nothing but this page's own inline code and same-origin requests.
const CSP: &str = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

/// The page with its code inlined, assembled once.
static PAGINA: LazyLock<String> = LazyLock::new(|| {
    HTML.replacen("<!--estilo-->", CSS, 1)
        .replacen("<!--script-->", JS, 1)
});

/// The page with today's date (`YYYY-MM-DD`), the clinic's time zone and the server's clock
/// (`agora_ms`, Unix milliseconds) in place, so the page moves on to the next day at the
/// clinic's midnight by the server's clock. A zone name with anything but the characters
/// of IANA names is left out (the page then keeps the day it came with).
pub fn pagina(hoje: &str, fuso: &str, agora_ms: i64) -> String {
    let iana = fuso
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "/_+-".contains(c));
    PAGINA
        .replacen(HOJE, hoje, 1)
        .replacen(FUSO, if iana { fuso } else { "" }, 1)
        .replacen(AGORA, &agora_ms.to_string(), 1)
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
    let fuso = app.clock.tz().iana_name().unwrap_or_default();
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
        pagina(&hoje, fuso, jiff::Timestamp::now().as_millisecond()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_its_parts_and_the_date_in_place() {
        let p = pagina("2026-12-03", "America/Sao_Paulo", 1_764_720_000_000);
        assert!(p.contains(r#"data-hoje="2026-12-03" data-fuso="America/Sao_Paulo""#));
        assert!(p.contains(r#"data-agora="1764720000000""#));
        assert!(
            !p.contains(HOJE) && !p.contains(FUSO) && !p.contains(AGORA),
            "placeholder left"
        );
        assert!(!p.contains("<!--estilo-->") && !p.contains("<!--script-->"));
        assert!(p.contains("function entrar"), "the script is inlined");
        assert!(p.contains(".slot"), "the stylesheet is inlined");
    }

    #[test]
    fn a_zone_name_that_is_not_an_iana_name_is_left_out() {
        let p = pagina("2026-12-03", r#""><script>alert(1)</script>"#, 0);
        assert!(p.contains(r#"data-fuso="""#));
        assert!(!p.contains("alert(1)"));
    }

    #[test]
    fn the_page_loads_nothing_from_another_host() {
        let p = pagina("2026-12-03", "UTC", 0);
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
