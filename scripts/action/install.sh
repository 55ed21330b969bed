#!/usr/bin/env bash
# The chaosgate GitHub Action's install step: finds or builds the chaosgate binary and writes
# its path to $GITHUB_OUTPUT as `chaosgate=PATH`.
#
# From the environment (action.yml maps its inputs onto these):
#   ACTION_PATH      the action's own checkout ($GITHUB_ACTION_PATH)
#   INPUT_PATH       an installed chaosgate binary to use as is (wins over the rest)
#   INPUT_VERSION    a git tag of the action's repository to `cargo install` chaosgate from
#   ACTION_REPO      that repository's URL (for INPUT_VERSION)
#   INPUT_BUILD      true: `cargo build --release` from the action's own checkout
#   (none of these)  `chaosgate` from PATH
set -euo pipefail

output="${GITHUB_OUTPUT:-/dev/null}"
found() {
  local bin="$1"
  if ! "$bin" --version >/dev/null; then
    echo "::error title=chaosgate action::$bin does not run"
    exit 3
  fi
  echo "using $("$bin" --version) at $bin"
  echo "chaosgate=$bin" >>"$output"
}

if [[ -n "${INPUT_PATH:-}" ]]; then
  found "$(realpath "$INPUT_PATH")"
elif [[ -n "${INPUT_VERSION:-}" ]]; then
  root="${RUNNER_TOOL_CACHE:-${HOME}/.cache}/chaosgate/${INPUT_VERSION}"
  if [[ ! -x "$root/bin/chaosgate" ]]; then
    cargo install --locked --root "$root" --git "${ACTION_REPO:?ACTION_REPO is not set}" \
      --tag "$INPUT_VERSION" chaosgate
  fi
  found "$root/bin/chaosgate"
elif [[ "${INPUT_BUILD:-true}" == true ]]; then
  cd "${ACTION_PATH:?ACTION_PATH is not set}"
  cargo build --release --locked -p chaosgate
  found "$PWD/target/release/chaosgate"
else
  found "$(command -v chaosgate || echo chaosgate)"
fi
