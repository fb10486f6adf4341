# HEARSAY_STATIC: every executable is one static binary, with nothing loaded at run time.
#
# Why: an agent runs on every machine, often a hundred to a host in tests, and its memory is
# the figure users compare with serf's (one static Go binary). Linked against Debian's shared
# libraries, 10 of an idle agent's 12 MiB of RSS were library pages: each library's relocated
# data, the loader's work, and libknot's dependency chain (libdnssec -> GnuTLS -> p11-kit,
# nettle, gmp, libunistring...), whose load-time constructors alone touched ~1.5 MiB for a DNS
# interface that only needs libknot's packet code. A static binary keeps only the code it
# calls (--gc-sections) and does no relocation work at start-up.
#
# Needs lld (Debian package lld) for the layout below.
#
# The dep:: targets point at Debian's static archives (the -dev packages ship them). spdlog
# and fmt ship no archive, so both are used header-only. The sanitizer and fuzz builds stay
# dynamic (AddressSanitizer does not support -static).
#
# glibc in a static binary still resolves host names (TCP checks, `agent -http-addr host`)
# through the NSS modules of the glibc it was built with; ld prints a warning saying so for
# getaddrinfo. The binary is built and run on the same Debian release.

# hearsay_static_archive(TARGET LIBNAME [DEPS...]): dep::TARGET is Debian's libLIBNAME.a.
function(hearsay_static_archive target libname)
  find_library(archive_${target} NAMES lib${libname}.a REQUIRED)
  add_library(dep::${target} STATIC IMPORTED)
  set_target_properties(dep::${target} PROPERTIES IMPORTED_LOCATION ${archive_${target}})
  target_link_libraries(dep::${target} INTERFACE ${ARGN})
endfunction()

find_package(Threads REQUIRED)
hearsay_static_archive(zlib z)
hearsay_static_archive(uv uv_a Threads::Threads dl rt)
hearsay_static_archive(sqlite3 sqlite3 Threads::Threads dl m)
hearsay_static_archive(re2 re2 Threads::Threads)
hearsay_static_archive(http_parser http_parser)
target_include_directories(dep::http_parser INTERFACE ${HTTP_PARSER_INCLUDE_DIR})
hearsay_static_archive(mbedcrypto mbedcrypto)
hearsay_static_archive(mbedx509 mbedx509 dep::mbedcrypto)
hearsay_static_archive(mbedtls mbedtls dep::mbedx509)

# libknot without libdnssec: see link/knot_without_dnssec.c.
add_library(hearsay_knot_without_dnssec STATIC ${CMAKE_SOURCE_DIR}/link/knot_without_dnssec.c)
target_include_directories(hearsay_knot_without_dnssec PRIVATE ${LIBKNOT_INCLUDE_DIRS})
hearsay_static_archive(knot knot hearsay_knot_without_dnssec m)
target_include_directories(dep::knot INTERFACE ${LIBKNOT_INCLUDE_DIRS})

# Not spdlog::spdlog_header_only: it links the shared libfmt.
get_target_property(spdlog_include_dirs spdlog::spdlog_header_only INTERFACE_INCLUDE_DIRECTORIES)
add_library(dep::spdlog INTERFACE IMPORTED)
target_include_directories(dep::spdlog INTERFACE ${spdlog_include_dirs})
target_compile_definitions(dep::spdlog INTERFACE SPDLOG_FMT_EXTERNAL)
target_link_libraries(dep::spdlog INTERFACE fmt::fmt-header-only Threads::Threads)

# Every executable: fully static; each function and object in its own section so the linker
# drops what nothing calls, and so lld can lay out the agent's hot functions together
# (link/profile_hot_symbols.sh says why). lld also links the static test binaries in a
# fraction of GNU ld's time.
add_compile_options(-ffunction-sections -fdata-sections)
add_link_options(-static -fuse-ld=lld -Wl,--gc-sections)
set(HEARSAY_HOT_SYMBOLS ${CMAKE_SOURCE_DIR}/link/hot_symbols.txt)

# hearsay_order_hot_symbols(TARGET): TARGET's functions laid out hot first, and each segment at
# an address congruent to its file offset modulo 2 MiB. Why the congruence: the page cache holds
# a file in folios aligned in the file (64 KiB ones for a binary written by cp on ext4 under
# Linux 6.18), and a fault maps whole folios since 6.18 ("mm/filemap: map entire large folio
# faultaround"). With lld's default 4 KiB alignment the text sat one page off, so every 64 KiB
# fault-around window straddled two folios and mapped both, 128 KiB per touched window
# (BENCHMARKS.md, gossip). Only the virtual addresses move; the file does not grow.
# tests/check_segment_alignment.sh holds the built agent to it.
function(hearsay_order_hot_symbols target)
  target_link_options(${target} PRIVATE
    -Wl,--symbol-ordering-file=${HEARSAY_HOT_SYMBOLS} -Wl,--no-warn-symbol-ordering -Wl,-z,max-page-size=0x200000)
  set_target_properties(${target} PROPERTIES LINK_DEPENDS ${HEARSAY_HOT_SYMBOLS})
endfunction()
