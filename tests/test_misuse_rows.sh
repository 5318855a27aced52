#!/usr/bin/env bash
# test_misuse_rows.sh - tests/misuse_rows.h, the misuse matrix's list of
# public functions and their documented codes, matches the headers: a
# function added or an "Errors:" line changed without regenerating it
# (tools/misuse_rows.py) fails here.
#
#   tests/test_misuse_rows.sh BUILD_DIR
#
# Exit status: 0 pass, 1 fail, 77 skipped (no python3).

set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd) || exit 2
if ! command -v python3 >/dev/null; then
    echo "skipped: python3 not found"
    exit 77
fi
python3 "$root/tools/misuse_rows.py" --check
