//! The e-mail relay of SPEC-2 §13 as `--smtp-url` names it: `smtp://host[:port]` (plain),
//! `smtp://host[:port]?tls=starttls` (STARTTLS, required) or `smtps://[user:pass@]host[:port]`
//! (TLS from the first byte). The password is kept out of every `Debug` and `Display`.

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain text (a relay on this machine or a trusted network).
    Nenhum,
    /// `STARTTLS` after the greeting; refused if the server does not offer it.
    StartTls,
    /// TLS from the first byte (`smtps://`, usually port 465).
    Implicito,
}

/// A parsed `--smtp-url`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// Host name or address of the relay.
    pub host: String,
    /// Port: given, or 25 (plain), 587 (STARTTLS), 465 (`smtps://`).
    pub porta: u16,
    /// Transport security.
    pub tls: SmtpTls,
    /// User and password for `AUTH`, percent-decoded.
    pub credenciais: Option<(String, String)>,
}

impl SmtpUrl {
    /// Parses `--smtp-url`. The error never repeats the URL (it may hold a password).
    pub fn parse(s: &str) -> Result<Self, String> {
        let u = url::Url::parse(s.trim()).map_err(|e| format!("não é uma URL ({e})"))?;
        let mut tls = match u.scheme() {
            "smtp" => SmtpTls::Nenhum,
            "smtps" => SmtpTls::Implicito,
            _ => return Err("o esquema deve ser smtp:// ou smtps://".into()),
        };
        for (k, v) in u.query_pairs() {
            match (k.as_ref(), v.as_ref()) {
                ("tls", "starttls") if tls == SmtpTls::Nenhum => tls = SmtpTls::StartTls,
                ("tls", "starttls") => {
                    return Err("smtps:// já usa TLS: tire ?tls=starttls".into());
                }
                ("tls", _) => return Err("tls aceita só o valor starttls".into()),
                _ => return Err(format!("parâmetro desconhecido: {k} (use só tls=starttls)")),
            }
        }
        if !matches!(u.path(), "" | "/") || u.fragment().is_some() {
            return Err("a URL não pode ter caminho nem fragmento".into());
        }
        let host = match u.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            _ => return Err("falta o servidor (smtp://servidor:porta)".into()),
        };
        let porta = u.port().unwrap_or(match tls {
            SmtpTls::Nenhum => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Implicito => 465,
        });
        let decode = |p: &str| {
            percent_encoding::percent_decode_str(p)
                .decode_utf8()
                .map(|c| c.into_owned())
                .map_err(|_| "usuário ou senha com codificação inválida (use UTF-8 em %XX)")
        };
        let usuario = decode(u.username())?;
        let senha = u.password().map(decode).transpose()?;
        let credenciais = match (usuario.is_empty(), senha) {
            (true, None) => None,
            (true, Some(_)) => return Err("senha sem usuário".into()),
            (false, None) => {
                return Err("usuário sem senha (smtps://usuario:senha@servidor)".into());
            }
            (false, Some(senha)) => Some((usuario, senha)),
        };
        // AUTH over plain text would hand the password to anyone on the path.
        let local = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|a| a.is_loopback());
        if credenciais.is_some() && tls == SmtpTls::Nenhum && !local {
            return Err(
                "a senha iria sem criptografia: use smtps:// ou smtp://…?tls=starttls".into(),
            );
        }
        Ok(Self {
            host,
            porta,
            tls,
            credenciais,
        })
    }
}

/// The URL with the password replaced by `***` (for logs and messages).
impl std::fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let esquema = if self.tls == SmtpTls::Implicito {
            "smtps"
        } else {
            "smtp"
        };
        write!(f, "{esquema}://")?;
        if let Some((usuario, _)) = &self.credenciais {
            const USUARIO: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
                .remove(b'.')
                .remove(b'-')
                .remove(b'_');
            let u = percent_encoding::utf8_percent_encode(usuario, USUARIO);
            write!(f, "{u}:***@")?;
        }
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        write!(f, "{host}:{}", self.porta)?;
        if self.tls == SmtpTls::StartTls {
            f.write_str("?tls=starttls")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpUrl({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_forms_with_default_ports() {
        let u = SmtpUrl::parse("smtp://127.0.0.1:2525").expect("plain");
        assert_eq!(
            (u.host.as_str(), u.porta, u.tls),
            ("127.0.0.1", 2525, SmtpTls::Nenhum)
        );
        assert_eq!(SmtpUrl::parse("smtp://relay.local").expect("p").porta, 25);
        let s = SmtpUrl::parse("smtp://smtp.gmail.com?tls=starttls").expect("starttls");
        assert_eq!((s.porta, s.tls), (587, SmtpTls::StartTls));
        let i = SmtpUrl::parse("smtps://ana%40clinica.com.br:p%C3%A1ss%3Aw@smtp.x.com").expect("i");
        assert_eq!((i.porta, i.tls), (465, SmtpTls::Implicito));
        assert_eq!(
            i.credenciais,
            Some(("ana@clinica.com.br".to_owned(), "páss:w".to_owned()))
        );
    }

    #[test]
    fn refuses_malformed_urls_without_repeating_them() {
        for (url, why) in [
            ("http://x:25", "wrong scheme"),
            ("smtp://", "no host"),
            ("smtp://x:99999", "port out of range"),
            ("smtp://x/caminho", "a path"),
            ("smtp://x?tls=sim", "unknown tls value"),
            ("smtp://x?foo=1", "unknown parameter"),
            ("smtps://x?tls=starttls", "starttls on implicit TLS"),
            ("smtps://usuario@x", "user without password"),
            ("smtps://:segredo1@x", "password without user"),
            (
                "smtp://u:segredo1@relay.example.com",
                "password over plain text",
            ),
            ("smtps://u:%FF%FE@x", "invalid UTF-8"),
            ("não é url", "not a URL"),
        ] {
            let e = SmtpUrl::parse(url).expect_err(why);
            assert!(!e.contains("segredo1"), "{why}: {e}");
        }
    }

    #[test]
    fn debug_and_display_hide_the_password() {
        let u = SmtpUrl::parse("smtps://agenda:s3gr3d0@smtp.x.com:465").expect("ok");
        for shown in [format!("{u}"), format!("{u:?}")] {
            assert!(!shown.contains("s3gr3d0"), "{shown}");
            assert!(shown.contains("agenda:***@smtp.x.com:465"), "{shown}");
        }
    }
}
