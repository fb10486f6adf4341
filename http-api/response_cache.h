// Serialized answers of catalog and health reads, kept per (request, result index). Every read
// already knows the index of its own result, which moves whenever anything in the answer can
// change; an entry with the same key and index is therefore the same bytes, and hot reads
// (health checks of a few services polled by many clients) skip building the JSON.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>

#include "http-api/request.h"

namespace hearsay::http {

struct ResponseCacheStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t evictions = 0;  // times the cache was emptied for size
};

class ResponseCache {
 public:
  explicit ResponseCache(std::size_t max_bytes = 32 * 1024 * 1024) : max_bytes_(max_bytes) {}

  // The cache key of a read: its path and the query parameters that shape the body, in a
  // canonical order (index, wait, token and consistency flags do not change the body).
  static std::string key_of(const Request& request);

  // The cached answer for (key, index), or null.
  const Response* find(const std::string& key, std::uint64_t index);
  void store(const std::string& key, std::uint64_t index, const Response& response);

  const ResponseCacheStats& stats() const { return stats_; }

 private:
  struct Entry {
    std::uint64_t index;
    Response response;
  };
  std::size_t max_bytes_;
  std::size_t bytes_ = 0;
  std::unordered_map<std::string, Entry> entries_;
  ResponseCacheStats stats_;
};

}  // namespace hearsay::http
