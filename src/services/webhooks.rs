//! Webhooks (SPEC-2 §13, `/webhooks`, admin only): where the clinic's events are `POST`ed,
//! signed per Standard Webhooks with a secret shown once. Deliveries are the outbox's work
//! (`notificacoes`); this file keeps the subscriptions and their rules.

use std::sync::Arc;

use base64::Engine as _;

use super::{App, Contexto, Janela, Recorte, new_id};
use crate::error::AppError;
use crate::models::{EVENTOS, Webhook, WebhookCriado, WebhookPublico};
use crate::repositories::Op;

/// Longest URL accepted.
pub const MAX_URL: usize = 2000;
/// Prefix of a secret.
pub const PREFIXO_SEGREDO: &str = "whsec_";

/// A checked new webhook.
#[derive(Debug)]
pub struct NovoWebhook {
    /// `http(s)` URL, without user info.
    pub url: String,
    /// Known events, at least one, no repeats.
    pub eventos: Vec<String>,
    /// Active (default true).
    pub ativo: bool,
}

/// A checked partial change.
#[derive(Debug, Default)]
pub struct AlteraWebhook {
    /// New URL.
    pub url: Option<String>,
    /// New events.
    pub eventos: Option<Vec<String>>,
    /// Turn on or off.
    pub ativo: Option<bool>,
}

/// A webhook URL as the API accepts it: parseable, `http` or `https`, with a host and no
/// user info. Whether its address may be reached is decided at each delivery (after DNS).
pub fn url(s: &str) -> Result<String, String> {
    let s = s.trim();
    if s.is_empty() || s.len() > MAX_URL {
        return Err(format!("deve ter de 1 a {MAX_URL} caracteres"));
    }
    let u = reqwest::Url::parse(s).map_err(|_| "URL inválida".to_owned())?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err("deve usar http ou https".into());
    }
    if u.host_str().is_none_or(str::is_empty) {
        return Err("deve ter um host".into());
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("não pode conter usuário ou senha".into());
    }
    Ok(u.to_string())
}

/// The subscribed events: at least one, each known, no repeats (order kept).
pub fn eventos(v: &[String]) -> Result<Vec<String>, String> {
    if v.is_empty() {
        return Err(format!(
            "informe ao menos um evento: {}",
            EVENTOS.join(", ")
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for e in v {
        if !EVENTOS.contains(&e.as_str()) {
            return Err(format!(
                "evento desconhecido: {e} (conhecidos: {})",
                EVENTOS.join(", ")
            ));
        }
        if out.contains(e) {
            return Err(format!("o evento {e} aparece mais de uma vez"));
        }
        out.push(e.clone());
    }
    Ok(out)
}

/// The signing key's bytes of a secret (`whsec_` + base64).
pub fn chave(segredo: &str) -> Result<Vec<u8>, String> {
    let b64 = segredo
        .strip_prefix(PREFIXO_SEGREDO)
        .ok_or_else(|| format!("segredo sem o prefixo {PREFIXO_SEGREDO}"))?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .map_err(|_| "segredo: base64 inválido".to_owned())?;
    if !(24..=64).contains(&bytes.len()) {
        return Err("segredo: a chave deve ter de 24 a 64 bytes".into());
    }
    Ok(bytes)
}

/// A new secret: `whsec_` + base64 of 32 random bytes.
fn novo_segredo() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| AppError::Internal(format!("getrandom: {e}")))?;
    Ok(format!(
        "{PREFIXO_SEGREDO}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    ))
}

/// What is wrong with a stored webhook against the API's rules (for a restored archive).
pub fn problemas(w: &Webhook) -> Vec<String> {
    let mut out = Vec::new();
    if let Err(e) = url(&w.url) {
        out.push(format!("url: {e}"));
    }
    if let Err(e) = eventos(&w.eventos) {
        out.push(format!("eventos: {e}"));
    }
    if let Err(e) = chave(&w.segredo) {
        out.push(e);
    }
    out
}

/// Every webhook, oldest first (one page).
pub fn page(app: &App, janela: Janela) -> Recorte<Webhook> {
    let db = app.store.read();
    janela.recortar(db.webhooks.iter(), Some(db.webhooks.len()))
}

/// One webhook.
pub fn find(app: &App, id: &str) -> Result<Arc<Webhook>, AppError> {
    let found = app.store.read().webhooks.get(id).cloned();
    found.ok_or_else(|| AppError::not_found("Webhook"))
}

/// Creates a webhook; the answer carries its secret, which is never shown again.
pub async fn criar(
    app: &App,
    ctx: &Contexto,
    novo: NovoWebhook,
) -> Result<WebhookCriado, AppError> {
    let segredo = novo_segredo()?;
    let agora = app.clock.stamp();
    let w = Arc::new(Webhook {
        id: new_id(),
        url: novo.url,
        eventos: novo.eventos,
        ativo: novo.ativo,
        segredo,
        created_at: agora.clone(),
        updated_at: agora,
    });
    let criado = WebhookCriado {
        id: w.id.clone(),
        url: w.url.clone(),
        eventos: w.eventos.clone(),
        ativo: w.ativo,
        created_at: w.created_at.clone(),
        updated_at: w.updated_at.clone(),
        segredo: w.segredo.clone(),
    };
    app.commit(ctx, |_| Ok((vec![Op::PutWebhook(w.clone())], criado)))
        .await
}

/// Changes the fields sent.
pub async fn alterar(
    app: &App,
    ctx: &Contexto,
    id: &str,
    alt: AlteraWebhook,
) -> Result<WebhookPublico, AppError> {
    let agora = app.clock.stamp();
    let w = app
        .commit_reply(
            ctx,
            |db| {
                let old = db
                    .webhooks
                    .get(id)
                    .ok_or_else(|| AppError::not_found("Webhook"))?;
                let mut w = Webhook::clone(old);
                if let Some(u) = alt.url {
                    w.url = u;
                }
                if let Some(e) = alt.eventos {
                    w.eventos = e;
                }
                if let Some(a) = alt.ativo {
                    w.ativo = a;
                }
                if w == **old {
                    return Ok((vec![], old.publico()));
                }
                w.updated_at = agora;
                let publico = w.publico();
                Ok((vec![Op::PutWebhook(Arc::new(w))], publico))
            },
            |p| p,
        )
        .await?;
    Ok(w)
}

/// Deletes a webhook; its pending notifications fail at their next attempt.
pub async fn excluir(app: &App, ctx: &Contexto, id: &str) -> Result<(), AppError> {
    app.commit(ctx, |db| {
        if db.webhooks.get(id).is_none() {
            return Err(AppError::not_found("Webhook"));
        }
        Ok((vec![Op::DelWebhook(id.to_owned())], ()))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_http_with_a_host_and_no_user_info() {
        assert!(url("https://exemplo.com/gancho").is_ok());
        assert!(url("http://127.0.0.1:8080/x").is_ok());
        for bad in [
            "",
            "exemplo.com",
            "ftp://exemplo.com/",
            "file:///etc/passwd",
            "https://user:senha@exemplo.com/",
            "https://user@exemplo.com/",
            "http://",
            "javascript:alert(1)",
        ] {
            assert!(url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn events_must_be_known_and_unique() {
        let v = |xs: &[&str]| xs.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(eventos(&v(&["consulta.agendada", "consulta.lembrete"])).is_ok());
        assert!(eventos(&v(&[])).is_err());
        assert!(eventos(&v(&["consulta.inventada"])).is_err());
        assert!(eventos(&v(&["consulta.agendada", "consulta.agendada"])).is_err());
    }

    #[test]
    fn a_new_secret_decodes_to_32_bytes() {
        let s = novo_segredo().expect("secret");
        assert!(s.starts_with("whsec_"));
        assert_eq!(chave(&s).expect("key").len(), 32);
        assert!(chave("whsec_!!!").is_err());
        assert!(chave("abc").is_err());
    }
}
