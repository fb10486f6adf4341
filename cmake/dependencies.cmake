# Third-party libraries, all from Debian packages (packaging/install-deps.sh installs them).
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBUV REQUIRED IMPORTED_TARGET libuv)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBKNOT REQUIRED IMPORTED_TARGET libknot)
# RE2 for the filter language's `matches`: Go regexp syntax (as Consul) in linear time.
pkg_check_modules(RE2 REQUIRED IMPORTED_TARGET re2)
find_package(spdlog REQUIRED)
find_package(cxxopts REQUIRED)
find_package(RapidJSON REQUIRED)
find_package(Catch2 REQUIRED)
find_package(ZLIB REQUIRED)

# libhttp-parser and mbedTLS ship no CMake or pkg-config files on Debian 12.
find_library(HTTP_PARSER_LIBRARY NAMES http_parser REQUIRED)
find_path(HTTP_PARSER_INCLUDE_DIR http_parser.h REQUIRED)
add_library(http_parser::http_parser UNKNOWN IMPORTED)
set_target_properties(http_parser::http_parser PROPERTIES
  IMPORTED_LOCATION ${HTTP_PARSER_LIBRARY}
  INTERFACE_INCLUDE_DIRECTORIES ${HTTP_PARSER_INCLUDE_DIR})

find_library(MBEDTLS_LIBRARY mbedtls REQUIRED)
find_library(MBEDX509_LIBRARY mbedx509 REQUIRED)
find_library(MBEDCRYPTO_LIBRARY mbedcrypto REQUIRED)
add_library(mbedtls::mbedtls INTERFACE IMPORTED)
set_target_properties(mbedtls::mbedtls PROPERTIES
  INTERFACE_LINK_LIBRARIES "${MBEDTLS_LIBRARY};${MBEDX509_LIBRARY};${MBEDCRYPTO_LIBRARY}")

# RapidJSON is header-only; Debian's config file sets RAPIDJSON_INCLUDE_DIRS.
add_library(rapidjson INTERFACE)
target_include_directories(rapidjson SYSTEM INTERFACE ${RAPIDJSON_INCLUDE_DIRS})
target_compile_definitions(rapidjson INTERFACE RAPIDJSON_HAS_STDSTRING=1)

# msgpack-cxx's CMake package drags in Boost; we use its header-only mode without Boost.
find_path(MSGPACK_INCLUDE_DIR msgpack.hpp REQUIRED)
add_library(msgpack_cxx INTERFACE)
target_include_directories(msgpack_cxx SYSTEM INTERFACE ${MSGPACK_INCLUDE_DIR})
target_compile_definitions(msgpack_cxx INTERFACE MSGPACK_NO_BOOST=1)
