// Sans-I/O HTTP/1.1 request parsing over libhttp-parser 2.9: bytes in, complete Requests out.
// It pauses after each message so a server handles one request per connection at a time
// (pipelined bytes wait), and checks sizes before buffering: URL, header bytes, body.
#pragma once

#include <http_parser.h>

#include <cstddef>
#include <optional>
#include <string>

#include "http-api/request.h"

namespace hearsay::http {

struct ParserLimits {
  std::size_t max_body = 1024 * 1024;  // the 1 MiB registration limit
  std::size_t max_header_bytes = 64 * 1024;
  std::size_t max_url = 16 * 1024;
  // An oversized body up to this size is read and dropped before the 413, so an ordinary client
  // that sends its whole body before reading gets the answer instead of a broken pipe.
  std::size_t max_discard = 16 * 1024 * 1024;
};

enum class ParseError { none, malformed, bad_escape, url_too_long, header_too_large, body_too_large };

class RequestParser {
 public:
  explicit RequestParser(ParserLimits limits = {});
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Consumes bytes up to and including the end of one request; returns how many it consumed.
  // Afterwards: take_request() when a request is complete, error() when the input is bad (the
  // parser is then dead and the connection should close after the error answer).
  std::size_t feed(const char* data, std::size_t size);
  // The peer closed its side: a request cut off part way is malformed (error() says so), so it
  // is answered with a 400 rather than dropped in silence, as Go's net/http does.
  void end_of_input();
  bool has_request() const { return complete_.has_value(); }
  Request take_request();

  ParseError error() const { return error_; }
  // The status and plain-text body to answer a bad request with.
  int error_status() const;
  std::string error_text() const;

 private:
  static int on_message_begin(http_parser* p);
  static int on_url(http_parser* p, const char* at, std::size_t len);
  static int on_header_field(http_parser* p, const char* at, std::size_t len);
  static int on_header_value(http_parser* p, const char* at, std::size_t len);
  static int on_headers_complete(http_parser* p);
  static int on_body(http_parser* p, const char* at, std::size_t len);
  static int on_message_complete(http_parser* p);
  int fail(ParseError error);
  bool finish_url();

  ParserLimits limits_;
  http_parser parser_{};
  http_parser_settings settings_{};
  Request current_;
  std::string url_;
  std::string field_;
  bool in_value_ = false;
  std::size_t header_bytes_ = 0;
  std::size_t discarded_ = 0;
  bool discarding_ = false;
  std::optional<Request> complete_;
  ParseError error_ = ParseError::none;
  std::string detail_;
};

}  // namespace hearsay::http
