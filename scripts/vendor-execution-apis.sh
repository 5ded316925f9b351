#!/usr/bin/env bash
# Refreshes the copy of the ethereum/execution-apis specification that the JSON-RPC conformance test
# reads (integration/tests/data/execution-apis): the OpenRPC method and schema sources of the eth,
# debug and net namespaces, the .io request/response tests of those methods, and the licence (CC0).
#
#   scripts/vendor-execution-apis.sh /path/to/execution-apis    # a git clone of the specification
set -euo pipefail
src=${1:?usage: $0 /path/to/execution-apis (a git clone)}
here=$(cd "$(dirname "$0")/.." && pwd)
dst=$here/integration/tests/data/execution-apis
commit=$(git -C "$src" rev-parse HEAD)
rm -rf "$dst"
mkdir -p "$dst"
cd "$src"
# `git show` per file, so a clone with a damaged object still yields every readable file.
for f in $(git ls-tree -r --name-only HEAD LICENSE src/eth src/debug src/schemas tests \
  | grep -E '^(LICENSE|src/.*\.yaml|tests/(eth|debug|net)_[A-Za-z0-9]+/.*\.io)$'); do
  mkdir -p "$dst/$(dirname "$f")"
  git show "HEAD:$f" > "$dst/$f" 2>/dev/null || { echo "skipped unreadable $f" >&2; rm -f "$dst/$f"; }
done
cat > "$dst/SOURCE.md" <<MD
# ethereum/execution-apis, vendored for the JSON-RPC conformance test

- Repository: https://github.com/ethereum/execution-apis
- Commit: $commit ($(git -C "$src" log -1 --format=%cs))
- Licence: CC0 1.0 Universal (\`LICENSE\` beside this file): public domain dedication.
- What is here: \`src/eth\`, \`src/debug\` (OpenRPC methods), \`src/schemas\` (their schemas), and the
  \`.io\` tests of the \`eth_*\`, \`debug_*\` and \`net_*\` methods under \`tests/\`, unmodified.
- Refresh: \`scripts/vendor-execution-apis.sh /path/to/execution-apis\`.
MD
echo "vendored $commit into $dst ($(find "$dst" -type f | wc -l) files)"
