# SPDX-License-Identifier: BSD-3-Clause
# The CUDA backend. Kernels live in src/cuda/*.cu and see no host library
# (Eigen, HDF5, yaml-cpp stay out of every .cu file); the host side
# (src/cuda/cuda_backend.cpp) includes no CUDA header and runs on a
# cuda::DeviceApi (src/cuda/kernels.hpp).
#
#  - dynshare_backends always exists: the CPU backend, the factory and the
#    CUDA backend's host side; with nvcc also the kernels built for the GPU
#    (cuda::device::api()), without it a stub that reports that the backend
#    was not built (src/backends/cuda_unavailable.cpp).
#  - dynshare_cuda_emulated always exists and needs no nvcc: the same kernel
#    sources built as host C++ with the emulator (src/cuda/emulation/,
#    docs/gpu_emulation.md), for the tests labelled cuda_emulated.
#
# DYNSHARE_CUDA: OFF never builds the GPU kernels, ON requires nvcc, anything
# else (AUTO) builds them when nvcc is found (on PATH, $CUDACXX,
# CMAKE_CUDA_COMPILER, or /usr/local/cuda/bin/nvcc).
#
# Architectures: CMAKE_CUDA_ARCHITECTURES when given (-D or the CUDAARCHS
# environment variable), else "80-real;90-real;90-virtual": SASS for A100
# (sm_80) and H100/H200 (sm_90), plus compute_90 PTX that the driver
# JIT-compiles on newer GPUs (Blackwell and later).
set(DYNSHARE_CUDA_DEFAULT_ARCHITECTURES "80-real;90-real;90-virtual")
set(DYNSHARE_WITH_CUDA OFF)
if(NOT DYNSHARE_CUDA STREQUAL "OFF")
  if(NOT CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX} AND EXISTS /usr/local/cuda/bin/nvcc)
    find_program(_dynshare_nvcc nvcc)
    if(NOT _dynshare_nvcc)
      set(ENV{CUDACXX} /usr/local/cuda/bin/nvcc)
    endif()
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(DYNSHARE_WITH_CUDA ON)
  elseif(DYNSHARE_CUDA STREQUAL "ON")
    message(FATAL_ERROR "DYNSHARE_CUDA=ON but no CUDA compiler (nvcc) was found")
  endif()
endif()

file(GLOB DYNSHARE_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/src/cuda/*.cu)
set(DYNSHARE_BACKEND_HOST_SOURCES src/backends/backend_factory.cpp src/backends/sleep_phase.cpp src/cuda/cuda_backend.cpp
    src/cuda/stack_runner.cpp src/cuda/run_scalars.cpp src/cuda/layer_runner.cpp src/cuda/batching.cpp
    src/cuda/capabilities.cpp)
if(DYNSHARE_WITH_CUDA AND DYNSHARE_CUDA_SOURCES)
  # Before enable_language, which would otherwise pick the compiler's default
  # (CMake sets CMAKE_CUDA_ARCHITECTURES to it, "52" for older nvcc).
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES AND NOT DEFINED ENV{CUDAARCHS})
    set(CMAKE_CUDA_ARCHITECTURES "${DYNSHARE_CUDA_DEFAULT_ARCHITECTURES}" CACHE STRING
        "CUDA architectures (default: A100, H100/H200, and PTX for newer GPUs)")
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  add_library(dynshare_backends STATIC ${DYNSHARE_BACKEND_HOST_SOURCES} ${DYNSHARE_CUDA_SOURCES})
  target_link_libraries(dynshare_backends PUBLIC dynshare_core CUDA::cudart)
  target_compile_definitions(dynshare_backends PUBLIC DYNSHARE_HAVE_CUDA=1)
  # The project's C++ flags (-march=native, -ffp-contract=off, warnings) are
  # all $<COMPILE_LANGUAGE:CXX>-guarded, so nvcc and its host pass see none of
  # them; nvcc keeps its own defaults (-O3 for device code, FMA contraction on:
  # the CPU/GPU agreement tests allow for it). Host-side warnings for .cu:
  target_compile_options(dynshare_backends PRIVATE
    $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall --expt-relaxed-constexpr>)
  message(STATUS "dynshare: CUDA backend ON (architectures ${CMAKE_CUDA_ARCHITECTURES})")

  # Device benchmark (bench/gpu/): ceilings + Fig. 4B batch, CPU comparison.
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/bench/gpu/bench_cuda.cpp)
    add_executable(dynshare_bench_gpu bench/gpu/bench_cuda.cpp)
    target_include_directories(dynshare_bench_gpu PRIVATE src)
    target_link_libraries(dynshare_bench_gpu PRIVATE dynshare_io dynshare_backends dynshare_core dynshare_warnings)
  endif()
else()
  add_library(dynshare_backends STATIC ${DYNSHARE_BACKEND_HOST_SOURCES} src/backends/cuda_unavailable.cpp)
  target_link_libraries(dynshare_backends PUBLIC dynshare_core)
  message(STATUS "dynshare: CUDA backend OFF (no nvcc found or no kernels); building the CPU backend only "
                 "(the kernels' emulated build, dynshare_cuda_emulated, is built either way)")
endif()
target_include_directories(dynshare_backends PUBLIC include PRIVATE src)

# The kernels on the CPU emulator (no nvcc needed). Its own directory, so that
# the LANGUAGE CXX property of the .cu files applies to this target only.
if(DYNSHARE_CUDA_SOURCES)
  add_subdirectory(src/cuda/emulation)
endif()
