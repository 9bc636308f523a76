# SPDX-License-Identifier: BSD-3-Clause
# Warnings and optimisation flags in one place (an interface target that the
# project's own targets link privately, so dependencies are not affected).
add_library(dynshare_warnings INTERFACE)
target_compile_options(dynshare_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-unused-parameter>)
# DYNSHARE_WERROR: warnings become errors in the project's own targets (those
# that link dynshare_warnings); third-party headers come in as system headers.
if(DYNSHARE_WERROR)
  target_compile_options(dynshare_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Werror>)
endif()

# -march=native is opt-in (DYNSHARE_NATIVE=ON): a binary built with it can
# stop with "illegal instruction" on an older node of the same cluster.
if(DYNSHARE_NATIVE AND NOT DYNSHARE_SANITIZE)
  add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-march=native>)
endif()
# -ffp-contract=off: the same arithmetic on every build, so a fused
# multiply-add never makes two builds (or two backends) round differently.
add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-ffp-contract=off>)

if(DYNSHARE_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=address,undefined)
endif()
