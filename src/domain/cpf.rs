//! The Brazilian taxpayer number (CPF): 11 digits whose last two are check digits.

use std::fmt;

/// A valid CPF, kept as its 11 digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cpf(String);

impl Cpf {
    /// The schema pattern: `123.456.789-09` or `12345678909` (each separator optional).
    pub const PATTERN: &'static str = r"^[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}$";

    /// Accepts exactly [`Cpf::PATTERN`] and checks both check digits. Sequences of one
    /// repeated digit are rejected: they pass the arithmetic but are not issued.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        let mut digits = Vec::with_capacity(11);
        let mut chars = s.chars().peekable();
        for (group, sep) in [(3, Some('.')), (3, Some('.')), (3, Some('-')), (2, None)] {
            for _ in 0..group {
                match chars.next() {
                    Some(c @ '0'..='9') => digits.push(c as u8 - b'0'),
                    _ => return Err("CPF inválido"),
                }
            }
            if let Some(sep) = sep {
                chars.next_if_eq(&sep);
            }
        }
        if chars.next().is_some() {
            return Err("CPF inválido");
        }
        if digits.len() != 11 || digits.iter().all(|d| *d == digits[0]) {
            return Err("CPF inválido");
        }
        if check_digit(&digits[..9]) != digits[9] || check_digit(&digits[..10]) != digits[10] {
            return Err("CPF inválido");
        }
        Ok(Self(digits.iter().map(|d| char::from(b'0' + d)).collect()))
    }

    /// The 11 digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Cpf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The check digit over `digits` (9 or 10 of them), weights counting down to 2.
fn check_digit(digits: &[u8]) -> u8 {
    let top = digits.len() as u32 + 1;
    let sum: u32 = digits
        .iter()
        .zip((2..=top).rev())
        .map(|(d, w)| u32::from(*d) * w)
        .sum();
    let rest = (sum * 10) % 11;
    if rest == 10 { 0 } else { rest as u8 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Builds a valid CPF from its first nine digits.
    fn complete(base: &[u8]) -> String {
        let mut d = base.to_vec();
        d.push(check_digit(&d));
        d.push(check_digit(&d));
        d.iter().map(|x| char::from(b'0' + x)).collect()
    }

    #[test]
    fn accepts_known_valid_cpfs_in_both_formats() {
        assert_eq!(
            Cpf::parse("123.456.789-09").map(|c| c.0),
            Ok("12345678909".into())
        );
        assert_eq!(
            Cpf::parse("12345678909").map(|c| c.0),
            Ok("12345678909".into())
        );
        assert!(Cpf::parse("529.982.247-25").is_ok());
    }

    #[test]
    fn rejects_bad_cpfs() {
        for (input, why) in [
            ("123.456.789-00", "wrong check digits"),
            ("1234567890", "ten digits"),
            ("123456789091", "twelve digits"),
            ("111.111.111-11", "repeated digit"),
            ("abc.def.ghi-jk", "letters"),
            (" 12345678909", "leading space"),
            ("123-456-789.09", "separators in the wrong places"),
            ("", "empty"),
        ] {
            assert!(Cpf::parse(input).is_err(), "{input} should fail: {why}");
        }
    }

    proptest! {
        #[test]
        fn every_completed_base_is_valid(base in proptest::collection::vec(0u8..10, 9)) {
            prop_assume!(!base.iter().all(|d| *d == base[0]));
            let cpf = complete(&base);
            prop_assert_eq!(Cpf::parse(&cpf).map(|c| c.0), Ok(cpf.clone()));
            let formatted = format!("{}.{}.{}-{}", &cpf[..3], &cpf[3..6], &cpf[6..9], &cpf[9..]);
            prop_assert_eq!(Cpf::parse(&formatted).map(|c| c.0), Ok(cpf));
        }

        #[test]
        fn changing_one_check_digit_invalidates(base in proptest::collection::vec(0u8..10, 9), pos in 9usize..11, delta in 1u8..10) {
            prop_assume!(!base.iter().all(|d| *d == base[0]));
            let mut digits: Vec<u8> = complete(&base).bytes().map(|b| b - b'0').collect();
            digits[pos] = (digits[pos] + delta) % 10;
            let s: String = digits.iter().map(|x| char::from(b'0' + x)).collect();
            prop_assert!(Cpf::parse(&s).is_err());
        }

        #[test]
        fn never_panics(s in ".{0,20}") {
            let _ = Cpf::parse(&s);
        }
    }
}
