#!/usr/bin/env bash
# The keyv-6 job: the unit tests, the store battery, the session store and @keyv/test-suite, run under
# Node 22 against keyv 6 and @keyv/redis 6, the generation users on Node 22 get by default. Run it after
# `npm ci && npm run build` (CI runs it after `npm test`). Nothing of this checkout is changed: Node 22
# and keyv 6 are installed into copies in a temporary directory.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Node 22 from the npm registry, in a directory of its own (with a package.json, or npm would walk up
# to a parent's).
mkdir -p "$work/node22"
echo '{"name":"node22","private":true}' > "$work/node22/package.json"
(cd "$work/node22" && npm install --no-audit --no-fund --silent node@22.23.3)
node22="$work/node22/node_modules/.bin/node"
echo "keyv-6 job: $("$node22" --version)"

# A copy of the installed and built checkout, with keyv 6 in place of keyv 5. --legacy-peer-deps because
# @keyv/test-suite 2 and @keyv/postgres 2 declare keyv ^5 (they work under keyv 6; the test says where not).
cp -a "$root/." "$work/sc"
rm -rf "$work/sc/.git"
cd "$work/sc"
npm install --no-save --legacy-peer-deps --no-audit --no-fund --silent keyv@6.1.0 @keyv/redis@6.0.0-rc.1
version() { node -p "JSON.parse(require('fs').readFileSync('node_modules/$1/package.json', 'utf8')).version"; }
echo "keyv-6 job: keyv $(version keyv), @keyv/redis $(version @keyv/redis)"

"$node22" node_modules/vitest/vitest.mjs run \
  test/unit \
  test/integration/stores.test.ts \
  test/integration/keyv-adapter.test.ts \
  test/integration/session.test.ts \
  test/integration/encryption.test.ts
