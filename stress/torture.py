#!/usr/bin/env python3
"""Crash torture for the Agendamento server.

Starts the server on temporary folders, seeds doctors (working every weekday 07:00-19:00)
and patients, then for every round runs a mixed concurrent load (creates, updates, deletes,
bookings racing for the same slots, holds, backups) and SIGKILLs the server at a random
moment.  After restarting it on the same folders it checks that:

  * every write answered 2xx/202 before the kill is on disk (acknowledged content, or a
    value a request whose answer was lost could have left), deletes answered 204 stay gone,
    records untouched this round are unchanged, and nothing appears that no request could
    have created (no phantom records);
  * no doctor and no patient has two overlapping non-cancelled appointments;
  * every accepted task (202) ends concluida/falhou within a bounded wait; a concluida
    booking's appointment exists exactly once, a failed booking left no appointment;
    a concluida backup's file is listed and no task produced two backups;
  * every data file (banco/*.json, journal.jsonl) parses, right after the kill (a torn
    last journal line allowed) and after the restart; every listed backup is a ZIP whose
    manifest sizes and sha256 match;
  * Idempotency-Key: replaying an acknowledged create returns the same id; re-sending a
    create whose answer was lost creates it at most once;
  * live holds survive the restart; /sistema/saude answers 200.

Python 3.11 standard library only.  Usage:
    python3 stress/torture.py --rounds 50 [--binary target/release/agendamento]
                              [--seed N] [--round-secs 1.5] [--threads 8] [--keep]
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

HOST = "127.0.0.1"
HTTP_TIMEOUT = 10.0
START_TIMEOUT = 20.0
TASK_WAIT = 45.0
HOLD_TTL = 60
FINAL_TASK = ("concluida", "falhou")
NEXT_STATUS = {
    "agendada": ["confirmada", "concluida", "faltou", "cancelada"],
    "confirmada": ["concluida", "faltou", "cancelada"],
}
DIAS = ["segunda", "terca", "quarta", "quinta", "sexta", "sabado", "domingo"]


# ------------------------------------------------------------------------------------------
# HTTP
# ------------------------------------------------------------------------------------------

class Lost(Exception):
    """The request may have reached the server but no answer came back."""


class Refused(Exception):
    """The connection was refused: the request never reached the server."""


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.raw = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    def header(self, name):
        return self.headers.get(name.lower())


def request(port, method, path, body=None, headers=None, timeout=HTTP_TIMEOUT):
    data = None
    hdrs = {"connection": "close"}
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        hdrs["content-type"] = "application/json"
    if headers:
        hdrs.update(headers)
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        try:
            conn.connect()
        except ConnectionRefusedError as e:
            raise Refused(str(e)) from e
        except OSError as e:
            raise Refused(str(e)) from e
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            raw = r.read()
            return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)
        except (OSError, http.client.HTTPException) as e:
            raise Lost(f"{type(e).__name__}: {e}") from e
    finally:
        conn.close()


# ------------------------------------------------------------------------------------------
# Data builders
# ------------------------------------------------------------------------------------------

def cpf(seed):
    n = 100_000_001 + seed * 37
    s = f"{n:09d}"
    base = [int(c) for c in s]
    r = (sum(d * (10 - i) for i, d in enumerate(base)) * 10) % 11
    d1 = 0 if r == 10 else r
    r = ((sum(d * (11 - i) for i, d in enumerate(base)) + d1 * 2) * 10) % 11
    d2 = 0 if r == 10 else r
    return f"{s}{d1}{d2}"


def fmt(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S")


# ------------------------------------------------------------------------------------------
# Server process
# ------------------------------------------------------------------------------------------

class Server:
    def __init__(self, binary, root, compact_every, database_url=None):
        self.compact_every = compact_every
        self.database_url = database_url
        self.binary = binary
        self.root = root
        self.dirs = {k: os.path.join(root, k) for k in ("banco", "backups", "reports", "logs")}
        self.proc = None
        self.port = None
        self.starts = 0
        self.started_pids = []

    def start(self):
        self.starts += 1
        out = os.path.join(self.root, f"stdout.{self.starts}")
        err = os.path.join(self.root, f"stderr.{self.starts}")
        self.out_path, self.err_path = out, err
        cmd = [
            self.binary, "--addr", f"{HOST}:0",
            "--data-dir", self.dirs["banco"], "--backup-dir", self.dirs["backups"],
            "--reports-dir", self.dirs["reports"], "--logs-dir", self.dirs["logs"],
            "--no-demo-data", "--auth", "off", "--backup-interval-secs", "0",
            "--hold-ttl-secs", str(HOLD_TTL), "--compact-every", str(self.compact_every),
        ]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        with open(out, "wb") as fo, open(err, "wb") as fe:
            self.proc = subprocess.Popen(cmd, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                                         env=env, start_new_session=True)
        self.started_pids.append(self.proc.pid)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with open(out, "r", errors="replace") as f:
                    for line in f:
                        if line.startswith("listening on http://"):
                            self.port = int(line.strip().rsplit(":", 1)[1])
                            return None
            except OSError:
                pass
            if self.proc.poll() is not None:
                return f"server exited with {self.proc.returncode} before listening: {self.stderr_tail()}"
            time.sleep(0.02)
        self.kill()
        return f"no 'listening on' within {START_TIMEOUT:.0f} s: {self.stderr_tail()}"

    def stderr_tail(self, n=600):
        try:
            with open(self.err_path, "r", errors="replace") as f:
                return f.read()[-n:].replace("\n", " | ")
        except OSError:
            return ""

    def kill(self):
        if self.proc and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass

    def term(self, timeout=30):
        if self.proc and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                return None
        return self.proc.returncode if self.proc else None


# ------------------------------------------------------------------------------------------
# The model of what the server must hold
# ------------------------------------------------------------------------------------------

DELETED = "DELETED"


class Rec:
    """A record the client knows: `state` is the acknowledged record (dict) or DELETED;
    `alts` are other states a lost request could have left (dicts, DELETED, or a callable
    predicate)."""

    __slots__ = ("kind", "id", "state", "alts", "touched", "origin")

    def __init__(self, kind, rid, state, origin="manual"):
        self.kind = kind
        self.id = rid
        self.state = state
        self.alts = []
        self.touched = False
        self.origin = origin

    @property
    def tainted(self):
        return bool(self.alts)


class Model:
    def __init__(self, rng):
        self.lock = threading.Lock()
        self.rng = rng
        self.recs = {"pacientes": {}, "medicos": {}, "consultas": {}}
        self.busy = set()
        self.seed_pacientes = []
        self.booking_medicos = []
        self.hold_medico = None
        self.counter = 0
        self.unique_slot = 0
        self.totals = {}          # acknowledged operations by kind, whole run
        # per-round
        self.reset_round()
        # holds: slot -> ("held", expira_em_epoch) | ("free",) ; tainted slots
        self.holds = {}
        self.hold_taint = set()
        self.hold_day = None

    def reset_round(self):
        self.acked = 0
        self.lost = 0
        self.refused = 0
        self.errors = []          # unexpected answers (strings)
        self.tasks_acked = {}     # task_id -> kind
        self.lost_creates = []    # (kind, body, idem_key or None)
        self.acked_idem = []      # (path, key, body_bytes, id)
        self.lost_booking = 0
        self.hot = []             # (medico_id, inicio, fim)
        self.contested = []       # (medico_id, inicio, fim)
        self.statuses = {}

    def next(self):
        with self.lock:
            self.counter += 1
            return self.counter

    def next_unique_time(self):
        with self.lock:
            self.unique_slot += 1
            n = self.unique_slot
        t = dt.datetime(2031, 1, 1) + dt.timedelta(minutes=40 * n)
        return fmt(t), fmt(t + dt.timedelta(minutes=30))

    def claim(self, kind, pred=None, tries=8):
        """Picks a random free, untainted, existing record of `kind` and marks it busy."""
        with self.lock:
            pool = self.recs[kind]
            if not pool:
                return None
            keys = list(pool.keys())
            for _ in range(tries):
                rid = self.rng.choice(keys)
                r = pool[rid]
                if rid in self.busy or r.tainted or r.state == DELETED:
                    continue
                if pred and not pred(r):
                    continue
                self.busy.add(rid)
                return r
            return None

    def release(self, rid):
        with self.lock:
            self.busy.discard(rid)

    def note(self, status):
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1

    def error(self, msg):
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(msg)


# ------------------------------------------------------------------------------------------
# Load operations (each runs in a worker thread)
# ------------------------------------------------------------------------------------------

class Load:
    def __init__(self, model, port, rng):
        self.m = model
        self.port = port
        self.rng = rng

    def call(self, method, path, body=None, headers=None):
        try:
            r = request(self.port, method, path, body, headers)
        except Refused:
            with self.m.lock:
                self.m.refused += 1
            raise
        except Lost:
            with self.m.lock:
                self.m.lost += 1
            raise
        self.m.note(r.status)
        if r.status >= 500:
            self.m.error(f"{method} {path} -> {r.status} {r.raw[:200]!r}")
        return r

    def ack(self, kind="?"):
        with self.m.lock:
            self.m.acked += 1
            self.m.totals[kind] = self.m.totals.get(kind, 0) + 1

    def unexpected(self, method, path, r):
        code = (r.json or {}).get("code") if isinstance(r.json, dict) else None
        self.m.error(f"{method} {path} -> unexpected {r.status} {code}: {r.raw[:160]!r}")

    # -- pacientes ------------------------------------------------------------------------
    def create_paciente(self, seeded=False):
        n = self.m.next()
        body = {
            "nome": f"Paciente Torture {n}",
            "cpf": cpf(n),
            "data_nascimento": f"{1940 + n % 60}-{1 + n % 12:02d}-{1 + n % 28:02d}",
            "email": f"p{n}@exemplo.com" if n % 3 else "",
            "telefone": f"(11) 9{n % 10000:04d}-{(n * 7) % 10000:04d}" if n % 2 else None,
            "convenio": self.rng.choice(["Unimed", "Amil", None, ""]),
        }
        raw = json.dumps(body).encode()
        key = f"pac-{n}" if self.rng.random() < 0.5 else None
        hdr = {"idempotency-key": key} if key else None
        try:
            r = self.call("POST", "/pacientes", raw, hdr)
        except Lost:
            self.m.lost_creates.append(("pacientes", body, key, raw))
            return None
        if r.status == 201:
            rec = r.json
            bad = [f for f in ("nome", "cpf", "data_nascimento") if rec.get(f) != body[f]]
            if bad:
                self.m.error(f"POST /pacientes echoed different {bad}: {rec}")
            with self.m.lock:
                self.m.recs["pacientes"][rec["id"]] = Rec("pacientes", rec["id"], rec, "created")
                if seeded:
                    self.m.seed_pacientes.append(rec["id"])
                if key:
                    self.m.acked_idem.append(("/pacientes", key, raw, rec["id"]))
            self.ack("create_paciente")
            return rec
        self.unexpected("POST", "/pacientes", r)
        return None

    def update_paciente(self):
        r0 = self.m.claim("pacientes")
        if not r0:
            return
        try:
            n = self.m.next()
            body = {}
            if self.rng.random() < 0.7:
                body["nome"] = f"Paciente Alterado {n}"
            if self.rng.random() < 0.5:
                body["telefone"] = self.rng.choice([f"(21) 9{n % 10000:04d}-0000", None])
            if self.rng.random() < 0.5:
                body["convenio"] = self.rng.choice(["Bradesco", "SulAmerica", None])
            if self.rng.random() < 0.3:
                body["email"] = self.rng.choice([f"novo{n}@exemplo.com", ""])
            if not body:
                body["nome"] = f"Paciente Alterado {n}"
            path = f"/pacientes/{r0.id}"
            try:
                r = self.call("PUT", path, body)
            except Lost:
                with self.m.lock:
                    # any of: unchanged, or changed as asked (updated_at unknown)
                    expect = {k: (None if v == "" else v) for k, v in body.items()}
                    r0.alts.append(lambda obs, e=expect: all(obs.get(k) == v for k, v in e.items()))
                    r0.touched = True
                return
            except Refused:
                return
            if r.status == 200:
                for k, v in body.items():
                    if r.json.get(k) != (None if v == "" else v):
                        self.m.error(f"PUT {path} {k}={v!r} answered {r.json.get(k)!r}")
                with self.m.lock:
                    r0.state = r.json
                    r0.touched = True
                self.ack("update_paciente")
            else:
                self.unexpected("PUT", path, r)
        finally:
            self.m.release(r0.id)

    def delete_paciente(self):
        r0 = self.m.claim("pacientes", pred=lambda r: r.origin == "created"
                          and r.id not in self.m.seed_pacientes)
        if not r0:
            return
        try:
            path = f"/pacientes/{r0.id}"
            try:
                r = self.call("DELETE", path)
            except Lost:
                with self.m.lock:
                    r0.alts.append(DELETED)
                    r0.touched = True
                return
            except Refused:
                return
            if r.status == 204:
                with self.m.lock:
                    r0.state = DELETED
                    r0.touched = True
                self.ack("delete_paciente")
            else:
                self.unexpected("DELETE", path, r)
        finally:
            self.m.release(r0.id)

    # -- médicos --------------------------------------------------------------------------
    def create_medico(self, role=None):
        n = self.m.next()
        body = {
            "nome": f"Dr. Torture {n}",
            "crm": f"CRM/SP {100000 + n}",
            "especialidade": self.rng.choice(["Cardiologia", "Pediatria", "Dermatologia"]),
            "email": f"m{n}@exemplo.com",
        }
        try:
            r = self.call("POST", "/medicos", body)
        except Lost:
            self.m.lost_creates.append(("medicos", body, None, None))
            return None
        if r.status == 201:
            with self.m.lock:
                self.m.recs["medicos"][r.json["id"]] = Rec("medicos", r.json["id"], r.json, role or "created")
            self.ack("create_medico")
            return r.json
        self.unexpected("POST", "/medicos", r)
        return None

    # -- consultas ------------------------------------------------------------------------
    def pick_paciente(self):
        with self.m.lock:
            return self.rng.choice(self.m.seed_pacientes)

    def pick_medico(self):
        with self.m.lock:
            return self.rng.choice(self.m.booking_medicos)

    def create_consulta(self, contested=False):
        if contested and self.m.contested:
            med, ini, fim = self.rng.choice(self.m.contested)
        else:
            med = self.pick_medico()
            ini, fim = self.m.next_unique_time()
        body = {"paciente_id": self.pick_paciente(), "medico_id": med, "inicio": ini, "fim": fim}
        if self.rng.random() < 0.3:
            body["observacoes"] = f"obs {self.m.next()}"
        raw = json.dumps(body).encode()
        key = f"con-{self.m.next()}" if (not contested and self.rng.random() < 0.5) else None
        hdr = {"idempotency-key": key} if key else None
        try:
            r = self.call("POST", "/consultas", raw, hdr)
        except Lost:
            self.m.lost_creates.append(("consultas", body, key, raw))
            return
        except Refused:
            return
        if r.status == 201:
            rec = r.json
            bad = [f for f in ("paciente_id", "medico_id", "inicio", "fim") if rec.get(f) != body[f]]
            if bad or rec.get("status") != "agendada":
                self.m.error(f"POST /consultas echoed different {bad}: {rec}")
            with self.m.lock:
                self.m.recs["consultas"][rec["id"]] = Rec("consultas", rec["id"], rec)
                if key:
                    self.m.acked_idem.append(("/consultas", key, raw, rec["id"]))
            self.ack("create_consulta")
        elif r.status == 409 and contested:
            pass
        else:
            # a unique-time create can still meet a patient_overlap only if the model is wrong
            self.unexpected("POST", "/consultas", r)

    def update_consulta(self):
        r0 = self.m.claim("consultas", pred=lambda r: r.origin == "manual"
                          and r.state["status"] in NEXT_STATUS)
        if not r0:
            return
        try:
            path = f"/consultas/{r0.id}"
            if self.rng.random() < 0.2:
                ini, fim = self.m.next_unique_time()
                body = {"inicio": ini, "fim": fim}
            else:
                body = {"status": self.rng.choice(NEXT_STATUS[r0.state["status"]])}
            if self.rng.random() < 0.3:
                body["observacoes"] = f"nota {self.m.next()}"
            try:
                r = self.call("PUT", path, body)
            except Lost:
                with self.m.lock:
                    e = dict(body)
                    r0.alts.append(lambda obs, e=e: all(obs.get(k) == v for k, v in e.items()))
                    r0.touched = True
                return
            except Refused:
                return
            if r.status == 200:
                bad = [k for k, v in body.items() if r.json.get(k) != v]
                if bad:
                    self.m.error(f"PUT {path} {body} answered {r.json}")
                with self.m.lock:
                    r0.state = r.json
                    r0.touched = True
                self.ack("update_consulta")
            else:
                self.unexpected("PUT", path, r)
        finally:
            self.m.release(r0.id)

    def delete_consulta(self):
        r0 = self.m.claim("consultas", pred=lambda r: r.origin == "manual")
        if not r0:
            return
        try:
            path = f"/consultas/{r0.id}"
            try:
                r = self.call("DELETE", path)
            except Lost:
                with self.m.lock:
                    r0.alts.append(DELETED)
                    r0.touched = True
                return
            except Refused:
                return
            if r.status == 204:
                with self.m.lock:
                    r0.state = DELETED
                    r0.touched = True
                self.ack("delete_consulta")
            else:
                self.unexpected("DELETE", path, r)
        finally:
            self.m.release(r0.id)

    # -- booking, holds, backups ----------------------------------------------------------
    def agendar(self):
        if not self.m.hot:
            return
        med, ini, fim = self.rng.choice(self.m.hot)
        body = {"paciente_id": self.pick_paciente(), "medico_id": med, "inicio": ini, "fim": fim}
        try:
            r = self.call("POST", "/consultas/agendar", body)
        except Lost:
            with self.m.lock:
                self.m.lost_booking += 1
            return
        except Refused:
            return
        if r.status == 202:
            tid = (r.json or {}).get("task_id")
            if not tid or r.json.get("status") != "pendente":
                self.m.error(f"agendar 202 without task_id/pendente: {r.raw[:200]!r}")
                return
            with self.m.lock:
                self.m.tasks_acked[tid] = "agendar_consulta"
            self.ack("agendar")
        elif r.status == 409 and (r.json or {}).get("code") in ("horario_ocupado", "patient_overlap"):
            # once a hot slot is taken, race for a fresh one (the others keep racing meanwhile)
            if (r.json or {}).get("code") == "horario_ocupado":
                with self.m.lock:
                    if (med, ini, fim) in self.m.hot and self.rng.random() < 0.25:
                        self.m.hot[self.m.hot.index((med, ini, fim))] = random_slot(self.rng, self.m.booking_medicos)
        else:
            self.unexpected("POST", "/consultas/agendar", r)

    def hold(self):
        with self.m.lock:
            slots = [s for s in self.m.holds if s not in self.m.hold_taint and s not in self.m.busy]
            if not slots:
                return
            slot = self.rng.choice(slots)
            self.m.busy.add(slot)
            state = self.m.holds[slot]
        try:
            body = {"medico_id": self.m.hold_medico, "slot": slot}
            path = "/agenda/liberar" if state[0] == "held" and self.rng.random() < 0.7 else "/agenda/reservar"
            try:
                r = self.call("POST", path, body)
            except Lost:
                with self.m.lock:
                    self.m.hold_taint.add(slot)
                return
            except Refused:
                return
            if path == "/agenda/reservar":
                if r.status == 200 and r.json.get("status") == "reservado":
                    exp = dt.datetime.fromisoformat(r.json["expira_em"]).timestamp()
                    with self.m.lock:
                        self.m.holds[slot] = ("held", exp)
                    self.ack("hold")
                elif r.status == 409 and state[0] == "held" and (r.json or {}).get("code") == "horario_reservado":
                    pass
                else:
                    self.unexpected("POST", f"{path} {slot} (model {state[0]})", r)
            else:
                if r.status == 200 and r.json.get("status") in ("liberado", "disponivel"):
                    with self.m.lock:
                        self.m.holds[slot] = ("free",)
                    self.ack("hold")
                else:
                    self.unexpected("POST", f"{path} {slot}", r)
        finally:
            self.m.release(slot)

    def backup(self):
        try:
            r = self.call("POST", "/backup/executar")
        except (Lost, Refused):
            return
        if r.status == 202 and (r.json or {}).get("task_id"):
            with self.m.lock:
                self.m.tasks_acked[r.json["task_id"]] = "backup"
            self.ack("backup")
        elif r.status == 429 and (r.json or {}).get("code") == "queue_full":
            return  # --tarefas-fila-max backups and reports already queued: nothing queued
        else:
            self.unexpected("POST", "/backup/executar", r)

    OPS = [
        ("create_paciente", 10), ("update_paciente", 9), ("delete_paciente", 3),
        ("create_medico", 3), ("create_consulta", 14), ("create_consulta_contested", 6),
        ("update_consulta", 12), ("delete_consulta", 5), ("agendar", 22), ("hold", 10),
        ("backup", 1),
    ]

    def step(self):
        names = [o for o, _ in self.OPS]
        weights = [w for _, w in self.OPS]
        op = self.rng.choices(names, weights)[0]
        if op == "create_consulta_contested":
            self.create_consulta(contested=True)
        else:
            getattr(self, op)()


def load_thread(model, port, seed, stop):
    ld = Load(model, port, random.Random(seed))
    while not stop.is_set():
        try:
            ld.step()
        except (Lost, Refused):
            pass
        except Exception as e:  # a bug in this script: report it rather than die silently
            model.error(f"torture script error: {type(e).__name__}: {e}")
            time.sleep(0.01)


# ------------------------------------------------------------------------------------------
# Checks
# ------------------------------------------------------------------------------------------

def get_json(port, path, reasons, expect=200):
    try:
        r = request(port, "GET", path, timeout=30)
    except (Lost, Refused) as e:
        reasons.append(f"GET {path}: {e}")
        return None
    if r.status != expect:
        reasons.append(f"GET {path} -> {r.status} {r.raw[:200]!r}")
        return None
    return r.json


def check_files(banco, reasons, after_kill):
    where = "after kill" if after_kill else "after restart"
    for name in sorted(os.listdir(banco)):
        p = os.path.join(banco, name)
        if name.endswith(".json"):
            try:
                with open(p, "rb") as f:
                    json.loads(f.read())
            except (ValueError, OSError) as e:
                reasons.append(f"{where}: {name} does not parse: {e}")
        elif name == "journal.jsonl":
            with open(p, "rb") as f:
                data = f.read()
            lines = data.split(b"\n")
            last_torn = not data.endswith(b"\n") and data != b""
            body = lines[:-1]  # complete lines (text after the last newline is in lines[-1])
            for i, line in enumerate(body):
                try:
                    json.loads(line)
                except ValueError as e:
                    reasons.append(f"{where}: journal.jsonl line {i + 1} does not parse: {e}")
                    break
            if last_torn:
                try:
                    json.loads(lines[-1])
                    # complete JSON without newline: acceptable either way
                except ValueError:
                    if not after_kill:
                        reasons.append(f"{where}: journal.jsonl ends with a torn line")


_verified_zips = {}


def check_backups(port, bdir, reasons):
    lst = get_json(port, "/backup/", reasons)
    if lst is None:
        return {}
    names = lst.get("arquivos", [])
    by_task = {}
    for name in names:
        p = os.path.join(bdir, name)
        try:
            st = os.stat(p)
        except OSError as e:
            reasons.append(f"backup {name} listed but missing: {e}")
            continue
        key = (name, st.st_size, st.st_mtime_ns)
        if key in _verified_zips:
            tid = _verified_zips[key]
        else:
            tid = None
            try:
                with zipfile.ZipFile(p) as z:
                    man = json.loads(z.read("manifest.json"))
                    tid = man.get("task_id")
                    for a in man["arquivos"]:
                        data = z.read(a["nome"])
                        if len(data) != a["bytes"] or hashlib.sha256(data).hexdigest() != a["sha256"]:
                            reasons.append(f"backup {name}: {a['nome']} size/sha256 differ from manifest")
                        json.loads(data)
            except Exception as e:
                reasons.append(f"backup {name} is not a valid archive: {type(e).__name__}: {e}")
                continue
            _verified_zips[key] = tid
        if tid:
            by_task.setdefault(tid, []).append(name)
    for tid, ns in by_task.items():
        if len(ns) > 1:
            reasons.append(f"task {tid} produced {len(ns)} backups: {ns}")
    return {"names": set(names), "by_task": by_task}


def wait_tasks(port, reasons):
    deadline = time.monotonic() + TASK_WAIT
    while time.monotonic() < deadline:
        busy = 0
        for st in ("pendente", "executando"):
            try:
                r = request(port, "GET", f"/sistema/tasks?status={st}&limit=1")
            except (Lost, Refused) as e:
                reasons.append(f"tasks poll: {e}")
                return None
            busy += int(r.header("x-total-count") or 0)
        if busy == 0:
            break
        time.sleep(0.1)
    tasks = get_json(port, "/sistema/tasks", reasons)
    if tasks is None:
        return None
    unfinished = [t["id"] for t in tasks if t["status"] not in FINAL_TASK]
    if unfinished:
        reasons.append(f"{len(unfinished)} task(s) not final {TASK_WAIT:.0f} s after restart, e.g. {unfinished[:3]}")
    return {t["id"]: t for t in tasks}


def state_matches(obs, state):
    if state == DELETED:
        return obs is None
    if callable(state):
        return obs is not None and state(obs)
    return obs == state


def check_records(m, port, reasons, tasks):
    server = {}
    for kind in ("pacientes", "medicos", "consultas"):
        lst = get_json(port, f"/{kind}", reasons)
        if lst is None:
            return None
        server[kind] = {r["id"]: r for r in lst}
    for kind, recs in m.recs.items():
        srv = server[kind]
        nbad = 0
        for rid, rec in recs.items():
            obs = srv.get(rid)
            if state_matches(obs, rec.state) or any(state_matches(obs, a) for a in rec.alts):
                continue
            nbad += 1
            if nbad <= 3:
                if rec.state == DELETED:
                    reasons.append(f"{kind} {rid}: deleted (204) but present after restart")
                elif obs is None:
                    reasons.append(f"{kind} {rid}: acknowledged ({rec.origin}{', touched' if rec.touched else ''}) but missing after restart")
                else:
                    diff = {k: (rec.state.get(k), obs.get(k)) for k in set(obs) | set(rec.state)
                            if obs.get(k) != rec.state.get(k)}
                    reasons.append(f"{kind} {rid}: acknowledged state lost (expected, got): {diff}")
        if nbad > 3:
            reasons.append(f"{kind}: {nbad} records differ in all")

    # phantoms: every unknown record must be explained by a lost create or a booking task
    lost_pac = {b["cpf"] for k, b, _, _ in m.lost_creates if k == "pacientes"}
    lost_med = {b["crm"] for k, b, _, _ in m.lost_creates if k == "medicos"}
    lost_con = {(b["medico_id"], b["paciente_id"], b["inicio"]) for k, b, _, _ in m.lost_creates if k == "consultas"}
    booked = {}
    for t in (tasks or {}).values():
        if t["tipo"] == "agendar_consulta" and t["status"] == "concluida":
            cid = ((t.get("resultado") or {}).get("consulta") or {}).get("id")
            booked[cid] = t["id"]
    for rid, r in server["pacientes"].items():
        if rid not in m.recs["pacientes"] and r["cpf"] not in lost_pac:
            reasons.append(f"phantom paciente {rid} (cpf {r['cpf']}) no request could have created")
    for rid, r in server["medicos"].items():
        if rid not in m.recs["medicos"] and r["crm"] not in lost_med:
            reasons.append(f"phantom medico {rid} ({r['crm']})")
    for rid, r in server["consultas"].items():
        if rid in m.recs["consultas"] or rid in booked:
            continue
        if (r["medico_id"], r["paciente_id"], r["inicio"]) in lost_con:
            continue
        reasons.append(f"phantom consulta {rid} {r['medico_id']} {r['inicio']} no request/task explains")

    # overlaps
    for who in ("medico_id", "paciente_id"):
        groups = {}
        for c in server["consultas"].values():
            if c["status"] != "cancelada":
                groups.setdefault(c[who], []).append(c)
        nbad = 0
        for k, cs in groups.items():
            cs.sort(key=lambda c: c["inicio"])
            prev = None
            for c in cs:
                if prev and c["inicio"] < prev["fim"]:
                    nbad += 1
                    if nbad <= 3:
                        reasons.append(f"overlap for {who} {k}: {prev['id']} [{prev['inicio']},{prev['fim']}) and {c['id']} [{c['inicio']},{c['fim']})")
                if prev is None or c["fim"] > prev["fim"]:
                    prev = c
        if nbad > 3:
            reasons.append(f"{nbad} overlaps by {who}")
    return server


def check_tasks(m, tasks, server, backups, reasons):
    cons = server["consultas"]
    for tid, kind in m.tasks_acked.items():
        t = tasks.get(tid)
        if t is None:
            reasons.append(f"accepted task {tid} ({kind}) missing after restart")
            continue
        if t["tipo"] != kind:
            reasons.append(f"task {tid} has tipo {t['tipo']}, expected {kind}")
    ids_seen = {}
    for t in tasks.values():
        if t["tipo"] == "agendar_consulta":
            cid = (t.get("parametros") or {}).get("consulta_id")
            if t["status"] == "concluida":
                c = ((t.get("resultado") or {}).get("consulta") or {})
                rid = c.get("id")
                if rid not in cons:
                    reasons.append(f"booking task {t['id']} concluida but consulta {rid} missing")
                else:
                    ids_seen[rid] = ids_seen.get(rid, 0) + 1
                    s = cons[rid]
                    if (s["medico_id"], s["inicio"], s["fim"]) != (c.get("medico_id"), c.get("inicio"), c.get("fim")):
                        reasons.append(f"booking task {t['id']} result differs from consulta {rid}")
            elif t["status"] == "falhou":
                if cid and cid in cons:
                    reasons.append(f"booking task {t['id']} falhou but its consulta {cid} exists")
                code = (t.get("erro") or {}).get("code")
                if code not in ("horario_ocupado", "patient_overlap", "fora_do_horario"):
                    if t["id"] in m.tasks_acked:
                        reasons.append(f"booking task {t['id']} falhou with unexpected code {code}: {t.get('erro')}")
        elif t["tipo"] == "backup" and t["status"] == "concluida" and backups:
            arq = (t.get("resultado") or {}).get("arquivo")
            if arq not in backups["names"]:
                reasons.append(f"backup task {t['id']} concluida but {arq} not listed by GET /backup/")
        elif t["tipo"] == "backup" and t["status"] == "falhou" and t["id"] in m.tasks_acked:
            reasons.append(f"backup task {t['id']} falhou: {t.get('erro')}")
    for rid, n in ids_seen.items():
        if n > 1:
            reasons.append(f"consulta {rid} is the result of {n} booking tasks")


def check_holds(m, port, reasons):
    data = get_json(port, f"/agenda/slots?days=1&medico_id={m.hold_medico}&de={m.hold_day}", reasons)
    if data is None:
        return None
    slots = data.get(m.hold_medico, {})
    now = time.time()
    for slot, st in m.holds.items():
        if slot in m.hold_taint:
            continue
        obs = slots.get(slot)
        if st[0] == "held" and st[1] - now > 3 and obs != "reservado":
            reasons.append(f"hold {slot} acknowledged (expires in {st[1] - now:.0f} s) but slot is {obs}")
        if st[0] == "free" and obs != "disponivel":
            reasons.append(f"hold {slot} released (200) but slot is {obs}")
    return slots


def idempotency_checks(m, port, reasons, rng):
    # replays of acknowledged creates
    for path, key, raw, rid in rng.sample(m.acked_idem, min(4, len(m.acked_idem))):
        try:
            r = request(port, "POST", path, raw, {"idempotency-key": key, "content-type": "application/json"})
        except (Lost, Refused) as e:
            reasons.append(f"idempotent replay {path}: {e}")
            continue
        if r.status != 201 or (r.json or {}).get("id") != rid:
            reasons.append(f"idempotent replay of {path} key {key} after restart: {r.status} id {(r.json or {}).get('id')} (expected 201 id {rid})")
    # re-sending creates whose answer was lost: must create at most once
    for kind, body, key, raw in m.lost_creates:
        if not key:
            continue
        try:
            r = request(port, "POST", f"/{kind}", raw, {"idempotency-key": key, "content-type": "application/json"})
        except (Lost, Refused) as e:
            reasons.append(f"re-send {kind}: {e}")
            continue
        if r.status != 201:
            reasons.append(f"re-sending lost {kind} create with key {key}: {r.status} {(r.json or {}).get('code')} "
                           f"(the first attempt was either committed with its key or not at all; expected 201)")


# ------------------------------------------------------------------------------------------
# Baseline (model := server state, after a round's checks)
# ------------------------------------------------------------------------------------------

def rebaseline(m, server, tasks, hold_slots):
    booked = set()
    for t in (tasks or {}).values():
        if t["tipo"] == "agendar_consulta" and t["status"] == "concluida":
            booked.add(((t.get("resultado") or {}).get("consulta") or {}).get("id"))
    for kind in ("pacientes", "medicos", "consultas"):
        new = {}
        for rid, obs in server[kind].items():
            old = m.recs[kind].get(rid)
            origin = old.origin if old else ("booking" if rid in booked else
                                             ("created" if kind == "pacientes" else "manual"))
            new[rid] = Rec(kind, rid, obs, origin)
        # keep acknowledged deletes, so a resurrection later is still caught
        for rid, old in m.recs[kind].items():
            if rid not in new and (old.state == DELETED or old.tainted):
                new[rid] = Rec(kind, rid, DELETED, old.origin)
        m.recs[kind] = new
    m.seed_pacientes = [p for p in m.seed_pacientes if p in m.recs["pacientes"]]
    now = time.time()
    m.hold_taint = set()
    for slot in list(m.holds):
        obs = (hold_slots or {}).get(slot)
        if obs == "reservado":
            # expiry unknown when tainted: assume the TTL from now (only used for "must still be held")
            prev = m.holds[slot]
            m.holds[slot] = prev if prev[0] == "held" else ("held", now)
        else:
            m.holds[slot] = ("free",)


def random_slot(rng, medicos, dur=None):
    """A future on-grid slot (07:00-19:00 grid, 30 or 60 minutes) of one of `medicos`."""
    today = dt.datetime.now(dt.timezone.utc).date()
    day = today + dt.timedelta(days=rng.randint(2, 80))
    minute = 7 * 60 + 30 * rng.randint(0, 23)
    t0 = dt.datetime(day.year, day.month, day.day) + dt.timedelta(minutes=minute)
    if dur is None:
        dur = 30 if rng.random() < 0.75 or minute >= 18 * 60 + 30 else 60
    return (rng.choice(medicos), fmt(t0), fmt(t0 + dt.timedelta(minutes=dur)))


def pick_hot(m, rng, server):
    """A few future on-grid slots, not yet booked, that every booking this round races for."""
    taken = {(c["medico_id"], c["inicio"]) for c in server["consultas"].values() if c["status"] != "cancelada"}
    hot = []
    while len(hot) < 4:
        slot = random_slot(rng, m.booking_medicos)
        if (slot[0], slot[1]) not in taken:
            hot.append(slot)
    # sometimes the same time with another doctor, so one patient can race itself
    if rng.random() < 0.5:
        _, a, b = hot[0]
        others = [x for x in m.booking_medicos if x != hot[0][0]]
        if others and (others[0], a) not in taken:
            hot.append((others[0], a, b))
    m.hot = hot
    # far from the unique times (2031 onwards, 40 min apart) so only contested creates meet
    base = dt.datetime(2060, 1, 1) + dt.timedelta(hours=rng.randint(0, 24 * 300))
    m.contested = [(rng.choice(m.booking_medicos), fmt(base + dt.timedelta(minutes=30 * k)),
                    fmt(base + dt.timedelta(minutes=30 * k + 45))) for k in range(3)]


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------

def seed(m, port, rng):
    ld = Load(m, port, rng)
    for i in range(3):
        med = ld.create_medico(role="seed")
        if not med:
            raise SystemExit(f"seeding: could not create doctor: {m.errors}")
        for dia in DIAS:
            r = request(port, "POST", f"/horarios/medico/{med['id']}",
                        {"dia_semana": dia, "hora_inicio": "07:00", "hora_fim": "19:00"})
            if r.status != 201:
                raise SystemExit(f"seeding: horario -> {r.status} {r.raw[:200]!r}")
        if i == 0:
            m.hold_medico = med["id"]
        else:
            m.booking_medicos.append(med["id"])
    for _ in range(30):
        if not ld.create_paciente(seeded=True):
            raise SystemExit(f"seeding: could not create patient: {m.errors}")
    today = dt.datetime.now(dt.timezone.utc).date()
    m.hold_day = (today + dt.timedelta(days=3)).isoformat()
    for k in range(24):
        t = dt.datetime.fromisoformat(m.hold_day) + dt.timedelta(hours=7, minutes=30 * k)
        m.holds[fmt(t)] = ("free",)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--binary", default="target/release/agendamento")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--round-secs", type=float, default=1.5)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--compact-every", type=int, default=300,
                    help="server's --compact-every: small, so kills also land mid-compaction")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folders")
    ap.add_argument("--postgres", action="store_true",
                    help="SPEC-2 §16: the server keeps its journal in a throwaway PostgreSQL "
                         "cluster (stress/pg.py) instead of the data folder")
    args = ap.parse_args()
    if args.postgres:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        import pg  # noqa: E402 (stress/pg.py, next to this file)
        with pg.cluster() as c:
            print(f"torture: PostgreSQL at {c.url}", flush=True)
            return run(args, c.url)
    return run(args, None)


def run(args, database_url):

    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print(f"binary not found: {binary} (cargo build --release)", file=sys.stderr)
        return 2
    seed_v = args.seed if args.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed_v)
    root = tempfile.mkdtemp(prefix="agendamento-torture-")
    print(f"torture: seed {seed_v}, {args.rounds} rounds, {args.threads} threads, "
          f"compact every {args.compact_every}, folders {root}", flush=True)
    srv = Server(binary, root, args.compact_every, database_url)
    m = Model(rng)
    passed = failed = 0
    t_start = time.monotonic()
    try:
        err = srv.start()
        if err:
            print(f"could not start the server: {err}")
            print(f"0 passed, {args.rounds} failed")
            return 1
        seed(m, srv.port, rng)
        reasons0 = []
        tasks = wait_tasks(srv.port, reasons0) or {}
        server = check_records(m, srv.port, reasons0, tasks)
        if reasons0 or server is None:
            print(f"seeding check failed: {reasons0}")
            print(f"0 passed, {args.rounds} failed")
            return 1
        rebaseline(m, server, tasks, None)
        dead = False
        for rnd in range(1, args.rounds + 1):
            if dead:
                failed += 1
                print(f"round {rnd:3d}: FAIL: server could not be restarted earlier", flush=True)
                continue
            m.reset_round()
            pick_hot(m, rng, server)
            kill_at = rng.uniform(0.2, max(0.2, args.round_secs))
            stop = threading.Event()
            port = srv.port
            threads = [threading.Thread(target=load_thread, args=(m, port, rng.randrange(1 << 30), stop), daemon=True)
                       for _ in range(args.threads)]
            t0 = time.monotonic()
            for th in threads:
                th.start()
            time.sleep(max(0.0, kill_at - (time.monotonic() - t0)))
            pid = srv.proc.pid
            srv.kill()
            killed_after = time.monotonic() - t0
            stop.set()
            for th in threads:
                th.join(timeout=HTTP_TIMEOUT + 5)
            hung = [th for th in threads if th.is_alive()]
            reasons = list(m.errors)
            if hung:
                reasons.append(f"{len(hung)} load thread(s) still blocked after the kill")
            # files right after the crash
            check_files(srv.dirs["banco"], reasons, after_kill=True)
            if os.environ.get("TORTURE_SELFTEST") == "drop-journal-tail":
                # proves the checks bite: forget the last writes (the last few are usually
                # the in-flight, unacknowledged ones, so drop plenty)
                jp = os.path.join(srv.dirs["banco"], "journal.jsonl")
                with open(jp, "rb") as f:
                    lines = [x for x in f.read().split(b"\n") if x.strip()]
                with open(jp, "wb") as f:
                    f.write(b"".join(x + b"\n" for x in lines[:-40]))
            err = srv.start()
            if err:
                reasons.append(f"restart: {err}")
                err = srv.start()
                if err:
                    dead = True
            if not dead and srv.proc.poll() is None:
                port = srv.port
                health = None
                for _ in range(50):
                    try:
                        health = request(port, "GET", "/sistema/saude")
                        if health.status == 200:
                            break
                    except (Lost, Refused):
                        pass
                    time.sleep(0.1)
                if health is None or health.status != 200:
                    reasons.append(f"/sistema/saude after restart: {health.status if health else 'no answer'}")
                tasks = wait_tasks(port, reasons) or {}
                server = check_records(m, port, reasons, tasks)
                backups = check_backups(port, srv.dirs["backups"], reasons)
                if server is not None:
                    check_tasks(m, tasks, server, backups, reasons)
                hold_slots = check_holds(m, port, reasons)
                check_files(srv.dirs["banco"], reasons, after_kill=False)
                idempotency_checks(m, port, reasons, rng)
                # the re-sends above changed the store: read it again for the next baseline
                tasks = wait_tasks(port, reasons) or {}
                server = check_records(m, port, [], tasks) if server is not None else None
                if server is None:
                    server = {"pacientes": {}, "medicos": {}, "consultas": {}}
                    for kind in server:
                        server[kind] = {r["id"]: r for r in (get_json(port, f"/{kind}", reasons) or [])}
                rebaseline(m, server, tasks, hold_slots)
            sts = ",".join(f"{k}:{v}" for k, v in sorted(m.statuses.items()))
            line = (f"round {rnd:3d}: acked {m.acked:4d}, lost {m.lost:2d}, tasks {len(m.tasks_acked):3d}, "
                    f"killed pid {pid} at {killed_after:.2f}s [{sts}]")
            if reasons:
                failed += 1
                print(f"{line} FAIL: " + "; ".join(reasons[:8]) + (f" (+{len(reasons) - 8} more)" if len(reasons) > 8 else ""), flush=True)
            else:
                passed += 1
                print(f"{line} PASS", flush=True)
        # graceful stop at the end
        if not dead and srv.proc and srv.proc.poll() is None:
            rc = srv.term()
            if rc != 0:
                print(f"note: SIGTERM at the end exited with {rc}: {srv.stderr_tail()}")
    except KeyboardInterrupt:
        print("interrupted")
    finally:
        # stop only the server this script started (the current one; earlier ones were reaped)
        if srv.proc and srv.proc.poll() is None:
            srv.kill()
        if args.keep or failed:
            print(f"folders kept: {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print("acknowledged operations: " + ", ".join(f"{k} {v}" for k, v in sorted(m.totals.items())))
    print(f"backups verified: {len(_verified_zips)}; duration {time.monotonic() - t_start:.0f} s")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
