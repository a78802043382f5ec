#!/usr/bin/env bash
# System packages the project needs: Java 17 (Flink), Maven (connector jars) and pgbouncer
# (lets redshift-connector reach the local PostgreSQL warehouse stand-in in tests).
# Installs what is missing from Debian's packages when run as root; otherwise says what to do.
set -euo pipefail

missing=()
command -v java >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
[ -x /usr/sbin/pgbouncer ] || command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
python_ok=$(command -v python3.11 || command -v python3 || true)
[ -n "$python_ok" ] || missing+=(python3 python3-venv)

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
