// libhttp-parser callbacks assembling a Request. Every limit is checked before appending.
#include "http-api/request_parser.h"

#include <algorithm>
#include <cctype>

namespace hearsay::http {
namespace {
RequestParser* self(http_parser* p) { return static_cast<RequestParser*>(p->data); }
std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}
}  // namespace

RequestParser::RequestParser(ParserLimits limits) : limits_(limits) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
  settings_.on_message_begin = &RequestParser::on_message_begin;
  settings_.on_url = &RequestParser::on_url;
  settings_.on_header_field = &RequestParser::on_header_field;
  settings_.on_header_value = &RequestParser::on_header_value;
  settings_.on_headers_complete = &RequestParser::on_headers_complete;
  settings_.on_body = &RequestParser::on_body;
  settings_.on_message_complete = &RequestParser::on_message_complete;
}

std::size_t RequestParser::feed(const char* data, std::size_t size) {
  if (error_ != ParseError::none || complete_ || size == 0) return 0;
  std::size_t n = http_parser_execute(&parser_, &settings_, data, size);
  auto err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_PAUSED) {
    http_parser_pause(&parser_, 0);  // the message is complete; continue with the next feed
  } else if (err != HPE_OK && error_ == ParseError::none) {
    detail_ = http_errno_description(err);
    error_ = err == HPE_HEADER_OVERFLOW ? ParseError::header_too_large : ParseError::malformed;
  }
  return n;
}

void RequestParser::end_of_input() {
  if (error_ != ParseError::none || complete_) return;
  // A zero-length execute is http_parser's EOF: an error unless it is between messages.
  http_parser_execute(&parser_, &settings_, nullptr, 0);
  if (auto err = HTTP_PARSER_ERRNO(&parser_); err != HPE_OK && err != HPE_PAUSED) {
    detail_ = std::string("incomplete request (") + http_errno_description(err) + ")";
    error_ = ParseError::malformed;
  }
}

Request RequestParser::take_request() {
  Request r = std::move(*complete_);
  complete_.reset();
  return r;
}

int RequestParser::fail(ParseError error) {
  error_ = error;
  // -1, not 1: from on_headers_complete, 1 means "skip the body" to http_parser, not an error.
  return -1;
}

int RequestParser::on_message_begin(http_parser* p) {
  RequestParser* s = self(p);
  s->current_ = Request{};
  s->url_.clear();
  s->field_.clear();
  s->in_value_ = false;
  s->header_bytes_ = 0;
  s->discarded_ = 0;
  s->discarding_ = false;
  return 0;
}

int RequestParser::on_url(http_parser* p, const char* at, std::size_t len) {
  RequestParser* s = self(p);
  if (s->url_.size() + len > s->limits_.max_url) return s->fail(ParseError::url_too_long);
  s->url_.append(at, len);
  return 0;
}

int RequestParser::on_header_field(http_parser* p, const char* at, std::size_t len) {
  RequestParser* s = self(p);
  s->header_bytes_ += len;
  if (s->header_bytes_ > s->limits_.max_header_bytes) return s->fail(ParseError::header_too_large);
  if (s->in_value_) {
    s->field_.clear();
    s->in_value_ = false;
  }
  s->field_.append(at, len);
  return 0;
}

int RequestParser::on_header_value(http_parser* p, const char* at, std::size_t len) {
  RequestParser* s = self(p);
  s->header_bytes_ += len;
  if (s->header_bytes_ > s->limits_.max_header_bytes) return s->fail(ParseError::header_too_large);
  if (!s->in_value_) {
    s->current_.headers.emplace_back(lower(s->field_), std::string());
    s->in_value_ = true;
  }
  s->current_.headers.back().second.append(at, len);
  return 0;
}

bool RequestParser::finish_url() {
  current_.raw_path = url_;
  http_parser_url parts;
  http_parser_url_init(&parts);
  if (http_parser_parse_url(url_.data(), url_.size(), 0, &parts) != 0) return false;
  std::string_view raw_path;
  if (parts.field_set & (1 << UF_PATH)) {
    raw_path = std::string_view(url_).substr(parts.field_data[UF_PATH].off, parts.field_data[UF_PATH].len);
  }
  if (!percent_decode(raw_path, current_.path, false)) return false;
  if (parts.field_set & (1 << UF_QUERY)) {
    std::string_view query = std::string_view(url_).substr(parts.field_data[UF_QUERY].off, parts.field_data[UF_QUERY].len);
    while (!query.empty()) {
      auto amp = query.find('&');
      std::string_view pair = query.substr(0, amp);
      query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
      if (pair.empty()) continue;
      auto eq = pair.find('=');
      std::string key, value;
      if (!percent_decode(pair.substr(0, eq), key, true)) return false;
      if (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), value, true)) return false;
      current_.query.emplace_back(std::move(key), std::move(value));
    }
  }
  return true;
}

int RequestParser::on_headers_complete(http_parser* p) {
  RequestParser* s = self(p);
  s->current_.method = http_method_str(static_cast<http_method>(p->method));
  if (p->http_major != 1) {  // http_parser accepts any digit; we speak HTTP/1.0 and 1.1 only
    s->detail_ = "unsupported HTTP version " + std::to_string(p->http_major) + "." + std::to_string(p->http_minor);
    return s->fail(ParseError::malformed);
  }
  if (!s->finish_url()) return s->fail(ParseError::bad_escape);
  // An announced body that is too large: refuse it at once when it is huge, else drop it.
  if ((p->flags & F_CONTENTLENGTH) && p->content_length > s->limits_.max_body) {
    if (p->content_length > s->limits_.max_discard) return s->fail(ParseError::body_too_large);
    s->discarding_ = true;
  }
  return 0;
}

int RequestParser::on_body(http_parser* p, const char* at, std::size_t len) {
  RequestParser* s = self(p);
  if (!s->discarding_ && s->current_.body.size() + len > s->limits_.max_body) {
    s->discarding_ = true;  // e.g. a chunked body that grew too large
    s->discarded_ = s->current_.body.size();
    s->current_.body.clear();
  }
  if (s->discarding_) {
    s->discarded_ += len;
    return s->discarded_ > s->limits_.max_discard ? s->fail(ParseError::body_too_large) : 0;
  }
  s->current_.body.append(at, len);
  return 0;
}

int RequestParser::on_message_complete(http_parser* p) {
  RequestParser* s = self(p);
  if (s->discarding_) return s->fail(ParseError::body_too_large);
  s->current_.keep_alive = http_should_keep_alive(p) != 0;
  s->complete_ = std::move(s->current_);
  http_parser_pause(p, 1);  // one request at a time
  return 0;
}

int RequestParser::error_status() const {
  switch (error_) {
    case ParseError::body_too_large: return 413;
    case ParseError::url_too_long: return 414;
    case ParseError::header_too_large: return 431;
    default: return 400;
  }
}

std::string RequestParser::error_text() const {
  switch (error_) {
    case ParseError::none: return "";
    case ParseError::malformed: return "Bad request: " + detail_;
    case ParseError::bad_escape: return "Bad request: invalid URL or percent-encoding";
    case ParseError::url_too_long: return "Request URL too long";
    case ParseError::header_too_large: return "Request header fields too large";
    case ParseError::body_too_large:
      return "Request body too large: limit is " + std::to_string(limits_.max_body) + " bytes";
  }
  return "Bad request";
}

}  // namespace hearsay::http
