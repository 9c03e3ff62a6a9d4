//! Weekday names as the clinic writes them.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::fold;

/// A day of the week, stored unaccented and lower-case (SPEC §2).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum DiaSemana {
    /// Monday.
    Segunda,
    /// Tuesday.
    Terca,
    /// Wednesday.
    Quarta,
    /// Thursday.
    Quinta,
    /// Friday.
    Sexta,
    /// Saturday.
    Sabado,
    /// Sunday.
    Domingo,
}

impl DiaSemana {
    /// Every day, Monday first: the one list of weekdays (the OpenAPI document takes its
    /// `dia_semana` enum from it).
    pub const ALL: [Self; 7] = [
        Self::Segunda,
        Self::Terca,
        Self::Quarta,
        Self::Quinta,
        Self::Sexta,
        Self::Sabado,
        Self::Domingo,
    ];

    /// Accepts any letter case and accents (`Terça`, `SÁBADO`) and an optional `-feira`.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let f = fold(s.trim());
        let f = f.strip_suffix("-feira").unwrap_or(&f);
        Ok(match f {
            "segunda" => Self::Segunda,
            "terca" => Self::Terca,
            "quarta" => Self::Quarta,
            "quinta" => Self::Quinta,
            "sexta" => Self::Sexta,
            "sabado" => Self::Sabado,
            "domingo" => Self::Domingo,
            _ => {
                return Err(
                    "dia da semana inválido: use segunda, terca, quarta, quinta, sexta, sabado ou domingo",
                );
            }
        })
    }

    /// The weekday of a calendar date.
    pub fn of(date: jiff::civil::Date) -> Self {
        use jiff::civil::Weekday as W;
        match date.weekday() {
            W::Monday => Self::Segunda,
            W::Tuesday => Self::Terca,
            W::Wednesday => Self::Quarta,
            W::Thursday => Self::Quinta,
            W::Friday => Self::Sexta,
            W::Saturday => Self::Sabado,
            W::Sunday => Self::Domingo,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_holds_each_day_once_and_each_name_parses_back() {
        let mut date = jiff::civil::date(2026, 3, 2);
        for day in DiaSemana::ALL {
            assert_eq!(DiaSemana::of(date), day, "Monday first, in order");
            let name = serde_json::to_value(day).expect("serializes");
            let name = name.as_str().expect("a string");
            assert_eq!(DiaSemana::parse(name), Ok(day));
            date = date.tomorrow().expect("in range");
        }
    }

    #[test]
    fn accepts_accents_case_and_feira() {
        assert_eq!(DiaSemana::parse("Terça"), Ok(DiaSemana::Terca));
        assert_eq!(DiaSemana::parse("SÁBADO"), Ok(DiaSemana::Sabado));
        assert_eq!(DiaSemana::parse("segunda-feira"), Ok(DiaSemana::Segunda));
        assert!(DiaSemana::parse("feriado").is_err());
    }

    #[test]
    fn serializes_unaccented_lowercase() {
        assert_eq!(
            serde_json::to_string(&DiaSemana::Terca).ok(),
            Some("\"terca\"".into())
        );
    }

    #[test]
    fn weekday_of_a_date() {
        // 2026-11-23 is a Monday.
        assert_eq!(
            DiaSemana::of(jiff::civil::date(2026, 11, 23)),
            DiaSemana::Segunda
        );
        assert_eq!(
            DiaSemana::of(jiff::civil::date(2026, 11, 22)),
            DiaSemana::Domingo
        );
    }
}
