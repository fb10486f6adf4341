// Consul response objects (consul-compat.md 1A.2): field order follows the Go structs
// (structs.Node, api.AgentService, structs.NodeService, structs.ServiceNode, structs.HealthCheck)
// so output diffs cleanly against a real agent; omissions follow their `omitempty` tags.
#include "http-api/json_encode.h"

#include <rapidjson/memorystream.h>
#include <rapidjson/prettywriter.h>
#include <rapidjson/reader.h>

#include "catalog/duration.h"

namespace hearsay::http {
namespace {

void write_index(JsonWriter& w, const catalog::RecordIndexes& indexes) {
  w.Key("CreateIndex");
  w.Uint64(indexes.create_index);
  w.Key("ModifyIndex");
  w.Uint64(indexes.modify_index);
}

void write_key(JsonWriter& w, std::string_view key) {
  w.Key(key.data() ? key.data() : "", static_cast<rapidjson::SizeType>(key.size()));
}

void write_duration_field(JsonWriter& w, std::string_view key, catalog::Duration d) {
  if (d == catalog::Duration::zero()) return;
  write_key(w, key);
  write_string(w, catalog::format_go_duration(d));
}

// Top-level HealthCheck.Interval/Timeout are plain strings in Consul: "" when unset is fine.
std::string duration_or_empty(catalog::Duration d) {
  return d == catalog::Duration::zero() ? std::string() : catalog::format_go_duration(d);
}

void write_empty_object(JsonWriter& w) {
  w.StartObject();
  w.EndObject();
}

// RapidJSON 1.1's PrettyWriter::RawNumber writes the digits as a quoted string; route raw
// numbers through RawValue instead so `?pretty` keeps them numbers.
class PrettyNumberWriter : public rapidjson::PrettyWriter<rapidjson::StringBuffer> {
 public:
  using PrettyWriter::PrettyWriter;
  bool RawNumber(const Ch* str, rapidjson::SizeType length, bool /*copy*/ = false) {
    return RawValue(str, length, rapidjson::kNumberType);
  }
};

}  // namespace

void write_string(JsonWriter& w, std::string_view text) {
  w.String(text.data() ? text.data() : "", static_cast<rapidjson::SizeType>(text.size()));
}

void write_string_field(JsonWriter& w, std::string_view key, std::string_view value) {
  write_key(w, key);
  write_string(w, value);
}

void write_string_array(JsonWriter& w, const std::vector<std::string>& items) {
  w.StartArray();
  for (const std::string& item : items) write_string(w, item);
  w.EndArray();
}

void write_string_map(JsonWriter& w, const catalog::StringMap& map) {
  w.StartObject();
  for (const auto& [key, value] : map) write_string_field(w, key, value);
  w.EndObject();
}

void write_service_addresses(JsonWriter& w, const std::map<std::string, catalog::ServiceAddress>& map) {
  w.StartObject();
  for (const auto& [name, addr] : map) {
    write_key(w, name);
    w.StartObject();
    write_string_field(w, "Address", addr.address);
    w.Key("Port");
    w.Int(addr.port);
    w.EndObject();
  }
  w.EndObject();
}

void write_weights(JsonWriter& w, const catalog::Weights& weights) {
  w.StartObject();
  w.Key("Passing");
  w.Int(weights.passing);
  w.Key("Warning");
  w.Int(weights.warning);
  w.EndObject();
}

void write_check_spec_fields(JsonWriter& w, const catalog::CheckSpec& spec) {
  auto text = [&w](std::string_view key, const std::string& value) {
    if (!value.empty()) write_string_field(w, key, value);
  };
  auto flag = [&w](std::string_view key, bool value) {
    if (!value) return;
    write_key(w, key);
    w.Bool(true);
  };
  text("HTTP", spec.http);
  text("TLSServerName", spec.tls_server_name);
  flag("TLSSkipVerify", spec.tls_skip_verify);
  if (!spec.header.empty()) {
    w.Key("Header");
    w.StartObject();
    for (const auto& [name, values] : spec.header) {
      write_key(w, name);
      write_string_array(w, values);
    }
    w.EndObject();
  }
  text("Method", spec.method);
  text("Body", spec.body);
  flag("DisableRedirects", spec.disable_redirects);
  text("TCP", spec.tcp);
  write_duration_field(w, "Interval", spec.interval);
  write_duration_field(w, "Timeout", spec.timeout);
  write_duration_field(w, "DeregisterCriticalServiceAfter", spec.deregister_critical_after);
  if (!spec.args.empty()) {
    w.Key("ScriptArgs");
    write_string_array(w, spec.args);
  }
  write_duration_field(w, "TTL", spec.ttl);
  auto count = [&w](std::string_view key, int value) {
    if (value == 0) return;  // Consul's omitempty
    write_key(w, key);
    w.Int(value);
  };
  count("SuccessBeforePassing", spec.success_before_passing);
  count("FailuresBeforeWarning", spec.failures_before_warning);
  count("FailuresBeforeCritical", spec.failures_before_critical);
  count("OutputMaxSize", spec.output_max_size);
}

void write_node(JsonWriter& w, const catalog::Node& node) {
  w.StartObject();
  write_string_field(w, "ID", node.id);
  write_string_field(w, "Node", node.name);
  write_string_field(w, "Address", node.address);
  write_string_field(w, "Datacenter", node.datacenter);
  w.Key("TaggedAddresses");
  write_string_map(w, node.tagged_addresses);
  w.Key("Meta");
  write_string_map(w, node.meta);
  write_index(w, node.indexes);
  w.EndObject();
}

void write_agent_service(JsonWriter& w, const catalog::Service& service, std::string_view datacenter) {
  w.StartObject();
  if (!service.kind.empty()) write_string_field(w, "Kind", service.kind);
  write_string_field(w, "ID", service.id);
  write_string_field(w, "Service", service.name);
  w.Key("Tags");
  write_string_array(w, service.tags);
  w.Key("Meta");
  write_string_map(w, service.meta);
  w.Key("Port");
  w.Int(service.port);
  write_string_field(w, "Address", service.address);
  if (!service.tagged_addresses.empty()) {
    w.Key("TaggedAddresses");
    write_service_addresses(w, service.tagged_addresses);
  }
  w.Key("Weights");
  write_weights(w, service.weights);
  w.Key("EnableTagOverride");
  w.Bool(service.enable_tag_override);
  // api.AgentService tags the RaftIndex fields omitempty.
  if (service.indexes.create_index != 0) {
    w.Key("CreateIndex");
    w.Uint64(service.indexes.create_index);
  }
  if (service.indexes.modify_index != 0) {
    w.Key("ModifyIndex");
    w.Uint64(service.indexes.modify_index);
  }
  write_string_field(w, "Datacenter", datacenter);
  w.EndObject();
}

void write_node_service(JsonWriter& w, const catalog::Service& service) {
  w.StartObject();
  if (!service.kind.empty()) write_string_field(w, "Kind", service.kind);
  write_string_field(w, "ID", service.id);
  write_string_field(w, "Service", service.name);
  w.Key("Tags");
  write_string_array(w, service.tags);
  write_string_field(w, "Address", service.address);
  if (!service.tagged_addresses.empty()) {
    w.Key("TaggedAddresses");
    write_service_addresses(w, service.tagged_addresses);
  }
  w.Key("Meta");
  write_string_map(w, service.meta);
  w.Key("Port");  // omitempty in Consul; always written here (the Go client reads absent as 0)
  w.Int(service.port);
  w.Key("Weights");
  write_weights(w, service.weights);
  w.Key("EnableTagOverride");
  w.Bool(service.enable_tag_override);
  w.Key("Proxy");
  write_empty_object(w);
  w.Key("Connect");
  write_empty_object(w);
  write_index(w, service.indexes);
  w.EndObject();
}

void write_service_node(JsonWriter& w, const catalog::Node& node, const catalog::Service& service) {
  w.StartObject();
  write_string_field(w, "ID", node.id);
  write_string_field(w, "Node", node.name);
  write_string_field(w, "Address", node.address);
  write_string_field(w, "Datacenter", node.datacenter);
  w.Key("TaggedAddresses");
  write_string_map(w, node.tagged_addresses);
  w.Key("NodeMeta");
  write_string_map(w, node.meta);
  write_string_field(w, "ServiceKind", service.kind);
  write_string_field(w, "ServiceID", service.id);
  write_string_field(w, "ServiceName", service.name);
  w.Key("ServiceTags");
  write_string_array(w, service.tags);
  write_string_field(w, "ServiceAddress", service.address);
  if (!service.tagged_addresses.empty()) {
    w.Key("ServiceTaggedAddresses");
    write_service_addresses(w, service.tagged_addresses);
  }
  w.Key("ServiceWeights");
  write_weights(w, service.weights);
  w.Key("ServiceMeta");
  write_string_map(w, service.meta);
  w.Key("ServicePort");
  w.Int(service.port);
  write_string_field(w, "ServiceSocketPath", "");
  w.Key("ServiceEnableTagOverride");
  w.Bool(service.enable_tag_override);
  w.Key("ServiceProxy");
  write_empty_object(w);
  w.Key("ServiceConnect");
  write_empty_object(w);
  write_index(w, service.indexes);
  w.EndObject();
}

void write_health_check(JsonWriter& w, const catalog::Check& check) {
  w.StartObject();
  write_string_field(w, "Node", check.node);
  write_string_field(w, "CheckID", check.id);
  write_string_field(w, "Name", check.name);
  write_string_field(w, "Status", catalog::to_string(check.status));
  write_string_field(w, "Notes", check.notes);
  write_string_field(w, "Output", check.output);
  write_string_field(w, "ServiceID", check.service_id);
  write_string_field(w, "ServiceName", check.service_name);
  w.Key("ServiceTags");
  write_string_array(w, check.service_tags);
  write_string_field(w, "Type", catalog::to_string(check.spec.type));
  write_string_field(w, "Interval", duration_or_empty(check.spec.interval));
  write_string_field(w, "Timeout", duration_or_empty(check.spec.timeout));
  w.Key("ExposedPort");
  w.Int(0);
  w.Key("Definition");
  w.StartObject();
  write_check_spec_fields(w, check.spec);
  w.EndObject();
  write_index(w, check.indexes);
  w.EndObject();
}

void write_check_service_node(JsonWriter& w, const catalog::Node& node, const catalog::Service& service,
                              const std::vector<const catalog::Check*>& checks) {
  w.StartObject();
  w.Key("Node");
  write_node(w, node);
  w.Key("Service");
  write_node_service(w, service);
  w.Key("Checks");
  w.StartArray();
  for (const catalog::Check* check : checks) {
    if (check) write_health_check(w, *check);
  }
  w.EndArray();
  w.EndObject();
}

std::string pretty(std::string_view compact_json) {
  // SAX straight into the pretty writer: no DOM, and the iterative parser keeps deep input off
  // the call stack.
  rapidjson::StringBuffer buffer;
  PrettyNumberWriter writer(buffer);
  writer.SetIndent(' ', 4);
  rapidjson::Reader reader;
  rapidjson::MemoryStream stream(compact_json.data() ? compact_json.data() : "", compact_json.size());
  // Numbers pass through as written, so pretty output never changes a value.
  constexpr unsigned kFlags = rapidjson::kParseIterativeFlag | rapidjson::kParseNumbersAsStringsFlag;
  if (!reader.Parse<kFlags>(stream, writer)) return std::string(compact_json);
  std::string out(buffer.GetString(), buffer.GetSize());
  out += '\n';
  return out;
}

}  // namespace hearsay::http
