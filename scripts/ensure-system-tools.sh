#!/bin/sh
# `npm test`'s pretest: the system tools some tests run (promtool for the alert rules,
# haproxy for the load-balancer rehearsal, php + phpunit + Laravel for clients/php), from
# Debian's packages. A no-op when they are
# present. Installs them only when we are root with apt-get (a fresh CI machine or container);
# otherwise says what to install and lets the tests report what is missing.
set -eu

missing=""
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
# Chromium for the browser tests (the ops console), driven by playwright-core.
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
# clients/php: PHP with curl and mbstring, PHPUnit, and Laravel (Illuminate) with SQLite for the
# queued-job tests; no Composer, tests/bootstrap.php autoloads Debian's copies.
command -v php >/dev/null 2>&1 || missing="$missing php-cli"
if command -v php >/dev/null 2>&1; then
  php -r 'exit(extension_loaded("curl") ? 0 : 1);' || missing="$missing php-curl"
  php -r 'exit(extension_loaded("mbstring") ? 0 : 1);' || missing="$missing php-mbstring"
  php -r 'exit(extension_loaded("pdo_sqlite") ? 0 : 1);' || missing="$missing php-sqlite3"
  php -r 'exit(extension_loaded("dom") ? 0 : 1);' || missing="$missing php-xml"
else
  missing="$missing php-curl php-mbstring php-sqlite3 php-xml"
fi
command -v phpunit >/dev/null 2>&1 || missing="$missing phpunit"
[ -f /usr/share/php/Illuminate/Foundation/Application.php ] || missing="$missing php-laravel-framework"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-system-tools: installing$missing (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  # A failed install (no network) does not stop the suite: the tests that need a tool fail
  # naming it, the others still run.
  # shellcheck disable=SC2086 # one word per package
  apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
    echo "ensure-system-tools: apt-get could not install$missing" >&2
else
  echo "ensure-system-tools: missing$missing; install them (e.g. sudo apt-get install$missing)" >&2
fi
