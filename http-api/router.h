// Maps (method, path) to endpoint handlers with Consul's conventions (consul-compat.md 1.0):
// a wrong method is 405 with an Allow header, OPTIONS answers 200 with Allow, an unknown /v1/
// path is 404 "Invalid URL path: not a recognized HTTP API endpoint".
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "http-api/caller.h"
#include "http-api/request.h"
#include "http-api/responder.h"

namespace hearsay::http {

// One request on its way to a handler. `param` is what follows a prefix route's path
// ("web" for /v1/catalog/service/web), already percent-decoded.
struct Call {
  Request request;
  Responder responder;
  std::string param;
  Caller caller;  // the token's rights; each handler checks them (endpoints/common.h `permitted`)
};

using RouteHandler = std::function<void(Call call)>;

class Router {
 public:
  // Exact routes match the whole path; prefix routes match any path that starts with it and
  // hand the remainder to the handler as `param`.
  void exact(std::string path, std::vector<std::string> methods, RouteHandler handler);
  void prefix(std::string path, std::vector<std::string> methods, RouteHandler handler);

  void dispatch(Request request, Responder responder, Caller caller = {}) const;

  // Every route's path and methods (the ACL test checks each has a row in its table).
  struct RouteInfo {
    std::string path;
    bool is_prefix;
    std::vector<std::string> methods;
  };
  std::vector<RouteInfo> routes() const;

 private:
  struct Route {
    std::string path;
    bool is_prefix;
    std::vector<std::string> methods;
    RouteHandler handler;
  };
  const Route* find(const std::string& path, std::string& param) const;
  std::vector<Route> routes_;
};

}  // namespace hearsay::http
