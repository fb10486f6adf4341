// Fuzz target for config files (catalog/hcl.h, agent/config_file.h): no input may crash, assert
// or hang the HCL parser or the config reader, as HCL or as JSON; and every tree the HCL parser
// builds must come back unchanged through its JSON text (what the config reader relies on).
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "agent/config_file.h"
#include "catalog/hcl.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool quiet = [] {
    spdlog::set_level(spdlog::level::off);  // the ignored-key warnings
    return true;
  }();
  (void)quiet;
  const std::string text(reinterpret_cast<const char*>(data), size);

  rapidjson::Document tree;
  if (hearsay::catalog::parse_hcl(text, tree).empty()) {
    if (!tree.IsObject()) std::abort();
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buf);
    tree.Accept(writer);
    rapidjson::Document again;
    again.Parse<rapidjson::kParseFullPrecisionFlag>(buf.GetString(), buf.GetSize());
    if (again.HasParseError() || !(again == tree)) std::abort();
  }
  for (auto format : {hearsay::agent::ConfigFormat::hcl, hearsay::agent::ConfigFormat::json}) {
    hearsay::agent::AgentConfig config;
    try {
      hearsay::agent::apply_config_text(text, "fuzz", config, format);
    } catch (const hearsay::agent::ConfigError&) {
      // refused with a message: fine
    }
  }
  return 0;
}
