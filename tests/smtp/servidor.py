"""A real SMTP server for the e-mail tests (aiosmtpd), on 127.0.0.1 and a free port.

Usage: python3 tests/smtp/servidor.py PASTA [--tls CERT KEY [--implicito]] [--login USUARIO SENHA]

Prints the port it listens on (one line) once it accepts connections, then serves until
killed. Every accepted message is written to PASTA/N.eml (raw bytes as received) and
PASTA/N.json ({"mail_from", "rcpt_tos", "login"}), written under a temporary name and
renamed, so a reader never sees half a file. Recipients whose local part starts with
`recusado` are refused with 550 (permanent), `ocupado` with 451 (temporary).
With --tls the server offers and requires STARTTLS, or with --implicito speaks TLS from the
first byte (smtps); with --login it requires AUTH with that user and password (over TLS).
"""

import argparse
import asyncio
import json
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


class Caixa:
    def __init__(self, pasta):
        self.pasta = pasta
        self.n = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0]
        if local.startswith("recusado"):
            return "550 5.1.1 Mailbox unavailable"
        if local.startswith("ocupado"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        base = os.path.join(self.pasta, str(self.n))
        login = getattr(session.auth_data, "login", None)
        if isinstance(login, (bytes, bytearray)):
            login = login.decode("utf-8")
        meta = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "login": login}
        for ext, data in ((".json", json.dumps(meta).encode()), (".eml", envelope.original_content)):
            with open(base + ext + ".tmp", "wb") as f:
                f.write(data)
            os.replace(base + ext + ".tmp", base + ext)
        return "250 Message accepted"


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("pasta")
    ap.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    ap.add_argument("--implicito", action="store_true")
    ap.add_argument("--login", nargs=2, metavar=("USUARIO", "SENHA"))
    a = ap.parse_args()
    contexto = None
    if a.tls:
        contexto = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        contexto.load_cert_chain(a.tls[0], a.tls[1])

    def autenticar(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and a.login is not None
            and auth_data.login.decode("utf-8") == a.login[0]
            and auth_data.password.decode("utf-8") == a.login[1]
        )
        # handled=False: aiosmtpd answers 535 itself on failure.
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    caixa = Caixa(a.pasta)
    loop = asyncio.get_running_loop()
    starttls = contexto is not None and not a.implicito
    servidor = await loop.create_server(
        lambda: SMTP(
            caixa,
            hostname="localhost",
            tls_context=contexto if starttls else None,
            require_starttls=starttls,
            authenticator=autenticar if a.login else None,
            auth_required=a.login is not None,
            # Over implicit TLS aiosmtpd does not know the link is encrypted.
            auth_require_tls=not a.implicito,
        ),
        "127.0.0.1",
        0,
        ssl=contexto if a.implicito else None,
    )
    print(servidor.sockets[0].getsockname()[1], flush=True)
    await servidor.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
