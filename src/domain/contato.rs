//! Contact fields: e-mail address and phone number.

use super::is_space;

/// The schema pattern an e-mail must match (besides `""` for "none"): no whitespace (as
/// [`is_space`] means it), one `@`, a local part of 1..=64 characters, two or more dotted labels.
pub fn email_pattern() -> String {
    let ws = super::WHITESPACE_CLASS;
    format!("^[^@{ws}]{{1,64}}@[^@{ws}.]+(\\.[^@{ws}.]+)+$")
}
/// The schema pattern a phone must match (besides `""` for "none").
pub const TELEFONE_PATTERN: &str = r"^[0-9 +()-]{8,20}$";

/// A plausible e-mail address, exactly [`email_pattern`]: `local@domain.tld`, no spaces,
/// at most 254 characters. Not trimmed: what the client sent is what is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Checks the shape of an address (not its deliverability).
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        const ERR: &str = "e-mail inválido";
        let ok_char = |c: char| c != '@' && !is_space(c);
        let (local, domain) = s.split_once('@').ok_or(ERR)?;
        let labels: Vec<&str> = domain.split('.').collect();
        let local_ok = (1..=64).contains(&local.chars().count()) && local.chars().all(ok_char);
        let domain_ok = labels.len() >= 2
            && labels
                .iter()
                .all(|l| !l.is_empty() && l.chars().all(ok_char));
        if s.chars().count() > 254 || !local_ok || !domain_ok {
            return Err(ERR);
        }
        Ok(Self(s.to_owned()))
    }

    /// [`Email::parse`], and an address the e-mail sender accepts (RFC 5322: no dot at
    /// either end of the local part, no two dots in a row, no comma): what a patient's or a
    /// doctor's address must be, or every e-mail to them would fail for good. Kept apart
    /// from `parse`, which a restore checks old archives with.
    pub fn entregavel(s: &str) -> Result<Self, &'static str> {
        let email = Self::parse(s)?;
        s.parse::<lettre::Address>()
            .map_err(|_| "e-mail inválido: o endereço não pode receber mensagens")?;
        Ok(email)
    }

    /// The address as sent.
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A phone number, exactly [`TELEFONE_PATTERN`] (SPEC §2): 8..=20 characters of digits,
/// spaces and `+()-`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telefone(String);

impl Telefone {
    /// Checks the characters and length.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        const ERR: &str =
            "telefone inválido: use de 8 a 20 caracteres entre dígitos, espaços e +()-";
        let allowed = s
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '(' | ')' | '-'));
        if !(8..=20).contains(&s.chars().count()) || !allowed {
            return Err(ERR);
        }
        Ok(Self(s.to_owned()))
    }

    /// The number as sent.
    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["ana@exemplo.com", "a.b+c@sub.exemplo.com.br"] {
            assert!(Email::parse(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("ana", "no @"),
            ("ana@exemplo", "no dot in domain"),
            ("@exemplo.com", "empty local part"),
            ("ana@.com", "empty label"),
            (" ana@exemplo.com", "leading space"),
            ("an a@exemplo.com", "space"),
            ("a@b@c.com", "two @"),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}: {why}");
        }
    }

    #[test]
    fn deliverable_emails_are_what_the_sender_accepts() {
        for ok in [
            "ana@exemplo.com",
            "a.b+c@sub.exemplo.com.br",
            "joao_silva-1@clinica.med.br",
        ] {
            assert!(Email::entregavel(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("maria.@gmail.com", "dot at the end of the local part"),
            ("maria..silva@gmail.com", "two dots"),
            ("maria,silva@gmail.com", "comma"),
            ("ana@gmail,com.br", "comma in the domain"),
            ("ana", "not even the shape"),
        ] {
            assert!(Email::entregavel(bad).is_err(), "{bad}: {why}");
        }
    }

    #[test]
    fn phones() {
        for ok in [
            "(11) 98765-4321",
            "+55 11 987654321",
            "12345678",
            "        ",
        ] {
            assert!(Telefone::parse(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("1234567", "too short"),
            ("123456789012345678901", "too long"),
            ("1234-abcd", "letters"),
            ("(11) 9876-543\n", "newline"),
        ] {
            assert!(Telefone::parse(bad).is_err(), "{bad}: {why}");
        }
    }
}
