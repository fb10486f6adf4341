# hearsay_library(NAME LIBS...): one static library per top-level folder, built from every
# .cpp under that folder except main.cpp (globbed so adding a file needs no CMake edit).
function(hearsay_library name)
  cmake_parse_arguments(ARG "" "" "LIBS" ${ARGN})
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  list(FILTER sources EXCLUDE REGEX "/main\\.cpp$")
  # A folder whose sources are still to come: keep the target valid with an empty unit.
  set(placeholder ${CMAKE_CURRENT_BINARY_DIR}/${name}_empty.cpp)
  file(WRITE ${placeholder} "// generated: keeps ${name} valid while its folder has no sources\n")
  add_library(${name} STATIC ${sources} ${placeholder})
  target_link_libraries(${name} PUBLIC hearsay_build_flags ${ARG_LIBS})
endfunction()
