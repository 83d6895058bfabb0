#!/usr/bin/env bash
# A command that must be refused (issue 19, "Tests that must be able to fail"): it exits with an error status
# (non-zero, and not a death by signal, which is a crash) AND prints a line matching the message (an extended
# regular expression, over stdout and stderr). ctest's PASS_REGULAR_EXPRESSION alone ignores the exit status
# and WILL_FAIL alone ignores the message, so the CLI error tests in tests/CMakeLists.txt run through this script
# and rely on its exit status (no PASS_REGULAR_EXPRESSION of their own).
#   expect_error.sh REGEX COMMAND [ARGS...]  -> exit 0 and "refused (exit N): <matching line>" only when both hold
set -uo pipefail
regex=$1
shift
command="$*"
out=$("$@" 2>&1)
status=$?
fail() { echo "FAILED: $1: $command"; printf '%s\n' "$out"; exit 1; }
[ "$status" -ne 0 ] || fail "exit 0, the command was accepted"
[ "$status" -lt 128 ] || fail "exit $status, killed by signal $((status - 128))"
line=$(printf '%s\n' "$out" | grep -E -m 1 -- "$regex") || fail "exit $status, but no line matches '$regex'"
echo "refused (exit $status): $line"
