#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Installs dynshare's build and analysis dependencies from Debian 12's archive.
# Does nothing when they are all present; needs root (or sudo) otherwise.
set -euo pipefail
PKGS=(build-essential cmake ninja-build pkg-config
      libeigen3-dev libboost-dev libhdf5-dev libyaml-cpp-dev libgtest-dev googletest
      python3-numpy python3-h5py python3-matplotlib python3-yaml python3-pytest
      python3-dev pybind11-dev python3-torch python3-tqdm python3-xarray
      libtorch-dev libgloo-dev libopenblas0-pthread dataset-fashion-mnist
      clang libclang-rt-14-dev mkdocs)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all dependencies present"
  exit 0
fi
echo "install_deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install_deps: done"
