//! Half-open time intervals `[inicio, fim)` and their overlap rule. An interval keeps its
//! clinic-local ends (what the API shows) and the instants they stand for (what is compared),
//! so daylight-saving changes neither invent nor hide overlaps.

use jiff::tz::{Offset, TimeZone};
use jiff::{SignedDuration, Timestamp, civil::DateTime};

use super::Momento;

/// A non-empty interval of time, `inicio < fim` as instants, at most 24 hours long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervalo {
    /// Start, inclusive, clinic-local.
    pub inicio: DateTime,
    /// End, exclusive, clinic-local (in a fold it may read earlier than `inicio`).
    pub fim: DateTime,
    /// The instant of `inicio`.
    pub inicio_em: Timestamp,
    /// The instant of `fim`.
    pub fim_em: Timestamp,
}

impl Intervalo {
    /// The longest appointment accepted; bounds the overlap search (a longer one is surely a typo).
    pub const MAX_HORAS: i64 = 24;

    /// Checks `inicio < fim` (as instants) and the maximum length.
    pub fn new(inicio: Momento, fim: Momento) -> Result<Self, &'static str> {
        if inicio.instante >= fim.instante {
            return Err("inicio deve ser anterior a fim");
        }
        if fim.instante.duration_since(inicio.instante)
            > SignedDuration::from_hours(Self::MAX_HORAS)
        {
            return Err("uma consulta dura no máximo 24 horas");
        }
        Ok(Self::from_momentos(inicio, fim))
    }

    /// An interval from two moments, unchecked (stored records, grid slots).
    pub fn from_momentos(inicio: Momento, fim: Momento) -> Self {
        Self {
            inicio: inicio.local,
            fim: fim.local,
            inicio_em: inicio.instante,
            fim_em: fim.instante,
        }
    }

    /// The grid slot starting at the naive local `slot`, `minutes` long in real time.
    pub fn slot(slot: DateTime, minutes: u16, tz: &TimeZone) -> Self {
        let ini = Momento::stored(slot, None, tz);
        let fim = Momento::at(
            ini.instante
                .saturating_add(SignedDuration::from_mins(i64::from(minutes)))
                .unwrap_or(ini.instante),
            tz,
        );
        Self::from_momentos(ini, fim)
    }

    /// The start as a moment.
    pub fn inicio_momento(&self) -> Momento {
        Momento {
            local: self.inicio,
            instante: self.inicio_em,
        }
    }

    /// The end as a moment.
    pub fn fim_momento(&self) -> Momento {
        Momento {
            local: self.fim,
            instante: self.fim_em,
        }
    }

    /// The offsets to store with `inicio` and `fim` (only for later occurrences of a fold).
    pub fn offsets(&self, tz: &TimeZone) -> (Option<Offset>, Option<Offset>) {
        (
            self.inicio_momento().fold_offset(tz),
            self.fim_momento().fold_offset(tz),
        )
    }
}

/// Whether two half-open intervals share any instant (touching ends do not overlap).
pub fn overlaps<T: Ord>(a_start: T, a_end: T, b_start: T, b_end: T) -> bool {
    a_start < b_end && b_start < a_end
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn touching_intervals_do_not_overlap() {
        assert!(!overlaps(8, 9, 9, 10));
        assert!(overlaps(8, 10, 9, 11));
        assert!(overlaps(8, 12, 9, 10));
    }

    #[test]
    fn intervalo_rejects_empty_reversed_and_too_long() {
        let tz = TimeZone::get("America/Sao_Paulo").expect("tz");
        let m = |d, h| {
            Momento::resolve(jiff::civil::date(2026, 3, d).at(h, 0, 0, 0), &tz).expect("time")
        };
        let (a, b) = (m(2, 8), m(2, 9));
        assert!(Intervalo::new(a, b).is_ok());
        assert!(Intervalo::new(b, a).is_err());
        assert!(Intervalo::new(a, a).is_err());
        assert!(Intervalo::new(a, m(3, 9)).is_err());
    }

    #[test]
    fn an_hour_across_the_fall_back_is_an_hour_even_though_the_clock_reads_the_same() {
        let tz = TimeZone::get("America/New_York").expect("tz");
        let edt = crate::domain::parse_momento("2027-11-07T01:30:00-04:00", &tz).expect("edt");
        let est = crate::domain::parse_momento("2027-11-07T01:30:00-05:00", &tz).expect("est");
        let iv = Intervalo::new(edt, est).expect("one real hour");
        assert_eq!(iv.inicio, iv.fim);
        assert_eq!(iv.offsets(&tz).0, None);
        assert!(iv.offsets(&tz).1.is_some());
    }

    proptest! {
        #[test]
        fn overlap_matches_shared_minutes(a in 0u32..200, la in 1u32..50, b in 0u32..200, lb in 1u32..50) {
            let shared = (a..a + la).any(|m| (b..b + lb).contains(&m));
            prop_assert_eq!(overlaps(a, a + la, b, b + lb), shared);
        }

        #[test]
        fn overlap_is_symmetric(a in 0u32..200, la in 1u32..50, b in 0u32..200, lb in 1u32..50) {
            prop_assert_eq!(overlaps(a, a + la, b, b + lb), overlaps(b, b + lb, a, a + la));
        }
    }
}
