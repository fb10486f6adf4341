// See logging.h. The JSON pattern escapes the message through a custom spdlog flag, so a quote
// or newline in a logged value cannot break the line's JSON.
#include "agent/logging.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>

namespace hearsay::agent {
namespace {

class JsonMessageFlag final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    const std::string escaped = json_escape(std::string(msg.payload.data(), msg.payload.size()));
    dest.append(escaped.data(), escaped.data() + escaped.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<JsonMessageFlag>(); }
};

spdlog::level::level_enum level_of(const std::string& level) {
  return spdlog::level::from_str(level == "warn" ? "warning" : level);
}

}  // namespace

std::string json_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof(buf), "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out;
}

void setup_logging(const std::string& level, bool json) {
  auto logger = spdlog::get("hearsay");
  if (!logger) logger = json ? spdlog::stderr_logger_mt("hearsay") : spdlog::stderr_color_mt("hearsay");
  spdlog::set_default_logger(logger);
  if (json) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('*').set_pattern(
        R"({"@level":"%l","@message":"%*","@module":"hearsay","@timestamp":"%Y-%m-%dT%H:%M:%S.%f%z"})");
    spdlog::set_formatter(std::move(formatter));
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e%z [%^%l%$] %v");
  }
  spdlog::set_level(level_of(level));
}

void set_log_level(const std::string& level) { spdlog::set_level(level_of(level)); }

}  // namespace hearsay::agent
