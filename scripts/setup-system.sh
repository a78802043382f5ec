#!/usr/bin/env bash
# System packages the project needs: Java 17 (Flink), Maven (connector jars), a C compiler
# and Python headers (the compiled per-record modules), pgbouncer
# (lets redshift-connector reach the local PostgreSQL warehouse stand-in in tests) and
# Chromium (the dashboard test).
# Installs what is missing from Debian's packages when run as root; otherwise says what to do.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
# headless browser for the dashboard test (tests/pipeline/test_dashboard.py)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
python_ok=$(command -v python3.11 || command -v python3 || true)
[ -n "$python_ok" ] || missing+=(python3 python3-venv)
# C compiler and Python headers: `python -m pipeline compile` builds the per-record modules
# with Cython (without them the job runs pure Python, slower, and a test says so)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
if [ -n "$python_ok" ] && ! "$python_ok" -c 'import os, sysconfig, sys
sys.exit(not os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h")))'; then
  missing+=(python3-dev)
fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${missing[*]} — install them (apt-get install ${missing[*]}) and rerun" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
