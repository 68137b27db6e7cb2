#!/usr/bin/env bash
# Installs and starts the real servers the test suite needs, when they are missing.
# Idempotent: on a machine that already has them it only checks.
set -euo pipefail

need_apt=()
command -v prometheus >/dev/null 2>&1 || need_apt+=(prometheus)
command -v alertmanager >/dev/null 2>&1 || command -v prometheus-alertmanager >/dev/null 2>&1 \
  || need_apt+=(prometheus-alertmanager)
# Debian's Chromium for the browser test of the local Slack page (Playwright drives it; its own
# browser download is not used).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # The packages ship systemd units we do not want running: tests start their own instances.
  apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  for svc in prometheus prometheus-alertmanager prometheus-node-exporter; do
    (service "$svc" stop || pkill -x "${svc#prometheus-}" || true) >/dev/null 2>&1
  done
fi

# PostgreSQL: the machine's local server, database `test`.
if ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
  for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p 5432 -q && break; sleep 1; done
fi
pg_isready -h 127.0.0.1 -p 5432 -q || { echo "PostgreSQL at 127.0.0.1:5432 is not ready" >&2; exit 1; }
