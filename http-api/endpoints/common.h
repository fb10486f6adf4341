// Small pieces every endpoint file uses: option parsing with an early error answer, the ACL check,
// acknowledging a write after the group commit, and serialising a JSON document.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "http-api/api.h"
#include "http-api/json_encode.h"
#include "http-api/query_options.h"

namespace hearsay::http::endpoints {

// Parses the shared options; on a bad value answers the call and returns nullopt.
std::optional<QueryOptions> options_or_answer(Call& call, const ApiContext& context);

// True when the caller's token grants `wanted` on `name` of `resource` (scalar resources ignore
// `name`). Otherwise answers 403 "Permission denied" (Consul's text), with the missing permission
// in the log only.
bool permitted(Call& call, acl::Resource resource, std::string_view name, acl::Access wanted);
inline bool may_write(Call& call, acl::Resource resource, std::string_view name = {}) {
  return permitted(call, resource, name, acl::Access::write);
}
inline bool may_read(Call& call, acl::Resource resource, std::string_view name = {}) {
  return permitted(call, resource, name, acl::Access::read);
}

// Answers a write: the error at once, or 200 (with `body`) once the change is durable.
void acknowledge(Call& call, ApiContext& context, const OpResult& result, std::string body = {});

// Runs `write` into a fresh buffer and returns the compact JSON text.
std::string to_json(const std::function<void(JsonWriter&)>& write);

// A blocking read: answers via the BlockingWaiter with meta headers. `build` writes the JSON for
// the current state, leaving out what `acl` says the caller may not read, or returns an error
// text (400) from filter evaluation. Cached per caller scope (a filtered answer is never served
// to another token), with X-Consul-Results-Filtered-By-ACLs when something was left out.
using ReadBuilder = std::function<std::optional<std::string>(JsonWriter&, ReadFilter& acl)>;
void serve_read(Call& call, ApiContext& context, const QueryOptions& options, BlockingWaiter::IndexFn index,
                ReadBuilder build);

// For reads answered at once: the header when `acl` left something out.
void mark_filtered(Response& response, const ReadFilter& acl);

}  // namespace hearsay::http::endpoints
