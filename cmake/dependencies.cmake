# Third-party libraries, all from Debian packages (packaging/install-deps.sh installs them).
# The project links them through the dep:: targets below, never by their packages' own names,
# so that cmake/static_link.cmake can point the same names at the static archives.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBKNOT REQUIRED IMPORTED_TARGET libknot)
# RE2 for the filter language's `matches`: Go regexp syntax (as Consul) in linear time.
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(cxxopts REQUIRED)
find_package(RapidJSON REQUIRED)
find_package(Catch2 REQUIRED)
find_package(ZLIB REQUIRED)

# libhttp-parser and mbedTLS ship no CMake or pkg-config files on Debian 12.
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)

if(HEARSAY_STATIC)
  include(cmake/static_link.cmake)
else()
  find_library(HTTP_PARSER_LIBRARY NAMES http_parser REQUIRED)
  find_library(MBEDTLS_LIBRARY mbedtls REQUIRED)
  find_library(MBEDX509_LIBRARY mbedx509 REQUIRED)
  find_library(MBEDCRYPTO_LIBRARY mbedcrypto REQUIRED)
  # hearsay_dep(NAME LIBS...): dep::NAME stands for LIBS.
  function(hearsay_dep name)
    add_library(dep::${name} INTERFACE IMPORTED)
    target_link_libraries(dep::${name} INTERFACE ${ARGN})
  endfunction()
  hearsay_dep(uv PkgConfig::LIBUV)
  hearsay_dep(sqlite3 PkgConfig::SQLITE3)
  hearsay_dep(knot PkgConfig::LIBKNOT)
  hearsay_dep(re2 PkgConfig::RE2)
  hearsay_dep(zlib ZLIB::ZLIB)
  hearsay_dep(spdlog spdlog::spdlog)
  hearsay_dep(http_parser ${HTTP_PARSER_LIBRARY})
  target_include_directories(dep::http_parser INTERFACE ${HTTP_PARSER_INCLUDE_DIR})
  hearsay_dep(mbedtls ${MBEDTLS_LIBRARY} ${MBEDX509_LIBRARY} ${MBEDCRYPTO_LIBRARY})
endif()

# RapidJSON is header-only; Debian's config file sets RAPIDJSON_INCLUDE_DIRS.
add_library(rapidjson INTERFACE)
target_include_directories(rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
target_compile_definitions(rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)

# msgpack-cxx's CMake package drags in Boost; we use its header-only mode without Boost.
find_path(MSGPACK_INCLUDE_DIR msgpack.hpp REQUIRED)
add_library(msgpack_cxx INTERFACE)
target_include_directories(msgpack_cxx SYSTEM INTERFACE ${MSGPACK_INCLUDE_DIR})
target_compile_definitions(msgpack_cxx INTERFACE MSGPACK_NO_BOOST=1)
