//! Input rules utoipa cannot derive from the types, written into the document by schema
//! and property name; every rule that finds no target is reported (and a test fails).

use super::*;

/// The rules of the input types that utoipa cannot derive, written into the document from
/// the same constants the parsers use, so the published contract is exactly what the server
/// accepts (fuzzers generate from it; clients validate against it). Returns every rule that
/// found no target (a schema, property, path or parameter renamed since it was written):
/// the unit test below fails on any, so no rule can silently stop applying.
#[must_use]
pub(super) fn refine_schemas(doc: &mut utoipa::openapi::OpenApi) -> Vec<String> {
    use crate::domain::{
        Cpf, DATE_PATTERN, DATETIME_PATTERN, DiaSemana, Hora, TELEFONE_PATTERN, email_pattern,
        nome_pattern, not_blank_pattern,
    };
    use utoipa::openapi::schema::Schema;

    // Contains a character that is not whitespace (so trimming leaves something).
    let not_blank = not_blank_pattern();
    let not_blank = not_blank.as_str();
    // 1..=200 characters after trimming (SPEC §2): a length bound would count the padding.
    let nome = nome_pattern();
    /// No pattern, only lengths.
    const ANY: &str = "";
    let or_empty = |p: &str| format!("^$|{p}");
    let email_obrigatorio = email_pattern();
    let email = or_empty(&email_obrigatorio);
    let telefone = or_empty(TELEFONE_PATTERN);
    // A report's period: a date, or a date-time whose date counts.
    let date_or_empty = format!("^$|{DATE_PATTERN}|{DATETIME_PATTERN}");
    let date_or_none = format!("^$|{DATE_PATTERN}");
    let mut misses = Vec::new();
    /// (schema, property, pattern or "", min length, max length)
    type Rule<'a> = (&'a str, &'a str, &'a str, Option<usize>, Option<usize>);
    let rules: &[Rule] = &[
        ("PacienteCreate", "nome", &nome, Some(1), None),
        ("PacienteCreate", "cpf", Cpf::PATTERN, None, None),
        (
            "PacienteCreate",
            "data_nascimento",
            DATE_PATTERN,
            None,
            None,
        ),
        ("PacienteCreate", "email", &email, None, Some(254)),
        ("PacienteCreate", "telefone", &telefone, None, None),
        ("PacienteCreate", "convenio", ANY, None, Some(100)),
        ("PacienteUpdate", "nome", &nome, Some(1), None),
        ("PacienteUpdate", "cpf", Cpf::PATTERN, None, None),
        (
            "PacienteUpdate",
            "data_nascimento",
            DATE_PATTERN,
            None,
            None,
        ),
        ("PacienteUpdate", "email", &email, None, Some(254)),
        ("PacienteUpdate", "telefone", &telefone, None, None),
        ("PacienteUpdate", "convenio", ANY, None, Some(100)),
        ("MedicoCreate", "nome", &nome, Some(1), None),
        ("MedicoCreate", "crm", "[0-9]", Some(1), Some(40)),
        (
            "MedicoCreate",
            "especialidade",
            not_blank,
            Some(1),
            Some(100),
        ),
        ("MedicoCreate", "email", &email, None, Some(254)),
        ("MedicoCreate", "telefone", &telefone, None, None),
        ("MedicoUpdate", "nome", &nome, Some(1), None),
        (
            "MedicoUpdate",
            "especialidade",
            not_blank,
            Some(1),
            Some(100),
        ),
        ("MedicoUpdate", "email", &email, None, Some(254)),
        ("MedicoUpdate", "telefone", &telefone, None, None),
        ("UsuarioCreate", "nome", &nome, Some(1), None),
        (
            "UsuarioCreate",
            "email",
            &email_obrigatorio,
            None,
            Some(254),
        ),
        ("UsuarioCreate", "senha", ANY, Some(8), Some(1024)),
        ("UsuarioUpdate", "nome", &nome, Some(1), None),
        (
            "UsuarioUpdate",
            "email",
            &email_obrigatorio,
            None,
            Some(254),
        ),
        ("UsuarioUpdate", "senha", ANY, Some(8), Some(1024)),
        ("SenhaBody", "senha_nova", ANY, Some(8), Some(1024)),
        ("HorarioCreate", "hora_inicio", Hora::PATTERN, None, None),
        ("HorarioCreate", "hora_fim", Hora::PATTERN, None, None),
        ("HorarioUpdate", "hora_inicio", Hora::PATTERN, None, None),
        ("HorarioUpdate", "hora_fim", Hora::PATTERN, None, None),
        ("ConsultaCreate", "paciente_id", not_blank, Some(1), None),
        ("ConsultaCreate", "medico_id", not_blank, Some(1), None),
        ("ConsultaCreate", "inicio", DATETIME_PATTERN, None, None),
        ("ConsultaCreate", "fim", DATETIME_PATTERN, None, None),
        ("ConsultaCreate", "observacoes", ANY, None, Some(2000)),
        ("ConsultaUpdate", "inicio", DATETIME_PATTERN, None, None),
        ("ConsultaUpdate", "fim", DATETIME_PATTERN, None, None),
        ("ConsultaUpdate", "observacoes", ANY, None, Some(2000)),
        ("SlotBody", "medico_id", not_blank, Some(1), None),
        ("SlotBody", "slot", DATETIME_PATTERN, None, None),
        (
            "RelatorioBody",
            "periodo_inicio",
            &date_or_empty,
            None,
            None,
        ),
        ("RelatorioBody", "periodo_fim", &date_or_empty, None, None),
        ("BloqueioCreate", "inicio", DATETIME_PATTERN, None, None),
        ("BloqueioCreate", "fim", DATETIME_PATTERN, None, None),
        ("BloqueioCreate", "motivo", not_blank, Some(1), Some(200)),
        ("EntradaCreate", "paciente_id", not_blank, Some(1), None),
        (
            "EntradaCreate",
            "especialidade",
            not_blank,
            Some(1),
            Some(100),
        ),
        ("EntradaCreate", "de", DATE_PATTERN, None, None),
        ("EntradaCreate", "ate", DATE_PATTERN, None, None),
        ("SerieCreate", "paciente_id", not_blank, Some(1), None),
        ("SerieCreate", "medico_id", not_blank, Some(1), None),
        ("SerieCreate", "inicio", DATETIME_PATTERN, None, None),
        ("SerieCreate", "fim", DATETIME_PATTERN, None, None),
        ("SerieCancelar", "motivo", ANY, None, Some(2000)),
        ("ConvenioCreate", "nome", not_blank, Some(1), Some(100)),
        (
            "PacienteCreate",
            "carteirinha",
            "^([0-9A-Za-z]{1,30})?$",
            None,
            None,
        ),
        (
            "PacienteUpdate",
            "carteirinha",
            "^([0-9A-Za-z]{1,30})?$",
            None,
            None,
        ),
        (
            "PacienteCreate",
            "validade_carteirinha",
            &date_or_none,
            None,
            None,
        ),
        (
            "PacienteUpdate",
            "validade_carteirinha",
            &date_or_none,
            None,
            None,
        ),
        (
            "ConvenioCreate",
            "registro_ans",
            "^([0-9]{6})?$",
            None,
            None,
        ),
        ("ConvenioUpdate", "nome", not_blank, Some(1), Some(100)),
        (
            "ConvenioUpdate",
            "registro_ans",
            "^([0-9]{6})?$",
            None,
            None,
        ),
    ];
    let Some(components) = doc.components.as_mut() else {
        return vec!["components".to_owned()];
    };
    for (schema, prop, pattern, min, max) in rules {
        let Some(RefOr::T(Schema::Object(obj))) = components.schemas.get_mut(*schema) else {
            misses.push(format!("schema {schema}"));
            continue;
        };
        let Some(RefOr::T(Schema::Object(p))) = obj.properties.get_mut(*prop) else {
            misses.push(format!("property {schema}.{prop}"));
            continue;
        };
        if !pattern.is_empty() {
            p.pattern = Some((*pattern).to_owned());
        }
        p.min_length = p.min_length.or(*min);
        p.max_length = p.max_length.or(*max);
    }
    for schema in ["HorarioCreate", "HorarioUpdate"] {
        let Some(RefOr::T(Schema::Object(obj))) = components.schemas.get_mut(schema) else {
            misses.push(format!("schema {schema}"));
            continue;
        };
        let Some(RefOr::T(Schema::Object(p))) = obj.properties.get_mut("dia_semana") else {
            misses.push(format!("property {schema}.dia_semana"));
            continue;
        };
        let mut values: Vec<serde_json::Value> = DiaSemana::ALL
            .iter()
            .map(|d| serde_json::to_value(d).unwrap_or_default())
            .collect();
        if schema == "HorarioUpdate" {
            values.push(serde_json::Value::Null);
        }
        p.enum_values = Some(values);
    }
    // Date query parameters.
    let mut date_params = 0;
    for (path, item) in doc.paths.paths.iter_mut() {
        for op in [item.get.as_mut(), item.post.as_mut()]
            .into_iter()
            .flatten()
        {
            for param in op.parameters.iter_mut().flatten() {
                if let RefOr::T(param) = param
                    && matches!(param.name.as_str(), "de" | "ate")
                    && let Some(RefOr::T(Schema::Object(p))) = param.schema.as_mut()
                {
                    // The audit trail also takes an instant.
                    p.pattern = Some(if path == "/sistema/auditoria" {
                        format!("{DATE_PATTERN}|{DATETIME_PATTERN}")
                    } else {
                        DATE_PATTERN.to_owned()
                    });
                    date_params += 1;
                }
            }
        }
    }
    if date_params == 0 {
        misses.push("query parameters de/ate".to_owned());
    }
    // Every report filter is optional, and so is the body itself (no body = `{}`).
    // So is the body of a series' cancellation (SPEC-2 §11: `{motivo?}`).
    for path in [
        "/relatorios/gerar",
        "/sistema/tasks/relatorio",
        "/consultas/series/{serie_id}/cancelar",
    ] {
        if let Some(RefOr::T(body)) = doc
            .paths
            .paths
            .get_mut(path)
            .and_then(|item| item.post.as_mut())
            .and_then(|op| op.request_body.as_mut())
        {
            body.required = Some(utoipa::openapi::Required::False);
        } else {
            misses.push(format!("request body of POST {path}"));
        }
    }
    misses
}
