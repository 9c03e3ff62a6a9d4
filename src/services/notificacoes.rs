//! The outbox (SPEC-2 §13): notifications derived from every write's own operations and
//! journaled in the same entry (the store runs [`derivar`] on every write, so no path can
//! forget it), the delivery worker that sends them at least once, and the queries of
//! `/notificacoes`.
//!
//! - One notification per event, channel and recipient: for each active webhook subscribed
//!   to the event, one `webhook` notification; with `--smtp-url`, one `email` notification
//!   to the patient when they have an address and have not opted out (sent by
//!   [`super::email`] with the appointment's `.ics` and its public link, from the records as
//!   they are at delivery).
//! - Reminders (`consulta.lembrete`): one per lead time of `lembretes_horas` per channel,
//!   created with the booking (due at start − lead; none for a lead time already past),
//!   deleted and created again when the appointment moves, deleted when it stops being
//!   active. At delivery a reminder whose appointment started or is no longer active is
//!   dropped (`falhou` with `ultimo_erro`, no attempt counted).
//! - Delivery: a tokio task wakes at the earliest due notification (or when a write creates
//!   one), sends up to [`EM_VOO`] at once, and journals each attempt's outcome (the outcomes
//!   that end within 50 ms of each other share one journal entry); a crash between
//!   sending and journaling sends again with the same `webhook-id`. The attempts run
//!   on a lower-priority thread of their own ([`iniciar`]); their outcomes are journaled on
//!   the server's runtime, so the store's lock is never held by a thread that yields its core.

use std::collections::HashSet;
use std::ops::Bound;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use hmac::Mac as _;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use parking_lot::Mutex;

use super::{App, AppState, Contexto, Janela, Recorte};
use crate::domain::{Momento, Relogio};
use crate::error::AppError;
use crate::infra::webhooks::Cliente;
use crate::models::{
    Canal, Consulta, EntradaEspera, Notificacao, NotificacaoPublica, StatusConsulta, StatusEspera,
    StatusNotificacao, Webhook,
};
use crate::repositories::{Db, Op};

/// Deliveries in flight at once.
pub const EM_VOO: usize = 32;

/// How long a stop waits for the attempts in flight: the longest attempt (an e-mail's whole
/// send, 30 s; a webhook's is 10 s), and a little more.
pub const ESPERA_AO_PARAR: Duration = Duration::from_secs(32);
/// The reminder event.
pub const LEMBRETE: &str = "consulta.lembrete";
/// Longest `ultimo_erro` kept.
const MAX_ERRO: usize = 300;

/// A new pending notification.
#[allow(clippy::too_many_arguments)] // one per field of the record, all named at the call
fn nova(
    evento: &str,
    canal: Canal,
    destino: &str,
    consulta_id: Option<&str>,
    lista_espera_id: Option<&str>,
    lembrete_horas: Option<u32>,
    proxima: Option<Timestamp>,
    em: &str,
) -> Op {
    Op::PutNotificacao(Arc::new(Notificacao {
        id: uuid::Uuid::now_v7().to_string(),
        evento: evento.to_owned(),
        canal,
        destino: destino.to_owned(),
        consulta_id: consulta_id.map(str::to_owned),
        lista_espera_id: lista_espera_id.map(str::to_owned),
        lembrete_horas,
        status: StatusNotificacao::Pendente,
        tentativas: 0,
        proxima_tentativa_em: proxima,
        ultimo_erro: None,
        created_at: em.to_owned(),
        enviada_em: None,
        consulta: None,
    }))
}

/// The notifications a write's `ops` cause, decided against `db` before they apply (see
/// the module's documentation). `agora` decides which reminders are already past.
/// `email`: whether this server sends e-mail (`--smtp-url`): then each event also writes one
/// `email` notification to the patient, when they have an address and have not opted out.
pub fn derivar(
    db: &Db,
    ops: &[Op],
    tz: &TimeZone,
    agora: Timestamp,
    em: &str,
    email: bool,
) -> Vec<Op> {
    let ativos: Vec<&Arc<Webhook>> = db.webhooks.iter().filter(|w| w.ativo).collect();
    if ativos.is_empty() && !email && db.notificacoes.pendentes() == 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    // Only for writes that arm reminders.
    let mut lembrar: Option<Lembrar<'_>> = None;
    let para = |out: &mut Vec<Op>, evento: &str, c: Option<&str>, e: Option<&str>, p: &str| {
        for w in ativos.iter().filter(|w| w.recebe(evento)) {
            out.push(nova(evento, Canal::Webhook, &w.id, c, e, None, None, em));
        }
        if let Some(endereco) = email.then(|| endereco_email(db, p)).flatten() {
            out.push(nova(evento, Canal::Email, endereco, c, e, None, None, em));
        }
    };
    for op in ops {
        match op {
            Op::PutConsulta(c) => {
                let (eventos, desarmar, armar) = mudancas(db.consultas.get(&c.id), c);
                if desarmar {
                    out.extend(lembretes_pendentes(db, &c.id));
                }
                for ev in eventos {
                    para(&mut out, ev, Some(&c.id), None, &c.paciente_id);
                }
                if armar {
                    let l = lembrar.get_or_insert_with(|| Lembrar::de(db, email));
                    out.extend(
                        l.desejados(db, c, tz, agora)
                            .into_iter()
                            .map(|d| lembrete(&c.id, d, em)),
                    );
                }
            }
            Op::DelConsulta(id) => {
                out.extend(lembretes_pendentes(db, id));
                out.extend(guardar_consulta(db, id));
            }
            Op::PutEspera(e) if oferta_nova(db.lista_espera.get(&e.id), e) => {
                para(
                    &mut out,
                    "lista_espera.vaga_oferecida",
                    None,
                    Some(&e.id),
                    &e.paciente_id,
                );
            }
            _ => {}
        }
    }
    out
}

/// What an appointment's change means: its events, whether its pending reminders go, and
/// whether reminders are armed (again).
fn mudancas(old: Option<&Arc<Consulta>>, c: &Consulta) -> (Vec<&'static str>, bool, bool) {
    let Some(o) = old else {
        return if c.status.is_active() {
            (vec!["consulta.agendada"], false, true)
        } else {
            (vec![], false, false)
        };
    };
    let mut eventos = Vec::new();
    let movida = o.inicio != c.inicio || o.inicio_offset != c.inicio_offset;
    if o.status != c.status {
        match c.status {
            StatusConsulta::Confirmada => eventos.push("consulta.confirmada"),
            StatusConsulta::Cancelada => eventos.push("consulta.cancelada"),
            StatusConsulta::Faltou => eventos.push("consulta.faltou"),
            StatusConsulta::Agendada | StatusConsulta::Concluida => {}
        }
    }
    if movida && c.status.is_active() {
        eventos.push("consulta.remarcada");
    }
    let ativa = c.status.is_active();
    let rearmar = ativa && (movida || !o.status.is_active());
    let desarmar = rearmar || (o.status.is_active() && !ativa);
    (eventos, desarmar, rearmar)
}

/// Whether `e` carries an offer `old` did not.
fn oferta_nova(old: Option<&Arc<EntradaEspera>>, e: &EntradaEspera) -> bool {
    e.status == StatusEspera::Oferecida
        && e.oferta.is_some()
        && old.is_none_or(|o| o.status != StatusEspera::Oferecida || o.oferta != e.oferta)
}

/// Deletes of the pending reminders of appointment `consulta_id`.
fn lembretes_pendentes(db: &Db, consulta_id: &str) -> Vec<Op> {
    db.notificacoes
        .da_consulta(consulta_id)
        .filter(|n| n.evento == LEMBRETE && n.status == StatusNotificacao::Pendente)
        .map(|n| Op::DelNotificacao(n.id.clone()))
        .collect()
}

/// The events that still go out after their appointment is deleted: the ones that say it
/// ended. A pending `agendada`, `confirmada`, `remarcada` or reminder of a deleted
/// appointment is dropped: it would announce an appointment that no longer exists.
const DEPOIS_DE_EXCLUIDA: [&str; 2] = ["consulta.cancelada", "consulta.faltou"];

/// An appointment about to be deleted: each of its pending notifications of
/// [`DEPOIS_DE_EXCLUIDA`] keeps a copy of it, so it still goes out (a `consulta.cancelada`
/// whose receiver was down, then the appointment deleted).
fn guardar_consulta(db: &Db, consulta_id: &str) -> Vec<Op> {
    let Some(c) = db.consultas.get(consulta_id) else {
        return Vec::new();
    };
    db.notificacoes
        .da_consulta(consulta_id)
        .filter(|n| {
            DEPOIS_DE_EXCLUIDA.contains(&n.evento.as_str())
                && n.status == StatusNotificacao::Pendente
        })
        .map(|n| {
            Op::PutNotificacao(Arc::new(Notificacao {
                consulta: Some(c.clone()),
                ..Notificacao::clone(n)
            }))
        })
        .collect()
}

/// The address patient `paciente_id` gets e-mail at: none without one or after the opt-out
/// (`notificacoes_email: false`).
fn endereco_email<'a>(db: &'a Db, paciente_id: &str) -> Option<&'a str> {
    db.pacientes
        .get(paciente_id)
        .filter(|p| p.notificacoes_email)
        .and_then(|p| p.email.as_deref())
        .filter(|e| !e.trim().is_empty())
}

/// Where and when reminders go, as the clinic stands in `db`: the active webhooks subscribed
/// to them, whether e-mail is on, and the lead times of the rules. Taken once per write or
/// pass.
struct Lembrar<'a> {
    inscritos: Vec<&'a Arc<Webhook>>,
    email: bool,
    horas: Vec<u32>,
}

impl<'a> Lembrar<'a> {
    fn de(db: &'a Db, email: bool) -> Self {
        Lembrar {
            inscritos: db
                .webhooks
                .iter()
                .filter(|w| w.ativo && w.recebe(LEMBRETE))
                .collect(),
            email,
            horas: super::regras::atuais(db).lembretes_horas,
        }
    }

    /// The reminders appointment `c` should have: `(lead time, due, channel, destination)`
    /// for each lead time still ahead of `agora`, for every subscribed webhook and (with
    /// e-mail on) the patient's address.
    fn desejados(
        &self,
        db: &'a Db,
        c: &Consulta,
        tz: &TimeZone,
        agora: Timestamp,
    ) -> Vec<(u32, Timestamp, Canal, &'a str)> {
        let endereco = self
            .email
            .then(|| endereco_email(db, &c.paciente_id))
            .flatten();
        if self.inscritos.is_empty() && endereco.is_none() {
            return Vec::new();
        }
        let inicio = Momento::stored(c.inicio, c.inicio_offset, tz).instante;
        let mut out = Vec::new();
        for &h in &self.horas {
            let Ok(vence) = inicio.checked_sub(SignedDuration::from_hours(i64::from(h))) else {
                continue;
            };
            if vence <= agora {
                continue;
            }
            let destinos = self
                .inscritos
                .iter()
                .map(|w| (Canal::Webhook, w.id.as_str()))
                .chain(endereco.map(|e| (Canal::Email, e)));
            out.extend(destinos.map(|(canal, destino)| (h, vence, canal, destino)));
        }
        out
    }

    /// What keeps appointment `c`'s reminders from being in line with the clinic as it is
    /// now: the pending ones for a lead time no longer in `lembretes_horas` (to delete), and
    /// the reminders [`Lembrar::desejados`] that have no notification yet (to make). One in
    /// any status counts: a reminder already sent or failed is never made again; an e-mail
    /// reminder goes to the patient's address of the day it is sent, so any e-mail one counts
    /// for its lead time. Without this, a webhook subscribed, an e-mail address or a lead
    /// time added after the booking, or a restore (which leaves the outbox behind), would
    /// leave an active appointment without the reminders SPEC-2 §13 promises.
    #[allow(clippy::type_complexity)]
    fn desacertos(
        &self,
        db: &'a Db,
        c: &Consulta,
        tz: &TimeZone,
        agora: Timestamp,
    ) -> (Vec<&'a str>, Vec<(u32, Timestamp, Canal, &'a str)>) {
        let existentes: Vec<&'a Arc<Notificacao>> = db
            .notificacoes
            .da_consulta(&c.id)
            .filter(|n| n.evento == LEMBRETE)
            .collect();
        let obsoletos = existentes
            .iter()
            .filter(|n| n.status == StatusNotificacao::Pendente)
            .filter(|n| n.lembrete_horas.is_none_or(|h| !self.horas.contains(&h)))
            .map(|n| n.id.as_str())
            .collect();
        let faltam = self
            .desejados(db, c, tz, agora)
            .into_iter()
            .filter(|&(h, _, canal, destino)| {
                !existentes.iter().any(|e| {
                    e.lembrete_horas == Some(h)
                        && e.canal == canal
                        && (canal == Canal::Email || e.destino == destino)
                })
            })
            .collect();
        (obsoletos, faltam)
    }
}

/// A new pending reminder of appointment `consulta_id`, as [`Lembrar::desejados`] describes it.
fn lembrete(
    consulta_id: &str,
    (h, vence, canal, destino): (u32, Timestamp, Canal, &str),
    em: &str,
) -> Op {
    nova(
        LEMBRETE,
        canal,
        destino,
        Some(consulta_id),
        None,
        Some(h),
        Some(vence),
        em,
    )
}

/// The ids of the active appointments starting (clinic time) in `[de, ate)` and still ahead
/// of `agora` whose reminders are not in line (see [`Lembrar::desacertos`]).
pub fn lembretes_a_acertar(
    db: &Db,
    tz: &TimeZone,
    agora: Timestamp,
    email: bool,
    (de, ate): (DateTime, DateTime),
) -> Vec<String> {
    let lembrar = Lembrar::de(db, email);
    if lembrar.inscritos.is_empty() && !email && db.notificacoes.pendentes() == 0 {
        return Vec::new();
    }
    db.consultas
        .starting_between(Bound::Included(de), Bound::Excluded(ate))
        .filter(|c| c.status.is_active())
        .filter(|c| Momento::stored(c.inicio, c.inicio_offset, tz).instante > agora)
        .filter(|c| {
            let (obsoletos, faltam) = lembrar.desacertos(db, c, tz, agora);
            !obsoletos.is_empty() || !faltam.is_empty()
        })
        .map(|c| c.id.clone())
        .collect()
}

/// Appointments whose reminders are put in line per write.
const LOTE_ACERTO: usize = 5_000;

/// Brings the reminders of every active appointment ahead in line (see
/// [`Lembrar::desacertos`]): finds them with reads of one day of appointments each (a
/// short read lock each, so writers never wait behind the whole agenda), then writes for
/// those only, [`LOTE_ACERTO`] per write; returns how many it went through. Housekeeping
/// runs it every minute, and a restore right after it switched the state.
pub async fn acertar_lembretes(app: &App) -> Result<usize, AppError> {
    let agora = Timestamp::now();
    let tz = app.clock.tz();
    let email = app.email.is_some();
    // A day of margin covers any offset between a stored local start and `agora`.
    let mut dia = agora
        .to_zoned(tz.clone())
        .datetime()
        .date()
        .yesterday()
        .unwrap_or(jiff::civil::Date::MIN)
        .to_datetime(jiff::civil::Time::midnight());
    let ultimo = app
        .store
        .read()
        .consultas
        .iter()
        .next_back()
        .map(|c| c.inicio);
    let mut ids = Vec::new();
    while let Some(fim) = ultimo.filter(|f| *f >= dia) {
        let seguinte = dia
            .checked_add(jiff::Span::new().days(1))
            .unwrap_or(DateTime::MAX);
        let db = app.store.read();
        ids.extend(lembretes_a_acertar(&db, tz, agora, email, (dia, seguinte)));
        drop(db);
        if seguinte == DateTime::MAX || seguinte > fim {
            break;
        }
        dia = seguinte;
    }
    let mut total = 0;
    for lote in ids.chunks(LOTE_ACERTO) {
        total += acertar_lote(app, lote.to_vec()).await?;
    }
    Ok(total)
}

/// Brings the reminders of the appointments `ids` in line (see [`Lembrar::desacertos`]), in
/// one write; returns how many appointments it went through.
async fn acertar_lote(app: &App, ids: Vec<String>) -> Result<usize, AppError> {
    let email = app.email.is_some();
    let clock = app.clock.clone();
    let n = ids.len();
    app.write(move |db| {
        let agora = Timestamp::now();
        let em = clock.stamp_at(agora);
        let lembrar = Lembrar::de(db, email);
        let mut ops = Vec::new();
        for c in ids.iter().filter_map(|id| db.consultas.get(id)) {
            if !c.status.is_active() {
                continue;
            }
            let (obsoletos, faltam) = lembrar.desacertos(db, c, clock.tz(), agora);
            ops.extend(
                obsoletos
                    .into_iter()
                    .map(|id| Op::DelNotificacao(id.to_owned())),
            );
            ops.extend(faltam.into_iter().map(|d| lembrete(&c.id, d, &em)));
        }
        Ok((ops, n))
    })
    .await
}

/// `j***@exemplo.com`.
pub fn mascarar_email(s: &str) -> String {
    match s.split_once('@') {
        Some((local, dominio)) => {
            let primeira: String = local.chars().take(1).collect();
            format!("{primeira}***@{dominio}")
        }
        None => "***".into(),
    }
}

/// A notification as the API shows it.
pub fn publica(app: &App, n: &Notificacao) -> NotificacaoPublica {
    NotificacaoPublica {
        id: n.id.clone(),
        evento: n.evento.clone(),
        canal: n.canal,
        destino: match n.canal {
            Canal::Email => mascarar_email(&n.destino),
            Canal::Webhook => n.destino.clone(),
        },
        consulta_id: n.consulta_id.clone(),
        lista_espera_id: n.lista_espera_id.clone(),
        lembrete_horas: n.lembrete_horas,
        status: n.status,
        tentativas: n.tentativas,
        proxima_tentativa_em: n.proxima_tentativa_em.map(|t| app.clock.stamp_at(t)),
        ultimo_erro: n.ultimo_erro.clone(),
        created_at: n.created_at.clone(),
        enviada_em: n.enviada_em.clone(),
    }
}

/// Filters of `GET /notificacoes`.
#[derive(Debug, Default)]
pub struct FiltroNotificacoes {
    /// Only this status.
    pub status: Option<StatusNotificacao>,
    /// Only this channel.
    pub canal: Option<Canal>,
    /// Only about this appointment.
    pub consulta_id: Option<String>,
    /// Only this event.
    pub evento: Option<String>,
}

/// One page of the notifications that pass `f`, newest first.
pub fn page(app: &App, f: &FiltroNotificacoes, janela: Janela) -> Recorte<NotificacaoPublica> {
    let db = app.store.read();
    let keep = |n: &&Arc<Notificacao>| {
        f.status.is_none_or(|s| n.status == s)
            && f.canal.is_none_or(|c| n.canal == c)
            && f.consulta_id
                .as_ref()
                .is_none_or(|c| n.consulta_id.as_ref() == Some(c))
            && f.evento.as_ref().is_none_or(|e| &n.evento == e)
    };
    let r = if let Some(c) = &f.consulta_id {
        let mut v: Vec<&Arc<Notificacao>> = db.notificacoes.da_consulta(c).filter(keep).collect();
        v.sort_by(|a, b| b.id.cmp(&a.id));
        janela.recortar(v.into_iter(), None)
    } else {
        janela.recortar(db.notificacoes.iter().rev().filter(keep), None)
    };
    Recorte {
        itens: r.itens.iter().map(|n| Arc::new(publica(app, n))).collect(),
        total: r.total,
    }
}

/// `POST /notificacoes/{id}/reenviar` (202, SPEC-2 §13): a `falhou` or `enviada` one is
/// pending again with its attempts reset, due now; a `pendente` one is due now (attempts
/// kept). A delivered one goes out again with the same id (`webhook-id`): a receiver that
/// acknowledged it and then lost it gets it back, one that kept it recognises it.
pub async fn reenviar(app: &App, ctx: &Contexto, id: &str) -> Result<NotificacaoPublica, AppError> {
    let agora = Timestamp::now();
    let n = app
        .commit_reply(
            ctx,
            |db| {
                let n = db
                    .notificacoes
                    .get(id)
                    .ok_or_else(|| AppError::not_found("Notificação"))?;
                let mut novo = Notificacao::clone(n);
                match n.status {
                    StatusNotificacao::Enviada | StatusNotificacao::Falhou => {
                        novo.tentativas = 0;
                        novo.enviada_em = None;
                        novo.ultimo_erro = None;
                    }
                    StatusNotificacao::Pendente => {}
                }
                novo.status = StatusNotificacao::Pendente;
                novo.proxima_tentativa_em = Some(agora);
                let novo = Arc::new(novo);
                Ok((vec![Op::PutNotificacao(novo.clone())], publica(app, &novo)))
            },
            |p| p,
        )
        .await?;
    app.events.publish("notificacao_atualizada", &n);
    app.avisos.notify_one();
    Ok(n)
}

/// The deletions of the finished (`enviada` or `falhou`) notifications whose last activity
/// was before `limite`: the latest of their creation, their delivery and, for a reminder,
/// their appointment's start (a reminder created months ahead and delivered yesterday stays).
/// At most `max`; pending ones are never among them.
pub fn esquecidas(db: &Db, tz: &TimeZone, limite: Timestamp, max: usize) -> Vec<Op> {
    let antes = |s: &str| s.parse::<Timestamp>().is_ok_and(|t| t < limite);
    db.notificacoes
        .iter()
        // Oldest first (UUID v7 ids): nothing created after the limit qualifies.
        .take_while(|n| antes(&n.created_at))
        .filter(|n| n.status != StatusNotificacao::Pendente)
        .filter(|n| n.enviada_em.as_deref().is_none_or(antes))
        .filter(|n| {
            n.evento != LEMBRETE
                || n.consulta_id
                    .as_deref()
                    .and_then(|id| db.consultas.get(id))
                    .is_none_or(|c| {
                        Momento::stored(c.inicio, c.inicio_offset, tz).instante < limite
                    })
        })
        .take(max)
        .map(|n| Op::DelNotificacao(n.id.clone()))
        .collect()
}

/// Forgets at most `max` finished notifications older than `--notificacoes-dias` (see
/// [`esquecidas`]), in one write; returns how many went.
pub async fn esquecer(app: &App, max: usize) -> Result<usize, AppError> {
    let dias = i64::try_from(app.config.notificacoes_dias).unwrap_or(36_500);
    let limite = Timestamp::now()
        .checked_sub(SignedDuration::from_hours(dias.saturating_mul(24)))
        .unwrap_or(Timestamp::MIN);
    let tz = app.clock.tz().clone();
    app.write(move |db| {
        let ops = esquecidas(db, &tz, limite, max);
        let n = ops.len();
        Ok((ops, n))
    })
    .await
}

/// Notifications by status and channel (the metrics gauge).
pub fn contagens(db: &Db) -> Vec<(&'static str, &'static str, usize)> {
    let mut c = std::collections::HashMap::<(StatusNotificacao, Canal), usize>::new();
    for n in db.notificacoes.iter() {
        *c.entry((n.status, n.canal)).or_default() += 1;
    }
    let mut out = Vec::new();
    for s in [
        StatusNotificacao::Pendente,
        StatusNotificacao::Enviada,
        StatusNotificacao::Falhou,
    ] {
        for k in [Canal::Email, Canal::Webhook] {
            out.push((s.as_str(), k.as_str(), c.get(&(s, k)).copied().unwrap_or(0)));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Delivery

/// The Standard Webhooks signature of `id.timestamp.body` with secret `segredo`
/// (`v1,` + base64 of the HMAC-SHA256).
pub fn assinar(segredo: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, String> {
    let chave = super::webhooks::chave(segredo)?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&chave)
        .map_err(|_| "segredo: chave inválida".to_owned())?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// What one attempt came to.
enum Desfecho {
    /// 2xx (a webhook) or accepted by the relay (an e-mail: the address it went to, the
    /// patient's of the day it was sent).
    Entregue(Option<String>),
    /// Failed; retried on the schedule (`desativar`: a 410, which also ends it).
    Falha { erro: String, desativar: bool },
    /// Not attempted: it cannot be delivered (no attempt counted).
    Descartada(String),
    /// Attempted and refused for good (an SMTP 5xx): `falhou` at once, the attempt counted.
    Recusada(String),
}

/// Why reminder `n` must not go out at `agora`: its appointment is gone, no longer active,
/// or has started.
pub fn lembrete_obsoleto(c: Option<&Consulta>, tz: &TimeZone, agora: Timestamp) -> Option<String> {
    let Some(c) = c else {
        return Some("a consulta foi excluída".into());
    };
    if !c.status.is_active() {
        return Some(format!("a consulta está {}", c.status.as_str()));
    }
    let inicio = Momento::stored(c.inicio, c.inicio_offset, tz).instante;
    (agora >= inicio).then(|| "a consulta já começou: lembrete descartado".into())
}

/// The records a notification is about, as they are at delivery.
#[derive(Default)]
struct Assunto {
    /// Its appointment (`consulta.*` events).
    consulta: Option<Arc<Consulta>>,
    /// Its waiting-list entry (`lista_espera.vaga_oferecida`).
    espera: Option<Arc<EntradaEspera>>,
    /// The patient, when the record still exists.
    paciente: Option<Arc<crate::models::Paciente>>,
    /// The doctor (of the appointment, or of the entry's offer), when it still exists.
    medico: Option<Arc<crate::models::Medico>>,
}

/// What notification `n` is about, or why it cannot be delivered: its appointment is gone,
/// or it is a reminder whose appointment started or is no longer active; its waiting-list
/// entry is gone. One lookup for every channel.
fn assunto(db: &Db, n: &Notificacao, tz: &TimeZone, agora: Timestamp) -> Result<Assunto, String> {
    if let Some(id) = &n.consulta_id {
        let c = db
            .consultas
            .get(id)
            .or(n.consulta.as_ref())
            .cloned()
            .ok_or_else(|| "a consulta foi excluída".to_owned())?;
        if n.evento == LEMBRETE
            && let Some(m) = lembrete_obsoleto(Some(&c), tz, agora)
        {
            return Err(m);
        }
        return Ok(Assunto {
            paciente: db.pacientes.get(&c.paciente_id).cloned(),
            medico: db.medicos.get(&c.medico_id).cloned(),
            consulta: Some(c),
            espera: None,
        });
    }
    let Some(id) = &n.lista_espera_id else {
        return Ok(Assunto::default());
    };
    let e = db
        .lista_espera
        .get(id)
        .cloned()
        .ok_or_else(|| "a entrada da lista de espera não existe".to_owned())?;
    Ok(Assunto {
        paciente: db.pacientes.get(&e.paciente_id).cloned(),
        medico: e
            .oferta
            .as_ref()
            .and_then(|o| db.medicos.get(&o.medico_id).cloned()),
        consulta: None,
        espera: Some(e),
    })
}

/// A webhook delivery's body (SPEC-2 §13): `{"type", "timestamp", "data"}`, serialized
/// straight from the records (absent parts of `data` are left out).
#[derive(serde::Serialize)]
struct Corpo<'a> {
    #[serde(rename = "type")]
    tipo: &'a str,
    timestamp: String,
    data: DadosDoCorpo<'a>,
}

/// The `data` of a webhook body.
#[derive(serde::Serialize, Default)]
struct DadosDoCorpo<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    consulta: Option<ConsultaDoCorpo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lista_espera: Option<&'a EntradaEspera>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paciente: Option<PacienteDoCorpo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    medico: Option<MedicoDoCorpo<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    lembrete_horas: Option<u32>,
}

/// The appointment as a webhook body shows it: what an integrator acts on (who, when, its
/// state), without the doctor's free-text notes (`observacoes`, health data that a
/// messaging provider has no business receiving) or the payment. `inicio_em`/`fim_em` are
/// the instants (RFC 3339, UTC), for a receiver that does not know the clinic's zone.
#[derive(serde::Serialize)]
struct ConsultaDoCorpo<'a> {
    id: &'a str,
    paciente_id: &'a str,
    medico_id: &'a str,
    #[serde(with = "crate::models::local_dt")]
    inicio: jiff::civil::DateTime,
    #[serde(with = "crate::models::local_dt")]
    fim: jiff::civil::DateTime,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::models::offset_opt"
    )]
    inicio_offset: Option<jiff::tz::Offset>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        with = "crate::models::offset_opt"
    )]
    fim_offset: Option<jiff::tz::Offset>,
    inicio_em: Timestamp,
    fim_em: Timestamp,
    status: crate::models::StatusConsulta,
    #[serde(skip_serializing_if = "Option::is_none")]
    serie_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    motivo_cancelamento: Option<&'a str>,
    created_at: &'a str,
    updated_at: &'a str,
}

impl<'a> ConsultaDoCorpo<'a> {
    fn de(c: &'a Consulta, tz: &TimeZone) -> Self {
        let iv = c.intervalo(tz);
        Self {
            id: &c.id,
            paciente_id: &c.paciente_id,
            medico_id: &c.medico_id,
            inicio: c.inicio,
            fim: c.fim,
            inicio_offset: c.inicio_offset,
            fim_offset: c.fim_offset,
            inicio_em: iv.inicio_em,
            fim_em: iv.fim_em,
            status: c.status,
            serie_id: c.serie_id.as_deref(),
            motivo_cancelamento: c.motivo_cancelamento.as_deref(),
            created_at: &c.created_at,
            updated_at: &c.updated_at,
        }
    }
}

/// The patient as a webhook body shows them.
#[derive(serde::Serialize)]
struct PacienteDoCorpo<'a> {
    id: &'a str,
    nome: &'a str,
    email: Option<&'a str>,
    telefone: Option<&'a str>,
}

/// The doctor as a webhook body shows them.
#[derive(serde::Serialize)]
struct MedicoDoCorpo<'a> {
    id: &'a str,
    nome: &'a str,
    especialidade: &'a str,
}

/// The body and the webhook of an attempt, or why there is none.
fn preparar(
    app: &App,
    n: &Notificacao,
    agora: Timestamp,
) -> Result<(Arc<Webhook>, Vec<u8>), String> {
    // Only the lookups hold the store's read lock (the records are shared `Arc`s): the
    // body is built after it is released, so deliveries never hold up the writes.
    let (w, a) = {
        let db = app.store.read();
        let w = db
            .webhooks
            .get(&n.destino)
            .cloned()
            .ok_or_else(|| "o webhook foi excluído".to_owned())?;
        if !w.ativo {
            return Err("o webhook está inativo".into());
        }
        // Its subscription as it is now: an event taken off `eventos` is no longer sent,
        // not even what was queued (or armed, as reminders are) before the change.
        if !w.eventos.contains(&n.evento) {
            return Err("o webhook não assina mais este evento".into());
        }
        (w, assunto(&db, n, app.clock.tz(), agora)?)
    };
    let paciente = a.paciente.as_deref().map(|p| PacienteDoCorpo {
        id: &p.id,
        nome: &p.nome,
        email: p.email.as_deref(),
        telefone: p.telefone.as_deref(),
    });
    let medico = a.medico.as_deref().map(|m| MedicoDoCorpo {
        id: &m.id,
        nome: &m.nome,
        especialidade: &m.especialidade,
    });
    let data = match (a.consulta.as_deref(), a.espera.as_deref()) {
        (Some(c), _) => DadosDoCorpo {
            consulta: Some(ConsultaDoCorpo::de(c, app.clock.tz())),
            lista_espera: None,
            paciente,
            medico,
            lembrete_horas: n.lembrete_horas,
        },
        (None, Some(e)) => DadosDoCorpo {
            consulta: None,
            lista_espera: Some(e),
            paciente,
            medico,
            lembrete_horas: None,
        },
        (None, None) => DadosDoCorpo::default(),
    };
    let body = Corpo {
        tipo: &n.evento,
        timestamp: ocorrido(n, a.consulta.as_deref(), app.clock.tz(), agora).to_string(),
        data,
    };
    let bytes = serde_json::to_vec(&body).map_err(|e| format!("corpo: {e}"))?;
    Ok((w, bytes))
}

/// When notification `n`'s event happened (the body's `timestamp`, per Standard Webhooks;
/// the `webhook-timestamp` header carries the attempt's time): a reminder's is when it fell
/// due (the appointment's start less its lead time), any other's when it was written (the
/// change's write). `agora` only if neither can be read.
fn ocorrido(n: &Notificacao, c: Option<&Consulta>, tz: &TimeZone, agora: Timestamp) -> Timestamp {
    if let (Some(h), Some(c)) = (n.lembrete_horas, c) {
        return c
            .intervalo(tz)
            .inicio_em
            .checked_sub(SignedDuration::from_hours(i64::from(h)))
            .unwrap_or(agora);
    }
    n.created_at.parse().unwrap_or(agora)
}

/// The e-mail of notification `n`, from the records as they are now (SPEC-2 §13): the
/// patient's current address and opt-out, the appointment's `.ics` (the patient's copy) and
/// its public link when `--url-publica` is set; or why there is none.
fn mensagem_email(
    app: &App,
    n: &Notificacao,
    agora: Timestamp,
) -> Result<super::email::Mensagem, String> {
    use super::email::{EventoConsulta, Links, Sobre, mensagem};
    let db = app.store.read();
    let a = assunto(&db, n, app.clock.tz(), agora)?;
    let sem_envio = || "o paciente não tem e-mail ou optou por não receber".to_owned();
    let paciente = a
        .paciente
        .ok_or_else(|| "o paciente foi excluído".to_owned());
    let medico = a.medico.ok_or_else(|| "o médico foi excluído".to_owned());
    if let Some(c) = a.consulta {
        let evento = EventoConsulta::parse(&n.evento)
            .ok_or_else(|| format!("evento sem e-mail: {}", n.evento))?;
        // A booking, confirmation or move whose e-mail is still pending (the relay failed)
        // once the appointment was cancelled or is over: "Sua consulta foi agendada" would
        // now mislead the patient, whose last e-mail must be the latest news. A webhook
        // still receives it (with the appointment as it is now): receivers keep the history.
        let iv = c.intervalo(app.clock.tz());
        let novidade = matches!(
            evento,
            EventoConsulta::Agendada | EventoConsulta::Confirmada | EventoConsulta::Remarcada
        );
        if novidade && !c.status.is_active() {
            return Err(format!(
                "a consulta está {}: e-mail desatualizado não enviado",
                c.status.as_str()
            ));
        }
        // Nor once it started: the desk recording a past visit (`POST /consultas` allows
        // it), or an e-mail held up past the start, would tell the patient of a booking
        // already behind them (and add it to their calendar).
        if novidade && agora >= iv.inicio_em {
            return Err("a consulta já começou: e-mail desatualizado não enviado".into());
        }
        let (p, m) = (paciente?, medico?);
        let ics = super::calendario::ics_consulta(app, &db, &c, true);
        // The page shows the appointment with its two buttons (a GET never acts: mail
        // scanners open links). None once it started (the link expires then) or once it
        // was deleted (sent from the notification's copy); no cancel button once the
        // cancellation cutoff passed (it would only answer 409).
        let cancelavel = super::links::cancelavel(&db, agora, iv.inicio_em, c.inicio);
        let links = super::links::url(app, &c)
            .filter(|_| agora < iv.inicio_em && db.consultas.get(&c.id).is_some())
            .map(|ver| Links {
                confirmar: format!("{ver}#confirmar"),
                cancelar: cancelavel.then(|| format!("{ver}#cancelar")),
                ver,
            });
        return mensagem(
            Sobre::Consulta(evento, &c),
            &p,
            &m,
            app.clock.tz(),
            Some(ics),
            links.as_ref(),
            cancelavel,
        )
        .ok_or_else(sem_envio);
    }
    let e = a
        .espera
        .ok_or_else(|| "notificação sem consulta nem lista de espera".to_owned())?;
    // An offer that was booked, lapsed or refused meanwhile (a lapsed entry keeps its last
    // `oferta`): no e-mail offering a slot that is no longer held for the patient.
    let vigente = e.status == crate::models::StatusEspera::Oferecida
        && e.oferta
            .as_ref()
            .is_some_and(|o| o.expira_em.parse::<Timestamp>().is_ok_and(|t| agora < t));
    if !vigente {
        return Err("a oferta já não existe".into());
    }
    let (p, m) = (paciente?, medico?);
    mensagem(
        Sobre::VagaOferecida(&e),
        &p,
        &m,
        app.clock.tz(),
        None,
        None,
        true,
    )
    .ok_or_else(sem_envio)
}

/// One attempt at e-mailing `n`: a temporary failure is retried on the schedule, a
/// permanent one (an SMTP 5xx) ends it.
async fn entregar_email(app: &App, n: &Notificacao) -> Desfecho {
    let Some(remetente) = app.email.clone() else {
        return Desfecho::Descartada("envio de e-mail não configurado (--smtp-url)".into());
    };
    let msg = match mensagem_email(app, n, Timestamp::now()) {
        Ok(m) => m,
        Err(m) => return Desfecho::Descartada(m),
    };
    let para = msg.para_email.clone();
    match remetente.enviar(msg, &n.id).await {
        Ok(()) => Desfecho::Entregue(Some(para)),
        Err(f) if f.repetir() => Desfecho::Falha {
            erro: f.to_string(),
            desativar: false,
        },
        Err(f) => Desfecho::Recusada(f.to_string()),
    }
}

/// One attempt at delivering `n`.
async fn tentar(app: &App, cliente: &Cliente, n: &Notificacao) -> Desfecho {
    if n.canal == Canal::Email {
        return entregar_email(app, n).await;
    }
    let agora = Timestamp::now();
    let (w, body) = match preparar(app, n, agora) {
        Ok(x) => x,
        Err(m) => return Desfecho::Descartada(m),
    };
    let ts = agora.as_second();
    let assinatura = match assinar(&w.segredo, &n.id, ts, &body) {
        Ok(s) => s,
        Err(m) => return Desfecho::Descartada(m),
    };
    let headers = [
        ("webhook-id", n.id.clone()),
        ("webhook-timestamp", ts.to_string()),
        ("webhook-signature", assinatura),
    ];
    match cliente.post(&w.url, &headers, body).await {
        Ok(s) if (200..300).contains(&s) => Desfecho::Entregue(None),
        Ok(410) => Desfecho::Falha {
            erro: "HTTP 410: o receptor encerrou o webhook (desativado)".into(),
            desativar: true,
        },
        Ok(s) => Desfecho::Falha {
            erro: format!("HTTP {s}"),
            desativar: false,
        },
        Err(e) => Desfecho::Falha {
            erro: e,
            desativar: false,
        },
    }
}

/// The wait before retry number `tentativas` (1-based: after the first failed attempt),
/// with ±10 % jitter; `None` when the schedule is over.
pub fn atraso(atrasos: &[u64], tentativas: u32) -> Option<Duration> {
    let base = *atrasos.get(usize::try_from(tentativas).ok()?.checked_sub(1)?)?;
    let r = (uuid::Uuid::new_v4().as_u128() % 2001) as f64 / 10_000.0 - 0.1; // −0.1..=0.1
    let ms = (base as f64 * 1000.0 * (1.0 + r)).max(1.0);
    Some(Duration::from_millis(ms as u64))
}

/// An attempt's outcome on its way to the journal; its place among the outcomes not yet
/// journaled (`vaga`, one of [`POR_REGISTRAR`]) is freed once it is recorded.
struct Resultado {
    n: Arc<Notificacao>,
    d: Desfecho,
    vaga: tokio::sync::OwnedSemaphorePermit,
}

/// Attempts started or ended but not yet journaled, at most (a bound on what a slow disk
/// lets pile up; [`EM_VOO`] bounds those in flight).
const POR_REGISTRAR: usize = 1024;

/// Most outcomes journaled in one write.
const POR_ESCRITA: usize = 256;
/// How long outcomes gather after the first before their write.
const JANELA: Duration = Duration::from_millis(50);

/// Journals the attempts' outcomes: each write takes the outcomes that arrive within
/// [`JANELA`] of the first (up to [`POR_ESCRITA`]), so a busy outbox costs the journal a
/// few writes a second instead of one write (and one turn of the group commit, which the
/// bookings wait for) per delivery. A notification whose outcome waits is still in flight
/// to the worker (never picked again); a crash meanwhile sends it again with the same
/// `webhook-id`, as a crash between sending and journaling always could. Then frees their
/// places and wakes the worker. Ends when every sender is gone (the worker stopped and its
/// deliveries ended).
async fn registrar_sempre(
    app: AppState,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Resultado>,
    em_voo: Arc<Mutex<HashSet<String>>>,
) {
    let mut lote = Vec::with_capacity(POR_ESCRITA);
    let mut stop = app.shutdown.subscribe();
    while rx.recv_many(&mut lote, POR_ESCRITA).await > 0 {
        // The window closes early at shutdown: what was delivered is recorded at once.
        let ate = tokio::time::Instant::now() + JANELA;
        while lote.len() < POR_ESCRITA && !*stop.borrow() {
            let falta = POR_ESCRITA - lote.len();
            tokio::select! {
                r = tokio::time::timeout_at(ate, rx.recv_many(&mut lote, falta)) => match r {
                    Ok(n) if n > 0 => {}
                    _ => break,
                },
                _ = stop.changed() => break,
            }
        }
        let (feitos, vagas): (Vec<_>, Vec<_>) =
            lote.drain(..).map(|r| ((r.n, r.d), r.vaga)).unzip();
        let ids: Vec<String> = feitos.iter().map(|(n, _)| n.id.clone()).collect();
        registrar(&app, feitos).await;
        {
            let mut voando = em_voo.lock();
            for id in &ids {
                voando.remove(id);
            }
        }
        drop(vagas);
        app.avisos.notify_one();
    }
}

/// Journals, in one write, the outcome of each attempt of `lote` (each started from its
/// notification as it was then; skipped when the notification was deleted or changed
/// meanwhile) and announces each.
async fn registrar(app: &App, lote: Vec<(Arc<Notificacao>, Desfecho)>) {
    let agora = Timestamp::now();
    let stamp = app.clock.stamp_at(agora);
    let atrasos = &app.config.webhook_atrasos_segundos;
    let ids: Vec<String> = lote.iter().map(|(n, _)| n.id.clone()).collect();
    let out = app
        .write(|db| {
            let mut ops = Vec::new();
            let mut novos = Vec::new();
            // A webhook turned off by an earlier 410 of the same write.
            let mut desativados = HashSet::new();
            for (n, d) in lote {
                let Some(cur) = db.notificacoes.get(&n.id) else {
                    continue;
                };
                if cur.status != StatusNotificacao::Pendente || cur.tentativas != n.tentativas {
                    continue;
                }
                let mut novo = Notificacao::clone(cur);
                match d {
                    Desfecho::Entregue(para) => {
                        // What `/notificacoes` shows is where it went, not the address the
                        // patient had when it was written.
                        if let Some(para) = para {
                            novo.destino = para;
                        }
                        novo.tentativas += 1;
                        novo.status = StatusNotificacao::Enviada;
                        novo.proxima_tentativa_em = None;
                        novo.ultimo_erro = None;
                        novo.enviada_em = Some(stamp.clone());
                    }
                    Desfecho::Descartada(m) => {
                        novo.status = StatusNotificacao::Falhou;
                        novo.proxima_tentativa_em = None;
                        novo.ultimo_erro = Some(m);
                    }
                    Desfecho::Recusada(m) => {
                        novo.tentativas += 1;
                        novo.status = StatusNotificacao::Falhou;
                        novo.proxima_tentativa_em = None;
                        novo.ultimo_erro = Some(m.chars().take(MAX_ERRO).collect());
                    }
                    Desfecho::Falha { erro, desativar } => {
                        novo.tentativas += 1;
                        novo.ultimo_erro = Some(erro.chars().take(MAX_ERRO).collect());
                        let proxima = atraso(atrasos, novo.tentativas).filter(|_| !desativar);
                        match proxima {
                            Some(d) => {
                                novo.proxima_tentativa_em = agora
                                    .checked_add(SignedDuration::try_from(d).unwrap_or_default())
                                    .ok();
                            }
                            None => {
                                novo.status = StatusNotificacao::Falhou;
                                novo.proxima_tentativa_em = None;
                            }
                        }
                        if desativar
                            && let Some(w) = db.webhooks.get(&novo.destino).filter(|w| w.ativo)
                            && desativados.insert(w.id.clone())
                        {
                            let mut w = Webhook::clone(w);
                            w.ativo = false;
                            w.updated_at = stamp.clone();
                            ops.push(Op::PutWebhook(Arc::new(w)));
                        }
                    }
                }
                let novo = Arc::new(novo);
                ops.push(Op::PutNotificacao(novo.clone()));
                novos.push(novo);
            }
            Ok((ops, novos))
        })
        .await;
    match out {
        Ok(novos) => {
            for novo in novos {
                // A delivery is debug (at a busy clinic's pace a line each would cost more
                // than the request); a failed or retried attempt is what an operator reads.
                if novo.status == StatusNotificacao::Enviada {
                    tracing::debug!(target: "agendamento::notificacoes", notificacao_id = %novo.id,
                        evento = %novo.evento, tentativas = novo.tentativas, "notification delivered");
                } else {
                    tracing::info!(target: "agendamento::notificacoes", notificacao_id = %novo.id,
                        evento = %novo.evento, status = novo.status.as_str(), tentativas = novo.tentativas,
                        "delivery attempt recorded");
                }
                app.events
                    .publish("notificacao_atualizada", &publica(app, &novo));
            }
        }
        Err(e) => {
            // Not journaled: the notifications stay as they were and are tried again.
            for id in &ids {
                tracing::warn!(target: "agendamento::notificacoes", notificacao_id = %id, error = %e, "delivery outcome not recorded");
            }
        }
    }
}

/// Waits until every write applied so far is durable (a notification is never sent for a
/// change the disk might still refuse); false when it is not after a few seconds (storage
/// stalled or failing: nothing is sent, the next round waits again). Woken by the store
/// when the position moves, not by polling.
async fn esperar_duravel(app: &App) -> bool {
    let alvo = app.store.applied_seq();
    app.store.wait_position(alvo, Duration::from_secs(5)).await
}

/// How `derivar` runs on every write (`app.rs` composes it into the store's derive step, at
/// the write's time `agora`, stamped `em`); wakes the delivery worker when it created
/// something.
pub fn derivacao(
    clock: Relogio,
    acorda: Arc<tokio::sync::Notify>,
    email: bool,
) -> impl Fn(&Db, &[Op], Timestamp, &str) -> Vec<Op> + Send + Sync + 'static {
    move |db, ops, agora, em| {
        let out = derivar(db, ops, clock.tz(), agora, em, email);
        if !out.is_empty() {
            acorda.notify_one();
        }
        out
    }
}

/// The niceness of the delivery thread: on a busy machine deliveries yield the cores to
/// bookings and other requests (which run at the process's own priority) and catch up with
/// the idle CPU; the outbox keeps them meanwhile (bench phase `avisos`).
const NICE_ENTREGAS: i32 = 10;

/// Starts the delivery worker (`entregar`) on a thread of its own, at a lower
/// priority ([`NICE_ENTREGAS`]), with its own single-threaded runtime. It ends at shutdown.
pub fn iniciar(app: AppState) -> std::io::Result<()> {
    // Outcomes are journaled on the caller's runtime, at the normal priority: that write
    // holds the store's lock, which a thread that yields its core must never hold.
    let principal = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("entregas".into())
        .spawn(move || {
            crate::infra::prioridade::baixar(NICE_ENTREGAS);
            match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt.block_on(entregar(app, principal)),
                Err(e) => {
                    tracing::error!(target: "agendamento::notificacoes", error = %e, "delivery runtime unavailable; notifications wait");
                }
            }
        })?;
    Ok(())
}

/// The delivery worker: runs until shutdown, journaling the outcomes on this runtime.
pub async fn entregar_sempre(app: AppState) {
    entregar(app, tokio::runtime::Handle::current()).await;
}

/// The delivery worker: sends on the current runtime, journals the outcomes on `registro`.
async fn entregar(app: AppState, registro: tokio::runtime::Handle) {
    let cliente = match Cliente::new(app.config.webhooks_rede_local) {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(target: "agendamento::notificacoes", error = %e, "webhook client unavailable; notifications wait");
            return;
        }
    };
    let vagas = Arc::new(tokio::sync::Semaphore::new(EM_VOO));
    let registros = Arc::new(tokio::sync::Semaphore::new(POR_REGISTRAR));
    let em_voo: Arc<Mutex<HashSet<String>>> = Arc::default();
    let (resultados, rx) = tokio::sync::mpsc::unbounded_channel();
    *app.registro_entregas.lock() =
        Some(registro.spawn(registrar_sempre(app.clone(), rx, em_voo.clone())));
    let mut stop = app.shutdown.subscribe();
    loop {
        if *stop.borrow() {
            // Let the attempts in flight end (each hands its outcome to the recorder before
            // it frees its flight slot), up to the longest attempt: an e-mail the relay
            // accepted is then recorded and not sent again after the restart.
            let todas = u32::try_from(EM_VOO).unwrap_or(u32::MAX);
            let _ = tokio::time::timeout(ESPERA_AO_PARAR, vagas.acquire_many(todas)).await;
            return;
        }
        // With several instances only the leader delivers (SPEC-2 §16).
        if !app.lider() {
            tokio::select! {
                _ = app.avisos.notified() => {}
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        let agora = Timestamp::now().as_second();
        let (mut lote, proxima) = {
            let db = app.store.read();
            let voando = em_voo.lock();
            let lote: Vec<Arc<Notificacao>> = db
                .notificacoes
                .vencidas(agora, |id| voando.contains(id))
                .take(256)
                .cloned()
                .collect();
            (lote, db.notificacoes.proxima())
        };
        if !lote.is_empty() {
            if !esperar_duravel(&app).await {
                // A write the batch may come from is not durable and may yet be refused
                // (and undone): send nothing until storage answers again.
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                    _ = stop.changed() => {}
                }
                continue;
            }
            // Only what is still there as it was read: a refused write was undone in
            // memory, taking its notifications with it.
            let db = app.store.read();
            lote.retain(|n| {
                db.notificacoes
                    .get(&n.id)
                    .is_some_and(|cur| Arc::ptr_eq(cur, n))
            });
        }
        let vazio = lote.is_empty();
        for n in lote {
            // A stop takes no more work: what is not started stays pending for the restart.
            if *stop.borrow() {
                break;
            }
            let vaga = tokio::select! {
                v = registros.clone().acquire_owned() => v,
                _ = stop.changed() => break,
            };
            let Ok(vaga) = vaga else {
                return;
            };
            let voo = tokio::select! {
                v = vagas.clone().acquire_owned() => v,
                _ = stop.changed() => break,
            };
            let Ok(voo) = voo else {
                return;
            };
            em_voo.lock().insert(n.id.clone());
            let (app2, cliente, resultados) = (app.clone(), cliente.clone(), resultados.clone());
            tokio::spawn(async move {
                let d = tentar(&app2, &cliente, &n).await;
                // The recorder ends only after every sender is gone, so this fails only if
                // it panicked: the notification then stays pending (sent again after a restart).
                let _ = resultados.send(Resultado { n, d, vaga });
                drop(voo);
            });
        }
        if !vazio {
            continue;
        }
        // Nothing due that is not already in flight: sleep until the next one is due, a
        // write creates one, a delivery ends, or shutdown.
        let espera = match proxima {
            Some(t) if t > agora => Duration::from_secs(u64::try_from(t - agora).unwrap_or(1)),
            Some(_) => Duration::from_secs(1),
            None => Duration::from_secs(3600),
        };
        tokio::select! {
            _ = app.avisos.notified() => {}
            _ = tokio::time::sleep(espera) => {}
            _ = stop.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn consulta(status: StatusConsulta) -> Consulta {
        Consulta {
            id: "c".into(),
            paciente_id: "p".into(),
            medico_id: "m".into(),
            inicio: jiff::civil::datetime(2026, 3, 2, 9, 0, 0, 0),
            fim: jiff::civil::datetime(2026, 3, 2, 9, 30, 0, 0),
            inicio_offset: None,
            fim_offset: None,
            status,
            observacoes: None,
            serie_id: None,
            created_at: "2026-03-01T08:00:00-03:00".into(),
            updated_at: "2026-03-01T08:00:00-03:00".into(),
            motivo_cancelamento: None,
            pagamento: None,
        }
    }

    /// A reminder still goes out after downtime if the appointment has not started; once it
    /// started, or once it is no longer active, it is dropped.
    #[test]
    fn a_reminder_for_a_started_or_cancelled_appointment_is_dropped() {
        let tz = TimeZone::get("America/Sao_Paulo").expect("zone");
        let em = |h, m| {
            jiff::civil::datetime(2026, 3, 2, h, m, 0, 0)
                .to_zoned(tz.clone())
                .expect("zoned")
                .timestamp()
        };
        let c = consulta(StatusConsulta::Agendada);
        assert_eq!(
            lembrete_obsoleto(Some(&c), &tz, em(8, 59)),
            None,
            "late but before the start"
        );
        assert!(lembrete_obsoleto(Some(&c), &tz, em(9, 0)).is_some_and(|m| m.contains("começou")));
        assert!(lembrete_obsoleto(Some(&c), &tz, em(10, 0)).is_some());
        let cancelada = consulta(StatusConsulta::Cancelada);
        assert!(
            lembrete_obsoleto(Some(&cancelada), &tz, em(7, 0))
                .is_some_and(|m| m.contains("cancelada"))
        );
        assert!(lembrete_obsoleto(None, &tz, em(7, 0)).is_some());
    }

    #[test]
    fn the_retry_schedule_has_jitter_within_ten_percent_and_ends() {
        let atrasos = [5, 300, 1800];
        for (i, base) in atrasos.iter().enumerate() {
            let n = u32::try_from(i + 1).expect("small");
            for _ in 0..50 {
                let d = atraso(&atrasos, n).expect("scheduled").as_millis() as f64;
                let b = *base as f64 * 1000.0;
                assert!(d >= b * 0.9 - 1.0 && d <= b * 1.1 + 1.0, "{d} vs {b}");
            }
        }
        assert_eq!(atraso(&atrasos, 4), None, "after the last retry: falhou");
        assert_eq!(atraso(&atrasos, 0), None);
    }

    #[test]
    fn signatures_match_the_standard_webhooks_reference() {
        // The example of the Standard Webhooks specification.
        let segredo = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            assinar(segredo, id, 1614265330, body).expect("signature"),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn e_mail_destinations_are_masked() {
        assert_eq!(mascarar_email("joana@exemplo.com"), "j***@exemplo.com");
        assert_eq!(mascarar_email("semarroba"), "***");
    }
}
