# SPDX-License-Identifier: BSD-3-Clause
# Kernel families compiled once per x86 instruction set and chosen at run
# time (core/simd_isa.hpp): <dir>/<stem>_portable.cpp with the build's own
# flags, <dir>/<stem>_avx2.cpp and <dir>/<stem>_avx512.cpp each alone with
# its set's flags. Files the compiler or processor family cannot build are
# dropped from <sources_var>; for those kept, DYNSHARE_ISA_HAVE_AVX2 /
# _AVX512 is defined on the portable file alone, which does the choosing
# (src/core/simd_isa_forms.inc).
#   dynshare_isa_sources(<sources_var> <dir> <stem> <base flags...>)
include(CheckCXXCompilerFlag)
function(dynshare_isa_sources sources_var dir stem)
  set(base_flags ${ARGN})
  set(sources ${${sources_var}})
  set_source_files_properties(${dir}/${stem}_portable.cpp PROPERTIES COMPILE_OPTIONS "${base_flags}")
  foreach(isa avx2 avx512)
    if(isa STREQUAL "avx2")
      set(isa_flags -mavx2 -mfma)
    else()
      set(isa_flags -mavx512f -mavx2 -mfma)
    endif()
    string(TOUPPER ${isa} ISA)
    string(REPLACE ";" " " isa_flag_text "${isa_flags}")
    check_cxx_compiler_flag("${isa_flag_text}" DYNSHARE_CXX_HAS_${ISA})
    if(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64|amd64" AND DYNSHARE_CXX_HAS_${ISA})
      set_source_files_properties(${dir}/${stem}_${isa}.cpp PROPERTIES COMPILE_OPTIONS "${base_flags};${isa_flags}")
      set_property(SOURCE ${dir}/${stem}_portable.cpp APPEND PROPERTY COMPILE_DEFINITIONS DYNSHARE_ISA_HAVE_${ISA})
    else()
      list(FILTER sources EXCLUDE REGEX "/${stem}_${isa}\\.cpp$")
    endif()
  endforeach()
  set(${sources_var} ${sources} PARENT_SCOPE)
endfunction()
