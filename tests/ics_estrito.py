#!/usr/bin/env python3
"""Strict RFC 5545 check of one iCalendar object read from stdin, independent of the
server's generator: the bytes (CRLF line ends, no line over 75 octets, UTF-8, folding),
every unfolded line a content line, TEXT values escaped (no bare `,` `;`, a backslash only
before `\\ ; , n N`), then a parse with the `icalendar` package (PyPI) that must report no
error, and the required properties (VERSION, PRODID, UID, DTSTAMP; every time in UTC).

Prints JSON {"ok": bool, "erros": [...], "method", "calname", "eventos": [...]}; the Rust
tests (tests/inproc/calendario.rs) assert on it. Exit status 0 when the check ran.
"""
import json
import re
import sys

erros = []


def main():
    raw = sys.stdin.buffer.read()
    if not raw.endswith(b"\r\n"):
        erros.append("does not end with CRLF")
    fisicas = raw.split(b"\r\n")
    if fisicas and fisicas[-1] == b"":
        fisicas = fisicas[:-1]
    for i, l in enumerate(fisicas):
        if b"\n" in l or b"\r" in l:
            erros.append(f"line {i}: bare CR or LF")
        if len(l) > 75:
            erros.append(f"line {i}: {len(l)} octets (> 75)")
        try:
            l.decode("utf-8")
        except UnicodeDecodeError as e:
            erros.append(f"line {i}: not UTF-8 ({e}): a fold split a character?")
    linhas = []
    for l in fisicas:
        if l[:1] in (b" ", b"\t"):
            if not linhas:
                erros.append("a continuation line comes first")
                continue
            linhas[-1] += l[1:]
        else:
            linhas.append(l)
    valor_param = rb'("[^"]*"|[^";:,]*)'
    linha_re = re.compile(
        rb"^[A-Za-z0-9-]+(;[A-Za-z0-9-]+=" + valor_param + rb"(," + valor_param + rb")*)*:.*$"
    )
    for l in linhas:
        if not linha_re.match(l):
            erros.append(f"not a content line: {l!r}")
            continue
        nome, _, valor = l.partition(b":")
        if nome.upper() in (b"SUMMARY", b"DESCRIPTION", b"LOCATION", b"X-WR-CALNAME"):
            v = valor.decode("utf-8", "replace")
            i = 0
            while i < len(v):
                c = v[i]
                if c == "\\":
                    if i + 1 >= len(v) or v[i + 1] not in "\\;,nN":
                        erros.append(f"{nome!r}: bad escape at {i}: {v!r}")
                    i += 2
                    continue
                if c in ",;":
                    erros.append(f"{nome!r}: unescaped {c!r}: {v!r}")
                i += 1

    try:
        from icalendar import Calendar
    except ImportError:
        print(json.dumps({"ok": False, "erros": ["python package icalendar missing (pip install icalendar)"]}))
        return
    try:
        cal = Calendar.from_ical(raw)
    except Exception as e:  # noqa: BLE001 - any parse failure is the answer
        print(json.dumps({"ok": False, "erros": erros + [f"icalendar: {e}"]}))
        return
    for comp in cal.walk():
        for prop, err in getattr(comp, "errors", []):
            erros.append(f"icalendar {comp.name} {prop}: {err}")
    if cal.name != "VCALENDAR":
        erros.append(f"top component {cal.name}")
    if not cal.subcomponents:
        erros.append("no component (RFC 5545 3.6: icalbody = calprops 1*component)")
    if str(cal.get("VERSION", "")) != "2.0":
        erros.append("VERSION is not 2.0")
    if not cal.get("PRODID"):
        erros.append("no PRODID")
    eventos = []
    for ev in cal.walk("VEVENT"):
        for req in ("UID", "DTSTAMP", "DTSTART"):
            if ev.get(req) is None:
                erros.append(f"VEVENT without {req}")
        out = {}
        for k in ("UID", "STATUS", "SUMMARY", "DESCRIPTION", "LOCATION"):
            if ev.get(k) is not None:
                out[k.lower()] = str(ev.get(k))
        out["sequence"] = int(ev.get("SEQUENCE", 0))
        for k in ("DTSTART", "DTEND", "DTSTAMP"):
            p = ev.get(k)
            if p is None:
                continue
            dt = p.dt
            off = dt.utcoffset() if hasattr(dt, "utcoffset") else None
            if off is None or off.total_seconds() != 0:
                erros.append(f"{k} is not UTC: {p.to_ical()!r}")
            if not p.to_ical().endswith(b"Z"):
                erros.append(f"{k} does not end in Z: {p.to_ical()!r}")
            out[k.lower()] = dt.strftime("%Y-%m-%dT%H:%M:%SZ")
        eventos.append(out)
    print(
        json.dumps(
            {
                "ok": not erros,
                "erros": erros,
                "method": str(cal.get("METHOD", "")),
                "calname": str(cal.get("X-WR-CALNAME", "")),
                "eventos": eventos,
            },
            ensure_ascii=False,
        )
    )


main()
