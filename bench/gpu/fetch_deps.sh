#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Fetches (HERE, on a Debian 12 machine with apt and a network) the Debian
# packages that the build needs and the device machine lacks, and unpacks
# them with dpkg -x into bench/gpu/deps/root (git-ignored; name it in the
# device tool's `carry`). No .deb file is kept or committed.
#
#   bench/gpu/fetch_deps.sh            # -> bench/gpu/deps/root (+ deps/cmake-args)
#
# What it takes: the -dev packages (headers, .so links, CMake configs) of
# HDF5, yaml-cpp, Eigen, Boost and GoogleTest, and the runtime libraries they
# link to that a CUDA/PyTorch image may lack (HDF5's libsz/libaec/libcurl and
# curl's own libraries). glibc, libstdc++, zlib and OpenSSL are assumed there.
# Boost is pruned to the headers the project includes (the whole of Boost
# would not fit the 64 MiB that travels).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
deps=${DEPS_DIR:-$here/deps}
root=$deps/root
rm -rf "$root" "$deps/debs"
mkdir -p "$root" "$deps/debs"

dev="libhdf5-dev libhdf5-103-1 libyaml-cpp-dev libyaml-cpp0.7 libeigen3-dev libboost1.74-dev libgtest-dev"
runtime="libsz2 libaec0 libcurl4 libnghttp2-14 librtmp1 libssh2-1 libpsl5 libldap-2.5-0 libgssapi-krb5-2
         libkrb5-3 libk5crypto3 libkrb5support0 libkeyutils1 libbrotli1 libsasl2-2 libzstd1 libidn2-0
         libunistring2 libgnutls30 libhogweed6 libnettle8 libp11-kit0 libtasn1-6 libffi8 libgmp10"
(cd "$deps/debs" && apt-get download $dev $runtime)
for f in "$deps/debs"/*.deb; do dpkg -x "$f" "$root"; done
rm -rf "$deps/debs"

# Keep only what the build uses: Boost headers reachable from the sources
# (file by file, under two sets of flags), plus the small macro-dependent
# libraries whole (config, type_traits, detail, predef, core), since which
# headers a file reaches depends on the compiler and its flags.
inc=$root/usr/include
keep=$(mktemp)
for flags in "" "-O2 -DNDEBUG -fopenmp -march=native"; do
  for src in "$repo"/src/core/*.cpp; do
    g++ -std=c++17 $flags -MM -MG -I"$repo/include" -I"$repo" -I"$repo/src" -I"$inc" -I"$inc/eigen3" "$src" 2>/dev/null |
      tr ' \\' '\n\n' | grep "^$inc/boost/" || true
  done
done | sort -u > "$keep"
if [ -s "$keep" ]; then
  for d in config type_traits detail predef core; do find "$inc/boost/$d" -type f; done >> "$keep"
  sort -u -o "$keep" "$keep"
  find "$inc/boost" -type f | sort > "$keep.all"
  comm -23 "$keep.all" "$keep" | xargs -r rm -f
  find "$inc/boost" -type d -empty -delete
fi
rm -f "$keep" "$keep.all"
rm -rf "$root/usr/share/doc" "$root/usr/share/man" "$root/usr/share/lintian"
find "$root" -name '*.a' ! -name 'libgtest*.a' ! -name 'libgmock*.a' -delete

lib=$root/usr/lib/x86_64-linux-gnu
# Relative links inside the tree keep working; absolute ones (/usr/lib/...) are
# rewritten as relative links into the tree, so it works wherever it is carried.
find "$root" -type l | while read -r l; do
  t=$(readlink "$l")
  case "$t" in /*) ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$root$t")" "$l" ;; esac
done

# CMake arguments for a build against this tree (paths relative to the repo
# root, so the file works wherever the repo is).
rel=${root#"$repo"/}
cat > "$deps/cmake-args" <<EOF
-DCMAKE_PREFIX_PATH=\$PWD/$rel/usr
-DEigen3_DIR=\$PWD/$rel/usr/share/eigen3/cmake
-DBoost_DIR=\$PWD/$rel/usr/lib/x86_64-linux-gnu/cmake/Boost-1.74.0
-Dyaml-cpp_DIR=\$PWD/$rel/usr/lib/x86_64-linux-gnu/cmake/yaml-cpp
-DGTest_DIR=\$PWD/$rel/usr/lib/x86_64-linux-gnu/cmake/GTest
-DHDF5_C_COMPILER_EXECUTABLE=HDF5_C_COMPILER_EXECUTABLE-NOTFOUND
-DHDF5_C_INCLUDE_DIR=\$PWD/$rel/usr/include/hdf5/serial
-DHDF5_C_LIBRARY_hdf5=\$PWD/$rel/usr/lib/x86_64-linux-gnu/hdf5/serial/libhdf5.so
EOF
du -sh "$root"
echo "unpacked into $root; CMake arguments in $deps/cmake-args"
