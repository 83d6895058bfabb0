#!/usr/bin/env bash
# A full disk and a read-only folder (issue 19): training that resumes into a run folder on a small tmpfs
# fails its next checkpoint with a clear error naming the file and "No space left on device", and the
# previous checkpoint still loads (its step) with no temporary left behind; a GGUF export over an
# existing file on the full disk fails the same way and leaves that file byte for byte; on a read-only
# mount, train refuses naming the folder and changes nothing. Needs root (mount); CI runs as root.
#   disk_faults.sh QFORGE  -> "disk faults ok" only when every check passed
set -euo pipefail
qforge=$1
work=$(mktemp -d)
mnt="$work/mnt"
mkdir -p "$mnt"
cleanup() { mountpoint -q "$mnt" && umount "$mnt"; rm -rf "$work"; }
trap cleanup EXIT
export OMP_NUM_THREADS=1
fail() { echo "FAILED: $*"; exit 1; }
cat > "$work/run.pbtxt" <<CONFIG
model { llama { hidden_size: 64 num_hidden_layers: 2 num_attention_heads: 2 num_key_value_heads: 1
                intermediate_size: 128 max_position_embeddings: 32 } }
data { text { corpus_end: 0.05 } batch_size: 4 }
trainer { steps: 2 eval_batches: 1 checkpoint_every: 1 seed: 1 }
CONFIG
"$qforge" train --config "$work/run.pbtxt" --run-dir "$work/run" > /dev/null
"$qforge" export --checkpoint "$work/run" --type F32 -o "$work/model.gguf" 2> /dev/null
# Room for the run folder and the GGUF file plus 16 KiB: the next checkpoint's temporary cannot fit.
size_kb=$(( $(du -sk "$work/run" | cut -f1) + $(du -sk "$work/model.gguf" | cut -f1) + 16 ))
mount -t tmpfs -o size=${size_kb}k tmpfs "$mnt" || fail "cannot mount a tmpfs (the test needs root)"
cp -r "$work/run" "$mnt/run" && cp "$work/model.gguf" "$mnt/model.gguf"
sum_before=$(md5sum "$mnt/run/checkpoint.bin" "$mnt/model.gguf")
if "$qforge" train --config "$work/run.pbtxt" --run-dir "$mnt/run" --set trainer.steps=4 > "$work/out" 2>&1; then
  fail "training on a full disk succeeded"; fi
grep -q "checkpoint.bin.*No space left on device" "$work/out" || { cat "$work/out"; fail "the full-disk error does not name the file and the cause"; }
grep -h "qforge: error" "$work/out"
step=$("$qforge" eval --checkpoint "$mnt/run" | sed -n 's/.*final: step=\([0-9]*\).*/\1/p')
[ "$step" = 2 ] || fail "after the failed save the checkpoint is at step '$step', not 2"
ls "$mnt/run" | grep -q '\.tmp\.' && fail "a temporary was left on the full disk"
if "$qforge" export --checkpoint "$work/run" --type F32 -o "$mnt/model.gguf" > "$work/out" 2>&1; then
  # The same bytes fit where the old file is only if the writer replaced it in place: it must not.
  fail "the export to the full disk succeeded"; fi
grep -q "model.gguf.*No space left on device" "$work/out" || { cat "$work/out"; fail "the export error does not name the file and the cause"; }
grep -h "qforge: error" "$work/out"
[ "$(md5sum "$mnt/run/checkpoint.bin" "$mnt/model.gguf")" = "$sum_before" ] || fail "a previous file changed"
# Read-only: train refuses before touching anything.
mount -o remount,ro "$mnt"
if "$qforge" train --config "$work/run.pbtxt" --run-dir "$mnt/run" --set trainer.steps=4 > "$work/out" 2>&1; then
  fail "training in a read-only folder succeeded"; fi
grep -q "$mnt/run.*Read-only file system" "$work/out" || { cat "$work/out"; fail "the read-only error does not name the folder"; }
[ "$(md5sum "$mnt/run/checkpoint.bin" "$mnt/model.gguf")" = "$sum_before" ] || fail "a previous file changed"
grep -h "qforge: error" "$work/out"
echo "disk faults ok: full disk (checkpoint, GGUF export) and read-only folder give clear errors, previous files intact"
