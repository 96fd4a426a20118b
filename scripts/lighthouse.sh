#!/usr/bin/env bash
# Lighthouse scores (performance, accessibility, best practices, SEO; mobile, simulated
# throttling) of the release site: the home page, a post and the terminal page, in Debian's
# Chromium. Prints the scores and every scored audit that is not perfect; asserts nothing.
#
# Usage: scripts/lighthouse.sh [PATH ...]   (default: / , the newest post, /terminal)
# Lighthouse is installed into a scratch folder outside the repository
# ($ROOTRESUME_LIGHTHOUSE_DIR, default /var/tmp/rootresume-lighthouse), never committed.
set -euo pipefail
source "$(dirname "$0")/setup.sh" --test
source scripts/release-server.sh  # setup.sh left us at the repository root
tool=${ROOTRESUME_LIGHTHOUSE_DIR:-/var/tmp/rootresume-lighthouse}
port=${ROOTRESUME_LIGHTHOUSE_PORT:-3230}
out=$(mktemp -d)

if [ ! -x "$tool/node_modules/.bin/lighthouse" ]; then
  say "installing lighthouse (npm) into $tool"
  mkdir -p "$tool"
  npm install --prefix "$tool" --no-save --no-audit --no-fund lighthouse@12.8.2 >/dev/null
fi

say "building the release site and server"
scripts/build-site.sh --release >/dev/null

start_release_server "$port" 2 "lighthouse-$$"
trap 'kill -TERM $release_server 2>/dev/null; wait $release_server 2>/dev/null; rm -rf "$out"' EXIT

if [ $# -eq 0 ]; then
  post=$(curl -sf "http://127.0.0.1:$port/blog" | grep -o 'href="/blog/[^"]*"' | head -1 | cut -d'"' -f2)
  set -- / "$post" /terminal
fi

for path in "$@"; do
  report="$out/report.json"
  CHROME_PATH=/usr/bin/chromium "$tool/node_modules/.bin/lighthouse" "http://127.0.0.1:$port$path" \
    --quiet --output=json --output-path="$report" \
    --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update" \
    >/dev/null 2>"$out/lighthouse.err" || { cat "$out/lighthouse.err" >&2; exit 1; }
  node -e '
const r = require(process.argv[1]);
const scores = Object.entries(r.categories).map(([k, c]) => `${k} ${Math.round(c.score * 100)}`);
console.log(`${process.argv[2]}: ${scores.join(", ")}`);
for (const [k, c] of Object.entries(r.categories))
  for (const ref of c.auditRefs) {
    const a = r.audits[ref.id];
    if (ref.weight > 0 && a.score !== null && a.score < 1) console.log(`    ${k}: ${ref.id} ${a.score} ${a.displayValue ?? ""}`);
  }
for (const id of ["first-contentful-paint", "largest-contentful-paint", "total-blocking-time", "cumulative-layout-shift"])
  console.log(`    ${id}: ${r.audits[id].displayValue}`);
' "$report" "$path"
done
