//! Which message each event sends (SPEC-2 §13): subject, the facts, the links.

use jiff::tz::TimeZone;

use super::modelo::{self, Bloco};
use crate::models::{Consulta, EntradaEspera, Medico, Paciente, StatusConsulta};

/// The `consulta.*` events that write to a patient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventoConsulta {
    /// `consulta.agendada`.
    Agendada,
    /// `consulta.confirmada`.
    Confirmada,
    /// `consulta.remarcada`.
    Remarcada,
    /// `consulta.cancelada`.
    Cancelada,
    /// `consulta.faltou`.
    Faltou,
    /// `consulta.lembrete`.
    Lembrete,
}

impl EventoConsulta {
    /// The event's name in the outbox.
    pub fn nome(self) -> &'static str {
        match self {
            Self::Agendada => "consulta.agendada",
            Self::Confirmada => "consulta.confirmada",
            Self::Remarcada => "consulta.remarcada",
            Self::Cancelada => "consulta.cancelada",
            Self::Faltou => "consulta.faltou",
            Self::Lembrete => "consulta.lembrete",
        }
    }

    /// The event named `nome` (`None` for any other name).
    pub fn parse(nome: &str) -> Option<Self> {
        [
            Self::Agendada,
            Self::Confirmada,
            Self::Remarcada,
            Self::Cancelada,
            Self::Faltou,
            Self::Lembrete,
        ]
        .into_iter()
        .find(|e| e.nome() == nome)
    }
}

/// What a message is about.
#[derive(Debug, Clone, Copy)]
pub enum Sobre<'a> {
    /// A `consulta.*` event of this appointment (in its state after the change).
    Consulta(EventoConsulta, &'a Consulta),
    /// `lista_espera.vaga_oferecida`: this entry's current `oferta`.
    VagaOferecida(&'a EntradaEspera),
}

impl Sobre<'_> {
    /// The event's name in the outbox.
    pub fn evento(&self) -> &'static str {
        match self {
            Self::Consulta(e, _) => e.nome(),
            Self::VagaOferecida(_) => "lista_espera.vaga_oferecida",
        }
    }
}

/// Links that act without signing in (SPEC-2 §13, `GET /c/{token}` and its buttons). For an
/// offer, `confirmar` accepts it and `cancelar` refuses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Links {
    /// Confirms the appointment (accepts an offer).
    pub confirmar: String,
    /// Cancels the appointment (refuses an offer).
    pub cancelar: String,
    /// Shows the appointment.
    pub ver: String,
}

/// One e-mail to one patient, ready for [`super::Remetente::enviar`].
#[derive(Clone, PartialEq, Eq)]
pub struct Mensagem {
    /// The patient's name (the `To` display name).
    pub para_nome: String,
    /// The patient's address.
    pub para_email: String,
    /// Subject.
    pub assunto: String,
    /// The `text/plain` part.
    pub texto: String,
    /// The `text/html` part (every value escaped).
    pub html: String,
    /// The `.ics` attached as `consulta.ics`, when given.
    pub ics: Option<String>,
}

/// Personal data stays out of logs even when a message is printed with `{:?}`.
impl std::fmt::Debug for Mensagem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mensagem")
            .field("assunto_bytes", &self.assunto.len())
            .field("ics", &self.ics.is_some())
            .finish_non_exhaustive()
    }
}

/// The message `sobre` sends to `paciente`, whose doctor is `medico`; times are shown in the
/// clinic's zone `tz`. `None` when the patient has no e-mail or opted out
/// (`notificacoes_email: false`), or when an offer event's entry has no offer.
pub fn mensagem(
    sobre: Sobre<'_>,
    paciente: &Paciente,
    medico: &Medico,
    tz: &TimeZone,
    ics: Option<String>,
    links: Option<&Links>,
) -> Option<Mensagem> {
    let para_email = paciente.email.as_deref().filter(|e| !e.trim().is_empty())?;
    if !paciente.notificacoes_email {
        return None;
    }
    let medico_linha = format!("{} — {}", medico.nome, medico.especialidade);
    let mut fatos = vec![("Médico(a)", medico_linha)];
    let (assunto, abertura, acoes, fecho) = match sobre {
        Sobre::Consulta(evento, c) => {
            let quando = modelo::quando(c.inicio, c.inicio_offset);
            fatos.push(("Data e hora", format!("{quando} (horário da clínica)")));
            let curto = modelo::curto(c.inicio);
            let (assunto, abertura) = match evento {
                EventoConsulta::Agendada => (
                    format!("Consulta agendada para {curto}"),
                    "Sua consulta foi agendada.",
                ),
                EventoConsulta::Confirmada => (
                    format!("Consulta confirmada: {curto}"),
                    "Sua consulta está confirmada. Até lá!",
                ),
                EventoConsulta::Remarcada => (
                    format!("Consulta remarcada para {curto}"),
                    "Sua consulta mudou de horário. Confira a nova data abaixo.",
                ),
                EventoConsulta::Cancelada => (
                    format!("Consulta cancelada: {curto}"),
                    "Sua consulta foi cancelada.",
                ),
                EventoConsulta::Faltou => (
                    format!("Consulta não realizada: {curto}"),
                    "Registramos que você não compareceu a esta consulta. Para marcar outra, \
                     fale com a clínica.",
                ),
                EventoConsulta::Lembrete => (
                    format!("Lembrete: consulta em {curto}"),
                    "Lembramos que você tem uma consulta marcada.",
                ),
            };
            if evento == EventoConsulta::Cancelada
                && let Some(m) = c.motivo_cancelamento.as_deref().filter(|m| !m.is_empty())
            {
                fatos.push(("Motivo", m.to_owned()));
            }
            let ativa = c.status.is_active()
                && !matches!(evento, EventoConsulta::Cancelada | EventoConsulta::Faltou);
            let mut acoes = Vec::new();
            if let Some(l) = links {
                if ativa && c.status == StatusConsulta::Agendada {
                    acoes.push(("Confirmar presença", l.confirmar.clone()));
                }
                if ativa {
                    acoes.push(("Cancelar a consulta", l.cancelar.clone()));
                }
                acoes.push(("Ver a consulta", l.ver.clone()));
            }
            let fecho = if ativa {
                "Se não puder comparecer, cancele com antecedência para liberar o horário \
                 a outro paciente."
            } else {
                ""
            };
            (assunto, abertura.to_owned(), acoes, fecho.to_owned())
        }
        Sobre::VagaOferecida(e) => {
            let o = e.oferta.as_ref()?;
            let quando = modelo::quando(o.slot, None);
            fatos.push(("Data e hora", format!("{quando} (horário da clínica)")));
            let expira = modelo::instante(&o.expira_em, tz);
            fatos.push(("Reservada até", expira.clone()));
            let assunto = format!("Vaga disponível em {}", modelo::curto(o.slot));
            let abertura = "Abriu um horário que atende ao seu pedido na lista de espera. \
                            Ele está reservado para você por pouco tempo."
                .to_owned();
            let (acoes, fecho) = match links {
                Some(l) => (
                    vec![
                        ("Aceitar a vaga", l.confirmar.clone()),
                        ("Recusar a vaga", l.cancelar.clone()),
                        ("Ver a oferta", l.ver.clone()),
                    ],
                    format!("Se não responder até {expira}, a vaga passa para o próximo da lista."),
                ),
                None => (
                    Vec::new(),
                    format!(
                        "Para aceitar, entre na sua conta da clínica (Lista de espera → Aceitar) \
                         ou fale com a clínica até {expira}, citando a oferta {}. Sem resposta \
                         até lá, a vaga passa para o próximo da lista.",
                        e.id
                    ),
                ),
            };
            (assunto, abertura, acoes, fecho)
        }
    };
    let b = Bloco {
        nome: &paciente.nome,
        abertura: &abertura,
        fatos: &fatos,
        acoes: &acoes,
        fecho: &fecho,
        com_ics: ics.is_some(),
    };
    let (texto, html) = (modelo::texto(&b), modelo::html(&assunto, &b));
    Some(Mensagem {
        para_nome: paciente.nome.clone(),
        para_email: para_email.to_owned(),
        assunto,
        texto,
        html,
        ics,
    })
}
