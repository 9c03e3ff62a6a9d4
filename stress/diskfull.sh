#!/bin/sh
# Disk-full / read-only checks; the work is in diskfull.py (Python 3 stdlib). Run as root.
exec python3 "$(dirname "$0")/diskfull.py" "$@"
