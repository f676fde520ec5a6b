#!/bin/sh
# `npm test`'s pretest: the system tools some tests run, from Debian's packages:
#   promtool (alert rules), haproxy (load-balancer rehearsal), java (DynamoDB Local),
#   chromium (browser embed and console, driven by playwright-core),
#   php + extensions, phpunit and Laravel (clients/php; no Composer: tests/bootstrap.php
#   autoloads Debian's copies).
# A no-op when they are present. Installs them only when we are root with apt-get (a fresh CI
# machine or container); otherwise says what to install and lets the tests report what is
# missing.
set -eu

missing=""
# need <command> <package>: the package when the command is not on PATH.
need() { command -v "$1" >/dev/null 2>&1 || missing="$missing $2"; }
# need_php <php expression that is true when present> <package>
need_php() {
  if command -v php >/dev/null 2>&1; then
    php -r "exit(($1) ? 0 : 1);" >/dev/null 2>&1 || missing="$missing $2"
  else
    missing="$missing $2"
  fi
}

need promtool prometheus
need haproxy haproxy
# DynamoDB Local (the jar in the amplify-dynamodb-simulator package) runs on Java 17.
need java default-jre-headless
need chromium chromium
need php php-cli
need_php 'extension_loaded("curl")' php-curl
need_php 'extension_loaded("mbstring")' php-mbstring
need_php 'extension_loaded("pdo_sqlite")' php-sqlite3
need_php 'extension_loaded("dom")' php-xml
need phpunit phpunit
need_php 'is_file("/usr/share/php/Illuminate/Foundation/Application.php")' php-laravel-framework
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
