#!/bin/sh
# run.sh WEAVE [SCREENSHOT] — the browser test of `weave serve`
# (serve.test.mjs). Exits 77, which meson counts as skipped, saying why,
# when Chromium, node or the test's node_modules (npm ci here) are absent;
# `sh tools/dev.sh test` installs all three.
dir=$(cd "$(dirname "$0")" && pwd)
chromium=${WV_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then echo "skipped: no Chromium at $chromium (apt-get install chromium)"; exit 77; fi
if ! command -v node >/dev/null 2>&1; then echo "skipped: node not found (apt-get install nodejs npm)"; exit 77; fi
if [ ! -f "$dir/node_modules/playwright-core/package.json" ]; then
    echo "skipped: playwright-core not installed (cd tests/browser && npm ci)"; exit 77
fi
exec node "$dir/serve.test.mjs" "$@"
