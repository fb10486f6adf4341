// An HTTP request as the endpoints see it (path and query percent-decoded, header names
// lower-cased) and the response they produce. Plain data: no I/O here.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace hearsay::http {

struct Request {
  std::string method;
  std::string path;      // percent-decoded, without the query
  std::string raw_path;  // as received, with the query
  std::vector<std::pair<std::string, std::string>> query;    // decoded, in order; "?passing" -> {"passing", ""}
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;
  bool keep_alive = true;

  const std::string* query_value(const std::string& name) const;  // first value, or null
  std::vector<std::string> query_values(const std::string& name) const;
  bool has_query(const std::string& name) const { return query_value(name) != nullptr; }
  const std::string* header(const std::string& lowercase_name) const;
};

struct Response {
  int status = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // For the agent's log only, never sent: why ACLs refused the request (the permission that was
  // missing). The pure endpoints cannot log; the server shell does.
  std::string log_note;

  static Response text(int status, std::string body);  // text/plain; charset=utf-8
  static Response json(std::string body);              // 200, application/json
};

// Decodes %XX escapes (and '+' as space when `plus_is_space`). False on a malformed escape.
bool percent_decode(std::string_view in, std::string& out, bool plus_is_space);

}  // namespace hearsay::http
