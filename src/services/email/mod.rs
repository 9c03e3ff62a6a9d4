//! The e-mail channel of SPEC-2 §13: [`Remetente`] sends one [`Mensagem`] to the clinic's
//! relay (`--smtp-url`, `--smtp-remetente`) and says whether a failure is worth retrying;
//! [`mensagem`] writes the Portuguese message of one event for one patient.
//!
//! The outbox's delivery worker owns retries and bookkeeping: this module only sends.
//! Nothing here logs a patient's address or name; failures carry the SMTP code, never the
//! server's text (which often repeats the recipient's address).

mod mensagem;
mod modelo;

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart};
use lettre::transport::smtp::PoolConfig;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub use mensagem::{EventoConsulta, Links, Mensagem, Sobre, mensagem};

use crate::config::Config;
use crate::domain::{SmtpTls, SmtpUrl};

/// Seconds one SMTP command may take (connect, greeting, each reply).
const TIMEOUT_COMANDO: Duration = Duration::from_secs(10);
/// Bound on one whole delivery attempt.
const TIMEOUT_ENVIO: Duration = Duration::from_secs(30);
/// Most connections kept open to the relay.
const CONEXOES: u32 = 4;

/// Why a message was not delivered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FalhaEnvio {
    /// Worth retrying: no connection, timeout, TLS trouble, a 4xx answer, or the relay
    /// refusing our login (fixed by fixing the configuration).
    #[error("falha temporária: {0}")]
    Temporaria(String),
    /// Retrying cannot help: a 5xx answer (recipient refused, message refused) or an
    /// address the message cannot be written to.
    #[error("falha permanente: {0}")]
    Permanente(String),
}

impl FalhaEnvio {
    /// Whether the outbox should try again later.
    pub fn repetir(&self) -> bool {
        matches!(self, Self::Temporaria(_))
    }
}

/// The e-mail sender, built once from the configuration: a pooled SMTP transport and the
/// `From` mailbox.
pub struct Remetente {
    transporte: AsyncSmtpTransport<Tokio1Executor>,
    de: Mailbox,
    destino: String,
}

impl std::fmt::Debug for Remetente {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The relay's URL with the password masked; never the credentials.
        write!(f, "Remetente({})", self.destino)
    }
}

impl Remetente {
    /// The sender `config` asks for: `Ok(None)` when `--smtp-url` is unset (e-mail off).
    /// Must run inside the Tokio runtime (the pool starts its upkeep task).
    pub fn da_config(config: &Config) -> Result<Option<Self>, String> {
        match (&config.smtp_url, &config.smtp_remetente) {
            (None, _) => Ok(None),
            (Some(_), None) => Err("--smtp-url requer --smtp-remetente".into()),
            (Some(url), Some(de)) => {
                // A bare address writes as the clinic (`--clinica-nome`): the patient's mail
                // program then shows who wrote, since the messages name only the doctor.
                let mut de = de.clone();
                let clinica = config.clinica_nome.trim();
                if de.name.as_deref().is_none_or(|n| n.trim().is_empty()) && !clinica.is_empty() {
                    de.name = Some(clinica.to_owned());
                }
                Self::novo(url, de, config.smtp_ca_extra.as_deref()).map(Some)
            }
        }
    }

    /// A sender to `url` writing as `de`; `ca_extra` is a PEM file of certificate
    /// authorities trusted besides the public ones. Must run inside the Tokio runtime.
    pub fn novo(
        url: &SmtpUrl,
        de: Mailbox,
        ca_extra: Option<&std::path::Path>,
    ) -> Result<Self, String> {
        // The pool spawns its upkeep task: outside a runtime that would panic.
        if tokio::runtime::Handle::try_current().is_err() {
            return Err("o envio de e-mail precisa do runtime Tokio".into());
        }
        let tls = match url.tls {
            SmtpTls::Nenhum => Tls::None,
            SmtpTls::StartTls => Tls::Required(parametros_tls(&url.host, ca_extra)?),
            SmtpTls::Implicito => Tls::Wrapper(parametros_tls(&url.host, ca_extra)?),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
            .port(url.porta)
            .tls(tls)
            .timeout(Some(TIMEOUT_COMANDO))
            .pool_config(
                PoolConfig::new()
                    .max_size(CONEXOES)
                    .idle_timeout(Duration::from_secs(60)),
            );
        if let Some((usuario, senha)) = &url.credenciais {
            b = b.credentials(Credentials::new(usuario.clone(), senha.clone()));
        }
        Ok(Self {
            transporte: b.build(),
            de,
            destino: url.to_string(),
        })
    }

    /// The relay as configured, password masked (for the start-up log line).
    pub fn destino(&self) -> &str {
        &self.destino
    }

    /// Sends `msg` once, as message `id` (the notification's: every attempt of one
    /// notification carries the same `Message-ID`, so a copy a relay accepted twice is one
    /// message to the patient's mail program). A [`FalhaEnvio::Temporaria`] is worth
    /// retrying, a [`FalhaEnvio::Permanente`] is not.
    pub async fn enviar(&self, msg: Mensagem, id: &str) -> Result<(), FalhaEnvio> {
        let email = self.montar(msg, id)?;
        match tokio::time::timeout(TIMEOUT_ENVIO, self.transporte.send(email)).await {
            Err(_) => Err(FalhaEnvio::Temporaria(
                "tempo esgotado falando com o servidor de e-mail".into(),
            )),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(classificar(&e)),
        }
    }

    /// The MIME message: `multipart/alternative` (text, HTML), inside `multipart/mixed`
    /// with `consulta.ics` when there is a calendar.
    fn montar(&self, msg: Mensagem, id: &str) -> Result<Message, FalhaEnvio> {
        let endereco = msg.para_email.parse().map_err(|_| {
            FalhaEnvio::Permanente("o e-mail do paciente não é um endereço aceito".into())
        })?;
        let para = Mailbox::new(Some(msg.para_nome), endereco);
        let corpo = MultiPart::alternative_plain_html(msg.texto, msg.html);
        let corpo = match msg.ics {
            None => corpo,
            Some(ics) => {
                let tipo = ContentType::parse("text/calendar; method=PUBLISH; charset=utf-8")
                    .map_err(|_| FalhaEnvio::Permanente("tipo do anexo inválido".into()))?;
                MultiPart::mixed()
                    .multipart(corpo)
                    .singlepart(Attachment::new("consulta.ics".to_owned()).body(ics, tipo))
            }
        };
        Message::builder()
            .message_id(Some(format!("<{id}@{}>", self.de.email.domain())))
            .date_now()
            .from(self.de.clone())
            .to(para)
            .subject(msg.assunto)
            .multipart(corpo)
            .map_err(|_| FalhaEnvio::Permanente("mensagem não pôde ser montada".into()))
    }
}

/// TLS towards `host`, trusting the public roots and, when given, the PEM file `ca_extra`.
fn parametros_tls(host: &str, ca_extra: Option<&std::path::Path>) -> Result<TlsParameters, String> {
    let mut b = TlsParameters::builder(host.to_owned());
    if let Some(caminho) = ca_extra {
        let pem = std::fs::read(caminho).map_err(|e| {
            format!(
                "--smtp-ca-extra: não foi possível ler {}: {e}",
                caminho.display()
            )
        })?;
        let cert = Certificate::from_pem(&pem)
            .map_err(|_| format!("--smtp-ca-extra: {} não é um PEM válido", caminho.display()))?;
        b = b.add_root_certificate(cert);
    }
    b.build_rustls()
        .map_err(|e| format!("TLS para o servidor de e-mail: {e}"))
}

/// Sorts a transport error: 5xx is permanent except a refused login (530/534/535/538,
/// fixed by fixing the configuration); everything else — 4xx, no connection, timeouts,
/// TLS — is temporary. The server's own text is left out: it often names the recipient.
fn classificar(e: &lettre::transport::smtp::Error) -> FalhaEnvio {
    if let Some(code) = e.status() {
        let codigo = code.to_string();
        let login = matches!(codigo.as_str(), "530" | "534" | "535" | "538");
        return if e.is_permanent() && !login {
            FalhaEnvio::Permanente(format!("o servidor de e-mail recusou (SMTP {codigo})"))
        } else if login {
            FalhaEnvio::Temporaria(format!(
                "o servidor de e-mail recusou o login (SMTP {codigo}): confira --smtp-url"
            ))
        } else {
            FalhaEnvio::Temporaria(format!(
                "o servidor de e-mail pediu para tentar depois (SMTP {codigo})"
            ))
        };
    }
    // Without a reply code the error is local (connection, TLS, timeout): its text names
    // no recipient.
    let motivo = if e.is_timeout() {
        "tempo esgotado falando com o servidor de e-mail"
    } else if e.is_tls() {
        "falha de TLS com o servidor de e-mail"
    } else {
        "sem conexão com o servidor de e-mail"
    };
    FalhaEnvio::Temporaria(format!("{motivo} ({e})"))
}
