"""Schemathesis hooks for `bash fuzz/run.sh` (loaded through SCHEMATHESIS_HOOKS=hooks).

POST /backup/enviar takes a raw ZIP body (application/zip), which schemathesis cannot
generate from a JSON Schema: give it bytes, some of them starting like a ZIP archive or a
truncated one, so the upload's checks are fuzzed too (every such body must be refused 422
or 413 and change nothing).
"""

from hypothesis import strategies as st

import schemathesis

ZIP_LIKE = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from([b"", b"PK\x03\x04", b"PK\x05\x06" + b"\x00" * 18, b"PK\x01\x02"]),
    st.binary(max_size=4096),
)

schemathesis.openapi.media_type("application/zip", ZIP_LIKE)
