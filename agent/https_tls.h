// The HTTPS listener's TLS context from the agent's config (issue 18): Consul's tls.defaults and
// tls.https keys (and the legacy top-level ones) read from their files, or with -dev and no
// certificate, a self-signed one made at start whose fingerprint is logged.
#pragma once

#include <memory>
#include <string>

#include "agent/config.h"
#include "loop/tls_context.h"

namespace hearsay::agent {

// tls.https's fields over tls.defaults'.
TlsFiles effective_https_tls(const AgentConfig& config);

// The context, or nullptr with `error` naming the key and file at fault (never key material).
std::shared_ptr<const loop::TlsContext> https_tls_context(const AgentConfig& config, std::string& error);

}  // namespace hearsay::agent
