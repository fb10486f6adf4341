// Route lookup: exact routes first, then the longest matching prefix.
#include "http-api/router.h"

#include <algorithm>

namespace hearsay::http {

void Router::exact(std::string path, std::vector<std::string> methods, RouteHandler handler) {
  routes_.push_back({std::move(path), false, std::move(methods), std::move(handler)});
}

void Router::prefix(std::string path, std::vector<std::string> methods, RouteHandler handler) {
  routes_.push_back({std::move(path), true, std::move(methods), std::move(handler)});
}

const Router::Route* Router::find(const std::string& path, std::string& param) const {
  for (const Route& r : routes_) {
    if (!r.is_prefix && r.path == path) return &r;
  }
  const Route* best = nullptr;
  for (const Route& r : routes_) {
    if (r.is_prefix && path.starts_with(r.path) && (!best || r.path.size() > best->path.size())) best = &r;
  }
  if (best) param = path.substr(best->path.size());
  return best;
}

std::vector<Router::RouteInfo> Router::routes() const {
  std::vector<RouteInfo> out;
  for (const Route& r : routes_) out.push_back({r.path, r.is_prefix, r.methods});
  return out;
}

void Router::dispatch(Request request, Responder responder, Caller caller) const {
  std::string param;
  const Route* route = find(request.path, param);
  if (!route) {
    if (request.path.starts_with("/v1/")) {
      responder.send(Response::text(404, "Invalid URL path: not a recognized HTTP API endpoint"));
    } else {
      responder.send(Response::text(404, "404 page not found"));
    }
    return;
  }
  std::string allow = "OPTIONS";
  for (const std::string& m : route->methods) allow += "," + m;
  if (request.method == "OPTIONS") {
    Response res;
    res.headers.emplace_back("Allow", allow);
    responder.send(std::move(res));
    return;
  }
  if (std::find(route->methods.begin(), route->methods.end(), request.method) == route->methods.end()) {
    Response res = Response::text(405, "method " + request.method + " not allowed");
    res.headers.emplace_back("Allow", allow);
    responder.send(std::move(res));
    return;
  }
  route->handler(Call{std::move(request), std::move(responder), std::move(param), std::move(caller)});
}

}  // namespace hearsay::http
