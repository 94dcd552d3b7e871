#!/usr/bin/env bash
# e2e.load (issue 20): bench/load's short run on an apache+tomcat image built with --log-to:
# 60 s of wrk with 64 connections against apache (a static page), then tomcat (a JSP), over
# a TAP link (romimg boot --tap). Fails on any timed-out request, socket error (read errors too:
# keep-alive connections apache closed under wrk, which its template's event MPM settings ended;
# docs/limits.md, "Load"), non-2xx answer, and on any restart of a service. The memory figures come from init's
# health lines over the remote log.
set -euo pipefail
romimg=$1
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root"; exit 77; }
ROMIMG=$romimg CONN=64 exec "$(dirname "$0")/../../bench/load" 60
