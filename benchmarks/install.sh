#!/usr/bin/env bash
# Time `pip install -r requirements.txt` in a fresh virtual environment, check that pip did not
# backtrack and that `import firf` works from another folder, report the disk used, and delete
# the environment again. pip's own cache is used as it is (not cleared).
#
#   bash benchmarks/install.sh [VENV_DIR]        # default /tmp/firf-install-venv
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${1:-/tmp/firf-install-venv}
log=$(mktemp)
rm -rf "$venv"
python3 -m venv "$venv"
start=$(date +%s.%N)
"$venv/bin/pip" install -r requirements.txt >"$log" 2>&1
end=$(date +%s.%N)
echo "date: $(date -u '+%Y-%m-%d %H:%M') UTC; $(nproc) CPU cores; load average $(cut -d' ' -f1 /proc/loadavg)"
echo "pip: $("$venv/bin/pip" --version | cut -d' ' -f1-2); python: $("$venv/bin/python" --version)"
echo "install: $(echo "$end - $start" | bc) s"
echo "backtracking messages: $(grep -c 'looking at multiple versions' "$log" || true)"
echo "disk: $(du -sh "$venv" | cut -f1)"
(cd /tmp && "$venv/bin/python" -c "import firf; print('import firf from /tmp:', firf.__file__)")
rm -rf "$venv" "$log"
