"""Schemathesis hooks for `bash fuzz/run.sh` (loaded through SCHEMATHESIS_HOOKS=hooks).

POST /backup/enviar takes a raw ZIP body (application/zip), which schemathesis cannot
generate from a JSON Schema: give it bytes, some of them starting like a ZIP archive or a
truncated one, so the upload's checks are fuzzed too (every such body must be refused 422
or 413 and change nothing).

The fuzz server runs in single-user mode (`--auth off`, the part-1 contract: scripts/
temp_server.sh), where no token is asked for; the document still declares the bearer scheme
of SPEC-2 §10 on every protected operation. The requirement is dropped from the loaded copy
so the fuzzer does not expect 401s that single-user mode never gives; sign-in itself (401 for
missing, malformed, expired and revoked tokens on every route, 403 per role) is tested by
tests/inproc/auth.rs.
"""

import os

from hypothesis import strategies as st

import schemathesis

ZIP_LIKE = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06" + b"\x00" * 18, b"PK\x01\x02"]),
    st.binary(max_size=4096),
)

schemathesis.openapi.media_type("application/zip", ZIP_LIKE)


@schemathesis.hook
def before_load_schema(ctx, raw_schema):
    if os.environ.get("AGENDAMENTO_AUTH", "off") != "off":
        return
    for item in raw_schema.get("paths", {}).values():
        for op in item.values():
            if isinstance(op, dict):
                op.pop("security", None)
