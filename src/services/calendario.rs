//! Calendars (SPEC-2 §14, RFC 5545): one appointment as an `.ics` (`GET /consultas/{id}/ics`,
//! also the e-mail attachment), and the feeds a calendar app subscribes to without a login
//! (`GET /calendario/{medico|paciente}/{id}.ics?token=…`), with their tokens
//! (`POST /calendario/token`).
//!
//! The iCalendar text is written here (a few content lines; no dependency): every time in UTC
//! (`…Z`, no VTIMEZONE needed), TEXT values escaped (`\\`, `;`, `,`, newlines) and lines
//! folded at 75 octets on UTF-8 boundaries, CRLF line ends.
//!
//! - `UID` is `<consulta id>@agendamento`: stable for the appointment's life (a move keeps
//!   its id).
//! - `SEQUENCE` is the number of changes in the appointment's history (`services::historico`
//!   keeps one entry per change: status, move, cancellation), so it grows with each change
//!   and survives restarts and backups with the history itself.
//! - `DTSTAMP` and `LAST-MODIFIED` are the appointment's `updated_at` (in UTC): the same
//!   appointment always gives the same bytes, so a feed's `ETag` changes only when it does.
//! - A feed never carries the patient's name or any personal data.

use std::ops::Bound;

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::{App, Contexto, Escopo};
use crate::error::AppError;
use crate::models::{AcaoHistorico, Consulta, Medico, Paciente, StatusConsulta, TokenCalendario};
use crate::repositories::{Db, Op};

/// Days of the past a feed still carries (SPEC-2 §14).
pub const DIAS_PASSADOS: i64 = 90;

/// The product id of every calendar this server writes.
const PRODID: &str = "-//Agendamento//Agendamento//PT-BR";

/// Escapes an RFC 5545 TEXT value: backslash, `;`, `,` and newlines (CR dropped).
pub fn escapar(v: &str) -> String {
    let mut out = String::with_capacity(v.len() + 8);
    for ch in v.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Appends one content line to `out`, folded so that no line exceeds 75 octets (a
/// continuation starts with a space, which counts), never splitting a UTF-8 character.
fn linha(out: &mut String, conteudo: &str) {
    let mut usados = 0;
    for ch in conteudo.chars() {
        let n = ch.len_utf8();
        if usados + n > 75 {
            out.push_str("\r\n ");
            usados = 1;
        }
        out.push(ch);
        usados += n;
    }
    out.push_str("\r\n");
}

/// `YYYYMMDDTHHMMSSZ`.
fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// The instant of an RFC 3339 stamp (`updated_at`), or `padrao` when it does not parse.
fn instante(s: &str, padrao: Timestamp) -> Timestamp {
    s.parse::<Timestamp>().unwrap_or(padrao)
}

/// `STATUS` of an appointment: `agendada` is tentative; `confirmada`, `concluida` and
/// `faltou` (the time was kept for it) confirmed; `cancelada` cancelled.
pub fn status_ics(s: StatusConsulta) -> &'static str {
    match s {
        StatusConsulta::Agendada => "TENTATIVE",
        StatusConsulta::Confirmada | StatusConsulta::Concluida | StatusConsulta::Faltou => {
            "CONFIRMED"
        }
        StatusConsulta::Cancelada => "CANCELLED",
    }
}

/// The `SEQUENCE` of appointment `c`: how many changes its history holds after its creation.
pub fn sequencia(db: &Db, c: &Consulta) -> usize {
    db.historico
        .range(Bound::Included(c.id.clone()), Bound::Included(c.id.clone()))
        .filter(|e| e.acao != AcaoHistorico::Criada)
        .count()
}

/// The calendar's opening lines.
fn abrir(out: &mut String, nome: Option<&str>) {
    linha(out, "BEGIN:VCALENDAR");
    linha(out, "VERSION:2.0");
    linha(out, &format!("PRODID:{PRODID}"));
    linha(out, "CALSCALE:GREGORIAN");
    linha(out, "METHOD:PUBLISH");
    if let Some(n) = nome {
        linha(out, &format!("X-WR-CALNAME:{}", escapar(n)));
    }
}

/// What one VEVENT says besides its times.
struct Texto<'a> {
    resumo: &'a str,
    descricao: Option<&'a str>,
    local: &'a str,
}

/// One VEVENT.
fn evento(out: &mut String, db: &Db, app: &App, c: &Consulta, t: &Texto<'_>) {
    let tz = app.clock.tz();
    let iv = c.intervalo(tz);
    let mudou = instante(&c.updated_at, iv.inicio_em);
    linha(out, "BEGIN:VEVENT");
    linha(out, &format!("UID:{}@agendamento", c.id));
    linha(out, &format!("SEQUENCE:{}", sequencia(db, c)));
    linha(out, &format!("DTSTAMP:{}", utc(mudou)));
    linha(out, &format!("LAST-MODIFIED:{}", utc(mudou)));
    linha(out, &format!("DTSTART:{}", utc(iv.inicio_em)));
    linha(out, &format!("DTEND:{}", utc(iv.fim_em)));
    linha(out, &format!("STATUS:{}", status_ics(c.status)));
    linha(out, &format!("SUMMARY:{}", escapar(t.resumo)));
    if let Some(d) = t.descricao {
        linha(out, &format!("DESCRIPTION:{}", escapar(d)));
    }
    linha(out, &format!("LOCATION:{}", escapar(t.local)));
    linha(out, "TRANSP:OPAQUE");
    linha(out, "END:VEVENT");
}

/// "Consulta — Dra. Ana (Cardiologia)".
fn resumo_medico(m: Option<&Medico>) -> String {
    match m {
        Some(m) => format!("Consulta — {} ({})", m.nome, m.especialidade),
        None => "Consulta".to_owned(),
    }
}

/// One appointment as a calendar (`METHOD:PUBLISH`, one VEVENT): the summary names the
/// doctor and speciality; with `com_paciente` the description names the patient (the copy
/// that staff and the patient themself download; SPEC-2 §14). For the e-mail attachment too.
pub fn ics_consulta(app: &App, db: &Db, c: &Consulta, com_paciente: bool) -> String {
    let medico = db.medicos.get(&c.medico_id).map(|m| &**m);
    let resumo = resumo_medico(medico);
    let paciente: Option<&Paciente> = db.pacientes.get(&c.paciente_id).map(|p| &**p);
    let descricao = com_paciente
        .then(|| paciente.map(|p| format!("Paciente: {}", p.nome)))
        .flatten();
    let mut out = String::with_capacity(1024);
    abrir(&mut out, None);
    evento(
        &mut out,
        db,
        app,
        c,
        &Texto {
            resumo: &resumo,
            descricao: descricao.as_deref(),
            local: &app.config.clinica_nome,
        },
    );
    linha(&mut out, "END:VCALENDAR");
    out
}

/// `GET /consultas/{id}/ics`: the appointment the caller may see (404 otherwise), with the
/// patient's name for staff and the patient.
pub fn ics_visivel(app: &App, id: &str, escopo: &Escopo) -> Result<String, AppError> {
    let db = app.store.read();
    let c = db
        .consultas
        .get(id)
        .filter(|c| super::consultas::visivel(c, escopo))
        .ok_or_else(|| AppError::not_found("Consulta"))?;
    let com_paciente = matches!(escopo, Escopo::Tudo | Escopo::Paciente(_));
    Ok(ics_consulta(app, &db, c, com_paciente))
}

/// Whose feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dono {
    /// A doctor's appointments.
    Medico(String),
    /// A patient's appointments.
    Paciente(String),
}

impl Dono {
    /// The token record's id: `medico:<id>` / `paciente:<id>`.
    fn chave(&self) -> String {
        match self {
            Dono::Medico(id) => format!("medico:{id}"),
            Dono::Paciente(id) => format!("paciente:{id}"),
        }
    }

    /// The feed's path (`/calendario/medico/<id>.ics`).
    fn caminho(&self) -> String {
        match self {
            Dono::Medico(id) => format!("/calendario/medico/{id}.ics"),
            Dono::Paciente(id) => format!("/calendario/paciente/{id}.ics"),
        }
    }
}

/// A new random feed token: 256 bits, 64 hex characters.
fn novo_token() -> Result<String, AppError> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).map_err(|e| AppError::Internal(format!("getrandom: {e}")))?;
    Ok(hex::encode(b))
}

fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Equal bytes, in time that depends only on the length.
pub fn iguais(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `POST /calendario/token`: a new token for `dono`'s feed, replacing (revoking) the
/// previous one; only its SHA-256 is journaled. The caller must be staff or that doctor or
/// patient themself (`escopo`; 404 otherwise, as for any record outside it); the doctor or
/// patient must exist (404). Returns the feed's URL: absolute with `--url-publica`, else a
/// path.
pub async fn emitir_token(
    app: &App,
    ctx: &Contexto,
    dono: Dono,
    escopo: &Escopo,
) -> Result<String, AppError> {
    let proprio = match (&dono, escopo) {
        (_, Escopo::Tudo) => true,
        (Dono::Medico(id), Escopo::Medico(m)) => id == m,
        (Dono::Paciente(id), Escopo::Paciente(p)) => id == p,
        _ => false,
    };
    let (existe, nome) = {
        let db = app.store.read();
        match &dono {
            Dono::Medico(id) => (db.medicos.get(id).is_some(), "Médico"),
            Dono::Paciente(id) => (db.pacientes.get(id).is_some(), "Paciente"),
        }
    };
    if !proprio || !existe {
        return Err(AppError::not_found(nome));
    }
    let token = novo_token()?;
    let registro = std::sync::Arc::new(TokenCalendario {
        id: dono.chave(),
        hash: hash(&token),
        created_at: app.clock.stamp(),
    });
    app.commit_reply(
        ctx,
        |db| {
            let ok = match &dono {
                Dono::Medico(id) => db.medicos.get(id).is_some(),
                Dono::Paciente(id) => db.pacientes.get(id).is_some(),
            };
            if !ok {
                return Err(AppError::not_found(nome));
            }
            Ok((vec![Op::PutTokenCalendario(registro)], ()))
        },
        // The controller sends no `Idempotency-Key` context: no answer (no token) is kept.
        |_| &(),
    )
    .await?;
    tracing::info!(target: "agendamento::calendario", dono = %dono.chave(), "feed token issued");
    let caminho = format!("{}?token={token}", dono.caminho());
    Ok(match &app.config.url_publica {
        Some(base) => format!("{base}{caminho}"),
        None => caminho,
    })
}

/// A feed and its `ETag`.
#[derive(Debug, Clone)]
pub struct Feed {
    /// The calendar text.
    pub ics: String,
    /// `"<hash of the text>"` (quoted, strong).
    pub etag: String,
}

/// `GET /calendario/{medico|paciente}/{id}.ics?token=…`: `None` for an unknown owner or a
/// wrong or revoked token (the route answers 404 for all alike). The last
/// [`DIAS_PASSADOS`] days and every future appointment, cancelled ones `CANCELLED`, read
/// through the per-doctor or per-patient time index. No patient's name or personal data:
/// a doctor's feed says "Consulta" and the time, a patient's the doctor and speciality.
pub fn feed(app: &App, dono: &Dono, token: &str) -> Option<Feed> {
    let db = app.store.read();
    let t = db.calendario_tokens.get(&dono.chave())?;
    if !iguais(hash(token).as_bytes(), t.hash.as_bytes()) {
        return None;
    }
    let desde = app
        .clock
        .now_local()
        .checked_sub(jiff::Span::new().days(DIAS_PASSADOS))
        .ok()?;
    let ate = jiff::civil::DateTime::MAX;
    let local = app.config.clinica_nome.as_str();
    let mut out = String::with_capacity(4096);
    let mut eventos = 0usize;
    match dono {
        Dono::Medico(id) => {
            let m = db.medicos.get(id)?;
            abrir(&mut out, Some(&format!("Consultas — {}", m.nome)));
            for c in db.consultas.of_medico(id, desde, ate) {
                eventos += 1;
                let resumo = format!("Consulta {}", c.inicio.strftime("%H:%M"));
                let texto = Texto {
                    resumo: &resumo,
                    descricao: None,
                    local,
                };
                evento(&mut out, &db, app, c, &texto);
            }
        }
        Dono::Paciente(id) => {
            db.pacientes.get(id)?;
            abrir(&mut out, Some("Minhas consultas"));
            for c in db.consultas.of_paciente(id, desde, ate) {
                eventos += 1;
                let resumo = resumo_medico(db.medicos.get(&c.medico_id).map(|m| &**m));
                let texto = Texto {
                    resumo: &resumo,
                    descricao: None,
                    local,
                };
                evento(&mut out, &db, app, c, &texto);
            }
        }
    }
    drop(db);
    if eventos == 0 {
        fuso(&mut out, &app.config.timezone, app.clock.tz());
    }
    linha(&mut out, "END:VCALENDAR");
    let etag = format!("\"{}\"", &hex::encode(Sha256::digest(out.as_bytes()))[..32]);
    Some(Feed { ics: out, etag })
}

/// The clinic's zone as a `VTIMEZONE` with its offset of now: RFC 5545 asks a calendar for
/// at least one component, and a feed with no appointment (a new doctor) has no event. No
/// time refers to it (they are all UTC), so one offset is enough.
fn fuso(out: &mut String, nome: &str, tz: &jiff::tz::TimeZone) {
    let segundos = tz.to_offset(jiff::Timestamp::now()).seconds();
    let sinal = if segundos < 0 { '-' } else { '+' };
    let minutos = segundos.unsigned_abs() / 60;
    let offset = format!("{sinal}{:02}{:02}", minutos / 60, minutos % 60);
    linha(out, "BEGIN:VTIMEZONE");
    linha(out, &format!("TZID:{}", escapar(nome)));
    linha(out, "BEGIN:STANDARD");
    linha(out, "DTSTART:19700101T000000");
    linha(out, &format!("TZOFFSETFROM:{offset}"));
    linha(out, &format!("TZOFFSETTO:{offset}"));
    linha(out, "END:STANDARD");
    linha(out, "END:VTIMEZONE");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped() {
        assert_eq!(escapar("a,b;c\\d\r\ne"), "a\\,b\\;c\\\\d\\ne");
    }

    #[test]
    fn lines_fold_at_75_octets_on_character_boundaries() {
        let mut out = String::new();
        let v = format!("SUMMARY:{}", "Consulta — Dra. Conceição Áurea ".repeat(6));
        linha(&mut out, &v);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= 75, "{} octets: {l}", l.len());
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, v);
    }

    #[test]
    fn equal_bytes() {
        assert!(iguais(b"abc", b"abc"));
        assert!(!iguais(b"abc", b"abd"));
        assert!(!iguais(b"abc", b"ab"));
    }
}
