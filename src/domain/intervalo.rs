//! Half-open time intervals `[inicio, fim)` and their overlap rule.

use jiff::civil::DateTime;

/// A non-empty interval of clinic-local time, `inicio < fim`, at most 24 hours long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Intervalo {
    /// Start, inclusive.
    pub inicio: DateTime,
    /// End, exclusive.
    pub fim: DateTime,
}

impl Intervalo {
    /// The longest appointment accepted; bounds the overlap search (a longer one is surely a typo).
    pub const MAX_HORAS: i64 = 24;

    /// Checks `inicio < fim` and the maximum length.
    pub fn new(inicio: DateTime, fim: DateTime) -> Result<Self, &'static str> {
        if inicio >= fim {
            return Err("inicio deve ser anterior a fim");
        }
        if fim > inicio.saturating_add(jiff::SignedDuration::from_hours(Self::MAX_HORAS)) {
            return Err("uma consulta dura no máximo 24 horas");
        }
        Ok(Self { inicio, fim })
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
        let a = jiff::civil::date(2026, 3, 2).at(8, 0, 0, 0);
        let b = jiff::civil::date(2026, 3, 2).at(9, 0, 0, 0);
        assert!(Intervalo::new(a, b).is_ok());
        assert!(Intervalo::new(b, a).is_err());
        assert!(Intervalo::new(a, a).is_err());
        let far = jiff::civil::date(2026, 3, 3).at(9, 0, 0, 0);
        assert!(Intervalo::new(a, far).is_err());
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
