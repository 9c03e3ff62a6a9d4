//! Links without login (SPEC-2 §13): `/c/{token}` shows one appointment to whoever holds the
//! link and lets them confirm or cancel it.
//!
//! The token is base64url (no padding) of 40 bytes: the appointment's id (its UUID's 16
//! bytes), the expiry (the appointment's start when the link was made, Unix seconds, 8 bytes
//! big-endian) and the first 16 bytes of HMAC-SHA256 with the server secret
//! (`infra::segredo`) over a domain label and those 24 bytes: 54 characters. The MAC is
//! compared in constant time. A tampered, expired (the appointment has started) or unknown
//! token is the same `None`, so the route answers the same 404 for all.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use jiff::Timestamp;
use sha2::Sha256;

use super::{App, Contexto};
use crate::error::AppError;
use crate::infra::segredo::SegredoServidor;
use crate::models::{Consulta, Medico, StatusConsulta};

/// What the MAC covers before the token's bytes: a link of another kind never verifies here.
const DOMINIO: &[u8] = b"agendamento/c/v1";
/// Bytes of the MAC kept in the token.
const MAC_BYTES: usize = 16;
/// Bytes of a decoded token.
const TOKEN_BYTES: usize = 16 + 8 + MAC_BYTES;

fn mac(segredo: &SegredoServidor, dados: &[u8]) -> Hmac<Sha256> {
    let mut m = segredo.mac(DOMINIO);
    m.update(dados);
    m
}

/// The token for appointment `consulta_id` expiring at `expira` (Unix seconds); `None` when
/// the id is not a UUID.
pub fn assinar(segredo: &SegredoServidor, consulta_id: &str, expira: i64) -> Option<String> {
    let id = uuid::Uuid::parse_str(consulta_id).ok()?;
    let mut b = Vec::with_capacity(TOKEN_BYTES);
    b.extend_from_slice(id.as_bytes());
    b.extend_from_slice(&expira.to_be_bytes());
    let tag = mac(segredo, &b).finalize().into_bytes();
    b.extend_from_slice(&tag[..MAC_BYTES]);
    Some(URL_SAFE_NO_PAD.encode(b))
}

/// The appointment id and expiry a token names, when its MAC is right (constant-time).
pub fn verificar(segredo: &SegredoServidor, token: &str) -> Option<(String, i64)> {
    if token.len() > 64 {
        return None;
    }
    let b = URL_SAFE_NO_PAD.decode(token).ok()?;
    if b.len() != TOKEN_BYTES {
        return None;
    }
    let (dados, tag) = b.split_at(16 + 8);
    mac(segredo, dados).verify_truncated_left(tag).ok()?;
    let id = uuid::Uuid::from_slice(&dados[..16]).ok()?;
    let expira = i64::from_be_bytes(dados[16..24].try_into().ok()?);
    Some((id.to_string(), expira))
}

/// The public link of appointment `c` (`<--url-publica>/c/<token>`), expiring at its start;
/// `None` without `--url-publica` or when its id is not a UUID. For e-mails.
pub fn url(app: &App, c: &Consulta) -> Option<String> {
    let base = app.config.url_publica.as_ref()?;
    Some(format!("{base}/c/{}", token(app, c)?))
}

/// The token of appointment `c`'s link (expiring at its start).
pub fn token(app: &App, c: &Consulta) -> Option<String> {
    let inicio = c.intervalo(app.clock.tz()).inicio_em.as_second();
    assinar(&app.segredo, &c.id, inicio)
}

/// What the public page shows: the appointment, its doctor, and the patient's first name.
#[derive(Debug, Clone)]
pub struct Visao {
    /// The appointment.
    pub consulta: Arc<Consulta>,
    /// Its doctor, when still there.
    pub medico: Option<Arc<Medico>>,
    /// The patient's first name (nothing else of theirs).
    pub primeiro_nome: Option<String>,
    /// Whether the clinic's cancellation cutoff still lets it be cancelled through the link
    /// (the page offers the button only then: it would answer 409).
    pub cancelavel: bool,
}

/// Whether a patient may still cancel an appointment starting at `inicio` (the instant;
/// `local`, the clinic's time of it) through its link at `agora`: it has not started and
/// the clinic's cancellation cutoff has not passed. The e-mail offers the cancel link and
/// the link's page its button only then (either would only answer 409).
pub fn cancelavel(
    db: &crate::repositories::Db,
    agora: Timestamp,
    inicio: Timestamp,
    local: jiff::civil::DateTime,
) -> bool {
    agora < inicio
        && super::regras::prazo_cancelamento(&super::regras::atuais(db), agora, inicio, local)
            .is_ok()
}

/// The appointment a token names, while the link is valid: right MAC, not expired (neither
/// the link's expiry nor the appointment's current start has passed), appointment known.
pub fn abrir(app: &App, token: &str) -> Option<Visao> {
    let (id, expira) = verificar(&app.segredo, token)?;
    let agora = Timestamp::now().as_second();
    if agora >= expira {
        return None;
    }
    let db = app.store.read();
    let c = db.consultas.get(&id)?.clone();
    let inicio = c.intervalo(app.clock.tz()).inicio_em;
    if agora >= inicio.as_second() {
        return None;
    }
    let cancelavel = cancelavel(&db, Timestamp::now(), inicio, c.inicio);
    let medico = db.medicos.get(&c.medico_id).cloned();
    let primeiro_nome = db
        .pacientes
        .get(&c.paciente_id)
        .and_then(|p| p.nome.split_whitespace().next().map(str::to_owned));
    Some(Visao {
        consulta: c,
        medico,
        primeiro_nome,
        cancelavel,
    })
}

/// The context of a write made through a link: no user (the audit trail's `usuario_id` is
/// `null`), `request_id` `link público:<x-request-id>` so the trail names the actor, and
/// no `Idempotency-Key`: a stored answer would be the whole appointment record, replayed
/// to whoever repeats the request.
fn contexto_link(ctx: &Contexto) -> Contexto {
    Contexto {
        request_id: format!("link público:{}", ctx.request_id),
        chamador: None,
        idempotencia: None,
        ..ctx.clone()
    }
}

/// `POST /c/{token}/confirmar`: through the same service as the front desk's confirmation
/// (`PUT /consultas/{id}` with `status: confirmada`). 404 for an invalid link; 409 when the
/// appointment can no longer be confirmed (cancelled, finished).
pub async fn confirmar(app: &App, ctx: &Contexto, token: &str) -> Result<Visao, AppError> {
    let v = abrir(app, token).ok_or_else(link_invalido)?;
    let alt = super::consultas::AlteraConsulta {
        inicio: None,
        fim: None,
        status: Some(StatusConsulta::Confirmada),
        observacoes: None,
    };
    let c = super::consultas::update(app, &contexto_link(ctx), &v.consulta.id, alt).await?;
    tracing::info!(target: "agendamento::links", consulta_id = %c.id, "appointment confirmed through its public link");
    Ok(Visao { consulta: c, ..v })
}

/// `POST /c/{token}/cancelar`: through `cancelar` (SPEC-2 §11), so the clinic's cancellation
/// cutoff applies (409 `prazo_cancelamento`). 404 for an invalid link.
pub async fn cancelar(app: &App, ctx: &Contexto, token: &str) -> Result<Visao, AppError> {
    let v = abrir(app, token).ok_or_else(link_invalido)?;
    let c = super::agenda::cancelar(
        app,
        &contexto_link(ctx),
        &v.consulta.id,
        Some("Cancelada pelo paciente pelo link".to_owned()),
    )
    .await?;
    tracing::info!(target: "agendamento::links", consulta_id = %c.id, "appointment cancelled through its public link");
    Ok(Visao { consulta: c, ..v })
}

/// The one answer for a tampered, expired or unknown link.
pub fn link_invalido() -> AppError {
    AppError::NotFound("Link inválido ou expirado.".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segredo(b: u8) -> SegredoServidor {
        SegredoServidor::de_bytes([b; 32])
    }

    #[test]
    fn a_token_round_trips_and_any_change_breaks_it() {
        let s = segredo(7);
        let id = "0190c3a2-7c1e-7d3a-9f1b-2a4c5e6f7a8b";
        let t = assinar(&s, id, 1_800_000_000).expect("uuid");
        assert_eq!(t.len(), 54);
        assert_eq!(verificar(&s, &t), Some((id.to_owned(), 1_800_000_000)));
        // Another secret, one character changed anywhere, a truncated or extended token.
        assert_eq!(verificar(&segredo(8), &t), None);
        for i in 0..t.len() {
            let mut b = t.clone().into_bytes();
            b[i] = if b[i] == b'A' { b'B' } else { b'A' };
            let outro = String::from_utf8(b).expect("ascii");
            if outro != t {
                assert_eq!(verificar(&s, &outro), None, "position {i}");
            }
        }
        assert_eq!(verificar(&s, &t[..53]), None);
        assert_eq!(verificar(&s, &format!("{t}A")), None);
        assert_eq!(assinar(&s, "not-a-uuid", 1), None);
    }
}
