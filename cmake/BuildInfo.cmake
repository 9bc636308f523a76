# SPDX-License-Identifier: BSD-3-Clause
# The version and git commit compiled into both programs (include/dynshare/
# version.hpp). The commit header is generated at configure time and checked
# again before every build by the target dynshare_build_info (it always runs;
# the header changes only with HEAD or the tree's cleanliness), so only
# src/version/build_info.cpp recompiles when the commit changes.
set(DYNSHARE_BUILD_INFO_HEADER ${PROJECT_BINARY_DIR}/generated/dynshare_commit.h)
execute_process(COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUT=${DYNSHARE_BUILD_INFO_HEADER}
                -P ${PROJECT_SOURCE_DIR}/cmake/write_build_info.cmake)
add_custom_target(dynshare_build_info
                  COMMAND ${CMAKE_COMMAND} -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUT=${DYNSHARE_BUILD_INFO_HEADER}
                          -P ${PROJECT_SOURCE_DIR}/cmake/write_build_info.cmake
                  BYPRODUCTS ${DYNSHARE_BUILD_INFO_HEADER}
                  COMMENT "dynshare: git commit for --version and the HDF5 attributes"
                  VERBATIM)
add_library(dynshare_version STATIC ${PROJECT_SOURCE_DIR}/src/version/build_info.cpp)
add_dependencies(dynshare_version dynshare_build_info)
target_include_directories(dynshare_version PUBLIC ${PROJECT_SOURCE_DIR}/include
                           PRIVATE ${PROJECT_BINARY_DIR}/generated)
target_compile_definitions(dynshare_version PRIVATE DYNSHARE_VERSION_STRING="${PROJECT_VERSION}")
target_link_libraries(dynshare_version PRIVATE dynshare_warnings)
