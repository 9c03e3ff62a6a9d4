//! `/medicos` (SPEC §2).

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::auth::{Autenticado, Autorizado, Staff};
use super::extract::{
    ApiPath, ApiQuery, Json, JsonBody, Lista, Pagina, Patch, Requisicao, opcional,
    patch_obrigatorio, patch_opcional,
};
use crate::domain::{Crm, Email, Nome, Telefone, especialidade};
use crate::error::{AppError, Erros};
use crate::models::Medico;
use crate::services::convenios::centavos;
use crate::services::medicos::{AlteraMedico, DURACAO_MINUTOS, INTERVALO_MINUTOS, NovoMedico};
use crate::services::{self, AppState};

/// Body of `POST /medicos`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicoCreate {
    /// Full name.
    #[schema(example = "Dra. Ana Lúcia Ribeiro")]
    pub nome: String,
    /// Council registration, unique.
    #[schema(example = "CRM/SP 123456")]
    pub crm: String,
    /// Speciality.
    #[schema(example = "Cardiologia")]
    pub especialidade: String,
    /// E-mail (`""` = none).
    pub email: Option<String>,
    /// Phone (`""` = none).
    pub telefone: Option<String>,
    /// Length of this doctor's slots in minutes, 5 to 480 (default `--slot-minutes`): the
    /// grid starts at each horário's start and steps by it; a remainder shorter than a slot
    /// at the end of a horário is not bookable.
    #[schema(value_type = Option<i64>, minimum = 5, maximum = 480, example = 30)]
    pub duracao_consulta_minutos: Option<f64>,
    /// Minutes kept free after each appointment, 0 to 240 (default 0).
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 240, example = 10)]
    pub intervalo_minutos: Option<f64>,
    /// The insurance plans (`/convenios` ids) this doctor takes (default none; an unknown
    /// id is 422).
    pub convenios_aceitos: Option<Vec<String>>,
    /// Whether private-pay patients are seen (default `true`).
    pub aceita_particular: Option<bool>,
    /// Private-pay price in integer centavos, 0 to 1000000000 (`15000` = R$ 150,00; no
    /// fractions).
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000000, example = 15000)]
    pub valor_particular_centavos: Option<f64>,
}

/// Plan ids as sent: trimmed, repeats dropped (first kept), blank refused.
fn ids_convenio(e: &mut Erros, v: Option<Vec<String>>) -> Option<Vec<String>> {
    let v = v?;
    let mut out: Vec<String> = Vec::with_capacity(v.len());
    for id in v {
        let id = crate::domain::trim(&id).to_owned();
        if id.is_empty() {
            e.push("convenios_aceitos", "um id de convênio não pode ser vazio");
            return None;
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    if out.len() > MAX_CONVENIOS {
        e.push(
            "convenios_aceitos",
            format!("no máximo {MAX_CONVENIOS} convênios"),
        );
        return None;
    }
    Some(out)
}

/// Most plans one doctor may take.
const MAX_CONVENIOS: usize = 500;

/// A minutes field within `faixa`, or its field error. Read as a JSON number so `45.0`
/// (an integer to JSON Schema) is accepted like `45`.
fn minutos(
    e: &mut Erros,
    campo: &str,
    v: Option<f64>,
    faixa: std::ops::RangeInclusive<u16>,
) -> Option<u16> {
    let v = v?;
    let inteiro = (v.fract() == 0.0 && v >= 0.0 && v <= f64::from(u16::MAX)).then_some(v as u16);
    match inteiro.filter(|m| faixa.contains(m)) {
        Some(m) => Some(m),
        None => {
            e.push(
                campo,
                format!(
                    "deve ser um número inteiro de minutos entre {} e {}",
                    faixa.start(),
                    faixa.end()
                ),
            );
            None
        }
    }
}

/// Body of `PUT /medicos/{id}`: any subset; `null` or `""` clears an optional field.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MedicoUpdate {
    /// New name.
    #[serde(default)]
    #[schema(value_type = String)]
    pub nome: Patch<String>,
    /// New speciality.
    #[serde(default)]
    #[schema(value_type = String)]
    pub especialidade: Patch<String>,
    /// New e-mail.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub email: Patch<String>,
    /// New phone.
    #[serde(default)]
    #[schema(value_type = Option<String>)]
    pub telefone: Patch<String>,
    /// New slot length in minutes, 5 to 480 (the agenda's grid from now on; existing
    /// appointments and holds stay as they are).
    #[schema(value_type = Option<i64>, minimum = 5, maximum = 480)]
    pub duracao_consulta_minutos: Option<f64>,
    /// New buffer after each appointment in minutes, 0 to 240.
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 240)]
    pub intervalo_minutos: Option<f64>,
    /// New list of accepted plans (replaces the old one; existing appointments keep theirs).
    pub convenios_aceitos: Option<Vec<String>>,
    /// Whether private-pay patients are seen.
    pub aceita_particular: Option<bool>,
    /// New private-pay price in integer centavos (`null` clears it); appointments already
    /// booked keep the amount copied when they were booked.
    #[serde(default)]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 1000000000)]
    pub valor_particular_centavos: Patch<f64>,
}

/// Filter of `GET /medicos`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiltroMedicos {
    /// Only this speciality (ignores case and accents).
    pub especialidade: Option<String>,
}

impl MedicoCreate {
    fn validate(self) -> Result<NovoMedico, AppError> {
        let mut e = Erros::default();
        let nome = e.check("nome", Nome::parse(&self.nome));
        let crm = e.check("crm", Crm::parse(&self.crm));
        let esp = e.check("especialidade", especialidade(&self.especialidade));
        let email = opcional(&mut e, "email", self.email.as_deref(), Email::entregavel);
        let telefone = opcional(
            &mut e,
            "telefone",
            self.telefone.as_deref(),
            Telefone::parse,
        );
        let duracao = minutos(
            &mut e,
            "duracao_consulta_minutos",
            self.duracao_consulta_minutos,
            DURACAO_MINUTOS,
        );
        let intervalo = minutos(
            &mut e,
            "intervalo_minutos",
            self.intervalo_minutos,
            INTERVALO_MINUTOS,
        );
        let aceitos = ids_convenio(&mut e, self.convenios_aceitos);
        let valor = self
            .valor_particular_centavos
            .and_then(|v| e.check("valor_particular_centavos", centavos(v)));
        e.finish()?;
        match (nome, crm, esp) {
            (Some(nome), Some(crm), Some(especialidade)) => Ok(NovoMedico {
                nome: nome.into_inner(),
                crm: crm.into_inner(),
                especialidade,
                email: email.map(Email::into_inner),
                telefone: telefone.map(Telefone::into_inner),
                duracao_consulta_minutos: duracao,
                intervalo_minutos: intervalo,
                convenios_aceitos: aceitos.unwrap_or_default(),
                aceita_particular: self.aceita_particular.unwrap_or(true),
                valor_particular_centavos: valor,
            }),
            _ => Err(AppError::Internal(
                "validation passed without values".into(),
            )),
        }
    }
}

impl MedicoUpdate {
    fn validate(self) -> Result<AlteraMedico, AppError> {
        let mut e = Erros::default();
        let nome = patch_obrigatorio(&mut e, "nome", &self.nome, |s| {
            Nome::parse(s).map(Nome::into_inner)
        });
        let esp = patch_obrigatorio(&mut e, "especialidade", &self.especialidade, especialidade);
        let email = patch_opcional(&mut e, "email", &self.email, Email::entregavel);
        let telefone = patch_opcional(&mut e, "telefone", &self.telefone, Telefone::parse);
        let duracao = minutos(
            &mut e,
            "duracao_consulta_minutos",
            self.duracao_consulta_minutos,
            DURACAO_MINUTOS,
        );
        let intervalo = minutos(
            &mut e,
            "intervalo_minutos",
            self.intervalo_minutos,
            INTERVALO_MINUTOS,
        );
        let aceitos = ids_convenio(&mut e, self.convenios_aceitos);
        let valor = match self.valor_particular_centavos {
            Patch::Missing => None,
            Patch::Null => Some(None),
            Patch::Value(v) => e.check("valor_particular_centavos", centavos(v)).map(Some),
        };
        e.finish()?;
        Ok(AlteraMedico {
            nome,
            especialidade: esp,
            email: email.map(|o| o.map(Email::into_inner)),
            telefone: telefone.map(|o| o.map(Telefone::into_inner)),
            duracao_consulta_minutos: duracao,
            intervalo_minutos: intervalo,
            convenios_aceitos: aceitos,
            aceita_particular: self.aceita_particular,
            valor_particular_centavos: valor,
        })
    }
}

/// Lists doctors by name, optionally of one speciality.
///
/// A patient gets them without `email` and `telefone` (null).
#[utoipa::path(get, path = "/medicos", tag = "medicos", params(Pagina, FiltroMedicos),
    responses((status = 200, description = "Médicos por nome", body = [Medico],
        headers(("x-total-count" = u64, description = "Total após o filtro")))))]
pub async fn list_medicos(
    quem: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiQuery(pagina): ApiQuery<Pagina>,
    ApiQuery(f): ApiQuery<FiltroMedicos>,
) -> Result<Lista<Medico>, AppError> {
    let janela = pagina.janela()?;
    Ok(services::medicos::page(&app, f.especialidade.as_deref(), janela, quem.0.papel).into())
}

/// Finds one doctor.
///
/// A patient gets them without `email` and `telefone` (null).
#[utoipa::path(get, path = "/medicos/{id}", tag = "medicos", params(("id" = String, Path)),
    responses((status = 200, body = Medico)))]
pub async fn find_medico(
    quem: Autorizado<Autenticado>,
    State(app): State<AppState>,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Arc<Medico>>, AppError> {
    services::medicos::find(&app, &id, quem.0.papel).map(Json)
}

/// Registers a doctor.
#[utoipa::path(post, path = "/medicos", tag = "medicos", request_body = MedicoCreate,
    responses((status = 201, body = Medico)))]
pub async fn create_medico(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    JsonBody(body): JsonBody<MedicoCreate>,
) -> Result<(StatusCode, Json<Arc<Medico>>), AppError> {
    let novo = body.validate()?;
    let r = req.responde(StatusCode::CREATED);
    let m = services::medicos::create(&app, r.ctx(), novo).await?;
    Ok(r.json(m))
}

/// Changes a doctor's name, speciality or contact data.
#[utoipa::path(put, path = "/medicos/{id}", tag = "medicos", params(("id" = String, Path)),
    request_body = MedicoUpdate, responses((status = 200, body = Medico)))]
pub async fn update_medico(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
    JsonBody(body): JsonBody<MedicoUpdate>,
) -> Result<(StatusCode, Json<Arc<Medico>>), AppError> {
    let alt = body.validate()?;
    let r = req.responde(StatusCode::OK);
    services::medicos::update(&app, r.ctx(), &id, alt)
        .await
        .map(|v| r.json(v))
}

/// Deletes a doctor and their horários (409 while future active appointments exist).
#[utoipa::path(delete, path = "/medicos/{id}", tag = "medicos", params(("id" = String, Path)),
    responses((status = 204, description = "Excluído")))]
pub async fn delete_medico(
    _: Autorizado<Staff>,
    State(app): State<AppState>,
    req: Requisicao,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, AppError> {
    let r = req.responde(StatusCode::NO_CONTENT);
    services::medicos::delete(&app, r.ctx(), &id).await?;
    Ok(r.vazia())
}
