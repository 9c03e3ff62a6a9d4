//! The e-mail sender (SPEC-2 §13) against a real SMTP server: aiosmtpd on 127.0.0.1
//! (tests/smtp/servidor.py), which writes each accepted message to a folder; the message is
//! then parsed back (mail-parser) and checked part by part.
//!
//! Without aiosmtpd (`python3 -m pip install aiosmtpd==1.4.6`) these tests say SKIP and pass,
//! except under CI (`CI` set), where they fail.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use agendamento::domain::SmtpUrl;
use agendamento::models::{Consulta, Medico, Paciente, StatusConsulta};
use agendamento::services::email::{
    EventoConsulta, FalhaEnvio, Links, Mensagem, Remetente, Sobre, mensagem,
};
use mail_parser::{MessageParser, MimeHeaders as _};

/// A running `tests/smtp/servidor.py`, killed on drop.
struct ServidorSmtp {
    filho: Child,
    porta: u16,
    pasta: tempfile::TempDir,
}

impl Drop for ServidorSmtp {
    fn drop(&mut self) {
        let _ = self.filho.kill();
        let _ = self.filho.wait();
    }
}

impl ServidorSmtp {
    /// Starts the server with `extra` arguments; `None` (after printing SKIP) when python3
    /// lacks aiosmtpd outside CI.
    fn iniciar(extra: &[&str]) -> Option<Self> {
        let tem = Command::new("python3")
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !tem {
            assert!(
                std::env::var_os("CI").is_none(),
                "aiosmtpd is missing under CI: .ci/run installs it (pip install aiosmtpd==1.4.6)"
            );
            eprintln!("SKIP: python3 lacks aiosmtpd (pip install aiosmtpd==1.4.6)");
            return None;
        }
        let pasta = tempfile::tempdir().expect("tempdir");
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp/servidor.py");
        let mut filho = Command::new("python3")
            .arg(script)
            .arg(pasta.path())
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tests/smtp/servidor.py");
        let mut linha = String::new();
        BufReader::new(filho.stdout.take().expect("stdout"))
            .read_line(&mut linha)
            .expect("read the port");
        let porta = linha.trim().parse().unwrap_or_else(|_| {
            let _ = filho.kill();
            panic!("the SMTP server did not start (printed {linha:?})")
        });
        Some(Self {
            filho,
            porta,
            pasta,
        })
    }

    /// Message `n` (from 1) as received, and its envelope.
    fn recebida(&self, n: u32) -> (Vec<u8>, serde_json::Value) {
        let base = self.pasta.path().join(n.to_string());
        let eml = std::fs::read(base.with_extension("eml")).expect("message written");
        let json = std::fs::read(base.with_extension("json")).expect("envelope written");
        (eml, serde_json::from_slice(&json).expect("envelope json"))
    }

    /// How many messages arrived.
    fn quantas(&self) -> usize {
        std::fs::read_dir(self.pasta.path())
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .count()
    }
}

fn paciente(nome: &str, email: &str) -> Paciente {
    Paciente {
        id: "p1".into(),
        nome: nome.into(),
        cpf: "52998224725".into(),
        data_nascimento: jiff::civil::date(1980, 5, 17),
        email: Some(email.into()),
        telefone: None,
        convenio: None,
        notificacoes_email: true,
        created_at: "2026-01-01T08:00:00-03:00".into(),
        updated_at: "2026-01-01T08:00:00-03:00".into(),
        convenio_id: None,
        carteirinha: None,
        validade_carteirinha: None,
    }
}

fn medico() -> Medico {
    Medico {
        id: "m1".into(),
        nome: "Dra. Ana Lúcia & Filhos".into(),
        crm: "CRM/SP 123456".into(),
        especialidade: "Cardiologia".into(),
        email: None,
        telefone: None,
        created_at: "2026-01-01T08:00:00-03:00".into(),
        updated_at: "2026-01-01T08:00:00-03:00".into(),
        duracao_consulta_minutos: None,
        intervalo_minutos: None,
        convenios_aceitos: Vec::new(),
        aceita_particular: true,
        valor_particular_centavos: None,
    }
}

fn consulta() -> Consulta {
    Consulta {
        id: "c1".into(),
        paciente_id: "p1".into(),
        medico_id: "m1".into(),
        inicio: "2026-03-02T08:00:00".parse().expect("dt"),
        fim: "2026-03-02T08:30:00".parse().expect("dt"),
        inicio_offset: None,
        fim_offset: None,
        status: StatusConsulta::Agendada,
        observacoes: None,
        serie_id: None,
        created_at: "2026-01-01T08:00:00-03:00".into(),
        updated_at: "2026-01-01T08:00:00-03:00".into(),
        motivo_cancelamento: None,
        pagamento: None,
    }
}

fn tz() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("America/Sao_Paulo").expect("tz")
}

fn remetente(url: &str, ca: Option<&Path>) -> Remetente {
    let url = SmtpUrl::parse(url).expect("url");
    let de = "Clínica São José <agenda@clinica.com.br>"
        .parse()
        .expect("mailbox");
    Remetente::novo(&url, de, ca).expect("remetente")
}

fn agendada_para(email: &str) -> Mensagem {
    mensagem(
        Sobre::Consulta(EventoConsulta::Agendada, &consulta()),
        &paciente("José", email),
        &medico(),
        &tz(),
        None,
        None,
        true,
    )
    .expect("a message")
}

const ICS: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Agendamento//PT\r\nMETHOD:PUBLISH\r\n\
BEGIN:VEVENT\r\nUID:c1@agendamento\r\nDTSTAMP:20260101T110000Z\r\nDTSTART:20260302T110000Z\r\n\
DTEND:20260302T113000Z\r\nSUMMARY:Consulta com Dra. Ana Lúcia — Cardiologia\r\nEND:VEVENT\r\n\
END:VCALENDAR\r\n";

#[tokio::test]
async fn a_booking_email_arrives_with_both_parts_the_ics_and_escaped_html() {
    let Some(srv) = ServidorSmtp::iniciar(&[]) else {
        return;
    };
    let nome = "Conceição <script>alert('x')</script>";
    let links = Links {
        confirmar: "https://clinica.example/c/tok?a=1&b=2/confirmar".into(),
        cancelar: Some("https://clinica.example/c/tok/cancelar".into()),
        ver: "https://clinica.example/c/tok".into(),
    };
    let msg = mensagem(
        Sobre::Consulta(EventoConsulta::Agendada, &consulta()),
        &paciente(nome, "maria@exemplo.com"),
        &medico(),
        &tz(),
        Some(ICS.to_owned()),
        Some(&links),
        true,
    )
    .expect("a message");
    let r = remetente(&format!("smtp://127.0.0.1:{}", srv.porta), None);
    r.enviar(msg, "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b")
        .await
        .expect("delivered");

    let (eml, env) = srv.recebida(1);
    assert_eq!(env["mail_from"], "agenda@clinica.com.br");
    assert_eq!(env["rcpt_tos"], serde_json::json!(["maria@exemplo.com"]));
    let m = MessageParser::default().parse(&eml).expect("parses");
    assert_eq!(
        m.subject(),
        Some("Consulta agendada para 02/03/2026 às 08:00")
    );
    let de = m.from().and_then(|a| a.first()).expect("From");
    assert_eq!(de.name(), Some("Clínica São José"));
    assert_eq!(de.address(), Some("agenda@clinica.com.br"));
    let para = m.to().and_then(|a| a.first()).expect("To");
    assert_eq!(para.address(), Some("maria@exemplo.com"));
    assert_eq!(para.name(), Some(nome));
    assert!(m.date().is_some());
    // The notification's id, the same on every attempt (the sender's domain after it).
    assert_eq!(
        m.message_id(),
        Some("0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b@clinica.com.br")
    );

    let ct = m.content_type().expect("content-type");
    assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("mixed")));
    // Both parts really are in the message (mail-parser would otherwise derive one from
    // the other), inside one multipart/alternative.
    let tipos: Vec<String> = m
        .parts
        .iter()
        .filter_map(|p| p.content_type())
        .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("")))
        .collect();
    for t in [
        "multipart/alternative",
        "text/plain",
        "text/html",
        "text/calendar",
    ] {
        assert_eq!(
            tipos.iter().filter(|x| *x == t).count(),
            1,
            "{t} in {tipos:?}"
        );
    }
    let texto = m.body_text(0).expect("text/plain part");
    let html = m.body_html(0).expect("text/html part");
    for corpo in [&texto, &html] {
        assert!(
            corpo.contains("segunda-feira, 2 de março de 2026, às 08:00"),
            "{corpo}"
        );
        assert!(corpo.contains("Cardiologia"), "{corpo}");
    }
    assert!(texto.contains(&format!("Olá, {nome}.")), "{texto}");
    assert!(
        texto.contains("Dra. Ana Lúcia & Filhos — Cardiologia"),
        "{texto}"
    );
    assert!(texto.contains("Confirmar presença: https://clinica.example/c/tok?a=1&b=2/confirmar"));
    assert!(texto.contains("Cancelar a consulta: https://clinica.example/c/tok/cancelar"));
    assert!(!html.contains("<script>"), "{html}");
    assert!(
        html.contains("Olá, Conceição &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;."),
        "{html}"
    );
    assert!(html.contains("Dra. Ana Lúcia &amp; Filhos"), "{html}");
    assert!(html.contains(r#"href="https://clinica.example/c/tok?a=1&amp;b=2/confirmar""#));

    assert_eq!(m.attachment_count(), 1);
    let anexo = m.attachment(0).expect("attachment");
    assert_eq!(anexo.attachment_name(), Some("consulta.ics"));
    let act = anexo.content_type().expect("attachment type");
    assert_eq!((act.ctype(), act.subtype()), ("text", Some("calendar")));
    assert_eq!(act.attribute("method"), Some("PUBLISH"));
    assert_eq!(std::str::from_utf8(anexo.contents()).expect("utf-8"), ICS);
}

#[tokio::test]
async fn a_refused_recipient_is_permanent_and_a_busy_one_temporary() {
    let Some(srv) = ServidorSmtp::iniciar(&[]) else {
        return;
    };
    let r = remetente(&format!("smtp://127.0.0.1:{}", srv.porta), None);
    let e = r
        .enviar(agendada_para("recusado@exemplo.com"), "id-de-teste")
        .await
        .expect_err("550");
    assert!(
        matches!(e, FalhaEnvio::Permanente(_)) && !e.repetir(),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("550") && !e.to_string().contains("recusado@"),
        "{e}"
    );
    let e = r
        .enviar(agendada_para("ocupado@exemplo.com"), "id-de-teste")
        .await
        .expect_err("451");
    assert!(
        matches!(e, FalhaEnvio::Temporaria(_)) && e.repetir(),
        "{e:?}"
    );
    assert!(e.to_string().contains("451"), "{e}");
    // The pooled connection still works after both refusals.
    r.enviar(agendada_para("jose@exemplo.com"), "id-de-teste")
        .await
        .expect("delivered");
    assert_eq!(srv.quantas(), 1);
}

#[tokio::test]
async fn a_relay_that_is_down_is_a_temporary_failure() {
    let porta = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let r = remetente(&format!("smtp://127.0.0.1:{porta}"), None);
    let e = r
        .enviar(agendada_para("jose@exemplo.com"), "id-de-teste")
        .await
        .expect_err("down");
    assert!(
        matches!(e, FalhaEnvio::Temporaria(_)) && e.repetir(),
        "{e:?}"
    );
}

/// A CA and a certificate for 127.0.0.1 signed by it (openssl CLI), in `dir`:
/// `(ca.pem, cert.pem, key.pem)`.
fn certificados(dir: &Path) -> Option<(PathBuf, PathBuf, PathBuf)> {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    let ext = dir.join("ext.cnf");
    std::fs::write(
        &ext,
        "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    let ok = run(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=Teste CA",
    ]) && run(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "key.pem",
        "-out",
        "req.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]) && run(&[
        "x509",
        "-req",
        "-in",
        "req.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "cert.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    ]);
    ok.then(|| {
        (
            dir.join("ca.pem"),
            dir.join("cert.pem"),
            dir.join("key.pem"),
        )
    })
}

#[tokio::test]
async fn starttls_with_a_login_trusts_only_the_given_ca() {
    let certs = tempfile::tempdir().expect("tempdir");
    let Some((ca, cert, key)) = certificados(certs.path()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is missing under CI"
        );
        eprintln!("SKIP: no openssl CLI to make a test certificate");
        return;
    };
    let (cert, key) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
    let senha = "p@ss:wörd/1";
    let login = ["--login", "agenda@clinica.com.br", senha];
    let Some(srv) = ServidorSmtp::iniciar(&[&["--tls", cert, key][..], &login[..]].concat()) else {
        return;
    };
    let url = format!(
        "smtp://agenda%40clinica.com.br:p%40ss%3Aw%C3%B6rd%2F1@127.0.0.1:{}?tls=starttls",
        srv.porta
    );
    // Not trusted: the public roots do not know the test CA.
    let sem_ca = remetente(&url, None);
    let e = sem_ca
        .enviar(agendada_para("jose@exemplo.com"), "id-de-teste")
        .await
        .expect_err("untrusted");
    assert!(matches!(e, FalhaEnvio::Temporaria(_)), "{e:?}");
    assert!(!format!("{e} {sem_ca:?}").contains(senha), "{e} {sem_ca:?}");
    // Trusted through --smtp-ca-extra: STARTTLS, then AUTH with the percent-decoded login.
    let r = remetente(&url, Some(&ca));
    r.enviar(agendada_para("jose@exemplo.com"), "id-de-teste")
        .await
        .expect("delivered over TLS");
    let (_, env) = srv.recebida(1);
    assert_eq!(env["login"], "agenda@clinica.com.br");
    assert_eq!(env["rcpt_tos"], serde_json::json!(["jose@exemplo.com"]));
}

#[tokio::test]
async fn a_wrong_password_is_a_temporary_failure_that_hides_the_password() {
    let certs = tempfile::tempdir().expect("tempdir");
    let Some((ca, cert, key)) = certificados(certs.path()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is missing under CI"
        );
        eprintln!("SKIP: no openssl CLI to make a test certificate");
        return;
    };
    let (cert, key) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
    let args = ["--tls", cert, key, "--login", "agenda", "certa"];
    let Some(srv) = ServidorSmtp::iniciar(&args) else {
        return;
    };
    let url = format!(
        "smtp://agenda:errada123@127.0.0.1:{}?tls=starttls",
        srv.porta
    );
    let r = remetente(&url, Some(&ca));
    let e = r
        .enviar(agendada_para("jose@exemplo.com"), "id-de-teste")
        .await
        .expect_err("535");
    assert!(e.repetir() && e.to_string().contains("535"), "{e}");
    assert!(!e.to_string().contains("errada123"), "{e}");
    assert_eq!(srv.quantas(), 0);
}

#[tokio::test]
async fn smtps_speaks_tls_from_the_first_byte_and_logs_in() {
    let certs = tempfile::tempdir().expect("tempdir");
    let Some((ca, cert, key)) = certificados(certs.path()) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "openssl is missing under CI"
        );
        eprintln!("SKIP: no openssl CLI to make a test certificate");
        return;
    };
    let (cert, key) = (cert.to_str().expect("utf-8"), key.to_str().expect("utf-8"));
    let args = [
        "--tls",
        cert,
        key,
        "--implicito",
        "--login",
        "agenda",
        "s3nh@",
    ];
    let Some(srv) = ServidorSmtp::iniciar(&args) else {
        return;
    };
    let url = format!("smtps://agenda:s3nh%40@127.0.0.1:{}", srv.porta);
    let r = remetente(&url, Some(&ca));
    r.enviar(agendada_para("jose@exemplo.com"), "id-de-teste")
        .await
        .expect("delivered over smtps");
    let (eml, env) = srv.recebida(1);
    assert_eq!(env["login"], "agenda");
    let m = MessageParser::default().parse(&eml).expect("parses");
    assert_eq!(
        m.subject(),
        Some("Consulta agendada para 02/03/2026 às 08:00")
    );
}

/// Polls `GET /notificacoes?query` until `ok` holds.
async fn notificacoes_ate(
    app: &crate::harness::TestApp,
    query: &str,
    ok: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    let fim = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let r = app.get(&format!("/notificacoes?{query}")).await;
        r.expect_status(200);
        let v = r.body.as_array().cloned().unwrap_or_default();
        if ok(&v) {
            return v;
        }
        assert!(
            std::time::Instant::now() < fim,
            "notifications never satisfied the condition: {v:#?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// A patient with `email` (who accepts e-mail); their id.
async fn paciente_com_email(
    app: &crate::harness::TestApp,
    nome: &str,
    n: u64,
    email: &str,
) -> String {
    let mut corpo = crate::helpers::paciente_body(nome, n);
    corpo["email"] = serde_json::json!(email);
    let r = app.post("/pacientes", &corpo).await;
    r.expect_status(201);
    crate::helpers::str_field(&r.body, "id")
}

/// The production app sending e-mail through `smtp` (and `extra` flags); its delivery worker
/// is not started.
/// Starts the delivery worker, books a patient `nome` (seed `p_seed`, with an address)
/// with a new doctor (seed `m_seed`) two Mondays ahead at 09:00 through the desk, waits for
/// the booking e-mail to go out; the raw message the relay received.
async fn primeiro_e_mail(
    app: &crate::harness::TestApp,
    smtp: &ServidorSmtp,
    m_seed: u32,
    nome: &str,
    p_seed: u64,
) -> Vec<u8> {
    use crate::helpers::{at, monday};
    tokio::spawn(agendamento::services::notificacoes::entregar_sempre(
        app.state.clone(),
    ));
    let m = app.medico(m_seed, &[("segunda", "08:00", "18:00")]).await;
    let p = paciente_com_email(app, nome, p_seed, "maria@exemplo.com").await;
    let dia = monday(2);
    app.post(
        "/consultas",
        &crate::helpers::consulta_body(&p, &m, &at(dia, "09:00"), &at(dia, "09:30")),
    )
    .await
    .expect_status(201);
    notificacoes_ate(app, "canal=email&status=enviada", |v| v.len() == 1).await;
    smtp.recebida(1).0
}

async fn app_com_email(smtp: &ServidorSmtp, extra: &[&str]) -> crate::harness::TestApp {
    let url = format!("smtp://127.0.0.1:{}", smtp.porta);
    let mut args = vec![
        "--smtp-url",
        url.as_str(),
        "--smtp-remetente",
        "Clínica Teste <agenda@clinica.example>",
    ];
    args.extend_from_slice(extra);
    crate::harness::TestApp::with_args(&args).await
}

/// The outbox's e-mail channel end to end (SPEC-2 §13): a booking through the production
/// router writes an `email` notification for a patient with an address, the delivery worker
/// sends it through the real relay with the appointment's `.ics` and its public link, the
/// listing shows the address masked; a patient who opted out gets no notification at all.
#[tokio::test]
async fn a_booking_e_mails_the_patient_through_the_outbox_and_an_opted_out_one_gets_nothing() {
    use crate::helpers::{at, monday};
    let Some(smtp) = ServidorSmtp::iniciar(&[]) else {
        return;
    };
    let app = app_com_email(&smtp, &["--url-publica", "https://clinica.example"]).await;
    tokio::spawn(agendamento::services::notificacoes::entregar_sempre(
        app.state.clone(),
    ));
    let dias = ["segunda", "terca", "quarta", "quinta", "sexta"];
    let h: Vec<(&str, &str, &str)> = dias.iter().map(|d| (*d, "08:00", "18:00")).collect();
    let m = app.medico(77, &h).await;
    let mut quer = crate::helpers::paciente_body("Maria Quer", 71);
    quer["email"] = serde_json::json!("maria@exemplo.com");
    let mut nao = crate::helpers::paciente_body("João Não Quer", 72);
    nao["email"] = serde_json::json!("joao@exemplo.com");
    nao["notificacoes_email"] = serde_json::json!(false);
    let mut ids = Vec::new();
    for body in [&quer, &nao] {
        let r = app.post("/pacientes", body).await;
        r.expect_status(201);
        ids.push(crate::helpers::str_field(&r.body, "id"));
    }
    let dia = monday(2);
    let mut consultas = Vec::new();
    for (p, hora) in ids.iter().zip(["09:00", "10:00"]) {
        let fim = if hora == "09:00" { "09:30" } else { "10:30" };
        let r = app
            .post(
                "/consultas",
                &crate::helpers::consulta_body(p, &m, &at(dia, hora), &at(dia, fim)),
            )
            .await;
        r.expect_status(201);
        consultas.push(crate::helpers::str_field(&r.body, "id"));
    }
    let q = format!(
        "canal=email&evento=consulta.agendada&consulta_id={}",
        consultas[0]
    );
    let enviadas =
        notificacoes_ate(&app, &q, |v| v.len() == 1 && v[0]["status"] == "enviada").await;
    assert_eq!(enviadas[0]["destino"], "m***@exemplo.com", "{enviadas:#?}");
    assert_eq!(enviadas[0]["tentativas"], 1);
    let nada = app
        .get(&format!(
            "/notificacoes?canal=email&consulta_id={}",
            consultas[1]
        ))
        .await;
    nada.expect_status(200);
    assert_eq!(nada.body, serde_json::json!([]), "the opted-out patient");
    assert_eq!(smtp.quantas(), 1);
    let (eml, envelope) = smtp.recebida(1);
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["maria@exemplo.com"])
    );
    let msg = MessageParser::default().parse(&eml).expect("parses");
    let texto = msg.body_text(0).expect("text part").into_owned();
    assert!(
        texto.contains("https://clinica.example/c/"),
        "the public link: {texto}"
    );
    let ics = msg
        .attachments()
        .find(|a| a.attachment_name() == Some("consulta.ics"))
        .map(|a| String::from_utf8_lossy(a.contents()).into_owned())
        .expect("the .ics attached");
    assert!(ics.contains(&format!("UID:{}", consultas[0])), "{ics}");
    assert!(ics.contains("STATUS:TENTATIVE"), "{ics}");
}

/// An e-mail goes to the patient's address of the day it is sent, and the listing then shows
/// that address (masked), not the one the patient had when the notification was written.
#[tokio::test]
async fn a_delivered_e_mail_lists_the_address_it_went_to() {
    use crate::helpers::{at, monday};
    let Some(smtp) = ServidorSmtp::iniciar(&[]) else {
        return;
    };
    let app = app_com_email(&smtp, &[]).await;
    let m = app.medico(78, &[("segunda", "08:00", "12:00")]).await;
    let mut body = crate::helpers::paciente_body("Ana Muda", 73);
    body["email"] = serde_json::json!("ana@exemplo.com");
    let p = app.post("/pacientes", &body).await;
    p.expect_status(201);
    let pid = crate::helpers::str_field(&p.body, "id");
    let dia = monday(2);
    let c = app
        .post(
            "/consultas",
            &crate::helpers::consulta_body(&pid, &m, &at(dia, "09:00"), &at(dia, "09:30")),
        )
        .await;
    c.expect_status(201);
    let q = format!(
        "canal=email&evento=consulta.agendada&consulta_id={}",
        crate::helpers::str_field(&c.body, "id")
    );
    let antes = notificacoes_ate(&app, &q, |v| v.len() == 1).await;
    assert_eq!(antes[0]["destino"], "a***@exemplo.com");
    // The patient changes address before the worker sends it.
    app.put(
        &format!("/pacientes/{pid}"),
        &serde_json::json!({"email": "beatriz@exemplo.com"}),
    )
    .await
    .expect_status(200);
    tokio::spawn(agendamento::services::notificacoes::entregar_sempre(
        app.state.clone(),
    ));
    let enviadas =
        notificacoes_ate(&app, &q, |v| v.len() == 1 && v[0]["status"] == "enviada").await;
    assert_eq!(enviadas[0]["destino"], "b***@exemplo.com", "{enviadas:#?}");
    let (_, envelope) = smtp.recebida(1);
    assert_eq!(
        envelope["rcpt_tos"],
        serde_json::json!(["beatriz@exemplo.com"])
    );
}

/// Past the cancellation cutoff of `/sistema/regras` an e-mail offers no cancel link (it
/// would only answer `prazo_cancelamento`): the page's link stays, and the closing line asks
/// the patient to tell the clinic instead.
#[tokio::test]
async fn inside_the_cancellation_cutoff_the_e_mail_offers_no_cancel_link() {
    let Some(smtp) = ServidorSmtp::iniciar(&[]) else {
        return;
    };
    let app = app_com_email(&smtp, &["--url-publica", "https://clinica.example"]).await;
    app.put(
        "/sistema/regras",
        &serde_json::json!({"prazo_cancelamento_horas": 24 * 60}),
    )
    .await
    .expect_status(200);
    let eml = primeiro_e_mail(&app, &smtp, 78, "Maria Prazo", 73).await;
    let msg = MessageParser::default().parse(&eml).expect("parses");
    let texto = msg.body_text(0).expect("text part").into_owned();
    assert!(texto.contains("Ver a consulta"), "{texto}");
    assert!(texto.contains("Confirmar presença"), "{texto}");
    assert!(!texto.contains("Cancelar a consulta"), "{texto}");
    assert!(!texto.contains("#cancelar"), "{texto}");
    assert!(texto.contains("avise a clínica"), "{texto}");
    // The page its link opens offers no cancel button either (it would only answer 409).
    let inicio =
        texto.find("https://clinica.example/c/").expect("a link") + "https://clinica.example".len();
    let caminho: String = texto[inicio..]
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '#')
        .collect();
    let pagina = app.get(&caminho).await;
    pagina.expect_status(200);
    assert!(pagina.text.contains("Confirmar"), "{}", pagina.text);
    assert!(!pagina.text.contains(">Cancelar<"), "{}", pagina.text);
    assert!(pagina.text.contains("avise a clínica"), "{}", pagina.text);
}

/// A booking e-mail still pending when the appointment is cancelled (the relay was down) is
/// not sent after the cancellation: the patient's last e-mail is the cancellation.
#[tokio::test]
async fn a_booking_e_mail_still_pending_at_the_cancellation_is_not_sent() {
    use crate::helpers::{at, monday};
    let Some(smtp) = ServidorSmtp::iniciar(&[]) else {
        return;
    };
    let app = app_com_email(&smtp, &[]).await;
    let m = app.medico(79, &[("segunda", "08:00", "18:00")]).await;
    let p = paciente_com_email(&app, "Maria Cancela", 74, "maria@exemplo.com").await;
    let dia = monday(2);
    let r = app
        .post(
            "/consultas",
            &crate::helpers::consulta_body(&p, &m, &at(dia, "09:00"), &at(dia, "09:30")),
        )
        .await;
    r.expect_status(201);
    let id = crate::helpers::str_field(&r.body, "id");
    // Cancelled before the worker delivers anything.
    app.post(&format!("/consultas/{id}/cancelar"), &serde_json::json!({}))
        .await
        .expect_status(200);
    tokio::spawn(agendamento::services::notificacoes::entregar_sempre(
        app.state.clone(),
    ));
    let v = notificacoes_ate(&app, "canal=email", |v| {
        v.len() == 2 && v.iter().all(|n| n["status"] != "pendente")
    })
    .await;
    let de = |evento: &str| {
        v.iter()
            .find(|n| n["evento"] == evento)
            .cloned()
            .unwrap_or_else(|| panic!("{evento}: {v:#?}"))
    };
    assert_eq!(de("consulta.cancelada")["status"], "enviada", "{v:#?}");
    let agendada = de("consulta.agendada");
    assert_eq!(agendada["status"], "falhou", "{v:#?}");
    assert!(
        agendada["ultimo_erro"]
            .as_str()
            .is_some_and(|e| e.contains("cancelada")),
        "{agendada:#?}"
    );
    assert_eq!(smtp.quantas(), 1, "only the cancellation went out");
    let (eml, _) = smtp.recebida(1);
    let msg = MessageParser::default().parse(&eml).expect("parses");
    assert!(
        msg.subject()
            .is_some_and(|s| s.starts_with("Consulta cancelada")),
        "{:?}",
        msg.subject()
    );
}

/// A visit the desk records after the fact (`POST /consultas` in the past) e-mails no
/// "Consulta agendada": the news would already be behind the patient.
#[tokio::test]
async fn a_past_visit_recorded_by_the_desk_e_mails_no_booking() {
    let Some(smtp) = ServidorSmtp::iniciar(&[]) else {
        return;
    };
    let app = app_com_email(&smtp, &[]).await;
    let m = app.medico(81, &[("segunda", "08:00", "18:00")]).await;
    let p = paciente_com_email(&app, "Maria Passado", 77, "maria@exemplo.com").await;
    app.post(
        "/consultas",
        &crate::helpers::consulta_body(&p, &m, "2026-01-05T09:00:00", "2026-01-05T09:30:00"),
    )
    .await
    .expect_status(201);
    tokio::spawn(agendamento::services::notificacoes::entregar_sempre(
        app.state.clone(),
    ));
    let v = notificacoes_ate(&app, "canal=email", |v| {
        !v.is_empty() && v.iter().all(|n| n["status"] != "pendente")
    })
    .await;
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0]["evento"], "consulta.agendada");
    assert_eq!(v[0]["status"], "falhou", "{v:#?}");
    assert!(
        v[0]["ultimo_erro"]
            .as_str()
            .is_some_and(|e| e.contains("começou")),
        "{v:#?}"
    );
    assert_eq!(smtp.quantas(), 0, "nothing went out");
}

/// A waiting-list offer whose e-mail is still pending when the offer lapses (the relay was
/// down) is not e-mailed afterwards: it would offer a slot no longer held for the patient.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_offer_that_lapsed_before_its_e_mail_went_out_is_not_e_mailed() {
    use crate::helpers::{at, monday};
    let Some(smtp) = ServidorSmtp::iniciar(&[]) else {
        return;
    };
    let app = app_com_email(&smtp, &["--oferta-segundos", "1"]).await;
    let m = app.medico(80, &[("segunda", "08:00", "18:00")]).await;
    let a = app.paciente(75).await;
    let b = paciente_com_email(&app, "Bia Espera", 76, "bia@exemplo.com").await;
    let dia = monday(2);
    let r = app
        .post(
            "/consultas",
            &crate::helpers::consulta_body(&a, &m, &at(dia, "09:00"), &at(dia, "09:30")),
        )
        .await;
    r.expect_status(201);
    let c = crate::helpers::str_field(&r.body, "id");
    let r = app
        .post(
            "/lista-espera",
            &serde_json::json!({"paciente_id": b, "medico_id": m, "de": dia.to_string(), "ate": dia.to_string()}),
        )
        .await;
    r.expect_status(201);
    let e = crate::helpers::str_field(&r.body, "id");
    app.post(&format!("/consultas/{c}/cancelar"), &serde_json::json!({}))
        .await
        .expect_status(200);
    let fim = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        agendamento::services::agenda::expire_holds(&app.state)
            .await
            .expect("expiry runs");
        let r = app.get(&format!("/lista-espera/{e}")).await;
        if r.body["status"] == "expirada" {
            break;
        }
        assert!(
            std::time::Instant::now() < fim,
            "the offer never lapsed: {}",
            r.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    tokio::spawn(agendamento::services::notificacoes::entregar_sempre(
        app.state.clone(),
    ));
    let v = notificacoes_ate(
        &app,
        "canal=email&evento=lista_espera.vaga_oferecida",
        |v| v.len() == 1 && v[0]["status"] != "pendente",
    )
    .await;
    assert_eq!(v[0]["status"], "falhou", "{v:#?}");
    for i in 1..=smtp.quantas() {
        let (_, envelope) = smtp.recebida(u32::try_from(i).expect("few"));
        assert_ne!(
            envelope["rcpt_tos"],
            serde_json::json!(["bia@exemplo.com"]),
            "no e-mail offering a lapsed offer"
        );
    }
}

/// A bare `--smtp-remetente` address writes as the clinic (`--clinica-nome`): the patient's
/// mail program shows who wrote, since the message itself names only the doctor.
#[tokio::test]
async fn a_bare_sender_address_writes_as_the_clinic() {
    let Some(smtp) = ServidorSmtp::iniciar(&[]) else {
        return;
    };
    let url = format!("smtp://127.0.0.1:{}", smtp.porta);
    let app = crate::harness::TestApp::with_args(&[
        "--smtp-url",
        url.as_str(),
        "--smtp-remetente",
        "agenda@clinica.example",
        "--clinica-nome",
        "Clínica São Lucas",
    ])
    .await;
    let eml = primeiro_e_mail(&app, &smtp, 82, "Maria Remetente", 78).await;
    let msg = MessageParser::default().parse(&eml).expect("parses");
    let de = msg.from().and_then(|a| a.first()).expect("From");
    assert_eq!(de.name(), Some("Clínica São Lucas"));
    assert_eq!(de.address(), Some("agenda@clinica.example"));
}
