// The Consul agent config keys hearsay accepts without using them (Consul 1.x agent
// configuration reference, "Configuration Files"). One table, so that implementing a key is
// deleting its row here and reading it in config_file.cpp; a key in neither place is unknown
// to Consul too and stays an error.
#pragma once

#include <optional>
#include <string_view>

namespace hearsay::agent {

// `path` is the dotted key as written in the file ("server", "ports.grpc", "limits.rpc_rate").
// A whole block listed by its top-level name (e.g. "acl") covers everything inside it.
// Returns why hearsay ignores it (for the one warning), or nullopt when the table does not list it.
std::optional<std::string_view> ignored_consul_key(std::string_view path);

}  // namespace hearsay::agent
