// Small pieces every endpoint file uses: option parsing with an early error answer, acknowledging
// a write after the group commit, and serialising a JSON document.
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

// Answers a write: the error at once, or 200 (with `body`) once the change is durable.
void acknowledge(Call& call, ApiContext& context, const OpResult& result, std::string body = {});

// Runs `write` into a fresh buffer and returns the compact JSON text.
std::string to_json(const std::function<void(JsonWriter&)>& write);

// A blocking read: answers via the BlockingWaiter with meta headers. `build` writes the JSON for
// the current state, or returns an error text (400) from filter evaluation.
void serve_read(Call& call, ApiContext& context, const QueryOptions& options, BlockingWaiter::IndexFn index,
                std::function<std::optional<std::string>(JsonWriter&)> build);

}  // namespace hearsay::http::endpoints
