//! Sign-in, sessions, users and the role table of SPEC-2 §10, with `--auth on`.

use agendamento::repositories::Op;
use agendamento::services::usuarios;
use axum::http::Method;
use serde_json::{Value, json};

use crate::common::{assert_problem, medico_body, paciente_body, str_field};
use crate::harness::{Resp, TestApp};

const ADMIN_EMAIL: &str = "admin@clinica.example";
const ADMIN_SENHA: &str = "senha-do-admin";
const SENHA: &str = "senha-comum-1";

/// Raw header names and bytes.
type Cabecalhos<'a> = Vec<(&'a str, &'a [u8])>;

/// An application with sign-in on and its first administrator.
async fn app() -> TestApp {
    let app = TestApp::with_args(&["--auth", "on"]).await;
    usuarios::criar_admin(&app.state, ADMIN_EMAIL, "Admin", ADMIN_SENHA.into())
        .await
        .expect("first admin");
    app
}

async fn login(app: &TestApp, email: &str, senha: &str) -> Resp {
    app.post("/auth/login", &json!({"email": email, "senha": senha}))
        .await
}

async fn token(app: &TestApp, email: &str, senha: &str) -> String {
    let r = login(app, email, senha).await;
    r.expect_status(200);
    str_field(&r.body, "token")
}

/// A request carrying `Authorization: Bearer <token>` and, when given, a JSON body.
async fn com(app: &TestApp, tok: &str, method: Method, uri: &str, body: Option<&Value>) -> Resp {
    let auth = format!("Bearer {tok}");
    match body {
        Some(b) => {
            app.send(
                method,
                uri,
                &[
                    ("authorization", auth.as_str()),
                    ("content-type", "application/json"),
                ],
                b.to_string(),
            )
            .await
        }
        None => {
            app.send(method, uri, &[("authorization", auth.as_str())], "")
                .await
        }
    }
}

/// Working hours 08:00–12:00 for doctor `med` on every weekday (set with `tok`), so a slot
/// of tomorrow or any day is on the grid whatever day the test runs.
async fn todos_os_dias(app: &TestApp, tok: &str, med: &str) {
    for dia in [
        "segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo",
    ] {
        com(
            app,
            tok,
            Method::POST,
            &format!("/horarios/medico/{med}"),
            Some(&json!({"dia_semana": dia, "hora_inicio": "08:00", "hora_fim": "12:00"})),
        )
        .await
        .expect_status(201);
    }
}

/// The four roles' tokens, with the doctor and patient the last two are.
struct Papeis {
    admin: String,
    recepcao: String,
    medico: String,
    paciente: String,
}

async fn papeis(app: &TestApp) -> Papeis {
    let admin = token(app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let p = com(
        app,
        &admin,
        Method::POST,
        "/pacientes",
        Some(&paciente_body("Paula", 1)),
    )
    .await;
    p.expect_status(201);
    let m = com(
        app,
        &admin,
        Method::POST,
        "/medicos",
        Some(&medico_body("Dr. Marco", 1, "Clínica Geral")),
    )
    .await;
    m.expect_status(201);
    let criar = |papel: &'static str, extra: Value| {
        let mut body = json!({
            "nome": format!("Usuário {papel}"),
            "email": format!("{papel}@clinica.example"),
            "papel": papel,
            "senha": SENHA,
        });
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        body
    };
    let corpos = [
        criar("recepcao", json!({})),
        criar("medico", json!({"medico_id": str_field(&m.body, "id")})),
        criar("paciente", json!({"paciente_id": str_field(&p.body, "id")})),
    ];
    for b in &corpos {
        com(app, &admin, Method::POST, "/usuarios", Some(b))
            .await
            .expect_status(201);
    }
    Papeis {
        recepcao: token(app, "recepcao@clinica.example", SENHA).await,
        medico: token(app, "medico@clinica.example", SENHA).await,
        paciente: token(app, "paciente@clinica.example", SENHA).await,
        admin,
    }
}

#[tokio::test]
async fn login_answers_a_token_an_httponly_cookie_and_the_user_without_its_hash() {
    let app = app().await;
    let r = login(&app, "ADMIN@Clinica.Example", ADMIN_SENHA).await;
    r.expect_status(200);
    let tok = str_field(&r.body, "token");
    assert!(tok.len() >= 32, "≥ 128 random bits: {tok}");
    assert!(r.body["expira_em"].is_string());
    assert_eq!(r.body["usuario"]["papel"], "admin");
    assert_eq!(r.body["usuario"]["email"], ADMIN_EMAIL);
    assert!(!r.text.contains("argon2"), "no hash in {}", r.text);
    assert!(r.body["usuario"].get("senha_hash").is_none());
    let cookie = r.header("set-cookie");
    assert!(
        cookie.starts_with(&format!("agendamento_sessao={tok}")),
        "{cookie}"
    );
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    // The token is stored only as its hash.
    let db = app.state.store.read();
    assert!(db.sessoes.get(&tok).is_none());
    assert!(db.sessoes.get(&usuarios::hash_token(&tok)).is_some());
    drop(db);
    let eu = com(&app, &tok, Method::GET, "/auth/eu", None).await;
    eu.expect_status(200);
    assert_eq!(eu.body["email"], ADMIN_EMAIL);
    assert!(!eu.text.contains("argon2"));
}

#[tokio::test]
async fn wrong_email_and_wrong_password_get_the_same_401() {
    let app = app().await;
    let a = login(&app, "ninguem@clinica.example", ADMIN_SENHA).await;
    let b = login(&app, ADMIN_EMAIL, "senha errada!").await;
    assert_problem(&a, 401, "credenciais_invalidas");
    assert_eq!(a.status, b.status);
    assert_eq!(a.text, b.text, "identical bodies");
    assert_eq!(a.header("www-authenticate"), "Bearer");
}

#[tokio::test]
async fn missing_malformed_expired_and_revoked_tokens_are_401_problem_json() {
    let app = app().await;
    let longo = "a".repeat(10 * 1024);
    let expirado = "e".repeat(64);
    app.state
        .write(|db| {
            let uid = db.usuarios.iter().next().expect("admin").id.clone();
            let s = agendamento::models::Sessao {
                id: usuarios::hash_token(&expirado),
                usuario_id: uid,
                expira_em: jiff::Timestamp::now().as_second() - 1,
            };
            Ok((vec![Op::PutSessao(std::sync::Arc::new(s))], ()))
        })
        .await
        .expect("expired session");
    let revogado = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    com(&app, &revogado, Method::POST, "/auth/logout", None)
        .await
        .expect_status(204);
    let bearer_expirado = format!("Bearer {expirado}");
    let bearer_revogado = format!("Bearer {revogado}");
    let bearer_longo = format!("Bearer {longo}");
    let casos: Vec<(&str, Cabecalhos)> = vec![
        ("no header", vec![]),
        ("Bearer alone", vec![("authorization", b"Bearer")]),
        ("two spaces", vec![("authorization", b"Bearer  x")]),
        (
            "10 KB token",
            vec![("authorization", bearer_longo.as_bytes())],
        ),
        (
            "non-ASCII",
            vec![("authorization", "Bearer tôken".as_bytes())],
        ),
        ("Basic", vec![("authorization", b"Basic YTpi")]),
        (
            "unknown",
            vec![(
                "authorization",
                b"Bearer 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            )],
        ),
        (
            "expired",
            vec![("authorization", bearer_expirado.as_bytes())],
        ),
        (
            "revoked",
            vec![("authorization", bearer_revogado.as_bytes())],
        ),
    ];
    for (caso, headers) in casos {
        let mut req = axum::http::Request::builder().uri("/pacientes");
        for (k, v) in &headers {
            req = req.header(
                *k,
                axum::http::HeaderValue::from_bytes(v).expect("header bytes"),
            );
        }
        let r = app
            .request(req.body(axum::body::Body::empty()).expect("req"))
            .await;
        assert_eq!(r.status, 401, "{caso}: {}", r.text);
        assert_eq!(r.body["code"], "nao_autenticado", "{caso}");
        assert_eq!(
            r.header("content-type"),
            "application/problem+json",
            "{caso}"
        );
        assert_eq!(r.header("www-authenticate"), "Bearer", "{caso}");
    }
}

#[tokio::test]
async fn the_cookie_authenticates_get_but_never_a_write() {
    let app = app().await;
    let tok = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let cookie = format!("outro=1; agendamento_sessao={tok}");
    let get = app
        .send(
            Method::GET,
            "/pacientes",
            &[("cookie", cookie.as_str())],
            "",
        )
        .await;
    get.expect_status(200);
    let post = app
        .send(
            Method::POST,
            "/pacientes",
            &[
                ("cookie", cookie.as_str()),
                ("content-type", "application/json"),
            ],
            paciente_body("Forjada", 3).to_string(),
        )
        .await;
    assert_problem(&post, 401, "nao_autenticado");
    assert_eq!(app.state.store.read().pacientes.len(), 0, "nothing written");
}

#[tokio::test]
async fn public_routes_need_no_token() {
    let app = app().await;
    for uri in ["/", "/openapi.json", "/sistema/saude", "/docs/"] {
        let s = app.status_of(Method::GET, uri, &[]).await;
        assert!(s != 401 && s != 403, "{uri}: {s}");
    }
    let head = app.status_of(Method::HEAD, "/sistema/saude", &[]).await;
    assert_eq!(head, 200, "a health check may use HEAD");
}

#[tokio::test]
async fn a_password_change_ends_the_other_sessions_and_keeps_this_one() {
    let app = app().await;
    let a = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let b = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let errada = com(
        &app,
        &a,
        Method::PUT,
        "/auth/senha",
        Some(&json!({"senha_atual": "não é esta", "senha_nova": "nova-senha-longa"})),
    )
    .await;
    assert_problem(&errada, 422, "validation_failed");
    let curta = com(
        &app,
        &a,
        Method::PUT,
        "/auth/senha",
        Some(&json!({"senha_atual": ADMIN_SENHA, "senha_nova": "curta"})),
    )
    .await;
    assert_problem(&curta, 422, "validation_failed");
    com(
        &app,
        &a,
        Method::PUT,
        "/auth/senha",
        Some(&json!({"senha_atual": ADMIN_SENHA, "senha_nova": "nova-senha-longa"})),
    )
    .await
    .expect_status(204);
    let eu = com(&app, &a, Method::GET, "/auth/eu", None).await;
    eu.expect_status(200);
    // Audited like any change (SPEC-2 §10: a change never exists without its entry).
    let eu = str_field(&eu.body, "id");
    let e = trilha(&app, &a, "?acao=alterar&recurso=usuarios").await;
    assert!(
        e.iter()
            .any(|x| x["recurso_id"] == eu.as_str() && x["usuario_id"] == eu.as_str()),
        "the password change left no audit entry: {e:#?}"
    );
    assert_problem(
        &com(&app, &b, Method::GET, "/auth/eu", None).await,
        401,
        "nao_autenticado",
    );
    assert_problem(
        &login(&app, ADMIN_EMAIL, ADMIN_SENHA).await,
        401,
        "credenciais_invalidas",
    );
    login(&app, ADMIN_EMAIL, "nova-senha-longa")
        .await
        .expect_status(200);
}

#[tokio::test]
async fn users_crud_checks_email_password_and_links_and_delete_deactivates() {
    let app = app().await;
    let adm = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let novo = |email: &str, senha: &str| json!({"nome": "Rita", "email": email, "papel": "recepcao", "senha": senha});
    let r = com(
        &app,
        &adm,
        Method::POST,
        "/usuarios",
        Some(&novo("rita@clinica.example", SENHA)),
    )
    .await;
    r.expect_status(201);
    assert!(!r.text.contains("senha"), "{}", r.text);
    let id = str_field(&r.body, "id");
    let dup = com(
        &app,
        &adm,
        Method::POST,
        "/usuarios",
        Some(&novo("RITA@clinica.EXAMPLE", SENHA)),
    )
    .await;
    assert_problem(&dup, 409, "duplicate_email");
    let curta = com(
        &app,
        &adm,
        Method::POST,
        "/usuarios",
        Some(&novo("x@clinica.example", "1234567")),
    )
    .await;
    assert_problem(&curta, 422, "validation_failed");
    let igual = com(
        &app,
        &adm,
        Method::POST,
        "/usuarios",
        Some(&novo("y@clinica.example", "Y@clinica.example")),
    )
    .await;
    assert_problem(&igual, 422, "validation_failed");
    let sem_medico = com(
        &app,
        &adm,
        Method::POST,
        "/usuarios",
        Some(&json!({
        "nome": "Dr.", "email": "dr@clinica.example", "papel": "medico", "senha": SENHA,
        "medico_id": "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b"})),
    )
    .await;
    assert_problem(&sem_medico, 422, "validation_failed");
    let lista = com(&app, &adm, Method::GET, "/usuarios", None).await;
    lista.expect_status(200);
    assert_eq!(lista.header("x-total-count"), "2");
    assert!(!lista.text.contains("argon2"));

    let rita = token(&app, "rita@clinica.example", SENHA).await;
    com(&app, &rita, Method::GET, "/pacientes", None)
        .await
        .expect_status(200);
    com(&app, &adm, Method::DELETE, &format!("/usuarios/{id}"), None)
        .await
        .expect_status(204);
    assert_problem(
        &com(&app, &rita, Method::GET, "/pacientes", None).await,
        401,
        "nao_autenticado",
    );
    assert_problem(
        &login(&app, "rita@clinica.example", SENHA).await,
        401,
        "credenciais_invalidas",
    );
    let u = com(&app, &adm, Method::GET, &format!("/usuarios/{id}"), None).await;
    u.expect_status(200);
    assert_eq!(u.body["ativo"], false, "kept, deactivated");
}

#[tokio::test]
async fn the_last_active_administrator_cannot_be_deactivated_or_demoted() {
    let app = app().await;
    let adm = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let eu = com(&app, &adm, Method::GET, "/auth/eu", None).await;
    let id = str_field(&eu.body, "id");
    let uri = format!("/usuarios/{id}");
    assert_problem(
        &com(&app, &adm, Method::DELETE, &uri, None).await,
        409,
        "last_admin",
    );
    let rebaixa = com(
        &app,
        &adm,
        Method::PUT,
        &uri,
        Some(&json!({"papel": "recepcao"})),
    )
    .await;
    assert_problem(&rebaixa, 409, "last_admin");
    let desativa = com(
        &app,
        &adm,
        Method::PUT,
        &uri,
        Some(&json!({"ativo": false})),
    )
    .await;
    assert_problem(&desativa, 409, "last_admin");
    com(&app, &adm, Method::GET, "/auth/eu", None)
        .await
        .expect_status(200);
    // With a second administrator, the first may go.
    com(
        &app,
        &adm,
        Method::POST,
        "/usuarios",
        Some(&json!({
        "nome": "Outra", "email": "outra@clinica.example", "papel": "admin", "senha": SENHA})),
    )
    .await
    .expect_status(201);
    com(&app, &adm, Method::DELETE, &uri, None)
        .await
        .expect_status(204);
}

#[tokio::test]
async fn the_sixth_failure_for_one_email_is_429_with_retry_after() {
    let app = app().await;
    for i in 0..5 {
        let r = login(&app, ADMIN_EMAIL, "errada-errada").await;
        assert_problem(&r, 401, "credenciais_invalidas");
        assert_eq!(r.header("retry-after"), "", "attempt {i}");
    }
    let r = login(&app, ADMIN_EMAIL, "errada-errada").await;
    assert_problem(&r, 429, "muitas_tentativas");
    assert!(
        r.header("retry-after").parse::<u64>().is_ok_and(|s| s > 0),
        "{:?}",
        r.headers
    );
    // Even the right password waits now: the window is not a guessing oracle.
    assert_problem(
        &login(&app, ADMIN_EMAIL, ADMIN_SENHA).await,
        429,
        "muitas_tentativas",
    );
    // Another e-mail is not affected.
    assert_problem(
        &login(&app, "outra@clinica.example", "x").await,
        401,
        "credenciais_invalidas",
    );
}

/// Guesses sent together get no more password checks than guesses sent one by one: each
/// counts as a failure from the moment its check starts. Every check that ran is one
/// `login_falhou` entry; the rest are refused before any check.
#[tokio::test(flavor = "multi_thread")]
async fn failures_sent_together_get_no_more_checks_than_one_by_one() {
    let app = app().await;
    let tentativas = (0..30).map(|i| {
        let app = &app;
        async move { login(app, ADMIN_EMAIL, &format!("errada-{i}")).await }
    });
    let rs = futures_util::future::join_all(tentativas).await;
    let recusadas = rs.iter().filter(|r| r.status == 429).count();
    let verificadas = rs.iter().filter(|r| r.status == 401).count();
    assert_eq!(recusadas + verificadas, 30);
    assert!(verificadas <= 5, "{verificadas} checked and answered 401");
    assert!(recusadas >= 25);
    // One more check at most (the 6th failure is the 429 of a check).
    let adm = {
        let db = app.state.store.read();
        db.auditoria
            .iter()
            .filter(|e| e.acao == agendamento::models::Acao::LoginFalhou)
            .count()
    };
    assert!(
        adm <= 6,
        "{adm} password checks ran for 30 guesses sent together"
    );
}

/// A wrong current password on `PUT /auth/senha` is a failed sign-in of that e-mail: audited,
/// and past the limit 429, for the password change and for sign-in alike.
#[tokio::test]
async fn a_wrong_current_password_counts_as_a_failed_sign_in() {
    let app = app().await;
    let tok = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let trocar = |atual: &str| {
        let (app, tok) = (&app, tok.clone());
        let body = json!({"senha_atual": atual, "senha_nova": "uma-senha-nova-1"});
        async move { com(app, &tok, Method::PUT, "/auth/senha", Some(&body)).await }
    };
    for i in 0..5 {
        let r = trocar("errada-errada").await;
        assert_eq!(r.status, 422, "attempt {i}: {}", r.text);
    }
    assert_problem(&trocar("errada-errada").await, 429, "muitas_tentativas");
    // The right one waits too, and so does sign-in.
    assert_problem(&trocar(ADMIN_SENHA).await, 429, "muitas_tentativas");
    assert_problem(
        &login(&app, ADMIN_EMAIL, ADMIN_SENHA).await,
        429,
        "muitas_tentativas",
    );
    let falhas = trilha(&app, &tok, "?acao=login_falhou").await;
    assert_eq!(falhas.len(), 6, "{falhas:?}");
    // The password did not change.
    let db = app.state.store.read();
    let u = db
        .usuarios
        .iter()
        .find(|u| u.email == ADMIN_EMAIL)
        .expect("admin");
    assert!(u.senha_hash.starts_with("$argon2"));
}

/// Behind the clinic's HTTPS address the session cookie is `Secure`.
#[tokio::test]
async fn the_session_cookie_is_secure_when_the_public_address_is_https() {
    let app =
        TestApp::with_args(&["--auth", "on", "--url-publica", "https://clinica.example"]).await;
    usuarios::criar_admin(&app.state, ADMIN_EMAIL, "Admin", ADMIN_SENHA.into())
        .await
        .expect("first admin");
    let r = login(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    r.expect_status(200);
    assert!(
        r.header("set-cookie").ends_with("; Secure"),
        "{}",
        r.header("set-cookie")
    );
    let plain = self::app().await;
    let r = login(&plain, ADMIN_EMAIL, ADMIN_SENHA).await;
    assert!(
        !r.header("set-cookie").contains("Secure"),
        "{}",
        r.header("set-cookie")
    );
}

#[tokio::test]
async fn more_than_30_logins_a_minute_from_one_address_is_429() {
    let app = app().await;
    for i in 0..30 {
        let r = login(&app, &format!("u{i}@clinica.example"), "qualquer-coisa").await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = login(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    assert_problem(&r, 429, "muitas_tentativas");
    assert!(!r.header("retry-after").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn doctors_and_patients_see_only_their_own_records_and_404_outside() {
    let app = app().await;
    let adm = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let novo = |uri: &str, body: Value| {
        let (app, adm, uri) = (&app, adm.clone(), uri.to_owned());
        async move {
            let r = com(app, &adm, Method::POST, &uri, Some(&body)).await;
            r.expect_status(201);
            str_field(&r.body, "id")
        }
    };
    let m1 = novo("/medicos", medico_body("Dr. Um", 11, "Clínica Geral")).await;
    let m2 = novo("/medicos", medico_body("Dra. Dois", 12, "Cardiologia")).await;
    let p1 = novo("/pacientes", paciente_body("Paciente Um", 21)).await;
    let p2 = novo("/pacientes", paciente_body("Paciente Dois", 22)).await;
    let consulta = |m: &str, p: &str, h: u8| {
        json!({"medico_id": m, "paciente_id": p,
               "inicio": format!("2026-03-02T{h:02}:00:00"), "fim": format!("2026-03-02T{h:02}:30:00")})
    };
    let c1 = novo("/consultas", consulta(&m1, &p1, 8)).await;
    let c2 = novo("/consultas", consulta(&m2, &p2, 9)).await;
    novo(
        "/usuarios",
        json!({"nome": "Dr. Um", "email": "um@clinica.example", "papel": "medico",
        "medico_id": m1, "senha": SENHA}),
    )
    .await;
    novo(
        "/usuarios",
        json!({"nome": "P. Um", "email": "p1@clinica.example", "papel": "paciente",
        "paciente_id": p1, "senha": SENHA}),
    )
    .await;
    let med = token(&app, "um@clinica.example", SENHA).await;
    let pac = token(&app, "p1@clinica.example", SENHA).await;
    let ids = |r: &Resp| -> Vec<String> {
        r.body
            .as_array()
            .expect("list")
            .iter()
            .map(|v| str_field(v, "id"))
            .collect()
    };
    for (quem, tok) in [("medico", &med), ("paciente", &pac)] {
        let ps = com(&app, tok, Method::GET, "/pacientes", None).await;
        ps.expect_status(200);
        assert_eq!(ids(&ps), vec![p1.clone()], "{quem}");
        assert_eq!(ps.header("x-total-count"), "1");
        let cs = com(&app, tok, Method::GET, "/consultas", None).await;
        assert_eq!(ids(&cs), vec![c1.clone()], "{quem}");
        com(&app, tok, Method::GET, &format!("/pacientes/{p1}"), None)
            .await
            .expect_status(200);
        com(&app, tok, Method::GET, &format!("/consultas/{c1}"), None)
            .await
            .expect_status(200);
        assert_problem(
            &com(&app, tok, Method::GET, &format!("/pacientes/{p2}"), None).await,
            404,
            "not_found",
        );
        assert_problem(
            &com(&app, tok, Method::GET, &format!("/consultas/{c2}"), None).await,
            404,
            "not_found",
        );
    }
    let alheio = com(
        &app,
        &med,
        Method::GET,
        &format!("/consultas?medico_id={m2}"),
        None,
    )
    .await;
    assert_eq!(
        ids(&alheio),
        Vec::<String>::new(),
        "a filter naming another doctor finds nothing"
    );
    // A patient changes their own contact data, nothing else, nobody else's.
    let meu = format!("/pacientes/{p1}");
    let tel = com(
        &app,
        &pac,
        Method::PUT,
        &meu,
        Some(&json!({"telefone": "11987654321"})),
    )
    .await;
    tel.expect_status(200);
    assert_eq!(tel.body["telefone"], "11987654321");
    assert_problem(
        &com(
            &app,
            &pac,
            Method::PUT,
            &meu,
            Some(&json!({"nome": "Outro Nome"})),
        )
        .await,
        403,
        "sem_permissao",
    );
    let outro = format!("/pacientes/{p2}");
    assert_problem(
        &com(
            &app,
            &pac,
            Method::PUT,
            &outro,
            Some(&json!({"telefone": "11987654321"})),
        )
        .await,
        404,
        "not_found",
    );
    assert_problem(
        &com(
            &app,
            &med,
            Method::PUT,
            &meu,
            Some(&json!({"telefone": "11987654321"})),
        )
        .await,
        403,
        "sem_permissao",
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_doctor_sets_status_and_notes_of_their_own_appointments_and_changes_their_own_horarios() {
    let app = app().await;
    let adm = token(&app, ADMIN_EMAIL, ADMIN_SENHA).await;
    let post = |uri: &'static str, body: Value| {
        let (app, adm) = (&app, adm.clone());
        async move {
            let r = com(app, &adm, Method::POST, uri, Some(&body)).await;
            r.expect_status(201);
            str_field(&r.body, "id")
        }
    };
    let m1 = post("/medicos", medico_body("Dr. Um", 31, "Clínica Geral")).await;
    let m2 = post("/medicos", medico_body("Dra. Dois", 32, "Cardiologia")).await;
    let p1 = post("/pacientes", paciente_body("Paciente Um", 41)).await;
    let c = |m: &str, h: u8| {
        json!({"medico_id": m, "paciente_id": p1,
               "inicio": format!("2026-03-03T{h:02}:00:00"), "fim": format!("2026-03-03T{h:02}:30:00")})
    };
    let c1 = post("/consultas", c(&m1, 8)).await;
    let c2 = post("/consultas", c(&m2, 10)).await;
    post(
        "/usuarios",
        json!({"nome": "Dr. Um", "email": "um@clinica.example", "papel": "medico",
        "medico_id": m1, "senha": SENHA}),
    )
    .await;
    let med = token(&app, "um@clinica.example", SENHA).await;
    let minha = format!("/consultas/{c1}");
    let r = com(
        &app,
        &med,
        Method::PUT,
        &minha,
        Some(&json!({"status": "concluida", "observacoes": "Retorno em 30 dias"})),
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "concluida");
    let hora = json!({"inicio": "2026-03-03T09:00:00", "fim": "2026-03-03T09:30:00"});
    assert_problem(
        &com(&app, &med, Method::PUT, &minha, Some(&hora)).await,
        403,
        "sem_permissao",
    );
    let cancela = json!({"status": "cancelada"});
    assert_problem(
        &com(&app, &med, Method::PUT, &minha, Some(&cancela)).await,
        403,
        "sem_permissao",
    );
    let alheia = format!("/consultas/{c2}");
    let obs = json!({"observacoes": "x"});
    assert_problem(
        &com(&app, &med, Method::PUT, &alheia, Some(&obs)).await,
        404,
        "not_found",
    );

    let faixa = json!({"dia_semana": "segunda", "hora_inicio": "08:00", "hora_fim": "12:00"});
    let h = com(
        &app,
        &med,
        Method::POST,
        &format!("/horarios/medico/{m1}"),
        Some(&faixa),
    )
    .await;
    h.expect_status(201);
    let outro = com(
        &app,
        &med,
        Method::POST,
        &format!("/horarios/medico/{m2}"),
        Some(&faixa),
    )
    .await;
    assert_problem(&outro, 403, "sem_permissao");
    let h2 = com(
        &app,
        &adm,
        Method::POST,
        &format!("/horarios/medico/{m2}"),
        Some(&faixa),
    )
    .await;
    h2.expect_status(201);
    let h2 = format!("/horarios/{}", str_field(&h2.body, "id"));
    assert_problem(
        &com(&app, &med, Method::DELETE, &h2, None).await,
        403,
        "sem_permissao",
    );
    let h1 = format!("/horarios/{}", str_field(&h.body, "id"));
    com(&app, &med, Method::DELETE, &h1, None)
        .await
        .expect_status(204);
}

/// Who may call a route (SPEC-2 §10) in this first part.
#[derive(Debug, Clone, Copy)]
enum Quem {
    Publica,
    /// Every signed-in role (for medico and paciente limited to their own records).
    Todos,
    /// Staff, and a patient on their own record.
    StaffOuPaciente,
    /// Staff, and a doctor on their own appointments and horários.
    StaffOuMedico,
    Staff,
    Admin,
}

/// The decision for each route of the router. A route missing here fails the table test.
fn decisao(method: &str, path: &str) -> Option<Quem> {
    use Quem::*;
    Some(match (method, path) {
        ("GET", "/") | ("GET", "/sistema/saude") | ("POST", "/auth/login") => Publica,
        // The live page's shell holds no record; it signs in itself.
        ("GET", "/painel") => Publica,
        // Or `--metrics-token`, tested in `metricas`.
        ("GET", "/metrics") => Admin,
        // A doctor's own figures only (404 for another doctor's id).
        ("GET", "/relatorios/estatisticas") => StaffOuMedico,
        ("GET", "/auth/eu") | ("POST", "/auth/logout") | ("PUT", "/auth/senha") => Todos,
        ("GET", "/medicos" | "/medicos/{id}" | "/horarios" | "/horarios/{id}") => Todos,
        ("GET", "/horarios/medico/{medico_id}" | "/agenda/slots") => Todos,
        (_, "/usuarios" | "/usuarios/{id}") => Admin,
        (_, p) if p.starts_with("/backup") => Admin,
        ("POST", "/sistema/tasks/backup") => Admin,
        ("GET", "/sistema/logs" | "/sistema/logs/stream" | "/sistema/auditoria") => Admin,
        ("GET", "/pacientes" | "/pacientes/{id}") => Todos,
        ("PUT", "/pacientes/{id}") => StaffOuPaciente,
        // A patient holds for themselves; a doctor holds on their own agenda (403 for
        // another doctor's, tested in `a_doctor_holds_and_releases_slots_of_their_own_agenda_only`).
        ("POST", "/agenda/reservar" | "/agenda/liberar") => Todos,
        // A patient books for themselves (their own paciente_id only).
        ("POST", "/consultas/agendar") => StaffOuPaciente,
        ("GET", "/consultas" | "/consultas/{id}") => Todos,
        ("PUT", "/consultas/{id}") => StaffOuMedico,
        // SPEC-2 §11: a patient cancels and moves their own (404 outside); a doctor may not.
        ("POST", "/consultas/{id}/cancelar" | "/consultas/{id}/remarcar") => StaffOuPaciente,
        ("GET", "/consultas/{id}/historico") => Todos,
        // The rules: staff read them, administrators change them.
        ("GET", "/sistema/regras") => Staff,
        ("PUT", "/sistema/regras") => Admin,
        ("POST", "/horarios/medico/{medico_id}") | ("PUT" | "DELETE", "/horarios/{id}") => {
            StaffOuMedico
        }
        (_, "/pacientes" | "/pacientes/{id}") => Staff,
        ("POST", "/medicos") | ("PUT" | "DELETE", "/medicos/{id}") => Staff,
        (_, "/consultas" | "/consultas/{id}" | "/consultas/agendar") => Staff,
        // Every role sees the tasks that are theirs (404 outside).
        ("GET", "/sistema/tasks" | "/sistema/tasks/{task_id}") => Todos,
        // Filtered per role (SPEC-2 §10).
        ("GET", "/sistema/agenda/stream") => Todos,
        // A doctor's own reports (SPEC-2 §10), tested in `a_doctor_makes_lists_and_downloads_their_own_reports_only`.
        ("POST", "/sistema/tasks/relatorio" | "/relatorios/gerar") => StaffOuMedico,
        ("GET", "/relatorios" | "/relatorios/download/{nome}") => StaffOuMedico,
        // Time off and holidays (SPEC-2 §11): staff write, every role reads.
        ("GET", "/bloqueios" | "/bloqueios/{id}") => Todos,
        ("POST", "/bloqueios" | "/bloqueios/feriados") | ("DELETE", "/bloqueios/{id}") => Staff,
        // The waiting list (SPEC-2 §11): everyone reads what is theirs; a patient puts
        // themselves on it, cancels, accepts and refuses their own offers.
        ("GET", "/lista-espera" | "/lista-espera/{id}") => Todos,
        ("POST", "/lista-espera" | "/lista-espera/{id}/aceitar" | "/lista-espera/{id}/recusar")
        | ("DELETE", "/lista-espera/{id}") => StaffOuPaciente,
        ("POST", "/consultas/agendar-serie" | "/consultas/series/{serie_id}/cancelar") => Staff,
        // Insurance plans (SPEC-2 §12): staff write, every role reads.
        ("GET", "/convenios" | "/convenios/{id}") => Todos,
        ("POST", "/convenios") | ("PUT" | "DELETE", "/convenios/{id}") => Staff,
        ("POST", "/consultas/{id}/pagamento") => Staff,
        // SPEC-2 §14: whoever reads the appointment downloads it (the patient's name only
        // for staff and the patient); a feed token for oneself (staff for anyone).
        ("GET", "/consultas/{id}/ics") | ("POST", "/calendario/token") => Todos,
        // The feeds and the public links: the token is the credential (404 without it).
        ("GET", "/calendario/medico/{arquivo}" | "/calendario/paciente/{arquivo}") => Publica,
        ("GET", "/c/{token}")
        | ("GET" | "POST", "/c/{token}/confirmar" | "/c/{token}/cancelar") => Publica,
        // SPEC-2 §13: webhooks are the administrators'; the outbox is the staff's.
        (_, "/webhooks" | "/webhooks/{id}") => Admin,
        ("GET", "/notificacoes") | ("POST", "/notificacoes/{id}/reenviar") => Staff,
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn every_route_answers_each_role_as_the_permission_table_says() {
    let app = app().await;
    let p = papeis(&app).await;
    let (_, doc) = agendamento::router::api(app.state.clone());
    let mut sem_decisao = Vec::new();
    let mut erros = Vec::new();
    let mut rotas = 0;
    for (path, item) in &doc.paths.paths {
        let ops = [
            ("GET", item.get.is_some()),
            ("POST", item.post.is_some()),
            ("PUT", item.put.is_some()),
            ("DELETE", item.delete.is_some()),
        ];
        for (method, _) in ops.into_iter().filter(|(_, has)| *has) {
            let Some(quem) = decisao(method, path) else {
                sem_decisao.push(format!("{method} {path}"));
                continue;
            };
            rotas += 1;
            let uri = path
                .replace("{nome}", "backup_20260101_000000.zip")
                .replace("{id}", "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b")
                .replace("{medico_id}", "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b")
                .replace("{task_id}", "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b")
                .replace("{arquivo}", "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b.ics")
                .replace("{token}", "AAAA");
            let m = Method::from_bytes(method.as_bytes()).expect("method");
            let logout = path == "/auth/logout";
            let chamadores: [(&str, Option<String>, bool); 5] = [
                ("anônimo", None, matches!(quem, Quem::Publica)),
                ("admin", Some(p.admin.clone()), true),
                (
                    "recepcao",
                    Some(p.recepcao.clone()),
                    !matches!(quem, Quem::Admin),
                ),
                (
                    "medico",
                    Some(p.medico.clone()),
                    matches!(quem, Quem::Publica | Quem::Todos | Quem::StaffOuMedico),
                ),
                (
                    "paciente",
                    Some(p.paciente.clone()),
                    matches!(quem, Quem::Publica | Quem::Todos | Quem::StaffOuPaciente),
                ),
            ];
            for (papel, tok, permitido) in chamadores {
                // Logging out would end the session the rest of the table uses: a fresh one.
                let tok = match (&tok, logout) {
                    (Some(_), true) => {
                        let email = if papel == "admin" {
                            ADMIN_EMAIL.to_owned()
                        } else {
                            format!("{papel}@clinica.example")
                        };
                        let senha = if papel == "admin" { ADMIN_SENHA } else { SENHA };
                        Some(token(&app, &email, senha).await)
                    }
                    _ => tok,
                };
                let auth = tok.map(|t| format!("Bearer {t}"));
                let headers: Vec<(&str, &str)> =
                    auth.iter().map(|a| ("authorization", a.as_str())).collect();
                let s = app.status_of(m.clone(), &uri, &headers).await;
                let esperado = match (permitido, papel) {
                    (true, _) => s != 401 && s != 403,
                    (false, "anônimo") => s == 401,
                    (false, _) => s == 403,
                };
                if !esperado {
                    erros.push(format!(
                        "{method} {path} as {papel}: {s} (allowed: {permitido})"
                    ));
                }
            }
        }
    }
    assert!(
        sem_decisao.is_empty(),
        "routes without a permission decision: {sem_decisao:?}"
    );
    assert!(rotas > 40, "the table covers the router ({rotas} routes)");
    assert!(erros.is_empty(), "{erros:#?}");
}

#[tokio::test]
async fn with_auth_off_every_request_acts_as_an_administrator() {
    let app = TestApp::new().await;
    app.get("/usuarios").await.expect_status(200);
    app.get("/sistema/logs").await.expect_status(200);
    app.post("/pacientes", &paciente_body("Sem Login", 9))
        .await
        .expect_status(201);
}

#[tokio::test]
async fn an_idempotency_key_replays_only_to_the_user_who_sent_it() {
    let app = app().await;
    let p = papeis(&app).await;
    let body = paciente_body("Idem Por Usuário", 41).to_string();
    let enviar = |tok: &str| {
        let auth = format!("Bearer {tok}");
        let body = body.clone();
        let app = &app;
        async move {
            app.send(
                Method::POST,
                "/pacientes",
                &[
                    ("authorization", auth.as_str()),
                    ("content-type", "application/json"),
                    ("idempotency-key", "mesma-chave"),
                ],
                body,
            )
            .await
        }
    };
    let a = enviar(&p.admin).await;
    a.expect_status(201);
    // The same user again: the stored answer.
    let a2 = enviar(&p.admin).await;
    a2.expect_status(201);
    assert_eq!(a2.header("idempotent-replayed"), "true");
    assert_eq!(a2.body["id"], a.body["id"]);
    // Another user with the same key and body runs as its own request: the CPF is taken.
    let b = enviar(&p.recepcao).await;
    assert_problem(&b, 409, "duplicate_cpf");
    assert_eq!(b.header("idempotent-replayed"), "");
}

/// The audit trail as the administrator sees it, newest first.
async fn trilha(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let r = com(
        app,
        admin,
        Method::GET,
        &format!("/sistema/auditoria{query}"),
        None,
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.total_count() as usize, r.array().len(), "{query}");
    r.array().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_write_leaves_exactly_one_audit_entry_with_its_action_resource_and_user() {
    let app = app().await;
    let p = papeis(&app).await;
    let eu = |tok: &str| {
        let tok = tok.to_owned();
        let app = &app;
        async move {
            let r = com(app, &tok, Method::GET, "/auth/eu", None).await;
            str_field(&r.body, "id")
        }
    };
    let recepcao_id = eu(&p.recepcao).await;
    let admin_id = eu(&p.admin).await;
    let mut antes = trilha(&app, &p.admin, "").await.len();
    // Each step: who, the request, its status, then the entry it must leave.
    let mut passo = async |tok: &str,
                           usuario: &str,
                           method: Method,
                           uri: String,
                           body: Option<Value>,
                           status: u16,
                           acao: &str,
                           recurso: &str|
           -> Value {
        let r = com(&app, tok, method.clone(), &uri, body.as_ref()).await;
        assert_eq!(r.status, status, "{method} {uri}: {}", r.text);
        let todas = trilha(&app, &p.admin, "").await;
        assert_eq!(todas.len(), antes + 1, "{method} {uri}: exactly one entry");
        antes = todas.len();
        let e = &todas[0];
        assert_eq!(e["acao"], acao, "{method} {uri}: {e}");
        assert_eq!(e["recurso"], recurso, "{method} {uri}: {e}");
        assert_eq!(e["usuario_id"], usuario, "{method} {uri}: {e}");
        assert!(e["request_id"].as_str().is_some_and(|s| !s.is_empty()));
        assert!(e["em"].is_string() && e["id"].is_string());
        r.body
    };
    let (rec, adm) = (p.recepcao.as_str(), p.admin.as_str());
    let r = recepcao_id.as_str();
    let pac = passo(
        rec,
        r,
        Method::POST,
        "/pacientes".into(),
        Some(paciente_body("Auditada", 77)),
        201,
        "criar",
        "pacientes",
    )
    .await;
    let pac = str_field(&pac, "id");
    passo(
        rec,
        r,
        Method::PUT,
        format!("/pacientes/{pac}"),
        Some(json!({"telefone": "(11) 91234-5678"})),
        200,
        "alterar",
        "pacientes",
    )
    .await;
    let med = passo(
        rec,
        r,
        Method::POST,
        "/medicos".into(),
        Some(medico_body("Dra. Auditada", 77, "Pediatria")),
        201,
        "criar",
        "medicos",
    )
    .await;
    let med = str_field(&med, "id");
    passo(
        rec,
        r,
        Method::PUT,
        format!("/medicos/{med}"),
        Some(json!({"especialidade": "Cardiologia"})),
        200,
        "alterar",
        "medicos",
    )
    .await;
    let h = passo(
        rec,
        r,
        Method::POST,
        format!("/horarios/medico/{med}"),
        Some(json!({"dia_semana": "terca", "hora_inicio": "08:00", "hora_fim": "12:00"})),
        201,
        "criar",
        "horarios",
    )
    .await;
    let h = str_field(&h, "id");
    passo(
        rec,
        r,
        Method::PUT,
        format!("/horarios/{h}"),
        Some(json!({"hora_fim": "11:00"})),
        200,
        "alterar",
        "horarios",
    )
    .await;
    let c = passo(
        rec,
        r,
        Method::POST,
        "/consultas".into(),
        Some(json!({"medico_id": med, "paciente_id": pac,
        "inicio": "2026-03-03T08:00:00", "fim": "2026-03-03T08:30:00"})),
        201,
        "criar",
        "consultas",
    )
    .await;
    let c = str_field(&c, "id");
    let e = &trilha(&app, adm, "").await[0];
    assert_eq!(e["recurso_id"], c.as_str(), "the entry names the record");
    passo(
        rec,
        r,
        Method::PUT,
        format!("/consultas/{c}"),
        Some(json!({"observacoes": "Trazer exames"})),
        200,
        "alterar",
        "consultas",
    )
    .await;
    passo(
        rec,
        r,
        Method::DELETE,
        format!("/consultas/{c}"),
        None,
        204,
        "excluir",
        "consultas",
    )
    .await;
    passo(
        rec,
        r,
        Method::DELETE,
        format!("/horarios/{h}"),
        None,
        204,
        "excluir",
        "horarios",
    )
    .await;
    passo(
        rec,
        r,
        Method::DELETE,
        format!("/pacientes/{pac}"),
        None,
        204,
        "excluir",
        "pacientes",
    )
    .await;
    passo(
        rec,
        r,
        Method::DELETE,
        format!("/medicos/{med}"),
        None,
        204,
        "excluir",
        "medicos",
    )
    .await;
    let a = admin_id.as_str();
    let u = passo(
        adm,
        a,
        Method::POST,
        "/usuarios".into(),
        Some(json!({"nome": "Nova", "email": "nova@clinica.example",
        "papel": "recepcao", "senha": SENHA})),
        201,
        "criar",
        "usuarios",
    )
    .await;
    let u = str_field(&u, "id");
    passo(
        adm,
        a,
        Method::PUT,
        format!("/usuarios/{u}"),
        Some(json!({"nome": "Nova Silva"})),
        200,
        "alterar",
        "usuarios",
    )
    .await;
    passo(
        adm,
        a,
        Method::DELETE,
        format!("/usuarios/{u}"),
        None,
        204,
        "excluir",
        "usuarios",
    )
    .await;
    // A refused write changes nothing and leaves no entry.
    let antes_recusa = trilha(&app, adm, "").await.len();
    com(
        &app,
        rec,
        Method::POST,
        "/pacientes",
        Some(&json!({"nome": ""})),
    )
    .await
    .expect_status(422);
    assert_eq!(trilha(&app, adm, "").await.len(), antes_recusa);
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_of_a_patient_sign_ins_and_sign_outs_are_in_the_trail_and_it_filters() {
    let app = app().await;
    let p = papeis(&app).await;
    let pac = {
        let r = com(&app, &p.paciente, Method::GET, "/auth/eu", None).await;
        str_field(&r.body, "paciente_id")
    };
    let quem = |tok: &str| {
        let tok = tok.to_owned();
        let app = &app;
        async move {
            let r = com(app, &tok, Method::GET, "/auth/eu", None).await;
            str_field(&r.body, "id")
        }
    };
    let (paciente_uid, recepcao_uid) = (quem(&p.paciente).await, quem(&p.recepcao).await);
    com(
        &app,
        &p.paciente,
        Method::GET,
        &format!("/pacientes/{pac}"),
        None,
    )
    .await
    .expect_status(200);
    com(
        &app,
        &p.recepcao,
        Method::GET,
        &format!("/consultas?paciente_id={pac}"),
        None,
    )
    .await
    .expect_status(200);
    let lidas = trilha(&app, &p.admin, &format!("?acao=ler&recurso_id={pac}")).await;
    assert_eq!(lidas.len(), 2, "{lidas:?}");
    assert_eq!(
        lidas[0]["usuario_id"],
        recepcao_uid.as_str(),
        "newest first"
    );
    assert_eq!(lidas[1]["usuario_id"], paciente_uid.as_str());
    assert_eq!(lidas[1]["papel"], "paciente");
    assert_eq!(lidas[1]["recurso"], "pacientes");
    // Lists without a patient are not reads of one patient's data.
    com(&app, &p.recepcao, Method::GET, "/pacientes", None)
        .await
        .expect_status(200);
    assert_eq!(trilha(&app, &p.admin, "?acao=ler").await.len(), 2);
    // A search by name or CPF is a look-up: `ler` for each patient it returned.
    let achados = com(&app, &p.recepcao, Method::GET, "/pacientes?q=a", None).await;
    achados.expect_status(200);
    let n = achados.array().len();
    assert!(n >= 1, "{}", achados.text);
    assert_eq!(trilha(&app, &p.admin, "?acao=ler").await.len(), 2 + n);
    assert_eq!(
        trilha(&app, &p.admin, &format!("?acao=ler&recurso_id={pac}"))
            .await
            .len(),
        2 + usize::from(achados.array().iter().any(|x| x["id"] == pac.as_str()))
    );
    // Sign-ins (papeis signed in four users), a failure naming the account, a sign-out.
    assert_eq!(trilha(&app, &p.admin, "?acao=login").await.len(), 4);
    login(&app, "recepcao@clinica.example", "errada-123")
        .await
        .expect_status(401);
    login(&app, "ninguem@clinica.example", "errada-123")
        .await
        .expect_status(401);
    let falhas = trilha(&app, &p.admin, "?acao=login_falhou").await;
    assert_eq!(falhas.len(), 2);
    assert_eq!(falhas[0]["usuario_id"], Value::Null, "unknown e-mail");
    assert_eq!(falhas[1]["usuario_id"], recepcao_uid.as_str());
    com(&app, &p.recepcao, Method::POST, "/auth/logout", None)
        .await
        .expect_status(204);
    let saidas = trilha(
        &app,
        &p.admin,
        &format!("?acao=logout&usuario_id={recepcao_uid}"),
    )
    .await;
    assert_eq!(saidas.len(), 1);
    // Filters and pages: x-total-count is the filtered total.
    let r = com(
        &app,
        &p.admin,
        Method::GET,
        "/sistema/auditoria?acao=login&limit=1&offset=1",
        None,
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.array().len(), 1);
    assert_eq!(r.total_count(), 4);
    let hoje = app.state.clock.today().to_string();
    assert!(
        !trilha(&app, &p.admin, &format!("?de={hoje}&ate=2100-01-01"))
            .await
            .is_empty()
    );
    assert!(trilha(&app, &p.admin, "?ate=2000-01-01").await.is_empty());
    assert_problem(
        &com(
            &app,
            &p.admin,
            Method::GET,
            "/sistema/auditoria?de=ontem",
            None,
        )
        .await,
        422,
        "validation_failed",
    );
    // An empty date and a day the calendar does not have are refused too.
    for q in [
        "?de=",
        "?ate=%20",
        "?de=2026-11-31",
        "?ate=2026-02-29T10:00:00",
    ] {
        let r = com(
            &app,
            &p.admin,
            Method::GET,
            &format!("/sistema/auditoria{q}"),
            None,
        )
        .await;
        assert_problem(&r, 422, "validation_failed");
    }
    assert_problem(
        &com(
            &app,
            &p.admin,
            Method::GET,
            "/sistema/auditoria?acao=apagar",
            None,
        )
        .await,
        422,
        "validation_failed",
    );
}

#[tokio::test]
async fn the_audit_trail_is_append_only_and_admin_only() {
    let app = app().await;
    let p = papeis(&app).await;
    let e = trilha(&app, &p.admin, "").await;
    let id = str_field(&e[0], "id");
    for (m, uri) in [
        (Method::POST, "/sistema/auditoria".to_owned()),
        (Method::PUT, "/sistema/auditoria".to_owned()),
        (Method::DELETE, "/sistema/auditoria".to_owned()),
        (Method::DELETE, format!("/sistema/auditoria/{id}")),
        (Method::PUT, format!("/sistema/auditoria/{id}")),
    ] {
        let r = com(&app, &p.admin, m.clone(), &uri, Some(&json!({}))).await;
        assert!(matches!(r.status, 404 | 405), "{m} {uri}: {}", r.status);
    }
    assert_eq!(trilha(&app, &p.admin, "").await, e, "nothing changed");
    for tok in [&p.recepcao, &p.medico, &p.paciente] {
        assert_problem(
            &com(&app, tok, Method::GET, "/sistema/auditoria", None).await,
            403,
            "sem_permissao",
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hold_belongs_to_its_holder_and_a_patient_books_only_for_themselves() {
    let app = app().await;
    let p = papeis(&app).await;
    let eu = com(&app, &p.paciente, Method::GET, "/auth/eu", None).await;
    let pac = str_field(&eu.body, "paciente_id");
    let adm = p.admin.as_str();
    let med = {
        let r = com(
            &app,
            adm,
            Method::POST,
            "/medicos",
            Some(&medico_body("Dr. Reserva", 88, "Clínica Geral")),
        )
        .await;
        r.expect_status(201);
        str_field(&r.body, "id")
    };
    // Every weekday, so the slot below is on the grid whatever day it is.
    todos_os_dias(&app, adm, &med).await;
    let outro = {
        let r = com(
            &app,
            adm,
            Method::POST,
            "/pacientes",
            Some(&paciente_body("Outra Pessoa", 89)),
        )
        .await;
        r.expect_status(201);
        str_field(&r.body, "id")
    };
    let amanha = app.state.clock.today().tomorrow().expect("tomorrow");
    let slot = |h: u8| format!("{amanha}T{h:02}:00:00");
    let fim = |h: u8| format!("{amanha}T{h:02}:30:00");
    let hold = |s: String| json!({"medico_id": med, "slot": s});
    let booking = |paciente: &str, h: u8| json!({"medico_id": med, "paciente_id": paciente, "inicio": slot(h), "fim": fim(h)});
    // The patient holds a slot; the front desk's hold of another slot is not theirs.
    com(
        &app,
        &p.paciente,
        Method::POST,
        "/agenda/reservar",
        Some(&hold(slot(9))),
    )
    .await
    .expect_status(200);
    com(
        &app,
        &p.recepcao,
        Method::POST,
        "/agenda/reservar",
        Some(&hold(slot(10))),
    )
    .await
    .expect_status(200);
    assert_problem(
        &com(
            &app,
            &p.paciente,
            Method::POST,
            "/consultas/agendar",
            Some(&booking(&pac, 10)),
        )
        .await,
        409,
        "horario_reservado",
    );
    assert_problem(
        &com(
            &app,
            &p.paciente,
            Method::POST,
            "/agenda/liberar",
            Some(&hold(slot(10))),
        )
        .await,
        409,
        "horario_reservado",
    );
    // Not for another patient.
    assert_problem(
        &com(
            &app,
            &p.paciente,
            Method::POST,
            "/consultas/agendar",
            Some(&booking(&outro, 9)),
        )
        .await,
        403,
        "sem_permissao",
    );
    // A doctor holds nothing on another doctor's agenda.
    assert_problem(
        &com(
            &app,
            &p.medico,
            Method::POST,
            "/agenda/reservar",
            Some(&hold(slot(11))),
        )
        .await,
        403,
        "sem_permissao",
    );
    // The holder books their own hold.
    let minha = com(
        &app,
        &p.paciente,
        Method::POST,
        "/consultas/agendar",
        Some(&booking(&pac, 9)),
    )
    .await;
    minha.expect_status(202);
    let minha = str_field(&minha.body, "task_id");
    // Staff may book or release anyone's hold.
    com(
        &app,
        &p.recepcao,
        Method::POST,
        "/agenda/reservar",
        Some(&hold(slot(11))),
    )
    .await
    .expect_status(200);
    let r = com(
        &app,
        adm,
        Method::POST,
        "/agenda/liberar",
        Some(&hold(slot(11))),
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "liberado");
    com(
        &app,
        &p.paciente,
        Method::POST,
        "/agenda/reservar",
        Some(&hold(slot(11))),
    )
    .await
    .expect_status(200);
    let alheia = com(
        &app,
        &p.recepcao,
        Method::POST,
        "/consultas/agendar",
        Some(&booking(&outro, 11)),
    )
    .await;
    alheia.expect_status(202);
    let alheia = str_field(&alheia.body, "task_id");
    // Tasks: the patient sees their own only, the doctor (of another agenda) neither.
    com(
        &app,
        &p.paciente,
        Method::GET,
        &format!("/sistema/tasks/{minha}"),
        None,
    )
    .await
    .expect_status(200);
    assert_problem(
        &com(
            &app,
            &p.paciente,
            Method::GET,
            &format!("/sistema/tasks/{alheia}"),
            None,
        )
        .await,
        404,
        "not_found",
    );
    let lista = com(&app, &p.paciente, Method::GET, "/sistema/tasks", None).await;
    lista.expect_status(200);
    let ids: Vec<String> = lista.array().iter().map(|t| str_field(t, "id")).collect();
    assert_eq!(ids, vec![minha.clone()], "only their own task");
    assert_eq!(lista.total_count(), 1);
    let lista = com(&app, &p.medico, Method::GET, "/sistema/tasks", None).await;
    lista.expect_status(200);
    assert!(
        lista.array().is_empty(),
        "another doctor's agenda: {}",
        lista.text
    );
    assert_problem(
        &com(
            &app,
            &p.medico,
            Method::GET,
            &format!("/sistema/tasks/{minha}"),
            None,
        )
        .await,
        404,
        "not_found",
    );
    let lista = com(&app, &p.recepcao, Method::GET, "/sistema/tasks", None).await;
    assert!(lista.array().len() >= 2, "staff see every task");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_doctor_holds_and_releases_slots_of_their_own_agenda_only() {
    let app = app().await;
    let p = papeis(&app).await;
    let adm = p.admin.as_str();
    let eu = com(&app, &p.medico, Method::GET, "/auth/eu", None).await;
    let meu = str_field(&eu.body, "medico_id");
    let outro = {
        let r = com(
            &app,
            adm,
            Method::POST,
            "/medicos",
            Some(&medico_body("Dra. Outra Agenda", 77, "Clínica Geral")),
        )
        .await;
        r.expect_status(201);
        str_field(&r.body, "id")
    };
    // Both work every weekday, so the slots below are on the grid whatever day it is.
    for med in [&meu, &outro] {
        todos_os_dias(&app, adm, med).await;
    }
    let amanha = app.state.clock.today().tomorrow().expect("tomorrow");
    let hold =
        |med: &str, h: u8| json!({"medico_id": med, "slot": format!("{amanha}T{h:02}:00:00")});
    let estado = |med: String, h: u8| {
        let app = &app;
        async move {
            let uri = format!("/agenda/slots?days=1&de={amanha}&medico_id={med}");
            let r = com(app, adm, Method::GET, &uri, None).await;
            r.expect_status(200);
            r.body[&med][format!("{amanha}T{h:02}:00:00")].clone()
        }
    };
    // Their own agenda: hold, then release.
    let r = com(
        &app,
        &p.medico,
        Method::POST,
        "/agenda/reservar",
        Some(&hold(&meu, 9)),
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "reservado");
    assert_eq!(estado(meu.clone(), 9).await, "reservado");
    let r = com(
        &app,
        &p.medico,
        Method::POST,
        "/agenda/liberar",
        Some(&hold(&meu, 9)),
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "liberado");
    assert_eq!(estado(meu.clone(), 9).await, "disponivel");
    // Another doctor's agenda: 403, and nothing changes (the front desk's hold stays).
    assert_problem(
        &com(
            &app,
            &p.medico,
            Method::POST,
            "/agenda/reservar",
            Some(&hold(&outro, 9)),
        )
        .await,
        403,
        "sem_permissao",
    );
    assert_eq!(estado(outro.clone(), 9).await, "disponivel");
    com(
        &app,
        &p.recepcao,
        Method::POST,
        "/agenda/reservar",
        Some(&hold(&outro, 10)),
    )
    .await
    .expect_status(200);
    assert_problem(
        &com(
            &app,
            &p.medico,
            Method::POST,
            "/agenda/liberar",
            Some(&hold(&outro, 10)),
        )
        .await,
        403,
        "sem_permissao",
    );
    assert_eq!(estado(outro.clone(), 10).await, "reservado");
    // A hold someone else made on their agenda is still its holder's (or staff's) to end.
    com(
        &app,
        &p.paciente,
        Method::POST,
        "/agenda/reservar",
        Some(&hold(&meu, 11)),
    )
    .await
    .expect_status(200);
    assert_problem(
        &com(
            &app,
            &p.medico,
            Method::POST,
            "/agenda/liberar",
            Some(&hold(&meu, 11)),
        )
        .await,
        409,
        "horario_reservado",
    );
    assert_eq!(estado(meu.clone(), 11).await, "reservado");
    // The doctor's own hold is theirs: the front desk may end it, a patient may not book it.
    com(
        &app,
        &p.medico,
        Method::POST,
        "/agenda/reservar",
        Some(&hold(&meu, 10)),
    )
    .await
    .expect_status(200);
    assert_problem(
        &com(
            &app,
            &p.paciente,
            Method::POST,
            "/agenda/liberar",
            Some(&hold(&meu, 10)),
        )
        .await,
        409,
        "horario_reservado",
    );
    let r = com(
        &app,
        &p.recepcao,
        Method::POST,
        "/agenda/liberar",
        Some(&hold(&meu, 10)),
    )
    .await;
    r.expect_status(200);
    assert_eq!(r.body["status"], "liberado");
}

#[tokio::test]
async fn housekeeping_moves_old_audit_entries_to_daily_files_and_deletes_files_past_retention() {
    use agendamento::models::{Acao, EntradaAuditoria};
    use agendamento::services::auditoria;
    let app = TestApp::new().await;
    let clock = &app.state.clock;
    let dias_atras = |d: i64| {
        let t = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(24 * d);
        clock.stamp_at(t)
    };
    let entrada = |id: &str, em: String| {
        Op::PutAuditoria(std::sync::Arc::new(EntradaAuditoria {
            id: id.into(),
            em,
            usuario_id: None,
            papel: None,
            acao: Acao::Ler,
            recurso: "pacientes".into(),
            recurso_id: Some("p1".into()),
            request_id: "teste".into(),
            ip: None,
        }))
    };
    let (velha, antiga, recente) = (dias_atras(100), dias_atras(2000), dias_atras(1));
    app.state
        .write(|_| {
            Ok((
                vec![
                    entrada("00000000-0000-7000-8000-000000000001", antiga.clone()),
                    entrada("00000000-0000-7000-8000-000000000002", velha.clone()),
                    entrada("ffffffff-ffff-7fff-bfff-fffffffffff0", recente.clone()),
                ],
                (),
            ))
        })
        .await
        .expect("seed");
    let dir = auditoria::pasta(&app.state);
    std::fs::create_dir_all(&dir).expect("dir");
    let dia_antigo = &dias_atras(1900)[..10];
    std::fs::write(dir.join(format!("{dia_antigo}.jsonl")), "{}\n").expect("old file");
    for _ in 0..2 {
        auditoria::arquivar(&app.state, 5_000)
            .await
            .expect("archive");
    }
    let db = app.state.store.read();
    let ids: Vec<&str> = db.auditoria.iter().map(|e| e.id.as_str()).collect();
    assert!(
        ids.contains(&"ffffffff-ffff-7fff-bfff-fffffffffff0"),
        "the last 90 days stay in memory"
    );
    assert!(
        !ids.iter().any(|i| i.starts_with("00000000")),
        "older ones left memory: {ids:?}"
    );
    drop(db);
    let arquivo = dir.join(format!("{}.jsonl", &velha[..10]));
    let texto = std::fs::read_to_string(&arquivo).expect("daily file");
    assert_eq!(
        texto.lines().count(),
        1,
        "moved once, even when housekeeping repeats: {texto}"
    );
    let e: EntradaAuditoria = serde_json::from_str(texto.trim()).expect("an entry per line");
    assert_eq!(e.id, "00000000-0000-7000-8000-000000000002");
    assert!(
        !dir.join(format!("{}.jsonl", &antiga[..10])).exists(),
        "past --auditoria-dias"
    );
    assert!(
        !dir.join(format!("{dia_antigo}.jsonl")).exists(),
        "old file deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_booking_made_by_the_worker_is_audited_under_the_user_who_asked_for_it() {
    let app = app().await;
    let p = papeis(&app).await;
    let eu = com(&app, &p.paciente, Method::GET, "/auth/eu", None).await;
    let (uid, pac) = (
        str_field(&eu.body, "id"),
        str_field(&eu.body, "paciente_id"),
    );
    let adm = p.admin.as_str();
    let med = com(
        &app,
        adm,
        Method::POST,
        "/medicos",
        Some(&medico_body("Dr. Tarefa", 91, "Clínica Geral")),
    )
    .await;
    let med = str_field(&med.body, "id");
    todos_os_dias(&app, adm, &med).await;
    let dia = app.state.clock.today().tomorrow().expect("tomorrow");
    let r = com(
        &app,
        &p.paciente,
        Method::POST,
        "/consultas/agendar",
        Some(&json!({"medico_id": med, "paciente_id": pac,
            "inicio": format!("{dia}T09:00:00"), "fim": format!("{dia}T09:30:00")})),
    )
    .await;
    r.expect_status(202);
    let task = str_field(&r.body, "task_id");
    app.run_tasks().await;
    let t = com(
        &app,
        adm,
        Method::GET,
        &format!("/sistema/tasks/{task}"),
        None,
    )
    .await;
    assert_eq!(t.body["status"], "concluida", "{}", t.text);
    let consulta = str_field(&t.body["resultado"]["consulta"], "id");
    let e = trilha(
        &app,
        adm,
        &format!("?recurso=consultas&recurso_id={consulta}"),
    )
    .await;
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(e[0]["acao"], "criar");
    assert_eq!(e[0]["usuario_id"], uid.as_str());
    assert_eq!(e[0]["papel"], "paciente");
    assert_eq!(
        e[0]["request_id"],
        format!("interno:tarefa:{task}").as_str()
    );
}

#[tokio::test]
async fn metrics_take_an_admin_session_or_the_metrics_token_and_refuse_other_roles() {
    let app = TestApp::with_args(&["--auth", "on", "--metrics-token", "token-do-coletor"]).await;
    usuarios::criar_admin(&app.state, ADMIN_EMAIL, "Admin", ADMIN_SENHA.into())
        .await
        .expect("first admin");
    let p = papeis(&app).await;
    let m = Method::GET;

    com(&app, &p.admin, m.clone(), "/metrics", None)
        .await
        .expect_status(200);
    com(&app, "token-do-coletor", m.clone(), "/metrics", None)
        .await
        .expect_status(200);
    for (tok, status, code) in [
        (p.recepcao.as_str(), 403, "sem_permissao"),
        (p.medico.as_str(), 403, "sem_permissao"),
        ("outro-token", 401, "nao_autenticado"),
    ] {
        assert_problem(
            &com(&app, tok, m.clone(), "/metrics", None).await,
            status,
            code,
        );
    }
    let anonimo = app.get("/metrics").await;
    assert_problem(&anonimo, 401, "nao_autenticado");
    assert_eq!(anonimo.header("www-authenticate"), "Bearer");
}

/// The signed-in doctor's id, and another doctor's (created with CRM seed `seed`).
async fn meu_e_outro(app: &TestApp, p: &Papeis, seed: u32) -> (String, String) {
    let eu = com(app, &p.medico, Method::GET, "/auth/eu", None).await;
    eu.expect_status(200);
    let outro = com(
        app,
        &p.admin,
        Method::POST,
        "/medicos",
        Some(&medico_body("Dra. Outra", seed, "Cardiologia")),
    )
    .await;
    outro.expect_status(201);
    (
        str_field(&eu.body, "medico_id"),
        str_field(&outro.body, "id"),
    )
}

#[tokio::test]
async fn a_doctor_sees_only_their_own_statistics_and_a_patient_none() {
    let app = app().await;
    let p = papeis(&app).await;
    let (meu, outro) = meu_e_outro(&app, &p, 2).await;
    let pac = com(
        &app,
        &p.admin,
        Method::POST,
        "/pacientes",
        Some(&paciente_body("Paciente Estatística", 7)),
    )
    .await;
    pac.expect_status(201);
    let pac = str_field(&pac.body, "id");
    for (m, h) in [(&meu, 8), (&outro, 9)] {
        let c = json!({"medico_id": m, "paciente_id": pac,
            "inicio": format!("2026-03-02T{h:02}:00:00"), "fim": format!("2026-03-02T{h:02}:30:00")});
        com(&app, &p.admin, Method::POST, "/consultas", Some(&c))
            .await
            .expect_status(201);
    }
    let periodo = "/relatorios/estatisticas?de=2026-03-01&ate=2026-03-31";

    let proprias = com(&app, &p.medico, Method::GET, periodo, None).await;
    proprias.expect_status(200);
    let medicos: Vec<&Value> = proprias.body["por_medico"]
        .as_array()
        .expect("por_medico")
        .iter()
        .map(|m| &m["medico_id"])
        .collect();
    assert_eq!(medicos, [&Value::from(meu.as_str())], "{}", proprias.text);
    assert_eq!(proprias.body["total"], 1);
    let todas = com(&app, &p.recepcao, Method::GET, periodo, None).await;
    todas.expect_status(200);
    assert_eq!(todas.body["por_medico"].as_array().map(Vec::len), Some(2));

    let alheia = format!("{periodo}&medico_id={outro}");
    assert_problem(
        &com(&app, &p.medico, Method::GET, &alheia, None).await,
        404,
        "not_found",
    );
    let minha = format!("{periodo}&medico_id={meu}");
    com(&app, &p.medico, Method::GET, &minha, None)
        .await
        .expect_status(200);
    assert_problem(
        &com(
            &app,
            &p.paciente,
            Method::GET,
            "/relatorios/estatisticas",
            None,
        )
        .await,
        403,
        "sem_permissao",
    );
}

/// SPEC-2 §10: "reports | all | all | their own | —". A doctor queues a report of their own
/// appointments (no `medico_id` means theirs; another doctor's id is 404), lists only the
/// reports filtered by them and downloads those alone (another is 404); staff list and
/// download every one; a patient gets 403.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_doctor_makes_lists_and_downloads_their_own_reports_only() {
    let app = app().await;
    let p = papeis(&app).await;
    let (meu, outro) = meu_e_outro(&app, &p, 3).await;
    let gerar = |tok: &str, body: Value| {
        let tok = tok.to_owned();
        let app = &app;
        async move { com(app, &tok, Method::POST, "/relatorios/gerar", Some(&body)).await }
    };
    assert_problem(
        &gerar(&p.medico, json!({"medico_id": outro})).await,
        404,
        "not_found",
    );
    assert_problem(&gerar(&p.paciente, json!({})).await, 403, "sem_permissao");
    // The doctor's own report (no medico_id: theirs), then the whole clinic's and the other
    // doctor's by the front desk; each in its own second (file names are per second).
    let proprio = gerar(&p.medico, json!({})).await;
    proprio.expect_status(202);
    let tarefa = str_field(&proprio.body, "task_id");
    app.run_tasks().await;
    let t = com(
        &app,
        &p.medico,
        Method::GET,
        &format!("/sistema/tasks/{tarefa}"),
        None,
    )
    .await;
    t.expect_status(200);
    assert_eq!(t.body["status"], "concluida", "{}", t.text);
    assert_eq!(
        t.body["parametros"]["medico_id"],
        meu.as_str(),
        "{}",
        t.text
    );
    let meu_pdf = str_field(&t.body["resultado"], "arquivo");
    for body in [json!({}), json!({"medico_id": outro})] {
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
        gerar(&p.recepcao, body).await.expect_status(202);
        app.run_tasks().await;
    }
    let lista = |tok: &str| {
        let tok = tok.to_owned();
        let app = &app;
        async move {
            let r = com(app, &tok, Method::GET, "/relatorios", None).await;
            r.expect_status(200);
            r.body["arquivos"].as_array().cloned().unwrap_or_default()
        }
    };
    let todos = lista(&p.recepcao).await;
    assert_eq!(todos.len(), 3, "{todos:?}");
    assert_eq!(lista(&p.medico).await, [Value::from(meu_pdf.as_str())]);
    let baixar = |tok: &str, nome: &str| {
        let (tok, uri) = (tok.to_owned(), format!("/relatorios/download/{nome}"));
        let app = &app;
        async move { com(app, &tok, Method::GET, &uri, None).await }
    };
    let pdf = baixar(&p.medico, &meu_pdf).await;
    pdf.expect_status(200);
    assert!(pdf.text.starts_with("%PDF"), "a PDF");
    for alheio in todos
        .iter()
        .filter_map(Value::as_str)
        .filter(|n| *n != meu_pdf)
    {
        assert_problem(&baixar(&p.medico, alheio).await, 404, "not_found");
        baixar(&p.recepcao, alheio).await.expect_status(200);
    }
    // Only a report's exact name is looked up: a file outside the folder naming the doctor
    // does not count (it used to be read before the name was checked).
    let dir = app.state.config.reports_dir.clone();
    let fora = dir.parent().expect("parent").join("fora.medico");
    std::fs::write(&fora, &meu).expect("write");
    assert!(!agendamento::services::relatorios::do_medico(
        &dir,
        "../fora.pdf",
        &meu
    ));
    // A file left naming a doctor next to a report name that an unfiltered report then
    // takes is removed: that report stays staff-only.
    tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    let geral = gerar(&p.recepcao, json!({})).await;
    geral.expect_status(202);
    let tarefa = str_field(&geral.body, "task_id");
    let t = com(
        &app,
        &p.recepcao,
        Method::GET,
        &format!("/sistema/tasks/{tarefa}"),
        None,
    )
    .await;
    let criado: jiff::Timestamp = str_field(&t.body, "criado_em").parse().expect("timestamp");
    let sobra = dir.join(format!(
        "relatorio_{}.medico",
        app.state.clock.file_stamp(criado)
    ));
    std::fs::write(&sobra, &meu).expect("write");
    app.run_tasks().await;
    assert!(!sobra.exists(), "the leftover owner file is removed");
    assert_eq!(lista(&p.medico).await, [Value::from(meu_pdf.as_str())]);
}

#[tokio::test]
async fn the_live_page_shell_opens_without_a_session_and_holds_no_record() {
    let app = app().await;
    let p = papeis(&app).await;
    let r = app.get("/painel").await;
    r.expect_status(200);
    assert!(r.header("content-type").starts_with("text/html"));
    assert!(!r.text.contains("Paula"), "no patient in the shell");
    assert!(!r.text.contains("Dr. Marco"), "no doctor in the shell");
    // The data behind it still needs a session.
    assert_problem(&app.get("/agenda/slots").await, 401, "nao_autenticado");
    com(&app, &p.recepcao, Method::GET, "/agenda/slots", None)
        .await
        .expect_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_patient_reads_doctors_without_their_e_mail_and_phone() {
    let app = app().await;
    let p = papeis(&app).await;
    let lista = com(&app, &p.admin, Method::GET, "/medicos", None).await;
    lista.expect_status(200);
    let id = str_field(&lista.array()[0], "id");
    let um = format!("/medicos/{id}");
    for (papel, tok, contato) in [
        ("admin", &p.admin, true),
        ("recepcao", &p.recepcao, true),
        ("medico", &p.medico, true),
        ("paciente", &p.paciente, false),
    ] {
        let lista = com(&app, tok, Method::GET, "/medicos", None).await;
        lista.expect_status(200);
        let um = com(&app, tok, Method::GET, &um, None).await;
        um.expect_status(200);
        for m in [&lista.array()[0], &um.body] {
            assert_eq!(m["nome"], "Dr. Marco", "{papel}: {m}");
            assert_eq!(m["especialidade"], "Clínica Geral", "{papel}: {m}");
            assert_eq!(m["email"].is_string(), contato, "{papel}: {m}");
            assert_eq!(m["telefone"].is_string(), contato, "{papel}: {m}");
        }
    }
}

/// A patient cannot cancel or move an appointment that already started (or that they
/// missed), even with no cancellation cutoff set; the front desk still can.
#[tokio::test]
async fn a_patient_cannot_cancel_or_move_an_appointment_that_already_started() {
    let app = app().await;
    let p = papeis(&app).await;
    let eu = com(&app, &p.paciente, Method::GET, "/auth/eu", None).await;
    let pac = str_field(&eu.body, "paciente_id");
    let med = {
        let r = com(&app, &p.admin, Method::GET, "/medicos", None).await;
        r.expect_status(200);
        str_field(&r.body[0], "id")
    };
    // Every weekday, so the move below is on the grid whatever day it is.
    todos_os_dias(&app, &p.admin, &med).await;
    let ontem = app.state.clock.today().yesterday().expect("yesterday");
    let amanha = app.state.clock.today().tomorrow().expect("tomorrow");
    // The front desk records yesterday's appointment (POST /consultas allows the past).
    let criar = |dia: jiff::civil::Date| {
        let (app, admin, med, pac) = (&app, &p.admin, &med, &pac);
        async move {
            let body = json!({"medico_id": med, "paciente_id": pac,
                   "inicio": format!("{dia}T09:00:00"), "fim": format!("{dia}T09:30:00")});
            let r = com(app, admin, Method::POST, "/consultas", Some(&body)).await;
            r.expect_status(201);
            str_field(&r.body, "id")
        }
    };
    let id = criar(ontem).await;
    let nova = json!({"inicio": format!("{amanha}T10:00:00")});
    for (uri, body) in [
        (format!("/consultas/{id}/cancelar"), json!({})),
        (format!("/consultas/{id}/remarcar"), nova.clone()),
    ] {
        let r = com(&app, &p.paciente, Method::POST, &uri, Some(&body)).await;
        r.expect_status(409);
        assert_eq!(r.body["code"], "prazo_cancelamento", "{uri}: {}", r.body);
        assert!(
            r.body["detail"]
                .as_str()
                .is_some_and(|d| d.contains("já começou")),
            "{}",
            r.body
        );
    }
    let r = com(
        &app,
        &p.paciente,
        Method::GET,
        &format!("/consultas/{id}"),
        None,
    )
    .await;
    assert_eq!(r.body["status"], "agendada", "nothing changed");
    // Tomorrow's appointment: the patient may still cancel it (no cutoff set).
    let futura = criar(amanha).await;
    com(
        &app,
        &p.paciente,
        Method::POST,
        &format!("/consultas/{futura}/cancelar"),
        Some(&json!({})),
    )
    .await
    .expect_status(200);
    // The front desk rebooks the missed one.
    com(
        &app,
        &p.recepcao,
        Method::POST,
        &format!("/consultas/{id}/remarcar"),
        Some(&json!({"inicio": format!("{amanha}T09:00:00")})),
    )
    .await
    .expect_status(200);
}
