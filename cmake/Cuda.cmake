# The CUDA backend is compiled only here; kernels live in src/cuda/*.cu and
# see no host library (Eigen, HDF5, yaml-cpp stay out of every .cu file).
# dynshare_backends always exists: with CUDA it holds the kernels, without
# it a stub that reports that the backend was not built.
#
# DYNSHARE_CUDA: OFF never builds it, ON requires nvcc, anything else (AUTO)
# builds it when nvcc is found (on PATH, $CUDACXX, CMAKE_CUDA_COMPILER, or
# /usr/local/cuda/bin/nvcc). Architectures: CMAKE_CUDA_ARCHITECTURES, default
# 90 (H100/H200).
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
if(DYNSHARE_WITH_CUDA AND DYNSHARE_CUDA_SOURCES)
  # Before enable_language: it would otherwise pick the compiler's default.
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES OR CMAKE_CUDA_ARCHITECTURES STREQUAL "52")
    set(CMAKE_CUDA_ARCHITECTURES 90)
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
  add_library(dynshare_backends STATIC src/backends/backend_factory.cpp ${DYNSHARE_CUDA_SOURCES} src/cuda/cuda_backend.cpp)
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
    target_link_libraries(dynshare_bench_gpu PRIVATE dynshare_backends dynshare_core dynshare_warnings)
  endif()
else()
  add_library(dynshare_backends STATIC src/backends/backend_factory.cpp src/backends/cuda_unavailable.cpp)
  target_link_libraries(dynshare_backends PUBLIC dynshare_core)
  message(STATUS "dynshare: CUDA backend OFF (no nvcc found or no kernels); building the CPU backend only")
endif()
target_include_directories(dynshare_backends PUBLIC include PRIVATE src)
