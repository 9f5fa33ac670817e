#!/usr/bin/env bash
# Installs what cachet needs to run and to test, when it is missing:
# the npm dependencies, redis-server, and (for the tests) Chromium, promtool (Debian: prometheus),
# tmux, zsh and fish.
# Set CACHET_SKIP_BROWSER=1 to skip Chromium (the dashboard browser test is then skipped too).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "cachet: installing npm dependencies…"
  # `npm install` with the committed lock, not `npm ci`: npm 11 leaves other platforms' optional
  # packages (Biome, msgpackr binaries) out of the lock and `npm ci` then refuses it as out of sync.
  npm install --no-audit --no-fund
fi

# The library's exports (cachet, cachet/fastify, cachet/sql, …) point at packages/cachet/dist/: keep it
# built, so the demo server, the benchmarks and the examples, which import cachet by its package name
# as an application would, run the current sources.
lib=packages/cachet
if [ ! -f $lib/dist/index.js ] || [ -n "$(find $lib/src $lib/scripts -newer $lib/dist/index.js -print -quit)" ]; then
  echo "cachet: building packages/cachet/dist/ (tsc)…"
  npm run build --silent -w cachet >/dev/null
fi

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
if [ "${CACHET_SKIP_BROWSER:-0}" != "1" ] && [ "${1:-}" != "--no-browser" ]; then
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  # promtool checks docs/alerts.yml (its test is skipped, with a message, without it).
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  # tmux runs `cachet warmup` under a real terminal; zsh and fish check their completion scripts.
  command -v tmux >/dev/null 2>&1 || missing+=(tmux)
  command -v zsh >/dev/null 2>&1 || missing+=(zsh)
  command -v fish >/dev/null 2>&1 || missing+=(fish)
fi

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "cachet: installing ${missing[*]} with apt-get…"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "cachet: missing ${missing[*]}." >&2
    echo "  Install them with your package manager, e.g.: sudo apt-get install ${missing[*]}" >&2
    if ! command -v redis-server >/dev/null 2>&1; then
      echo "  (npm start still runs without redis-server, in L1-only mode; npm test needs it.)" >&2
    fi
  fi
fi
