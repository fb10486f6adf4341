// Request bodies of the agent and catalog write endpoints, decoded like Consul's Go decoder but
// as a superset for python-consul 0.7.1 (consul-compat.md F2, 1.0, 1A.3, 4.1, 5.1): keys match
// case-insensitively, Consul's snake_case aliases are accepted, unknown keys are ignored, durations
// are Go duration strings or nanosecond numbers. Also the agent's own persistence encoding.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "catalog/definitions.h"
#include "catalog/model.h"

namespace hearsay::http {

// The text of a 400 answer: "Request decode failed: ..." for malformed bodies, Consul's own
// sentence ("Bad check status", "Invalid check: ...") for values it rejects by meaning.
struct DecodeError {
  std::string message;
};

template <typename T>
class [[nodiscard]] DecodeResult {
 public:
  DecodeResult(T value) : value_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  DecodeResult(DecodeError error) : error_(std::move(error.message)) {}  // NOLINT

  bool ok() const { return value_.has_value(); }
  explicit operator bool() const { return ok(); }

  // Only valid when ok(); asking for the value of a failure is a bug in the caller.
  const T& value() const& {
    assert(ok());
    return *value_;
  }
  T& value() & {
    assert(ok());
    return *value_;
  }
  T&& value() && {
    assert(ok());
    return std::move(*value_);
  }
  // Empty when ok().
  const std::string& error() const { return error_; }

 private:
  std::optional<T> value_;
  std::string error_;
};

// Prefix Consul puts before JSON decoding errors (agent/http.go decodeBody).
inline constexpr std::string_view kDecodeFailedPrefix = "Request decode failed: ";

// PUT /v1/catalog/register (structs.RegisterRequest). `service` and `checks` arrive with their
// node set to `node`, a missing service ID defaulted to its name and a missing CheckID to the
// check's name, as Consul's catalog endpoint does. Validation of required fields (Node,
// Address) is the endpoint's job so it can choose the status code.
struct CatalogRegistration {
  std::string datacenter;
  std::string id;  // node UUID
  std::string node;
  std::string address;
  catalog::StringMap tagged_addresses;
  catalog::StringMap node_meta;
  std::optional<catalog::Service> service;
  std::vector<catalog::Check> checks;  // "Check" and "Checks" merged
  bool skip_node_update = false;
  bool operator==(const CatalogRegistration&) const = default;
};
// Whether the registration writes the node record itself (Consul's RegisterRequest.ChangesNode):
// always when the node is new (`node` null); never with SkipNodeUpdate; else when a node-level
// field differs from the stored record. An empty Datacenter, in either, is the agent's. Decides
// whether node:write is needed and whether the node record is written at all.
bool changes_node(const CatalogRegistration& reg, const catalog::Node* node, const std::string& datacenter);

// PUT /v1/catalog/deregister (structs.DeregisterRequest).
struct CatalogDeregistration {
  std::string datacenter;
  std::string node;
  std::string service_id;
  std::string check_id;
  bool operator==(const CatalogDeregistration&) const = default;
};

// PUT /v1/agent/check/update/<id> body (api.checkUpdate).
struct CheckUpdate {
  catalog::HealthStatus status = catalog::HealthStatus::critical;
  std::string output;
  bool operator==(const CheckUpdate&) const = default;
};

// PUT /v1/agent/service/register. Check/Checks merged into `checks` (Check first). Defaults and
// meaning-level validation are left to catalog::normalize_service.
DecodeResult<catalog::ServiceDefinition> decode_service_definition(std::string_view body);
// PUT /v1/agent/check/register. Defaults and validation: catalog::normalize_check.
DecodeResult<catalog::CheckDefinition> decode_check_definition(std::string_view body);
DecodeResult<CatalogRegistration> decode_catalog_register(std::string_view body);
DecodeResult<CatalogDeregistration> decode_catalog_deregister(std::string_view body);
// Status must be passing/warning/critical (400 "Invalid check status: '<s>'" otherwise).
DecodeResult<CheckUpdate> decode_check_update(std::string_view body);

// POST/PUT/DELETE /v1/operator/keyring body ({"Key": base64}); the key itself is checked by the agent.
DecodeResult<std::string> decode_keyring_request(std::string_view body);

// The agent's persisted form of its own registrations: PascalCase JSON that the decoders above
// read back to an equal value.
std::string encode_service_definition(const catalog::ServiceDefinition& def);
std::string encode_check_definition(const catalog::CheckDefinition& def);

}  // namespace hearsay::http
