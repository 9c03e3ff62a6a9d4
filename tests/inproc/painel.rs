//! `GET /painel` (SPEC-2 §15): one HTML page from the binary, in Portuguese, with today's
//! clinic date filled in and nothing loaded from another host. What it does in a browser is
//! tested in `browser/painel.test.mjs`.

use crate::harness::TestApp;

#[tokio::test]
async fn painel_serves_one_portuguese_html_page_with_the_clinic_date() {
    let app = TestApp::new().await;
    for path in ["/painel", "/painel/"] {
        let r = app.get(path).await;
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), "text/html; charset=utf-8");
        assert!(
            r.header("content-security-policy")
                .contains("connect-src 'self'")
        );
        assert!(r.text.starts_with("<!doctype html>"));
        assert!(r.text.contains("<html lang=\"pt-BR\""));
        assert!(r.text.contains("Painel da clínica"));
        let at = r.text.find("data-hoje=\"").expect("data-hoje") + "data-hoje=\"".len();
        let hoje = &r.text[at..at + 10];
        assert!(
            jiff::civil::Date::strptime("%Y-%m-%d", hoje).is_ok(),
            "today's date in place, not {hoje:?}"
        );
        // Same origin only: no script, style, image or font from elsewhere.
        for externo in [
            "src=\"http",
            "href=\"http",
            "src=\"//",
            "href=\"//",
            "url(http",
        ] {
            assert!(!r.text.contains(externo), "{externo}");
        }
    }
}

#[tokio::test]
async fn painel_is_in_the_openapi_document_as_html() {
    let app = TestApp::new().await;
    let doc = app.get("/openapi.json").await.body;
    let ok = &doc["paths"]["/painel"]["get"]["responses"]["200"]["content"];
    assert!(ok.get("text/html").is_some(), "{ok}");
}
