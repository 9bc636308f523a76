# Warnings and optimisation flags in one place (an interface target that the
# project's own targets link privately, so dependencies are not affected).
add_library(dynshare_warnings INTERFACE)
target_compile_options(dynshare_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wno-unused-parameter>)

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
