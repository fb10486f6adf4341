// Fuzz target for the registration body decoders (http-api/json_decode.h, consul-compat.md 1A.3,
// 5.1): no input may crash, assert or leak, and every service or check definition that decodes
// must survive the persistence encoding unchanged (decode(encode(x)) == x).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "http-api/json_decode.h"
#include "http-api/json_encode.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);

  if (auto service = hearsay::http::decode_service_definition(body)) {
    auto again = hearsay::http::decode_service_definition(hearsay::http::encode_service_definition(service.value()));
    if (!again.ok() || !(again.value() == service.value())) std::abort();
  }
  if (auto check = hearsay::http::decode_check_definition(body)) {
    auto again = hearsay::http::decode_check_definition(hearsay::http::encode_check_definition(check.value()));
    if (!again.ok() || !(again.value() == check.value())) std::abort();
  }
  (void)hearsay::http::decode_catalog_register(body);
  (void)hearsay::http::decode_catalog_deregister(body);
  (void)hearsay::http::decode_check_update(body);
  // Pretty-printing arbitrary bytes must not crash either; valid JSON must stay parseable.
  (void)hearsay::http::pretty(body);
  return 0;
}
