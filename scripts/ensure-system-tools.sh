#!/bin/sh
# `npm test`'s pretest: the system tools some tests run (promtool for the alert rules,
# haproxy for the load-balancer rehearsal, java for DynamoDB Local), from Debian's packages. A no-op when they are
# present. Installs them only when we are root with apt-get (a fresh CI machine or container);
# otherwise says what to install and lets the tests report what is missing.
set -eu

missing=""
command -v promtool >/dev/null 2>&1 || missing="$missing prometheus"
command -v haproxy >/dev/null 2>&1 || missing="$missing haproxy"
# DynamoDB Local (the jar in the amplify-dynamodb-simulator package) runs on Java 17.
command -v java >/dev/null 2>&1 || missing="$missing default-jre-headless"
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
