//! A doctor's council registration (CRM), unique per clinic.

/// A CRM as typed (trimmed), plus the key used for uniqueness.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crm {
    valor: String,
}

impl Crm {
    /// Accepts any non-empty registration that contains at least one digit, e.g. `CRM/SP 123456`.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        if s.chars().count() > 40 {
            return Err("CRM deve ter no máximo 40 caracteres");
        }
        let t = super::trim(s);
        if t.chars().count() > 40 {
            return Err("CRM deve ter no máximo 40 caracteres");
        }
        if !t.chars().any(|c| c.is_ascii_digit()) {
            return Err("CRM inválido");
        }
        Ok(Self {
            valor: t.to_owned(),
        })
    }

    /// The registration as typed.
    pub fn into_inner(self) -> String {
        self.valor
    }

    /// The uniqueness key: letters and digits only, upper-cased, so `crm-sp 123.456` and
    /// `CRM/SP 123456` are the same doctor (SPEC §2).
    pub fn key(s: &str) -> String {
        s.chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_uppercase)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_ignores_punctuation_spaces_and_case() {
        assert_eq!(Crm::key("CRM/SP 123456"), Crm::key("crm-sp 123.456"));
        assert_ne!(Crm::key("CRM/SP 123456"), Crm::key("CRM/RJ 123456"));
    }

    #[test]
    fn rejects_registrations_without_digits() {
        assert!(Crm::parse("CRM/SP").is_err());
        assert!(Crm::parse("  ").is_err());
        assert!(Crm::parse("CRM/SP 1").is_ok());
    }
}
