//! Contact fields: e-mail address and phone number.

/// A plausible e-mail address: `local@domain.tld`, no spaces, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// Checks the shape of an address (not its deliverability).
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        const ERR: &str = "e-mail inválido";
        let t = s.trim();
        if t.len() > 254 || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ERR);
        }
        let (local, domain) = t.split_once('@').ok_or(ERR)?;
        let labels_ok = domain.split('.').all(|l| {
            !l.is_empty()
                && !l.starts_with('-')
                && !l.ends_with('-')
                && !l.contains(['@', ',', ';'])
        });
        if local.is_empty() || local.len() > 64 || !domain.contains('.') || !labels_ok {
            return Err(ERR);
        }
        Ok(Self(t.to_owned()))
    }

    /// The address as typed (trimmed).
    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A phone number: 8..=20 characters of digits, spaces and `+()-`, with at least 8 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Telefone(String);

impl Telefone {
    /// Checks the characters and length of SPEC §2.
    pub fn parse(s: &str) -> Result<Self, &'static str> {
        const ERR: &str =
            "telefone inválido: use de 8 a 20 caracteres entre dígitos, espaços e +()-";
        let t = s.trim();
        let len = t.chars().count();
        let allowed = t
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, ' ' | '+' | '(' | ')' | '-'));
        let digits = t.chars().filter(char::is_ascii_digit).count();
        if !(8..=20).contains(&len) || !allowed || digits < 8 {
            return Err(ERR);
        }
        Ok(Self(t.to_owned()))
    }

    /// The number as typed (trimmed).
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
            ("an a@exemplo.com", "space"),
            ("a@b@c.com", "two @"),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad}: {why}");
        }
    }

    #[test]
    fn phones() {
        for ok in ["(11) 98765-4321", "+55 11 987654321", "12345678"] {
            assert!(Telefone::parse(ok).is_ok(), "{ok}");
        }
        for (bad, why) in [
            ("1234567", "too short"),
            ("123456789012345678901", "too long"),
            ("1234-abcd", "letters"),
            ("(11) ---- ", "too few digits"),
        ] {
            assert!(Telefone::parse(bad).is_err(), "{bad}: {why}");
        }
    }
}
