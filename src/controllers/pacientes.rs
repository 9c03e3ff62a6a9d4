//! `/pacientes` (SPEC §2).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Autorizado, Proprios, Staff, StaffOuPaciente};
use super::extract::{
    ApiPath, ApiQuery, Json, JsonBody, Lista, Pagina, Patch, Requisicao, filtro, opcional,
    patch_obrigatorio, patch_opcional,
};
use crate::domain::{Cpf, Email, Nome, Telefone, convenio, parse_date};
use crate::error::{AppError, Erros};
use crate::models::{Acao, Paciente};
use crate::services::convenios::carteirinha;
use crate::services::pacientes::{AlteraPaciente, NovoPaciente};
use crate::services::{self, AppState, Escopo};

/// Body of `POST /pacientes`. Unknown fields are refused (422 naming them).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PacienteCreate {
    /// Full name, 1..200 characters.
    #[schema(example = "Maria da Conceição")]
    pub nome: String,
    /// CPF, with or without punctuation.
    #[schema(example = "529.982.247-25")]
    pub cpf: String,
    /// Birth date, not in the future.
    #[schema(example = "1980-05-17")]
    pub data_nascimento: String,
    /// E-mail (`""` = none).
    #[schema(example = "maria@exemplo.com")]
    pub email: Option<String>,
    /// Phone (`""` = none).
    #[schema(example = "(11) 98765-4321")]
    pub telefone: Option<String>,
    /// Insurance plan (`""` = none).
    #[schema(example = "Unimed")]
    pub convenio: Option<String>,
    /// The patient's plan in `/convenios` (SPEC-2 §12; an unknown id is 422; `""` = none).
    pub convenio_id: Option<String>,
    /// The plan card's number: 1 to 30 letters or digits (`""` = none).
    #[schema(example = "0001234500012345")]
    pub carteirinha: Option<String>,
    /// The card's last valid day, `YYYY-MM-DD` (`""` = none); a booking on a later day is
    /// refused with `carteirinha_vencida`.
    #[schema(example = "2027-12-31")]
    pub validade_carteirinha: Option<String>,
    /// Whether the patient receives e-mail about their appointments (SPEC-2 §13).
    #[serde(default = "sim")]
    #[schema(default = true)]
    pub notificacoes_email: bool,
}

fn sim() -> bool {
    true
}

/// Body of `PUT /pacientes/{id}`: any subset; `null` or `""` clears an optional field.
/// Unknown and read-only fields (`id`, `created_at`, `updated_at`) are refused (422).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PacienteUpdate {
    /// New name.
    #[serde(default)]
    #[schema(value_type = String)]
    pub nome: Patch<String>,
    /// Corrected CPF (valid, unique), with or without punctuation.
    #[serde(default)]
    #[schema(value_type = String, example = "529.982.247-25")]
    pub cpf: Patch<String>,
    /// Corrected birth date, not in the future.
    #[serde(default)]
    #[schema(value_type = String, example = "1980-05-17")]
    pub data_nascimento: Patch<String>,
    /// New e-mail.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    /// New phone.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub telefone: Patch<String>,
    /// New insurance plan.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub convenio: Patch<String>,
    /// New registered plan (`/convenios` id).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub convenio_id: Patch<String>,
    /// New card number (1 to 30 letters or digits).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub carteirinha: Patch<String>,
    /// New card validity (`YYYY-MM-DD`).
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub validade_carteirinha: Patch<String>,
    /// E-mail about appointments on (`true`) or off (`false`, the patient's opt-out; a
    /// patient may change it on their own record). `null` is refused.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub notificacoes_email: Patch<bool>,
}

/// Search of `GET /pacientes`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BuscaPacientes {
    /// Part of the name or CPF (ignores case and accents).
    pub q: Option<String>,
}

/// A birth date: a date, not in the future, from 1900 on.
fn nascimento(s: &str, today: jiff::civil::Date) -> Result<jiff::civil::Date, &'static str> {
    let d = parse_date(s)?;
    if d > today {
        Err("não pode estar no futuro")
    } else if d.year() < 1900 {
        Err("deve ser a partir de 1900")
    } else {
        Ok(d)
    }
}

impl PacienteCreate {
    fn validate(self, today: jiff::civil::Date) -> Result<NovoPaciente, AppError> {
        let mut e = Erros::default();
        let nome = e.check("nome", Nome::parse(&self.nome));
        let cpf = e.check("cpf", Cpf::parse(&self.cpf));
        let nascimento = e.check("data_nascimento", nascimento(&self.data_nascimento, today));
        let email = opcional(&mut e, "email", self.email.as_deref(), Email::entregavel);
        let telefone = opcional(
            &mut e,
            "telefone",
            self.telefone.as_deref(),
            Telefone::parse,
        );
        let convenio = opcional(&mut e, "convenio", self.convenio.as_deref(), convenio);
        let convenio_id = filtro(self.convenio_id);
        let carteirinha = opcional(
            &mut e,
            "carteirinha",
            self.carteirinha.as_deref(),
            carteirinha,
        );
        let validade = opcional(
            &mut e,
            "validade_carteirinha",
            self.validade_carteirinha.as_deref(),
            parse_date,
        );
        e.finish()?;
        match (nome, cpf, nascimento) {
            (Some(nome), Some(cpf), Some(data_nascimento)) => Ok(NovoPaciente {
                nome: nome.into_inner(),
                cpf,
                data_nascimento,
                email: email.map(Email::into_inner),
                telefone: telefone.map(Telefone::into_inner),
                convenio,
                convenio_id,
                carteirinha,
                validade_carteirinha: validade,
                notificacoes_email: self.notificacoes_email,
            }),
            _ => Err(AppError::Internal(
                "validation passed without values".into(),
            )),
        }
    }
}

impl PacienteUpdate {
    fn validate(self, today: jiff::civil::Date) -> Result<AlteraPaciente, AppError> {
        let mut e = Erros::default();
        let nome = patch_obrigatorio(&mut e, "nome", &self.nome, Nome::parse).map(Nome::into_inner);
        let cpf = patch_obrigatorio(&mut e, "cpf", &self.cpf, Cpf::parse);
        let data_nascimento =
            patch_obrigatorio(&mut e, "data_nascimento", &self.data_nascimento, |s| {
                nascimento(s, today)
            });
        let email = patch_opcional(&mut e, "email", &self.email, Email::entregavel);
        let telefone = patch_opcional(&mut e, "telefone", &self.telefone, Telefone::parse);
        let convenio = patch_opcional(&mut e, "convenio", &self.convenio, convenio);
        let convenio_id = patch_opcional(&mut e, "convenio_id", &self.convenio_id, |s| {
            Ok(crate::domain::trim(s).to_owned())
        })
        .map(|o| o.filter(|s| !s.is_empty()));
        let carteirinha = patch_opcional(&mut e, "carteirinha", &self.carteirinha, carteirinha);
        let validade = patch_opcional(
            &mut e,
            "validade_carteirinha",
            &self.validade_carteirinha,
            parse_date,
        );
        let notificacoes_email = match self.notificacoes_email {
            Patch::Missing => None,
            Patch::Null => {
                e.push("notificacoes_email", "não pode ser nulo: use true ou false");
                None
            }
            Patch::Value(v) => Some(v),
        };
        e.finish()?;
        Ok(AlteraPaciente {
            nome,
            cpf,
            data_nascimento,
            email: email.map(|o| o.map(Email::into_inner)),
            telefone: telefone.map(|o| o.map(Telefone::into_inner)),
            convenio,
            convenio_id,
            carteirinha,
            validade_carteirinha: validade,
            notificacoes_email,
        })
    }
}

/// Lists patients by name, optionally searching name or CPF.
#[utoipa::path(get, path = "/pacientes", tag = "pacientes", params(Pagina, BuscaPacientes),
    responses((status = 200, description = "Pacientes por nome", body = [Paciente],
        headers(("x-total-count" = u64, description = "Total após o filtro")))))]
pub async fn list_pacientes(
    quem: Autorizado<Proprios>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiQuery(pagina): ApiQuery<Pagina>,
    ApiQuery(busca): ApiQuery<BuscaPacientes>,
) -> Result<Lista<Paciente>, AppError> {
    let janela = pagina.janela()?;
    let lista: Lista<Paciente> =
        services::pacientes::page_visivel(&app, busca.q.as_deref(), &quem.escopo(), janela).into();
    // A search by name or CPF is a look-up of someone's record (LGPD): `ler` for each
    // patient it returned, as `GET /pacientes/{id}` records. Browsing the list is not.
    if busca.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
        let r = req.responde(StatusCode::OK);
        let ids = lista.0.iter().map(|p| p.id.clone());
        services::auditoria::registrar_cada(&app, r.ctx(), Acao::Ler, "pacientes", ids).await?;
    }
    Ok(lista)
}

/// Finds one patient.
#[utoipa::path(get, path = "/pacientes/{id}", tag = "pacientes", params(("id" = String, Path)),
    responses((status = 200, body = Paciente)))]
pub async fn find_paciente(
    quem: Autorizado<Proprios>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Arc<Paciente>>, AppError> {
    let p = services::pacientes::find_visivel(&app, &id, &quem.escopo())?;
    // Who saw a patient's personal data (LGPD): `ler` in the audit trail.
    let r = req.responde(StatusCode::OK);
    services::auditoria::registrar(&app, r.ctx(), Acao::Ler, "pacientes", Some(id)).await?;
    Ok(Json(p))
}

/// Registers a patient.
#[utoipa::path(post, path = "/pacientes", tag = "pacientes", request_body = PacienteCreate,
    responses((status = 201, body = Paciente)))]
pub async fn create_paciente(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<PacienteCreate>,
) -> Result<(StatusCode, Json<Arc<Paciente>>), AppError> {
    let novo = body.validate(app.clock.today())?;
    let r = req.responde(StatusCode::CREATED);
    let p = services::pacientes::create(&app, r.ctx(), novo).await?;
    Ok(r.json(p))
}

/// Changes a patient's name, CPF, birth date, contact data or e-mail opt-out.
#[utoipa::path(put, path = "/pacientes/{id}", tag = "pacientes", params(("id" = String, Path)),
    request_body = PacienteUpdate, responses((status = 200, body = Paciente)))]
pub async fn update_paciente(
    quem: Autorizado<StaffOuPaciente>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<PacienteUpdate>,
) -> Result<(StatusCode, Json<Arc<Paciente>>), AppError> {
    let alt = body.validate(app.clock.today())?;
    // SPEC-2 §10: a patient changes only their own contact data (e-mail, phone) and, by
    // §13, their e-mail opt-out (`notificacoes_email`).
    if let Escopo::Paciente(own) = quem.escopo() {
        if own != id {
            return Err(AppError::not_found("Paciente"));
        }
        if alt.nome.is_some()
            || alt.cpf.is_some()
            || alt.data_nascimento.is_some()
            || alt.convenio.is_some()
            || alt.convenio_id.is_some()
            || alt.carteirinha.is_some()
            || alt.validade_carteirinha.is_some()
        {
            return Err(AppError::Forbidden);
        }
    }
    let r = req.responde(StatusCode::OK);
    services::pacientes::update(&app, r.ctx(), &id, alt)
        .await
        .map(|v| r.json(v))
}

/// Deletes a patient (409 while they have future active appointments).
#[utoipa::path(delete, path = "/pacientes/{id}", tag = "pacientes", params(("id" = String, Path)),
    responses((status = 204, description = "Excluído")))]
pub async fn delete_paciente(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let r = req.responde(StatusCode::NO_CONTENT);
    services::pacientes::delete(&app, r.ctx(), &id).await?;
    Ok(r.vazia())
}
