// The CLI subcommands, in the spirit of `consul members` etc.: usage, dispatch and each command.
#include "agent/cli/commands.h"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <sys/random.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "agent/build_info.h"
#include "agent/cli/http_client.h"
#include "agent/cli/validate.h"
#include "gossip/wire/keyring.h"

namespace hearsay::agent::cli {
namespace {

constexpr const char* kUsage = R"(Usage: hearsay agent [flags]           run the agent (hearsay agent -h lists the flags)
       hearsay members                  list the cluster's members
       hearsay remote status            the remote link (on a remote agent) or sessions (on a relay)
       hearsay services register FILE   register the service(s) in a JSON file with the local agent
       hearsay services deregister ID   deregister a service from the local agent
       hearsay catalog services         list the services in the catalog
       hearsay catalog nodes            list the nodes in the catalog
       hearsay reload                   make the local agent re-read its config files
       hearsay validate FILE|DIR...     check config files (JSON or HCL) without starting an agent
       hearsay leave                    make the local agent leave the cluster and stop
       hearsay force-leave NODE         mark a failed member as left, so nobody reconnects to it
       hearsay keyring -list            list the gossip keys of every member, with their counts
       hearsay keyring -install KEY     add a gossip key (base64) to every member's keyring
       hearsay keyring -use KEY         make an installed key the one gossip is encrypted with
       hearsay keyring -remove KEY      remove a key that is not the primary, everywhere
       hearsay keygen                   print a new random 32-byte gossip key (base64)
       hearsay version                  print the version, git revision and build date
Subcommands take -http-addr=HOST:PORT (default: $CONSUL_HTTP_ADDR or 127.0.0.1:8500); an
https:// address speaks TLS, verified with -ca-file (or $CONSUL_CACERT, else the system CAs),
and -client-cert / -client-key ($CONSUL_CLIENT_CERT, $CONSUL_CLIENT_KEY) when the agent
requires client certificates; -tls-server-name ($CONSUL_TLS_SERVER_NAME) names the agent.
With ACLs, -token=SECRET or -token-file=FILE ($CONSUL_HTTP_TOKEN, $CONSUL_HTTP_TOKEN_FILE)
is sent with every request.
)";

struct CliArgs {
  std::string http_addr;
  HttpTls tls;
  std::string token;       // -token / CONSUL_HTTP_TOKEN
  std::string token_file;  // -token-file / CONSUL_HTTP_TOKEN_FILE
  std::vector<std::string> positional;
};

std::string env_or(const char* name, const std::string& fallback = {}) {
  const char* value = std::getenv(name);
  return value && *value ? value : fallback;
}

CliArgs parse_cli_args(const std::vector<std::string>& args) {
  CliArgs out;
  out.http_addr = env_or("CONSUL_HTTP_ADDR", "127.0.0.1:8500");
  // Consul's CLI environment; the flags below win over it.
  out.tls.https = env_or("CONSUL_HTTP_SSL") == "true" || env_or("CONSUL_HTTP_SSL") == "1";
  out.tls.skip_verify = env_or("CONSUL_HTTP_SSL_VERIFY") == "false" || env_or("CONSUL_HTTP_SSL_VERIFY") == "0";
  out.tls.ca_file = env_or("CONSUL_CACERT");
  out.tls.ca_path = env_or("CONSUL_CAPATH");
  out.tls.client_cert = env_or("CONSUL_CLIENT_CERT");
  out.tls.client_key = env_or("CONSUL_CLIENT_KEY");
  out.tls.server_name = env_or("CONSUL_TLS_SERVER_NAME");
  out.token = env_or("CONSUL_HTTP_TOKEN");
  out.token_file = env_or("CONSUL_HTTP_TOKEN_FILE");
  bool token_flag = false, token_file_flag = false;
  const std::vector<std::pair<std::string, std::string*>> flags = {
      {"http-addr", &out.http_addr},          {"ca-file", &out.tls.ca_file},
      {"ca-path", &out.tls.ca_path},          {"client-cert", &out.tls.client_cert},
      {"client-key", &out.tls.client_key},    {"tls-server-name", &out.tls.server_name},
      {"token", &out.token},                  {"token-file", &out.token_file}};
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const std::string name = a.starts_with("--") ? a.substr(2) : a.starts_with("-") ? a.substr(1) : "";
    const std::string key = name.substr(0, name.find('='));
    bool matched = false;
    for (const auto& [flag, into] : flags) {
      if (key != flag) continue;
      if (name.find('=') != std::string::npos) {
        *into = name.substr(name.find('=') + 1);
        matched = true;
      } else if (i + 1 < args.size()) {
        *into = args[++i];
        matched = true;
      }
    }
    if (!matched) out.positional.push_back(a);
    if (matched && key == "token") token_flag = true;
    if (matched && key == "token-file") token_file_flag = true;
  }
  // Consul's order: -token, -token-file, CONSUL_HTTP_TOKEN, CONSUL_HTTP_TOKEN_FILE.
  if (token_file_flag && !token_flag) out.token.clear();
  return out;
}

// The token to send: -token or $CONSUL_HTTP_TOKEN as given, else the first line of the token file.
std::optional<std::string> token_of(const CliArgs& args) {
  if (!args.token.empty() || args.token_file.empty()) return args.token;
  std::ifstream in(args.token_file);
  std::string token;
  if (!in || !std::getline(in, token)) {
    std::fprintf(stderr, "Error: cannot read the token file %s\n", args.token_file.c_str());
    return std::nullopt;
  }
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ' || token.back() == '\t')) token.pop_back();
  return token;
}

// Runs one request; prints the agent's error and returns nullopt unless the status is 200.
std::optional<std::string> call(const CliArgs& args, const std::string& method, const std::string& path,
                                const std::string& body = {}) {
  std::string error;
  const std::optional<std::string> token = token_of(args);
  if (!token) return std::nullopt;
  auto reply = http_request(args.http_addr, method, path, body, args.tls, error, *token);
  if (!reply) {
    std::fprintf(stderr, "Error: %s\n", error.c_str());
    return std::nullopt;
  }
  if (reply->status != 200) {
    std::fprintf(stderr, "Error: the agent answered %d: %s\n", reply->status, reply->body.c_str());
    return std::nullopt;
  }
  return reply->body;
}

std::optional<rapidjson::Document> parse_json(const std::string& text) {
  rapidjson::Document doc;
  doc.Parse(text.c_str(), text.size());
  if (doc.HasParseError()) {
    std::fprintf(stderr, "Error: the agent sent invalid JSON\n");
    return std::nullopt;
  }
  return doc;
}

std::string str(const rapidjson::Value& obj, const char* key) {
  if (!obj.IsObject()) return "";
  auto it = obj.FindMember(key);
  return it != obj.MemberEnd() && it->value.IsString() ? it->value.GetString() : "";
}

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> widths;
  for (const auto& row : rows) {
    for (std::size_t i = 0; i < row.size(); ++i) {
      if (widths.size() <= i) widths.push_back(0);
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

int cmd_members(const CliArgs& args) {
  auto body = call(args, "GET", "/v1/agent/members");
  if (!body) return 1;
  auto doc = parse_json(*body);
  if (!doc || !doc->IsArray()) return 1;
  static const char* kStatus[] = {"none", "alive", "leaving", "left", "failed"};
  std::vector<std::vector<std::string>> rows{{"Node", "Address", "Status", "Type", "Build", "Protocol", "DC"}};
  for (const auto& m : doc->GetArray()) {
    int status = m.HasMember("Status") && m["Status"].IsInt() ? m["Status"].GetInt() : 0;
    const rapidjson::Value& tags = m.HasMember("Tags") ? m["Tags"] : m;
    int port = m.HasMember("Port") && m["Port"].IsInt() ? m["Port"].GetInt() : 0;
    rows.push_back({str(m, "Name"), str(m, "Addr") + ":" + std::to_string(port),
                    status >= 0 && status <= 4 ? kStatus[status] : "unknown", str(tags, "role") == "consul" ? "server" : "client",
                    str(tags, "build"), str(tags, "vsn"), str(tags, "dc")});
  }
  print_table(rows);
  return 0;
}

// The Remote section of /v1/agent/self, one "Key: value" per line; a note when there is none.
int cmd_remote_status(const CliArgs& args) {
  auto body = call(args, "GET", "/v1/agent/self");
  if (!body) return 1;
  auto doc = parse_json(*body);
  if (!doc || !doc->IsObject()) return 1;
  if (!doc->HasMember("Remote") || !(*doc)["Remote"].IsObject()) {
    std::printf("This agent is neither a remote (-remote) nor a relay (-relay-port).\n");
    return 0;
  }
  std::vector<std::vector<std::string>> rows;
  for (const auto& m : (*doc)["Remote"].GetObject()) {
    rows.push_back({std::string(m.name.GetString()) + ":", m.value.IsString() ? m.value.GetString() : ""});
  }
  print_table(rows);
  return 0;
}

std::string to_text(const rapidjson::Value& v) {
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  v.Accept(w);
  return buf.GetString();
}

// Accepts {"service": {...}}, {"services": [...]} or a bare service object, as `consul services register`.
int cmd_services_register(const CliArgs& args, const std::string& file) {
  std::ifstream in(file);
  if (!in) {
    std::fprintf(stderr, "Error: cannot read %s\n", file.c_str());
    return 1;
  }
  std::stringstream text;
  text << in.rdbuf();
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  if (doc.HasParseError() || !doc.IsObject()) {
    std::fprintf(stderr, "Error: %s is not a JSON object\n", file.c_str());
    return 1;
  }
  std::vector<const rapidjson::Value*> services;
  if (doc.HasMember("service") && doc["service"].IsObject()) services.push_back(&doc["service"]);
  if (doc.HasMember("services") && doc["services"].IsArray()) {
    for (const auto& s : doc["services"].GetArray()) services.push_back(&s);
  }
  if (services.empty()) services.push_back(&doc);
  for (const rapidjson::Value* s : services) {
    if (!call(args, "PUT", "/v1/agent/service/register", to_text(*s))) return 1;
    std::string name = str(*s, "Name");
    if (name.empty()) name = str(*s, "name");
    std::printf("Registered service: %s\n", name.c_str());
  }
  return 0;
}

int cmd_catalog_services(const CliArgs& args) {
  auto body = call(args, "GET", "/v1/catalog/services");
  if (!body) return 1;
  auto doc = parse_json(*body);
  if (!doc || !doc->IsObject()) return 1;
  for (auto it = doc->MemberBegin(); it != doc->MemberEnd(); ++it) std::printf("%s\n", it->name.GetString());
  return 0;
}

int cmd_catalog_nodes(const CliArgs& args) {
  auto body = call(args, "GET", "/v1/catalog/nodes");
  if (!body) return 1;
  auto doc = parse_json(*body);
  if (!doc || !doc->IsArray()) return 1;
  std::vector<std::vector<std::string>> rows{{"Node", "ID", "Address", "DC"}};
  for (const auto& n : doc->GetArray()) {
    rows.push_back({str(n, "Node"), str(n, "ID").substr(0, 8), str(n, "Address"), str(n, "Datacenter")});
  }
  print_table(rows);
  return 0;
}

// Consul's `keyring` flags: -list, or one of -install/-use/-remove with a key (-flag KEY or
// -flag=KEY). Like Consul's, each reaches every member of the cluster (/v1/operator/keyring).
int cmd_keyring(const CliArgs& args) {
  const auto& p = args.positional;
  std::string op, key;
  if (p.size() == 2 && (p[1] == "-list" || p[1] == "--list")) {
    op = "list";
  } else if (p.size() == 2 || p.size() == 3) {
    std::string flag = p[1];
    if (auto eq = flag.find('='); eq != std::string::npos && p.size() == 2) {
      key = flag.substr(eq + 1);
      flag.resize(eq);
    } else if (p.size() == 3) {
      key = p[2];
    }
    while (flag.starts_with("-")) flag.erase(0, 1);
    if ((flag == "install" || flag == "use" || flag == "remove") && !key.empty()) op = flag;
  }
  if (op.empty()) {
    std::fputs("Usage: hearsay keyring -list | -install KEY | -use KEY | -remove KEY\n", stderr);
    return 2;
  }
  if (op == "list") {
    auto body = call(args, "GET", "/v1/operator/keyring");
    if (!body) return 1;
    auto doc = parse_json(*body);
    if (!doc || !doc->IsArray()) return 1;
    for (const auto& pool : doc->GetArray()) {
      if (!pool.IsObject() || !pool.HasMember("Keys") || !pool["Keys"].IsObject()) continue;
      // Consul's layout: each key with how many of the members hold it.
      std::printf("==> Gathering installed encryption keys...\n\n%s (LAN):\n", str(pool, "Datacenter").c_str());
      const int nodes = pool.HasMember("NumNodes") && pool["NumNodes"].IsInt() ? pool["NumNodes"].GetInt() : 0;
      const rapidjson::Value* primary = pool.HasMember("PrimaryKeys") ? &pool["PrimaryKeys"] : nullptr;
      for (auto it = pool["Keys"].MemberBegin(); it != pool["Keys"].MemberEnd(); ++it) {
        const bool is_primary = primary && primary->IsObject() && primary->HasMember(it->name.GetString());
        const int holders = it->value.IsInt() ? it->value.GetInt() : 0;
        std::printf("  %s [%d/%d]%s\n", it->name.GetString(), holders, nodes, is_primary ? "  (primary)" : "");
      }
    }
    return 0;
  }
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartObject();
  w.Key("Key");
  w.String(key.c_str());
  w.EndObject();
  const char* method = op == "install" ? "POST" : op == "use" ? "PUT" : "DELETE";
  if (!call(args, method, "/v1/operator/keyring", buf.GetString())) return 1;
  std::printf("==> %s gossip encryption key: done\n",
              op == "install" ? "Installed" : op == "use" ? "Changed primary to" : "Removed");
  return 0;
}

std::string percent_encode(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      char buf[4];
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

int run_subcommand(const std::vector<std::string>& raw) {
  CliArgs args = parse_cli_args(raw);
  const auto& p = args.positional;
  auto usage_error = [] {
    std::fputs(kUsage, stderr);
    return 2;
  };
  if (p.empty()) return usage_error();
  if (p[0] == "members" && p.size() == 1) return cmd_members(args);
  if (p[0] == "remote" && p.size() == 2 && p[1] == "status") return cmd_remote_status(args);
  if (p[0] == "leave" && p.size() == 1) {
    if (!call(args, "PUT", "/v1/agent/leave")) return 1;
    std::printf("Graceful leave complete\n");
    return 0;
  }
  if (p[0] == "force-leave" && p.size() == 2) {
    if (!call(args, "PUT", "/v1/agent/force-leave/" + percent_encode(p[1]))) return 1;
    std::printf("Force-left %s\n", p[1].c_str());
    return 0;
  }
  if (p[0] == "keyring") return cmd_keyring(args);
  if (p[0] == "reload" && p.size() == 1) {
    if (!call(args, "PUT", "/v1/agent/reload")) return 1;
    std::printf("Configuration reload triggered\n");
    return 0;
  }
  if (p[0] == "services" && p.size() == 3 && p[1] == "register") return cmd_services_register(args, p[2]);
  if (p[0] == "services" && p.size() == 3 && p[1] == "deregister") {
    if (!call(args, "PUT", "/v1/agent/service/deregister/" + percent_encode(p[2]))) return 1;
    std::printf("Deregistered service: %s\n", p[2].c_str());
    return 0;
  }
  if (p[0] == "catalog" && p.size() == 2 && p[1] == "services") return cmd_catalog_services(args);
  if (p[0] == "catalog" && p.size() == 2 && p[1] == "nodes") return cmd_catalog_nodes(args);
  return usage_error();
}

}  // namespace

const char* usage() { return kUsage; }

bool is_subcommand(const std::string& first) {
  return first == "help" || first == "version" || first == "validate" || first == "reload" || first == "keygen" || first == "members" || first == "remote" || first == "services" ||
         first == "catalog" || first == "leave" || first == "force-leave" || first == "keyring";
}

int run(const std::vector<std::string>& args) {
  const std::string& first = args.at(0);
  if (first == "help") {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (first == "version") {
    std::printf("hearsay v%s\nRevision %s\nBuild Date %s\n", kVersion, kRevision, kBuildDate);
    return 0;
  }
  if (first == "validate") return run_validate(std::vector<std::string>(args.begin() + 1, args.end()));
  if (first == "keygen") {
    gossip::Bytes key(32);
    if (getrandom(key.data(), key.size(), 0) != static_cast<ssize_t>(key.size())) return 1;
    std::printf("%s\n", gossip::encode_key(key).c_str());
    return 0;
  }
  return run_subcommand(args);
}

}  // namespace hearsay::agent::cli
