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

# libFuzzer builds: the libraries get the coverage instrumentation too (fuzzer-no-link), or the
# fuzzer would see only the few lines of each target's own file and never learn which inputs
# reach new code in the state machines and decoders it drives.
if(HEARSAY_FUZZ)
  target_compile_options(hearsay_build_flags INTERFACE -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer)
  target_link_options(hearsay_build_flags INTERFACE -fsanitize=address,undefined)
endif()

# Debian's RapidJSON 1.1 adds an offset to a null pointer in internal/stack.h on first use
# (Tencent/rapidjson#1724, fixed upstream, not in the package); clang's UBSan reports it.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND (HEARSAY_SANITIZE OR HEARSAY_FUZZ))
  target_compile_options(hearsay_build_flags INTERFACE -fno-sanitize=pointer-overflow)
endif()

# RapidJSON 1.1's member iterators define == and != in a way C++20 finds ambiguous when
# reversed; clang warns at every loop over members in our code. The operators are correct.
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  target_compile_options(hearsay_build_flags INTERFACE -Wno-ambiguous-reversed-operator)
endif()
