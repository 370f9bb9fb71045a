#!/usr/bin/env bash
# One-time set-up, safe to rerun: a virtual environment in .venv with this package and its
# dependencies, and, when apt-get is there, Debian's Fashion-MNIST package for offline data and
# PostgreSQL, SLURM and Chromium for the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
FASHION_MNIST=/usr/share/datasets/fashion-mnist
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

apt_install() {
  command -v apt-get >/dev/null || return 1
  $SUDO apt-get update -qq && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! command -v "$PYTHON" >/dev/null; then
  apt_install python3 python3-venv || true
fi
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: needs Python 3.11 or newer as $PYTHON (set PYTHON=/path/to/python3.11)" >&2
  exit 2
fi

if [ ! -d "$FASHION_MNIST" ]; then
  apt_install dataset-fashion-mnist \
    || echo "setup: dataset-fashion-mnist not installed; Fashion-MNIST will be downloaded instead"
fi

# PostgreSQL: the tests of workers on several machines start a throwaway server of it.
if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
  apt_install postgresql \
    || echo "setup: postgresql not installed; the PostgreSQL tests of tests/test_workers.py need it"
fi

# SLURM and munge: tests/test_slurm.py starts a throwaway one-node cluster of them.
if ! command -v slurmctld >/dev/null && [ ! -x /usr/sbin/slurmctld ]; then
  apt_install slurmctld slurmd slurm-client munge \
    || echo "setup: SLURM not installed; tests/test_slurm.py needs slurmctld, slurmd and munge"
fi

# Chromium, headless: tests/test_ui.py and scripts/ui_screenshots.sh render MLflow's UI in it.
# Without the recommended packages (a printer set-up, avahi, ...), which headless needs none of.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null; then
  apt_install --no-install-recommends chromium fonts-liberation \
    || echo "setup: chromium not installed; tests/test_ui.py and scripts/ui_screenshots.sh need it"
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv 2>/dev/null || {
    rm -rf .venv
    apt_install python3-venv && "$PYTHON" -m venv .venv
  }
fi

# Reinstall only when the dependencies changed.
if [ ! -f .venv/.installed ] || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e '.[dev]'
  touch .venv/.installed
fi
