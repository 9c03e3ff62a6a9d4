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
    /// Cancels the appointment (refuses an offer); `None` once the cancellation cutoff of
    /// `/sistema/regras` has passed (the link would only answer `prazo_cancelamento`).
    pub cancelar: Option<String>,
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
/// clinic's zone `tz`. `cancelavel`: the appointment may still be cancelled (the cutoff of
/// `/sistema/regras` has not passed), so the closing line asks the patient to cancel in time
/// rather than to tell the clinic. `None` when the patient has no e-mail or opted out
/// (`notificacoes_email: false`), or when an offer event's entry has no offer.
pub fn mensagem(
    sobre: Sobre<'_>,
    paciente: &Paciente,
    medico: &Medico,
    tz: &TimeZone,
    ics: Option<String>,
    links: Option<&Links>,
    cancelavel: bool,
) -> Option<Mensagem> {
    let para_email = paciente.email.as_deref().filter(|e| !e.trim().is_empty())?;
    if !paciente.notificacoes_email {
        return None;
    }
    let medico_linha = format!("{} — {}", medico.nome, medico.especialidade);
    let mut fatos = vec![("Médico(a)", medico_linha)];
    let mut ics = ics;
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
            // A missed appointment is over: no link (each expires at the start) and no
            // calendar file to add it.
            let passada = evento == EventoConsulta::Faltou;
            if passada {
                ics = None;
            }
            let mut acoes = Vec::new();
            if let Some(l) = links.filter(|_| !passada) {
                if ativa && c.status == StatusConsulta::Agendada {
                    acoes.push(("Confirmar presença", l.confirmar.clone()));
                }
                if ativa
                    && cancelavel
                    && let Some(cancelar) = &l.cancelar
                {
                    acoes.push(("Cancelar a consulta", cancelar.clone()));
                }
                acoes.push(("Ver a consulta", l.ver.clone()));
            }
            let fecho = match (ativa, cancelavel) {
                (false, _) => "",
                (true, true) => {
                    "Se não puder comparecer, cancele com antecedência para liberar o horário \
                     a outro paciente."
                }
                (true, false) => "Se não puder comparecer, avise a clínica.",
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
                    [
                        Some(("Aceitar a vaga", l.confirmar.clone())),
                        l.cancelar.clone().map(|c| ("Recusar a vaga", c)),
                        Some(("Ver a oferta", l.ver.clone())),
                    ]
                    .into_iter()
                    .flatten()
                    .collect(),
                    format!("Se não responder até {expira}, a vaga passa para o próximo da lista."),
                ),
                None => (
                    Vec::new(),
                    format!(
                        "Para aceitar, fale com a clínica até {expira}, citando a oferta {}. \
                         Sem resposta até lá, a vaga passa para o próximo da lista.",
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::Oferta;

    fn paciente(email: Option<&str>, optin: bool) -> Paciente {
        Paciente {
            id: "p1".into(),
            nome: "Zoë".into(),
            cpf: "52998224725".into(),
            data_nascimento: jiff::civil::date(1980, 5, 17),
            email: email.map(str::to_owned),
            telefone: None,
            convenio: None,
            notificacoes_email: optin,
            created_at: String::new(),
            updated_at: String::new(),
            convenio_id: None,
            carteirinha: None,
            validade_carteirinha: None,
        }
    }

    fn medico() -> Medico {
        Medico {
            id: "m1".into(),
            nome: "Dr. Íon".into(),
            crm: "CRM/SP 1".into(),
            especialidade: "Pediatria".into(),
            email: None,
            telefone: None,
            created_at: String::new(),
            updated_at: String::new(),
            duracao_consulta_minutos: None,
            intervalo_minutos: None,
            convenios_aceitos: Vec::new(),
            aceita_particular: true,
            valor_particular_centavos: None,
        }
    }

    fn consulta(status: StatusConsulta) -> Consulta {
        Consulta {
            id: "c1".into(),
            paciente_id: "p1".into(),
            medico_id: "m1".into(),
            inicio: "2026-03-04T14:30:00".parse().expect("dt"),
            fim: "2026-03-04T15:00:00".parse().expect("dt"),
            inicio_offset: None,
            fim_offset: None,
            status,
            observacoes: None,
            serie_id: None,
            created_at: String::new(),
            updated_at: String::new(),
            motivo_cancelamento: Some("Médico em congresso".into()),
            pagamento: None,
        }
    }

    fn tz() -> TimeZone {
        TimeZone::get("America/Sao_Paulo").expect("tz")
    }

    fn links() -> Links {
        Links {
            confirmar: "https://c/x/confirmar".into(),
            cancelar: Some("https://c/x/cancelar".into()),
            ver: "https://c/x".into(),
        }
    }

    #[test]
    fn no_message_without_an_address_or_after_the_opt_out() {
        let c = consulta(StatusConsulta::Agendada);
        let sobre = Sobre::Consulta(EventoConsulta::Agendada, &c);
        for (p, why) in [
            (paciente(None, true), "no e-mail"),
            (paciente(Some(" "), true), "a blank e-mail"),
            (paciente(Some("zoe@exemplo.com"), false), "opted out"),
        ] {
            assert!(
                mensagem(sobre, &p, &medico(), &tz(), None, None, true).is_none(),
                "{why}"
            );
        }
        let p = paciente(Some("zoe@exemplo.com"), true);
        assert!(mensagem(sobre, &p, &medico(), &tz(), None, None, true).is_some());
    }

    #[test]
    fn past_the_cancellation_cutoff_there_is_no_cancel_link_and_a_missed_one_has_no_ics() {
        let p = paciente(Some("zoe@exemplo.com"), true);
        let c = consulta(StatusConsulta::Confirmada);
        let sem_cancelar = Links {
            cancelar: None,
            ..links()
        };
        let m = mensagem(
            Sobre::Consulta(EventoConsulta::Lembrete, &c),
            &p,
            &medico(),
            &tz(),
            Some("BEGIN:VCALENDAR".into()),
            Some(&sem_cancelar),
            false,
        )
        .expect("message");
        assert!(!m.texto.contains("Cancelar a consulta"), "{}", m.texto);
        assert!(!m.texto.contains("cancele com antecedência"), "{}", m.texto);
        assert!(m.texto.contains("avise a clínica"), "{}", m.texto);
        assert!(m.texto.contains("Ver a consulta"), "{}", m.texto);
        assert!(m.ics.is_some());
        // Without public links (no `--url-publica`) the closing line follows the cutoff too.
        for (cancelavel, fecho) in [
            (false, "avise a clínica"),
            (true, "cancele com antecedência"),
        ] {
            let m = mensagem(
                Sobre::Consulta(EventoConsulta::Lembrete, &c),
                &p,
                &medico(),
                &tz(),
                None,
                None,
                cancelavel,
            )
            .expect("message");
            assert!(m.texto.contains(fecho), "{cancelavel}: {}", m.texto);
            assert!(m.html.contains(fecho), "{cancelavel}: {}", m.html);
        }

        let c = consulta(StatusConsulta::Faltou);
        let m = mensagem(
            Sobre::Consulta(EventoConsulta::Faltou, &c),
            &p,
            &medico(),
            &tz(),
            Some("BEGIN:VCALENDAR".into()),
            Some(&links()),
            true,
        )
        .expect("message");
        assert!(
            m.ics.is_none(),
            "a missed appointment is not added to a calendar"
        );
        assert!(!m.texto.contains("https://c/x"), "{}", m.texto);
        assert!(!m.texto.contains("consulta.ics"), "{}", m.texto);
    }

    #[test]
    fn each_event_has_its_subject_and_only_the_links_that_still_make_sense() {
        let p = paciente(Some("zoe@exemplo.com"), true);
        let casos = [
            (
                EventoConsulta::Agendada,
                StatusConsulta::Agendada,
                "Consulta agendada para 04/03/2026 às 14:30",
                3,
            ),
            (
                EventoConsulta::Confirmada,
                StatusConsulta::Confirmada,
                "Consulta confirmada: 04/03/2026 às 14:30",
                2,
            ),
            (
                EventoConsulta::Remarcada,
                StatusConsulta::Agendada,
                "Consulta remarcada para 04/03/2026 às 14:30",
                3,
            ),
            (
                EventoConsulta::Lembrete,
                StatusConsulta::Confirmada,
                "Lembrete: consulta em 04/03/2026 às 14:30",
                2,
            ),
            (
                EventoConsulta::Cancelada,
                StatusConsulta::Cancelada,
                "Consulta cancelada: 04/03/2026 às 14:30",
                1,
            ),
            (
                EventoConsulta::Faltou,
                StatusConsulta::Faltou,
                "Consulta não realizada: 04/03/2026 às 14:30",
                0,
            ),
        ];
        for (evento, status, assunto, n_links) in casos {
            let c = consulta(status);
            let m = mensagem(
                Sobre::Consulta(evento, &c),
                &p,
                &medico(),
                &tz(),
                None,
                Some(&links()),
                true,
            )
            .expect("message");
            assert_eq!(m.assunto, assunto);
            assert_eq!(EventoConsulta::parse(evento.nome()), Some(evento));
            assert!(
                m.texto
                    .contains("quarta-feira, 4 de março de 2026, às 14:30"),
                "{}",
                m.texto
            );
            assert!(m.texto.contains("Dr. Íon — Pediatria"), "{}", m.texto);
            assert_eq!(
                m.texto.matches("https://c/x").count(),
                n_links,
                "{evento:?}: {}",
                m.texto
            );
            assert_eq!(
                m.texto.contains("Confirmar presença"),
                n_links == 3,
                "{evento:?}"
            );
            assert_eq!(
                m.texto.contains("Motivo: Médico em congresso"),
                evento == EventoConsulta::Cancelada,
                "{evento:?}"
            );
        }
    }

    #[test]
    fn an_offer_names_the_slot_the_doctor_the_expiry_and_how_to_accept() {
        let p = paciente(Some("zoe@exemplo.com"), true);
        let mut e = EntradaEspera {
            id: "le-1".into(),
            paciente_id: "p1".into(),
            medico_id: None,
            especialidade: Some("Pediatria".into()),
            de: jiff::civil::date(2026, 3, 1),
            ate: jiff::civil::date(2026, 3, 31),
            status: crate::models::StatusEspera::Oferecida,
            oferta: Some(Oferta {
                medico_id: "m1".into(),
                slot: "2026-03-05T09:00:00".parse().expect("dt"),
                expira_em: "2026-03-03T10:30:00-03:00".into(),
            }),
            recusadas: vec![],
            tarefa_id: None,
            consulta_id: None,
            created_at: String::new(),
            updated_at: String::new(),
        };
        let m = oferta(&e, &p, None).expect("m");
        assert_eq!(
            Sobre::VagaOferecida(&e).evento(),
            "lista_espera.vaga_oferecida"
        );
        assert_eq!(m.assunto, "Vaga disponível em 05/03/2026 às 09:00");
        for corpo in [&m.texto, &m.html] {
            assert!(
                corpo.contains("quinta-feira, 5 de março de 2026, às 09:00"),
                "{corpo}"
            );
            assert!(
                corpo.contains("terça-feira, 3 de março de 2026, às 10:30"),
                "{corpo}"
            );
            assert!(corpo.contains("Dr. Íon — Pediatria"), "{corpo}");
            assert!(
                corpo.contains("fale com a clínica") && corpo.contains("le-1"),
                "{corpo}"
            );
        }
        let com = oferta(&e, &p, Some(&links())).expect("m");
        assert!(
            com.texto.contains("Aceitar a vaga: https://c/x/confirmar"),
            "{}",
            com.texto
        );
        assert!(
            com.texto.contains("Recusar a vaga: https://c/x/cancelar"),
            "{}",
            com.texto
        );
        e.oferta = None;
        assert!(oferta(&e, &p, None).is_none());
    }

    /// The message of `e`'s offer to `p`.
    fn oferta(e: &EntradaEspera, p: &Paciente, links: Option<&Links>) -> Option<Mensagem> {
        mensagem(
            Sobre::VagaOferecida(e),
            p,
            &medico(),
            &tz(),
            None,
            links,
            true,
        )
    }
}
