#!/usr/bin/env bash
# Validates the server's own /openapi.json as OpenAPI 3.1 with openapi-spec-validator (PyPI):
#
#   bash fuzz/validate_openapi.sh
#
# Installs openapi-spec-validator if missing, builds the debug binary, starts it on
# 127.0.0.1:0 with a temp data folder, fetches the document, validates it, stops the server it
# started. Exit 0 = a valid OpenAPI 3.1 document.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import openapi_spec_validator' 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check "openapi-spec-validator>=0.7,<1"
fi
source scripts/temp_server.sh
start_temp_server --no-demo-data

python3 - "$URL/openapi.json" <<'PY'
import json, sys, urllib.request
from openapi_spec_validator import OpenAPIV31SpecValidator

with urllib.request.urlopen(sys.argv[1]) as r:
    doc = json.load(r)
assert doc.get("openapi", "").startswith("3.1"), f"not OpenAPI 3.1: {doc.get('openapi')}"
errors = list(OpenAPIV31SpecValidator(doc).iter_errors())
for e in errors:
    print(f"{'/'.join(map(str, e.path))}: {e.message}")
print(f"{sys.argv[1]}: {len(errors)} error(s)")
sys.exit(1 if errors else 0)
PY
