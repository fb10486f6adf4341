# Warning set and sanitizers, attached to an INTERFACE target every project target links.
add_library(hearsay_build_flags INTERFACE)
target_compile_options(hearsay_build_flags INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough)
if(HEARSAY_WERROR)
  target_compile_options(hearsay_build_flags INTERFACE -Werror)
endif()
if(HEARSAY_SANITIZE)
  target_compile_options(hearsay_build_flags INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(hearsay_build_flags INTERFACE -fsanitize=address,undefined)
endif()
