//! Domain newtypes: values whose constructors hold the rules of SPEC §2, so that code below
//! the controllers only ever sees valid data ("parse, don't validate").

mod contato;
mod cpf;
mod crm;
mod dia_semana;
pub mod extenso;
mod hora;
mod instante;
mod intervalo;
mod smtp;
mod texto;

pub use contato::{Email, TELEFONE_PATTERN, Telefone, email_pattern};
pub use cpf::Cpf;
pub use crm::Crm;
pub use dia_semana::DiaSemana;
pub use hora::Hora;
pub use instante::{
    DATE_PATTERN, DATETIME_PATTERN, GAP_ERR, Momento, Relogio, format_datetime, parse_date,
    parse_datetime, parse_momento,
};
pub use intervalo::{Intervalo, overlaps};
pub use smtp::{SmtpTls, SmtpUrl};
pub use texto::{
    MAX_OBS, Nome, WHITESPACE_CLASS, convenio, especialidade, fold, is_space, nome_pattern,
    not_blank_pattern, texto_opcional, trim,
};
