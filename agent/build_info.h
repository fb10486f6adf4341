// The build's identity, from one place: cmake/build_info.cmake writes build_info.cpp at every
// build (only when a value changed, so nothing else recompiles). `hearsay version`,
// /v1/agent/self, serf's "build" tag and the start-up line all read these.
#pragma once

namespace hearsay::agent {

extern const char* const kVersion;    // project(VERSION) in CMakeLists.txt, "0.1.0"
extern const char* const kRevision;   // git commit, 12 hex digits; "unknown" outside a git checkout
extern const char* const kBuildDate;  // RFC 3339: the commit's date, so a rebuild is reproducible

}  // namespace hearsay::agent
