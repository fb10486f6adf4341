// Decoding of registration bodies (consul-compat.md 1.0, 1A.3, 4.1, 5.1) with a sticky-error
// field reader over a RapidJSON DOM, plus the persistence encoders that read back equal values.
// Go's encoding/json rules kept: later duplicate keys win, null leaves a field at its default,
// numbers never convert to strings; Consul's aliases (check_type.go UnmarshalJSON) are accepted.
#include "http-api/json_decode.h"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>

#include "catalog/duration.h"
#include "http-api/json_encode.h"

namespace hearsay::http {
namespace {

using catalog::CheckDefinition;
using catalog::CheckSpec;
using catalog::CheckType;
using catalog::Duration;
using catalog::ServiceDefinition;
using Value = rapidjson::Value;

constexpr int kMaxPort = 65535;

std::string_view view(const Value& v) { return {v.GetString(), v.GetStringLength()}; }

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string_view type_name(const Value& v) {
  if (v.IsNull()) return "null";
  if (v.IsBool()) return "bool";
  if (v.IsObject()) return "object";
  if (v.IsArray()) return "array";
  if (v.IsString()) return "string";
  return "number";
}

// Present for type derivation: Go's checks test `field != ""`, so null and "" count as absent.
bool present(const Value& v) { return !v.IsNull() && !(v.IsString() && v.GetStringLength() == 0); }

// Typed field reads; the first error sticks and later reads do nothing. Null keeps the default.
class FieldReader {
 public:
  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }

  // A malformed value: Consul's "Request decode failed: ..." form.
  void fail_decode(std::string_view field, std::string_view expected, const Value& got) {
    fail(std::string(kDecodeFailedPrefix) + "field \"" + std::string(field) + "\": expected " +
         std::string(expected) + ", got " + std::string(type_name(got)));
  }
  // A value rejected by meaning: the full answer text.
  void fail(std::string message) {
    if (ok()) error_ = std::move(message);
  }

  bool skip(const Value& v) const { return !ok() || v.IsNull(); }

  void string(const Value& v, std::string_view field, std::string& out) {
    if (skip(v)) return;
    if (!v.IsString()) return fail_decode(field, "a string", v);
    out.assign(view(v));
  }
  void boolean(const Value& v, std::string_view field, bool& out) {
    if (skip(v)) return;
    if (!v.IsBool()) return fail_decode(field, "a boolean", v);
    out = v.GetBool();
  }
  void integer(const Value& v, std::string_view field, int min, int max, int& out) {
    if (skip(v)) return;
    if (!v.IsInt() || v.GetInt() < min || v.GetInt() > max) {
      return fail_decode(field, "an integer in " + std::to_string(min) + ".." + std::to_string(max), v);
    }
    out = v.GetInt();
  }
  // Go duration text or a number of nanoseconds (check_type.go accepts both).
  void duration(const Value& v, std::string_view field, Duration& out) {
    if (skip(v)) return;
    if (v.IsString()) {
      auto parsed = catalog::parse_go_duration(view(v));
      if (!parsed) {
        return fail(std::string(kDecodeFailedPrefix) + "field \"" + std::string(field) +
                    "\": invalid duration \"" + std::string(view(v)) + "\"");
      }
      out = *parsed;
      return;
    }
    // The bound is symmetric so every value formats to text the parser reads back.
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    if (v.IsInt64() && v.GetInt64() >= -kMax) {
      out = Duration{v.GetInt64()};
      return;
    }
    if (v.IsDouble() && std::isfinite(v.GetDouble()) && std::fabs(v.GetDouble()) < 9.2e18) {
      out = Duration{static_cast<std::int64_t>(v.GetDouble())};  // Go truncates the same way
      return;
    }
    fail_decode(field, "a duration string or nanoseconds in range", v);
  }
  void string_list(const Value& v, std::string_view field, std::vector<std::string>& out) {
    if (skip(v)) return;
    if (!v.IsArray()) return fail_decode(field, "an array of strings", v);
    out.clear();
    for (const Value& item : v.GetArray()) {
      if (!item.IsString()) return fail_decode(field, "an array of strings", item);
      out.emplace_back(view(item));
    }
  }
  void string_map(const Value& v, std::string_view field, catalog::StringMap& out) {
    if (skip(v)) return;
    if (!v.IsObject()) return fail_decode(field, "an object of strings", v);
    out.clear();
    for (const auto& member : v.GetObject()) {
      if (!member.value.IsString()) return fail_decode(field, "an object of strings", member.value);
      out[std::string(view(member.name))] = std::string(view(member.value));
    }
  }
  void header(const Value& v, std::string_view field, std::map<std::string, std::vector<std::string>>& out) {
    if (skip(v)) return;
    if (!v.IsObject()) return fail_decode(field, "an object of string arrays", v);
    out.clear();
    for (const auto& member : v.GetObject()) {
      auto& values = out[std::string(view(member.name))];
      values.clear();
      string_list(member.value, field, values);
    }
  }
  void service_addresses(const Value& v, std::string_view field,
                         std::map<std::string, catalog::ServiceAddress>& out) {
    if (skip(v)) return;
    if (!v.IsObject()) return fail_decode(field, "an object of {Address, Port}", v);
    out.clear();
    for (const auto& member : v.GetObject()) {
      catalog::ServiceAddress& addr = out[std::string(view(member.name))];
      addr = {};
      if (member.value.IsNull()) continue;
      if (!member.value.IsObject()) return fail_decode(field, "an object of {Address, Port}", member.value);
      for (const auto& inner : member.value.GetObject()) {
        const std::string key = lower(view(inner.name));
        if (key == "address") string(inner.value, "Address", addr.address);
        if (key == "port") integer(inner.value, "Port", 0, kMaxPort, addr.port);
      }
    }
  }
  // A present Weights object starts from zero like a fresh Go struct; normalize_service judges it.
  void weights(const Value& v, std::string_view field, catalog::Weights& out) {
    if (skip(v)) return;
    if (!v.IsObject()) return fail_decode(field, "an object {Passing, Warning}", v);
    out = {0, 0};
    constexpr int kMin = std::numeric_limits<int>::min();
    constexpr int kMaxInt = std::numeric_limits<int>::max();
    for (const auto& member : v.GetObject()) {
      const std::string key = lower(view(member.name));
      if (key == "passing") integer(member.value, "Weights.Passing", kMin, kMaxInt, out.passing);
      if (key == "warning") integer(member.value, "Weights.Warning", kMin, kMaxInt, out.warning);
    }
  }

 private:
  std::string error_;
};

// Check kinds Consul knows but this agent does not run (consul-compat.md 4.1, last row).
enum class Unsupported { none, h2ping, udp, docker, grpc, alias, os_service };

std::string_view unsupported_name(Unsupported kind) {
  switch (kind) {
    case Unsupported::h2ping: return "H2PING";
    case Unsupported::udp: return "UDP";
    case Unsupported::docker: return "Docker";
    case Unsupported::grpc: return "GRPC";
    case Unsupported::alias: return "Alias";
    case Unsupported::os_service: return "OSService";
    case Unsupported::none: break;
  }
  return "";
}

// A check object while it is being read: the definition plus what decides its type.
struct CheckFields {
  CheckDefinition def;
  std::string status;  // "" = not given
  std::string legacy_script;
  bool h2ping = false, udp = false, docker = false, grpc = false, alias = false, os_service = false;
};

// One key of a check object (CheckDefinition / CheckType, with Consul's snake_case aliases).
// Returns false for keys it does not know.
constexpr int kMaxCount = std::numeric_limits<int>::max();  // thresholds and OutputMaxSize: not negative
bool read_check_key(FieldReader& r, const std::string& key, const Value& v, CheckFields& f) {
  CheckSpec& s = f.def.spec;
  if (key == "id" || key == "checkid") r.string(v, "ID", f.def.id);
  else if (key == "name") r.string(v, "Name", f.def.name);
  else if (key == "notes") r.string(v, "Notes", f.def.notes);
  else if (key == "serviceid" || key == "service_id") r.string(v, "ServiceID", f.def.service_id);
  else if (key == "status") r.string(v, "Status", f.status);
  else if (key == "output") r.string(v, "Output", f.def.output);
  else if (key == "scriptargs" || key == "script_args" || key == "args") r.string_list(v, "ScriptArgs", s.args);
  else if (key == "script") r.string(v, "Script", f.legacy_script);
  else if (key == "http") r.string(v, "HTTP", s.http);
  else if (key == "header") r.header(v, "Header", s.header);
  else if (key == "method") r.string(v, "Method", s.method);
  else if (key == "body") r.string(v, "Body", s.body);
  else if (key == "tlsservername" || key == "tls_server_name") r.string(v, "TLSServerName", s.tls_server_name);
  else if (key == "tlsskipverify" || key == "tls_skip_verify") r.boolean(v, "TLSSkipVerify", s.tls_skip_verify);
  else if (key == "disableredirects" || key == "disable_redirects") {
    r.boolean(v, "DisableRedirects", s.disable_redirects);
  } else if (key == "tcp") r.string(v, "TCP", s.tcp);
  else if (key == "interval") r.duration(v, "Interval", s.interval);
  else if (key == "timeout") r.duration(v, "Timeout", s.timeout);
  else if (key == "ttl") r.duration(v, "TTL", s.ttl);
  else if (key == "deregistercriticalserviceafter" || key == "deregister_critical_service_after") {
    r.duration(v, "DeregisterCriticalServiceAfter", s.deregister_critical_after);
  } else if (key == "successbeforepassing" || key == "success_before_passing") {
    r.integer(v, "SuccessBeforePassing", 0, kMaxCount, s.success_before_passing);
  } else if (key == "failuresbeforewarning" || key == "failures_before_warning") {
    r.integer(v, "FailuresBeforeWarning", 0, kMaxCount, s.failures_before_warning);
  } else if (key == "failuresbeforecritical" || key == "failures_before_critical") {
    r.integer(v, "FailuresBeforeCritical", 0, kMaxCount, s.failures_before_critical);
  } else if (key == "outputmaxsize" || key == "output_max_size") {
    r.integer(v, "OutputMaxSize", 0, kMaxCount, s.output_max_size);
  } else if (key == "h2ping") f.h2ping = present(v);
  else if (key == "udp") f.udp = present(v);
  else if (key == "dockercontainerid" || key == "docker_container_id") f.docker = present(v);
  else if (key == "grpc") f.grpc = present(v);
  else if (key == "aliasnode" || key == "aliasservice") f.alias = f.alias || present(v);
  else if (key == "osservice") f.os_service = present(v);
  else return false;
  return true;
}

// The type the agent would run, in the order Consul's agent tries them (agent.go addCheck).
// Legacy Script becomes argv for /bin/sh -c (F2) unless Args are given.
Unsupported derive_check_type(CheckFields& f) {
  CheckSpec& s = f.def.spec;
  if (s.args.empty() && !f.legacy_script.empty()) s.args = {"/bin/sh", "-c", f.legacy_script};
  s.type = CheckType::none;
  if (s.ttl > Duration::zero()) s.type = CheckType::ttl;
  else if (!s.http.empty()) s.type = CheckType::http;
  else if (f.h2ping) return Unsupported::h2ping;
  else if (!s.tcp.empty()) s.type = CheckType::tcp;
  else if (f.udp) return Unsupported::udp;
  else if (f.docker) return Unsupported::docker;
  else if (!s.args.empty()) s.type = CheckType::script;
  else if (f.grpc) return Unsupported::grpc;
  else if (f.alias) return Unsupported::alias;
  else if (f.os_service) return Unsupported::os_service;
  return Unsupported::none;
}

// Type and initial status for an agent check; `bad_status` is the answer text of the endpoint.
void finish_agent_check(FieldReader& r, CheckFields& f, std::string_view bad_status) {
  if (!r.ok()) return;
  if (Unsupported kind = derive_check_type(f); kind != Unsupported::none) {
    return r.fail("Invalid check: " + std::string(unsupported_name(kind)) +
                  " checks are not supported by this agent (use TTL, HTTP, TCP or Args)");
  }
  if (f.status.empty()) return;
  f.def.initial_status = catalog::parse_health_status(f.status);
  if (!f.def.initial_status) r.fail(std::string(bad_status));
}

CheckDefinition read_service_check(FieldReader& r, const Value& v) {
  CheckFields f;
  if (!v.IsObject()) {
    r.fail_decode("Checks", "an object", v);
    return {};
  }
  for (const auto& member : v.GetObject()) read_check_key(r, lower(view(member.name)), member.value, f);
  finish_agent_check(r, f, "Status for checks must 'passing', 'warning', 'critical'");
  return std::move(f.def);
}

// Keys a ServiceDefinition and a catalog NodeService share (both Consul structs spell them alike).
template <typename S>
bool read_service_key(FieldReader& r, const std::string& key, const Value& v, S& out) {
  if (key == "id") r.string(v, "ID", out.id);
  else if (key == "tags") r.string_list(v, "Tags", out.tags);
  else if (key == "address") r.string(v, "Address", out.address);
  else if (key == "port") r.integer(v, "Port", 0, kMaxPort, out.port);
  else if (key == "meta") r.string_map(v, "Meta", out.meta);
  else if (key == "taggedaddresses" || key == "tagged_addresses") {
    r.service_addresses(v, "TaggedAddresses", out.tagged_addresses);
  } else if (key == "weights") r.weights(v, "Weights", out.weights);
  else if (key == "enabletagoverride" || key == "enable_tag_override") {
    r.boolean(v, "EnableTagOverride", out.enable_tag_override);
  } else if (key == "kind") r.string(v, "Kind", out.kind);
  else return false;
  return true;
}

// Parses `body`, which must be one JSON object; on failure the reader holds the error.
bool parse_object(std::string_view body, rapidjson::Document& doc, FieldReader& r) {
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseValidateEncodingFlag;
  doc.Parse<kFlags>(body.data() ? body.data() : "", body.size());
  if (doc.HasParseError()) {
    r.fail(std::string(kDecodeFailedPrefix) + rapidjson::GetParseError_En(doc.GetParseError()) +
           " (at offset " + std::to_string(doc.GetErrorOffset()) + ")");
    return false;
  }
  if (!doc.IsObject()) {
    r.fail(std::string(kDecodeFailedPrefix) + "body must be a JSON object, got " + std::string(type_name(doc)));
    return false;
  }
  return true;
}

template <typename T>
DecodeResult<T> finish(const FieldReader& r, T value) {
  if (!r.ok()) return DecodeError{r.error()};
  return value;
}

catalog::Service read_catalog_service(FieldReader& r, const Value& v) {
  catalog::Service service;
  if (!v.IsObject()) {
    r.fail_decode("Service", "an object", v);
    return service;
  }
  for (const auto& member : v.GetObject()) {
    const std::string key = lower(view(member.name));
    if (!read_service_key(r, key, member.value, service) && key == "service") {
      r.string(member.value, "Service", service.name);
    }
  }
  return service;
}

// A catalog HealthCheck: its spec comes from `Definition`, which is echoed, not run, so kinds
// this agent cannot run are kept as type none instead of being refused.
catalog::Check read_catalog_check(FieldReader& r, const Value& v) {
  catalog::Check check;
  if (!v.IsObject()) {
    r.fail_decode("Checks", "an object", v);
    return check;
  }
  CheckFields top;
  CheckFields definition;
  for (const auto& member : v.GetObject()) {
    const std::string key = lower(view(member.name));
    if (key == "node") {
      r.string(member.value, "Node", check.node);
    } else if (key == "definition" && !r.skip(member.value)) {
      if (!member.value.IsObject()) {
        r.fail_decode("Definition", "an object", member.value);
      } else {
        definition = {};
        for (const auto& d : member.value.GetObject()) {
          read_check_key(r, lower(view(d.name)), d.value, definition);
        }
      }
    } else if (key == "id" || key == "checkid" || key == "name" || key == "notes" || key == "output" ||
               key == "serviceid" || key == "status") {
      read_check_key(r, key, member.value, top);
    }
  }
  if (!top.status.empty()) {
    auto status = catalog::parse_health_status(top.status);
    if (!status) r.fail("Bad check status");
    check.status = status.value_or(catalog::HealthStatus::critical);
  }
  if (derive_check_type(definition) != Unsupported::none) definition.def.spec.type = CheckType::none;
  check.id = top.def.id.empty() ? top.def.name : top.def.id;
  check.name = std::move(top.def.name);
  check.notes = std::move(top.def.notes);
  check.output = std::move(top.def.output);
  check.service_id = std::move(top.def.service_id);
  check.spec = std::move(definition.def.spec);
  return check;
}

}  // namespace

DecodeResult<ServiceDefinition> decode_service_definition(std::string_view body) {
  FieldReader r;
  rapidjson::Document doc;
  if (!parse_object(body, doc, r)) return DecodeError{r.error()};
  ServiceDefinition def;
  std::optional<CheckDefinition> single;  // "Check"; empty object = none, as Consul's CheckType.Empty()
  std::vector<CheckDefinition> several;   // "Checks"
  for (const auto& member : std::as_const(doc).GetObject()) {
    const std::string key = lower(view(member.name));
    const Value& v = member.value;
    if (read_service_key(r, key, v, def)) continue;
    if (key == "name") {
      r.string(v, "Name", def.name);
    } else if (key == "check") {
      if (r.skip(v)) continue;
      CheckDefinition check = read_service_check(r, v);
      single.reset();
      if (!(check == CheckDefinition{})) single = std::move(check);
    } else if (key == "checks") {
      if (r.skip(v)) continue;
      several.clear();
      if (!v.IsArray()) {
        r.fail_decode("Checks", "an array of objects", v);
        continue;
      }
      for (const Value& item : v.GetArray()) several.push_back(read_service_check(r, item));
    }
  }
  if (single) def.checks.push_back(std::move(*single));
  for (CheckDefinition& check : several) def.checks.push_back(std::move(check));
  return finish(r, std::move(def));
}

DecodeResult<CheckDefinition> decode_check_definition(std::string_view body) {
  FieldReader r;
  rapidjson::Document doc;
  if (!parse_object(body, doc, r)) return DecodeError{r.error()};
  CheckFields f;
  for (const auto& member : std::as_const(doc).GetObject()) read_check_key(r, lower(view(member.name)), member.value, f);
  finish_agent_check(r, f, "Bad check status");
  return finish(r, std::move(f.def));
}

bool changes_node(const CatalogRegistration& reg, const catalog::Node* node, const std::string& datacenter) {
  if (!node) return true;
  if (reg.skip_node_update) return false;
  const std::string& wanted_dc = reg.datacenter.empty() ? datacenter : reg.datacenter;
  const std::string& stored_dc = node->datacenter.empty() ? datacenter : node->datacenter;
  return reg.id != node->id || reg.address != node->address || wanted_dc != stored_dc ||
         reg.tagged_addresses != node->tagged_addresses || reg.node_meta != node->meta;
}

DecodeResult<CatalogRegistration> decode_catalog_register(std::string_view body) {
  FieldReader r;
  rapidjson::Document doc;
  if (!parse_object(body, doc, r)) return DecodeError{r.error()};
  CatalogRegistration reg;
  std::optional<catalog::Check> single;
  std::vector<catalog::Check> several;
  for (const auto& member : std::as_const(doc).GetObject()) {
    const std::string key = lower(view(member.name));
    const Value& v = member.value;
    if (key == "datacenter") r.string(v, "Datacenter", reg.datacenter);
    else if (key == "id") r.string(v, "ID", reg.id);
    else if (key == "node") r.string(v, "Node", reg.node);
    else if (key == "address") r.string(v, "Address", reg.address);
    else if (key == "taggedaddresses" || key == "tagged_addresses") r.string_map(v, "TaggedAddresses", reg.tagged_addresses);
    else if (key == "nodemeta" || key == "node_meta") r.string_map(v, "NodeMeta", reg.node_meta);
    else if (key == "skipnodeupdate") r.boolean(v, "SkipNodeUpdate", reg.skip_node_update);
    else if (key == "service") {
      if (!r.skip(v)) reg.service = read_catalog_service(r, v);
    } else if (key == "check") {
      if (!r.skip(v)) single = read_catalog_check(r, v);
    } else if (key == "checks") {
      if (r.skip(v)) continue;
      several.clear();
      if (!v.IsArray()) {
        r.fail_decode("Checks", "an array of objects", v);
        continue;
      }
      for (const Value& item : v.GetArray()) several.push_back(read_catalog_check(r, item));
    }
  }
  if (single) reg.checks.push_back(std::move(*single));
  for (catalog::Check& check : several) reg.checks.push_back(std::move(check));
  // Consul's catalog endpoint defaults (state store ensureRegistrationTxn).
  if (reg.service) {
    reg.service->node = reg.node;
    if (reg.service->id.empty()) reg.service->id = reg.service->name;
  }
  for (catalog::Check& check : reg.checks) {
    if (check.node.empty()) check.node = reg.node;
  }
  return finish(r, std::move(reg));
}

DecodeResult<CatalogDeregistration> decode_catalog_deregister(std::string_view body) {
  FieldReader r;
  rapidjson::Document doc;
  if (!parse_object(body, doc, r)) return DecodeError{r.error()};
  CatalogDeregistration dereg;
  for (const auto& member : std::as_const(doc).GetObject()) {
    const std::string key = lower(view(member.name));
    if (key == "datacenter") r.string(member.value, "Datacenter", dereg.datacenter);
    else if (key == "node") r.string(member.value, "Node", dereg.node);
    else if (key == "serviceid" || key == "service_id") r.string(member.value, "ServiceID", dereg.service_id);
    else if (key == "checkid" || key == "check_id") r.string(member.value, "CheckID", dereg.check_id);
  }
  return finish(r, std::move(dereg));
}

DecodeResult<CheckUpdate> decode_check_update(std::string_view body) {
  FieldReader r;
  rapidjson::Document doc;
  if (!parse_object(body, doc, r)) return DecodeError{r.error()};
  std::string status;
  CheckUpdate update;
  for (const auto& member : std::as_const(doc).GetObject()) {
    const std::string key = lower(view(member.name));
    if (key == "status") r.string(member.value, "Status", status);
    else if (key == "output") r.string(member.value, "Output", update.output);
  }
  if (!r.ok()) return DecodeError{r.error()};
  auto parsed = catalog::parse_health_status(status);
  if (!parsed) return DecodeError{"Invalid check status: '" + status + "'"};
  update.status = *parsed;
  return update;
}

DecodeResult<std::string> decode_keyring_request(std::string_view body) {
  FieldReader r;
  rapidjson::Document doc;
  if (!parse_object(body, doc, r)) return DecodeError{r.error()};
  std::string key;
  for (const auto& member : std::as_const(doc).GetObject()) {
    if (lower(view(member.name)) == "key") r.string(member.value, "Key", key);
  }
  if (!r.ok()) return DecodeError{r.error()};
  if (key.empty()) return DecodeError{"Request body must carry a Key"};
  return key;
}

namespace {

void write_check_definition(JsonWriter& w, const CheckDefinition& def) {
  w.StartObject();
  write_string_field(w, "ID", def.id);
  write_string_field(w, "Name", def.name);
  write_string_field(w, "Notes", def.notes);
  write_string_field(w, "ServiceID", def.service_id);
  if (def.initial_status) write_string_field(w, "Status", catalog::to_string(*def.initial_status));
  write_string_field(w, "Output", def.output);
  write_check_spec_fields(w, def.spec);
  w.EndObject();
}

}  // namespace

std::string encode_service_definition(const ServiceDefinition& def) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  w.StartObject();
  write_string_field(w, "ID", def.id);
  write_string_field(w, "Name", def.name);
  w.Key("Tags");
  write_string_array(w, def.tags);
  write_string_field(w, "Address", def.address);
  w.Key("Port");
  w.Int(def.port);
  w.Key("Meta");
  write_string_map(w, def.meta);
  w.Key("TaggedAddresses");
  write_service_addresses(w, def.tagged_addresses);
  w.Key("Weights");
  write_weights(w, def.weights);
  w.Key("EnableTagOverride");
  w.Bool(def.enable_tag_override);
  write_string_field(w, "Kind", def.kind);
  w.Key("Checks");  // never "Check": an empty check object there would be dropped on reading
  w.StartArray();
  for (const CheckDefinition& check : def.checks) write_check_definition(w, check);
  w.EndArray();
  w.EndObject();
  return {buffer.GetString(), buffer.GetSize()};
}

std::string encode_check_definition(const CheckDefinition& def) {
  rapidjson::StringBuffer buffer;
  JsonWriter w(buffer);
  write_check_definition(w, def);
  return {buffer.GetString(), buffer.GetSize()};
}

}  // namespace hearsay::http
