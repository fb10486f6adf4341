// Response cache: bounded by bytes; when full it is simply emptied (entries rebuild on demand).
#include "http-api/response_cache.h"

#include <algorithm>
#include <set>

namespace hearsay::http {
namespace {
// Parameters that change only metadata headers or how long to wait, never the body.
const std::set<std::string> kIgnored = {"index", "wait", "token", "stale", "consistent", "leader", "max_stale",
                                        "dc", "cached"};  // not near: it orders the body
}  // namespace

std::string ResponseCache::key_of(const Request& request) {
  std::vector<std::pair<std::string, std::string>> params;
  for (const auto& kv : request.query) {
    if (!kIgnored.count(kv.first)) params.push_back(kv);
  }
  std::stable_sort(params.begin(), params.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::string key = request.path;
  for (const auto& [k, v] : params) {
    key += '\0';
    key += k;
    key += '=';
    key += v;
  }
  return key;
}

const Response* ResponseCache::find(const std::string& key, std::uint64_t index) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.index != index) {
    ++stats_.misses;
    return nullptr;
  }
  ++stats_.hits;
  return &it->second.response;
}

void ResponseCache::store(const std::string& key, std::uint64_t index, const Response& response) {
  const std::size_t size = key.size() + response.body.size() + 128;
  if (size > max_bytes_ / 4) return;  // one huge answer must not flush everything else
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    bytes_ -= key.size() + it->second.response.body.size() + 128;
    entries_.erase(it);
  }
  if (bytes_ + size > max_bytes_) {
    entries_.clear();
    bytes_ = 0;
    ++stats_.evictions;
  }
  entries_.emplace(key, Entry{index, response});
  bytes_ += size;
}

}  // namespace hearsay::http
