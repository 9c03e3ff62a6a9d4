//! The outbox (SPEC-2 §13): notifications of the clinic's events, each delivered on one
//! channel to one recipient, and the webhooks that receive them.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The events a notification (and a webhook subscription) can name.
pub const EVENTOS: [&str; 7] = [
    "consulta.agendada",
    "consulta.confirmada",
    "consulta.remarcada",
    "consulta.cancelada",
    "consulta.faltou",
    "consulta.lembrete",
    "lista_espera.vaga_oferecida",
];

/// The events of [`EVENTOS`] as the OpenAPI document lists them (request bodies keep plain
/// strings, checked against [`EVENTOS`] with a message that names the known ones).
#[derive(Debug, Clone, Copy, Serialize, Deserialize, ToSchema)]
pub enum EventoNotificacao {
    /// An appointment was booked.
    #[serde(rename = "consulta.agendada")]
    Agendada,
    /// An appointment was confirmed.
    #[serde(rename = "consulta.confirmada")]
    Confirmada,
    /// An appointment moved.
    #[serde(rename = "consulta.remarcada")]
    Remarcada,
    /// An appointment was cancelled.
    #[serde(rename = "consulta.cancelada")]
    Cancelada,
    /// The patient did not come.
    #[serde(rename = "consulta.faltou")]
    Faltou,
    /// A reminder before the appointment.
    #[serde(rename = "consulta.lembrete")]
    Lembrete,
    /// A freed slot offered to a waiting-list entry.
    #[serde(rename = "lista_espera.vaga_oferecida")]
    VagaOferecida,
}

/// How a notification reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Canal {
    /// An e-mail to the patient (SPEC-2 §13; created only once an SMTP sender exists).
    Email,
    /// A signed `POST` to a webhook.
    Webhook,
}

impl Canal {
    /// Its name in the API and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Webhook => "webhook",
        }
    }

    /// Parses a query value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "email" => Some(Self::Email),
            "webhook" => Some(Self::Webhook),
            _ => None,
        }
    }
}

/// Where a notification is in its delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum StatusNotificacao {
    /// Waiting for its (next) attempt.
    Pendente,
    /// Delivered.
    Enviada,
    /// Gave up: every attempt failed, the webhook is gone or inactive, or a reminder whose
    /// appointment already started or was cancelled.
    Falhou,
}

impl StatusNotificacao {
    /// Its name in the API and in metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pendente => "pendente",
            Self::Enviada => "enviada",
            Self::Falhou => "falhou",
        }
    }

    /// Parses a query value.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pendente" => Some(Self::Pendente),
            "enviada" => Some(Self::Enviada),
            "falhou" => Some(Self::Falhou),
            _ => None,
        }
    }
}

/// One notification: one event, one channel, one recipient (as journaled).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notificacao {
    /// UUID v7; also the `webhook-id` header, the same on every attempt.
    pub id: String,
    /// The event (one of [`EVENTOS`]).
    pub evento: String,
    /// The channel.
    pub canal: Canal,
    /// The recipient: the webhook's id, or the e-mail address.
    pub destino: String,
    /// The appointment it is about.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consulta_id: Option<String>,
    /// The waiting-list entry it is about (`lista_espera.vaga_oferecida`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lista_espera_id: Option<String>,
    /// A reminder's lead time, in hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lembrete_horas: Option<u32>,
    /// Delivery status.
    pub status: StatusNotificacao,
    /// Attempts made.
    pub tentativas: u32,
    /// When the next attempt is due (while `pendente`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxima_tentativa_em: Option<Timestamp>,
    /// What went wrong on the last failed attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ultimo_erro: Option<String>,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it was delivered (RFC 3339, clinic offset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enviada_em: Option<String>,
    /// The appointment as it was when it was deleted while this was still pending: the
    /// delivery is made from it then (SPEC-2 §13: a notification is never lost). Not shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consulta: Option<std::sync::Arc<super::Consulta>>,
}

/// A notification as `GET /notificacoes` shows it (e-mail addresses masked).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct NotificacaoPublica {
    /// UUID v7; also the `webhook-id` header of its deliveries.
    pub id: String,
    /// The event.
    #[schema(example = "consulta.agendada")]
    pub evento: String,
    /// The channel.
    pub canal: Canal,
    /// The webhook's id, or the e-mail address masked (`j***@exemplo.com`).
    pub destino: String,
    /// The appointment it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub consulta_id: Option<String>,
    /// The waiting-list entry it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lista_espera_id: Option<String>,
    /// A reminder's lead time, in hours.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lembrete_horas: Option<u32>,
    /// Delivery status.
    pub status: StatusNotificacao,
    /// Attempts made.
    pub tentativas: u32,
    /// When the next attempt is due (RFC 3339, clinic offset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxima_tentativa_em: Option<String>,
    /// What went wrong on the last failed attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ultimo_erro: Option<String>,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it was delivered (RFC 3339, clinic offset).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enviada_em: Option<String>,
}

/// A webhook (as journaled: with its secret).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Webhook {
    /// Identifier (UUID v7).
    pub id: String,
    /// Where deliveries are `POST`ed (`http` or `https`).
    pub url: String,
    /// The events it receives.
    pub eventos: Vec<String>,
    /// Whether it receives deliveries (a `410 Gone` answer turns it off).
    pub ativo: bool,
    /// `whsec_` + base64 of the signing key's bytes. Never shown after creation.
    pub segredo: String,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it last changed (RFC 3339, clinic offset).
    pub updated_at: String,
}

/// A webhook as the API shows it: never its secret.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookPublico {
    /// Identifier (UUID v7).
    pub id: String,
    /// Where deliveries are `POST`ed.
    #[schema(example = "https://exemplo.com/agendamento/webhook")]
    pub url: String,
    /// The events it receives.
    #[schema(example = json!(["consulta.agendada", "consulta.cancelada"]))]
    pub eventos: Vec<String>,
    /// Whether it receives deliveries.
    pub ativo: bool,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it last changed (RFC 3339, clinic offset).
    pub updated_at: String,
}

/// `POST /webhooks`' answer: the webhook and its secret, shown this once.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct WebhookCriado {
    /// Identifier (UUID v7).
    pub id: String,
    /// Where deliveries are `POST`ed.
    pub url: String,
    /// The events it receives.
    pub eventos: Vec<String>,
    /// Whether it receives deliveries.
    pub ativo: bool,
    /// When it was created (RFC 3339, clinic offset).
    pub created_at: String,
    /// When it last changed (RFC 3339, clinic offset).
    pub updated_at: String,
    /// The signing secret (`whsec_` + base64). Shown only in this answer: keep it.
    #[schema(example = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")]
    pub segredo: String,
}

impl Webhook {
    /// What the API shows of it.
    pub fn publico(&self) -> WebhookPublico {
        WebhookPublico {
            id: self.id.clone(),
            url: self.url.clone(),
            eventos: self.eventos.clone(),
            ativo: self.ativo,
            created_at: self.created_at.clone(),
            updated_at: self.updated_at.clone(),
        }
    }

    /// Whether it is active and subscribed to `evento`.
    pub fn recebe(&self, evento: &str) -> bool {
        self.ativo && self.eventos.iter().any(|e| e == evento)
    }
}

#[cfg(test)]
mod evento_tests {
    use super::*;

    #[test]
    fn the_documented_events_are_exactly_the_known_ones() {
        use EventoNotificacao::*;
        let nomes: Vec<String> = [
            Agendada,
            Confirmada,
            Remarcada,
            Cancelada,
            Faltou,
            Lembrete,
            VagaOferecida,
        ]
        .iter()
        .map(|e| {
            serde_json::to_value(e)
                .expect("name")
                .as_str()
                .unwrap_or("")
                .to_owned()
        })
        .collect();
        assert_eq!(nomes, EVENTOS);
    }
}
