#!/usr/bin/env bash
# One-time set-up used by `make run` and `make test`: the Debian toolchain (only when missing)
# and a virtual environment with acdeploy and its dependencies. Safe to rerun.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}

need_apt=()
command -v arm-none-eabi-gcc >/dev/null 2>&1 || need_apt+=(gcc-arm-none-eabi)
[ -e /usr/lib/arm-none-eabi/newlib/libc.a ] || [ -d /usr/lib/arm-none-eabi/newlib ] || need_apt+=(libnewlib-arm-none-eabi)
command -v qemu-system-arm >/dev/null 2>&1 || need_apt+=(qemu-system-arm)
command -v gcc >/dev/null 2>&1 || need_apt+=(gcc)
command -v make >/dev/null 2>&1 || need_apt+=(make)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp="$VENV/.acdeploy-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: creating $VENV and installing acdeploy (first time: a few minutes)"
  [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --upgrade pip
  "$VENV/bin/python" -m pip install -q -e ".[dev]"
  touch "$stamp"
fi

# CMSIS-DSP's C sources (Apache-2.0) for the firmware's audio front end (FFT), from the pinned
# PyPI sdist; `acdeploy build` copies the files it needs into each firmware project.
CMSISDSP_VERSION=1.10.3
CMSISDSP_SHA256=307d32298faa7c58db912851027fce35f886fec7eb1a27c4b309ce1a97f47519
cmsis_dir="$VENV/share/acdeploy/cmsisdsp-$CMSISDSP_VERSION"
if [ ! -f "$cmsis_dir/Include/arm_math.h" ]; then
  echo "setup: fetching the CMSIS-DSP $CMSISDSP_VERSION sources (PyPI sdist)"
  tmp=$(mktemp -d)
  "$VENV/bin/python" -m pip download -q --no-deps --no-binary cmsisdsp "cmsisdsp==$CMSISDSP_VERSION" -d "$tmp"
  echo "$CMSISDSP_SHA256  $tmp/cmsisdsp-$CMSISDSP_VERSION.tar.gz" | sha256sum -c --quiet -
  mkdir -p "$VENV/share/acdeploy"
  tar -xzf "$tmp/cmsisdsp-$CMSISDSP_VERSION.tar.gz" -C "$tmp"
  rm -rf "$cmsis_dir.part" && mkdir -p "$cmsis_dir.part"
  cp -r "$tmp/cmsisdsp-$CMSISDSP_VERSION/Include" "$tmp/cmsisdsp-$CMSISDSP_VERSION/PrivateInclude" \
        "$tmp/cmsisdsp-$CMSISDSP_VERSION/Source" "$tmp/cmsisdsp-$CMSISDSP_VERSION/LICENSE" "$cmsis_dir.part/"
  rm -rf "$cmsis_dir" && mv "$cmsis_dir.part" "$cmsis_dir"
  rm -rf "$tmp"
fi
