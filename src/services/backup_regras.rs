//! The rules a restored archive must satisfy (issue 8): every record passes the same domain
//! checks as the API's input (names, CPF, CRM, e-mail, phone, lengths, intervals) and the
//! collection as a whole keeps the API's invariants (unique ids, CPFs and CRMs, references,
//! no overlapping horários or appointments). Nothing here restates a rule: each check calls
//! the domain newtype or the service function the API itself uses.

use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;

use super::{bloqueios, consultas, convenios, horarios, medicos};
use crate::domain::{
    Cpf, Crm, Email, Intervalo, MAX_OBS, Momento, Nome, Telefone, convenio, especialidade,
    texto_opcional,
};
use crate::repositories::Db;

/// How many problems an answer names at most.
const MAX_PROBLEMAS: usize = 5;

/// The problems found so far (only the first few are kept).
#[derive(Default)]
struct Problemas {
    lista: Vec<String>,
    total: usize,
}

impl Problemas {
    fn push(&mut self, colecao: &str, id: &str, msg: impl std::fmt::Display) {
        self.total += 1;
        if self.lista.len() < MAX_PROBLEMAS {
            self.lista.push(format!("{colecao} {id}: {msg}"));
        }
    }

    fn check<T, E: std::fmt::Display>(
        &mut self,
        colecao: &str,
        id: &str,
        campo: &str,
        r: Result<T, E>,
    ) {
        if let Err(e) = r {
            self.push(colecao, id, format!("{campo}: {e}"));
        }
    }

    /// The optional `email` and `telefone` of a patient or a doctor.
    fn contato(&mut self, colecao: &str, id: &str, email: Option<&str>, telefone: Option<&str>) {
        let email = opcional(email, |s| Email::parse(s).map(drop).map_err(str::to_owned));
        self.check(colecao, id, "email", email);
        let telefone = opcional(telefone, |s| {
            Telefone::parse(s).map(drop).map_err(str::to_owned)
        });
        self.check(colecao, id, "telefone", telefone);
    }
}

/// Checks an optional text field the way the API's input does. `""` passes: the API can
/// store it (a `convenio` of only spaces is kept as `""`).
fn opcional(v: Option<&str>, parse: impl FnOnce(&str) -> Result<(), String>) -> Result<(), String> {
    match v {
        None | Some("") => Ok(()),
        Some(s) => parse(s),
    }
}

/// A name as the API stores it: valid and already trimmed (an archive from before names
/// were composed to NFC may hold decomposed ones: still valid).
fn nome(s: &str) -> Result<(), String> {
    Nome::parse(s).map_err(str::to_owned)?;
    if crate::domain::trim(s) != s {
        return Err("espaços nas pontas".into());
    }
    Ok(())
}

/// Every problem of `db` against the API's rules; empty when it may be restored.
/// `tirado_em` is when the backup was taken (clinic-local): an appointment over by then may
/// name a patient or doctor deleted since, as the live data keeps such history; `hoje` bounds
/// birth dates as the API does.
pub fn problemas(db: &Db, tirado_em: DateTime, hoje: Date, tz: &TimeZone) -> Vec<String> {
    let mut p = Problemas::default();
    for r in db.pacientes.iter() {
        let (c, id) = ("paciente", r.id.as_str());
        p.check(c, id, "nome", nome(&r.nome));
        match Cpf::parse(&r.cpf) {
            Ok(cpf) if cpf.as_str() == r.cpf => {}
            Ok(_) => p.push(c, id, "cpf: deve ter só os 11 dígitos"),
            Err(e) => p.push(c, id, format!("cpf: {e}")),
        }
        if db.pacientes.id_by_unique(&r.cpf) != Some(id) {
            p.push(c, id, "cpf: duplicado (outro paciente tem o mesmo CPF)");
        }
        if r.data_nascimento > hoje || r.data_nascimento.year() < 1900 {
            p.push(c, id, "data_nascimento: fora do intervalo de 1900 até hoje");
        }
        p.contato(c, id, r.email.as_deref(), r.telefone.as_deref());
        p.check(
            c,
            id,
            "convenio",
            opcional(r.convenio.as_deref(), |s| {
                convenio(s).map(drop).map_err(str::to_owned)
            }),
        );
    }
    for r in db.medicos.iter() {
        let (c, id) = ("médico", r.id.as_str());
        p.check(c, id, "nome", nome(&r.nome));
        p.check(c, id, "crm", Crm::parse(&r.crm));
        if db.medicos.id_by_unique(&Crm::key(&r.crm)) != Some(id) {
            p.push(c, id, "crm: duplicado (outro médico tem o mesmo CRM)");
        }
        p.check(c, id, "especialidade", especialidade(&r.especialidade));
        p.contato(c, id, r.email.as_deref(), r.telefone.as_deref());
    }
    for r in db.medicos.iter() {
        let (c, id) = ("médico", r.id.as_str());
        if r.duracao_consulta_minutos
            .is_some_and(|m| !medicos::DURACAO_MINUTOS.contains(&m))
        {
            p.push(c, id, "duracao_consulta_minutos: fora de 5 a 480");
        }
        if r.intervalo_minutos
            .is_some_and(|m| !medicos::INTERVALO_MINUTOS.contains(&m))
        {
            p.push(c, id, "intervalo_minutos: fora de 0 a 240");
        }
    }
    for r in db.medicos.iter() {
        let (c, id) = ("médico", r.id.as_str());
        for cv in &r.convenios_aceitos {
            if db.convenios.get(cv).is_none() {
                p.push(
                    c,
                    id,
                    format!("convenios_aceitos: convênio {cv} não existe"),
                );
            }
        }
        if r.valor_particular_centavos
            .is_some_and(|v| v > convenios::MAX_CENTAVOS)
        {
            p.push(c, id, "valor_particular_centavos: acima do máximo");
        }
    }
    for r in db.pacientes.iter() {
        let (c, id) = ("paciente", r.id.as_str());
        if let Some(cv) = &r.convenio_id
            && db.convenios.get(cv).is_none()
        {
            p.push(c, id, format!("convenio_id: convênio {cv} não existe"));
        }
        if let Some(k) = &r.carteirinha
            && convenios::carteirinha(k).as_deref() != Ok(k.as_str())
        {
            p.push(c, id, "carteirinha: só letras e dígitos, de 1 a 30");
        }
    }
    let mut nomes_convenio = std::collections::HashSet::new();
    for r in db.convenios.iter() {
        let (c, id) = ("convênio", r.id.as_str());
        for (campo, m) in convenios::regras(r) {
            p.push(c, id, format!("{campo}: {m}"));
        }
        if !nomes_convenio.insert(crate::domain::fold(&r.nome)) {
            p.push(c, id, "nome: outro convênio tem o mesmo nome");
        }
    }
    for r in db.bloqueios.iter() {
        let (c, id) = ("bloqueio", r.id.as_str());
        if let Some(m) = &r.medico_id
            && db.medicos.get(m).is_none()
        {
            // Deleting a doctor deletes their blocks.
            p.push(c, id, format!("medico_id: médico {m} não existe"));
        }
        for (campo, m) in bloqueios::regras(r.inicio, r.fim, &r.motivo) {
            p.push(c, id, format!("{campo}: {m}"));
        }
    }
    for r in db.horarios.iter() {
        let (c, id) = ("horário", r.id.as_str());
        if db.medicos.get(&r.medico_id).is_none() {
            // Deleting a doctor deletes their horários: one without a doctor is never history.
            p.push(
                c,
                id,
                format!("medico_id: médico {} não existe", r.medico_id),
            );
        }
        let faixa = horarios::Faixa {
            dia_semana: r.dia_semana,
            hora_inicio: r.hora_inicio,
            hora_fim: r.hora_fim,
        };
        if let Err(e) = horarios::check(db, &r.medico_id, faixa, Some(id)) {
            p.push(c, id, e.problema().detail);
        }
    }
    for r in db.consultas.iter() {
        let (c, id) = ("consulta", r.id.as_str());
        let iv = match Intervalo::new(
            Momento::stored(r.inicio, r.inicio_offset, tz),
            Momento::stored(r.fim, r.fim_offset, tz),
        ) {
            Ok(iv) => Some(iv),
            Err(e) => {
                p.push(c, id, e);
                None
            }
        };
        p.check(
            c,
            id,
            "observacoes",
            texto_opcional(r.observacoes.as_deref(), MAX_OBS),
        );
        // History: the API keeps the appointments of a deleted patient or doctor unless they
        // were still active and not over.
        let historico = !r.status.is_active() || r.fim <= tirado_em;
        if !historico {
            if db.pacientes.get(&r.paciente_id).is_none() {
                p.push(
                    c,
                    id,
                    format!("paciente_id: paciente {} não existe", r.paciente_id),
                );
            }
            if db.medicos.get(&r.medico_id).is_none() {
                p.push(
                    c,
                    id,
                    format!("medico_id: médico {} não existe", r.medico_id),
                );
            }
        }
        if let Some(iv) = iv
            && r.blocks_time()
            && let Err(e) =
                consultas::check_overlaps(db, &r.medico_id, &r.paciente_id, iv, Some(id), tz)
        {
            p.push(c, id, e.problema().detail);
        }
    }
    for r in db.lista_espera.iter() {
        let (c, id) = ("lista de espera", r.id.as_str());
        if r.de > r.ate {
            p.push(c, id, "ate: deve ser igual ou posterior a de");
        }
        if let Some(e) = &r.especialidade {
            p.check(c, id, "especialidade", especialidade(e));
            if r.medico_id.is_some() {
                p.push(c, id, "medico_id e especialidade juntos");
            }
        }
        // An offer exists exactly while `oferecida` (a booked entry keeps its last one).
        let com_oferta = r.oferta.is_some();
        match r.status {
            crate::models::StatusEspera::Oferecida if !com_oferta => {
                p.push(c, id, "status oferecida sem oferta")
            }
            crate::models::StatusEspera::Aguardando if com_oferta => {
                p.push(c, id, "status aguardando com oferta")
            }
            _ => {}
        }
        if let Some(o) = &r.oferta
            && o.expira_em.parse::<jiff::Timestamp>().is_err()
        {
            p.push(c, id, "oferta.expira_em: data e hora inválidas");
        }
    }
    // SPEC-2 §11: the rules within the bounds the API enforces; a history belongs to an
    // appointment of the archive (deleting an appointment deletes its history).
    for r in db.regras.iter() {
        for m in super::regras::problemas(r) {
            p.push("regras", crate::models::Regras::ID, m);
        }
    }
    for e in db.historico.iter() {
        if db.consultas.get(&e.consulta_id).is_none() {
            p.push(
                "histórico",
                &e.id,
                format!("consulta_id: consulta {} não existe", e.consulta_id),
            );
        }
    }
    // SPEC-2 §13: a restored webhook passes the API's own checks and can still sign.
    for w in db.webhooks.iter() {
        for m in super::webhooks::problemas(w) {
            p.push("webhook", &w.id, m);
        }
    }
    let mut lista = p.lista;
    if p.total > lista.len() {
        lista.push(format!("e mais {} problema(s)", p.total - lista.len()));
    }
    lista
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::models::{EntradaEspera, Oferta, StatusEspera};

    fn entrada(id: &str, status: StatusEspera) -> EntradaEspera {
        EntradaEspera {
            id: id.into(),
            paciente_id: "p".into(),
            medico_id: None,
            especialidade: None,
            de: jiff::civil::date(2026, 3, 2),
            ate: jiff::civil::date(2026, 3, 9),
            status,
            oferta: None,
            recusadas: Vec::new(),
            tarefa_id: None,
            consulta_id: None,
            created_at: "2026-03-01T08:00:00-03:00".into(),
            updated_at: "2026-03-01T08:00:00-03:00".into(),
        }
    }

    /// A restored waiting list passes the API's own rules: dates in order, one of doctor or
    /// speciality, an offer exactly while `oferecida`.
    #[test]
    fn restored_waiting_list_entries_are_checked() {
        let tz = TimeZone::get("America/Sao_Paulo").expect("zone");
        let (agora, hoje) = (
            jiff::civil::date(2026, 3, 1).at(8, 0, 0, 0),
            jiff::civil::date(2026, 3, 1),
        );
        let mut db = Db::default();
        db.lista_espera
            .put(Arc::new(entrada("ok", StatusEspera::Aguardando)));
        assert_eq!(problemas(&db, agora, hoje, &tz), Vec::<String>::new());
        db.lista_espera.put(Arc::new(EntradaEspera {
            ate: jiff::civil::date(2026, 3, 1),
            ..entrada("datas", StatusEspera::Aguardando)
        }));
        db.lista_espera.put(Arc::new(EntradaEspera {
            medico_id: Some("m".into()),
            especialidade: Some("Cardiologia".into()),
            ..entrada("ambos", StatusEspera::Cancelada)
        }));
        db.lista_espera
            .put(Arc::new(entrada("sem-oferta", StatusEspera::Oferecida)));
        db.lista_espera.put(Arc::new(EntradaEspera {
            oferta: Some(Oferta {
                medico_id: "m".into(),
                slot: agora,
                expira_em: "amanhã".into(),
            }),
            ..entrada("oferta-ruim", StatusEspera::Aguardando)
        }));
        let p = problemas(&db, agora, hoje, &tz);
        let texto = p.join("\n");
        for id in ["datas", "ambos", "sem-oferta", "oferta-ruim"] {
            assert!(
                texto.contains(&format!("lista de espera {id}:")),
                "{id}: {texto}"
            );
        }
        assert!(!texto.contains("lista de espera ok:"), "{texto}");
    }
}

#[cfg(test)]
mod webhooks_tests {
    use std::sync::Arc;

    use super::*;
    use crate::models::Webhook;

    fn webhook(id: &str, url: &str, eventos: &[&str], segredo: &str) -> Arc<Webhook> {
        Arc::new(Webhook {
            id: id.into(),
            url: url.into(),
            eventos: eventos.iter().map(|e| (*e).to_owned()).collect(),
            ativo: true,
            segredo: segredo.into(),
            created_at: "2026-03-01T08:00:00-03:00".into(),
            updated_at: "2026-03-01T08:00:00-03:00".into(),
        })
    }

    /// A restored webhook passes the API's checks (URL, events) and keeps a usable secret.
    #[test]
    fn restored_webhooks_are_checked() {
        let tz = TimeZone::get("America/Sao_Paulo").expect("zone");
        let (agora, hoje) = (
            jiff::civil::date(2026, 3, 1).at(8, 0, 0, 0),
            jiff::civil::date(2026, 3, 1),
        );
        let bom = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSwMfKQ9r8GKYo=";
        let mut db = Db::default();
        db.webhooks.put(webhook(
            "ok",
            "https://exemplo.com/g",
            &["consulta.agendada"],
            bom,
        ));
        assert_eq!(problemas(&db, agora, hoje, &tz), Vec::<String>::new());
        db.webhooks.put(webhook(
            "a",
            "ftp://exemplo.com/",
            &["consulta.agendada"],
            bom,
        ));
        db.webhooks
            .put(webhook("b", "https://exemplo.com/", &["consulta.x"], bom));
        db.webhooks.put(webhook(
            "c",
            "https://exemplo.com/",
            &["consulta.agendada"],
            "segredo",
        ));
        let p = problemas(&db, agora, hoje, &tz);
        assert_eq!(p.len(), 3, "{p:?}");
        assert!(p[0].starts_with("webhook a: url"), "{p:?}");
        assert!(p[1].starts_with("webhook b: eventos"), "{p:?}");
        assert!(p[2].starts_with("webhook c: segredo"), "{p:?}");
    }
}
