// Command-line and config-file parsing: single-dash flags, precedence, errors naming the value.
#include <catch2/catch.hpp>

#include <fstream>

#include "agent/config_file.h"
#include "agent/options.h"
#include "../temp_dir.h"

using namespace hearsay::agent;

namespace {
// The error a command line gets, or "no error".
std::string message_of(const std::vector<std::string>& args) {
  try {
    parse_agent_command_line(args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}
void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream(path) << text;
}
}  // namespace

TEST_CASE("single-dash long flags are rewritten, values are not", "[unit]") {
  auto out = normalize_single_dash({"-data-dir", "/tmp/x", "-node=a", "--dev", "-v", "-1", "-unknown", "-node", "-n2"},
                                   {"data-dir", "node", "dev"});
  CHECK(out == std::vector<std::string>{"--data-dir", "/tmp/x", "--node=a", "--dev", "-v", "-1", "--unknown", "--node",
                                        "-n2"});
}

TEST_CASE("Consul-style flags produce the config", "[unit]") {
  auto parsed = parse_agent_command_line({"-node", "n1", "-data-dir", "/tmp/d", "-http-port", "9500", "-client",
                                          "127.0.0.2", "-node-meta", "rack:r1", "-node-meta", "env:qa"});
  const AgentConfig& c = parsed.config;
  CHECK(c.node_name == "n1");
  CHECK(c.data_dir == "/tmp/d");
  CHECK(c.http_port == 9500);
  CHECK(c.dns_port == 8600);
  CHECK(c.client_addr == "127.0.0.2");
  CHECK(c.datacenter == "dc1");
  CHECK(c.node_meta == hearsay::catalog::StringMap{{"rack", "r1"}, {"env", "qa"}});
}

TEST_CASE("bad flags are errors that name the value", "[unit]") {
  CHECK(message_of({"-data-dir", "/d", "-http-port", "99999"}).find("99999") != std::string::npos);
  CHECK(message_of({"-data-dir", "/d", "-client", "localhost"}).find("localhost") != std::string::npos);
  CHECK(message_of({"-data-dir", "/d", "-log-level", "chatty"}).find("chatty") != std::string::npos);
  CHECK(message_of({"-data-dir", "/d", "-node-meta", "novalue"}).find("novalue") != std::string::npos);
  CHECK(message_of({"-http-port", "8500"}).find("data-dir") != std::string::npos);
  CHECK(message_of({"-data-dir", "/d", "-bogus"}).find("bogus") != std::string::npos);
  CHECK(message_of({"-dev"}) == "no error");
}

TEST_CASE("the -sync-writes flag defaults to true and takes a boolean", "[unit]") {
  CHECK(parse_agent_command_line({"-dev"}).config.sync_writes);
  CHECK_FALSE(parse_agent_command_line({"-dev", "-sync-writes", "false"}).config.sync_writes);
  CHECK_FALSE(parse_agent_command_line({"-dev", "-sync-writes=false"}).config.sync_writes);
  CHECK(parse_agent_command_line({"-dev", "-sync-writes", "true"}).config.sync_writes);
  CHECK(message_of({"-dev", "-sync-writes", "sometimes"}).find("sometimes") != std::string::npos);
}

TEST_CASE("config files set values", "[unit]") {
  AgentConfig c;
  apply_config_text(R"({"node_name": "from-file", "datacenter": "dc2", "ports": {"http": 9000, "dns": 9600},
                        "node_meta": {"a": "b"}, "server": true,
                        "services": [{"name": "web", "port": 80, "check": {"ttl": "10s"}}]})",
                    "test.json", c);
  CHECK(c.node_name == "from-file");
  CHECK(c.datacenter == "dc2");
  CHECK(c.http_port == 9000);
  CHECK(c.dns_port == 9600);
  REQUIRE(c.services.size() == 1);
  CHECK(c.services[0].id == "web");
  CHECK(c.services[0].checks.at(0).id == "service:web");
}

TEST_CASE("flags override config files whatever their order on the command line", "[unit]") {
  hearsay::test::TempDir dir;
  const auto file = dir.path / "a.json";
  write_file(file, R"({"node_name": "from-file", "datacenter": "dc2", "ports": {"http": 9000}, "data_dir": "/from/file"})");
  auto parsed = parse_agent_command_line({"-node", "from-flag", "-config-file", file.string(), "-http-port", "9100"});
  const AgentConfig& c = parsed.config;
  CHECK(c.node_name == "from-flag");  // the flag came before the file and still wins
  CHECK(c.http_port == 9100);         // and after it
  CHECK(c.datacenter == "dc2");       // no flag: the file's value
  CHECK(c.data_dir == "/from/file");
}

TEST_CASE("later config files override earlier ones with -config-file and -config-dir in command-line order",
          "[unit]") {
  hearsay::test::TempDir dir;
  const auto first = dir.path / "first.json";
  const auto second = dir.path / "second.json";
  write_file(first, R"({"node_name": "first", "datacenter": "dc-first", "data_dir": "/d"})");
  write_file(second, R"({"node_name": "second"})");
  auto forward = parse_agent_command_line({"-config-file", first.string(), "-config-file", second.string()});
  CHECK(forward.config.node_name == "second");
  CHECK(forward.config.datacenter == "dc-first");  // a key the later file leaves out is kept
  auto backward = parse_agent_command_line({"-config-file", second.string(), "-config-file", first.string()});
  CHECK(backward.config.node_name == "first");

  // A directory's files apply in lexical order ("10-" before "9-": names, not numbers), and
  // only *.json files count.
  const auto conf = dir.path / "conf.d";
  std::filesystem::create_directories(conf);
  write_file(conf / "9-late.json", R"({"node_name": "dir-9", "datacenter": "dc-dir"})");
  write_file(conf / "10-early.json", R"({"node_name": "dir-10", "ports": {"dns": 9653}})");
  write_file(conf / "zz-ignored.txt", R"({"node_name": "not json by name"})");
  auto in_dir = parse_agent_command_line({"-data-dir", "/d", "-config-dir", conf.string()});
  CHECK(in_dir.config.node_name == "dir-9");
  CHECK(in_dir.config.dns_port == 9653);

  // Files and directories interleave in the order given: the last one named wins.
  auto file_last =
      parse_agent_command_line({"-data-dir", "/d", "-config-dir", conf.string(), "-config-file", second.string()});
  CHECK(file_last.config.node_name == "second");
  CHECK(file_last.config.datacenter == "dc-dir");
  auto dir_last =
      parse_agent_command_line({"-data-dir", "/d", "-config-file", second.string(), "-config-dir", conf.string()});
  CHECK(dir_last.config.node_name == "dir-9");
  // A flag still beats them all.
  auto flag = parse_agent_command_line(
      {"-config-file", second.string(), "-config-dir", conf.string(), "-datacenter", "dc-flag", "-data-dir", "/d"});
  CHECK(flag.config.datacenter == "dc-flag");
}

TEST_CASE("config file errors name the file and the key", "[unit]") {
  AgentConfig c;
  auto message_of = [&](const std::string& text) {
    try {
      apply_config_text(text, "conf.json", c);
    } catch (const ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  CHECK(message_of(R"({"datacenter": 1})") == "conf.json: datacenter: must be a string");
  CHECK(message_of(R"({"what": 1})").find("what") != std::string::npos);
  CHECK(message_of(R"({"ports": {"http": "x"}})").find("ports.http") != std::string::npos);
  CHECK(message_of("{").find("conf.json: invalid JSON") == 0);
  CHECK(message_of(R"({"service": {"port": 80}})").find("Missing service name") != std::string::npos);
}

TEST_CASE("DNS flags and dns_config", "[unit]") {
  auto parsed = parse_agent_command_line({"-dev", "-domain", "hearsay.test", "-recursor", "127.0.0.1:5353",
                                          "-recursor", "::1", "-dns-only-passing", "-dns-port", "-1"});
  const AgentConfig& c = parsed.config;
  CHECK(c.dns.domain == "hearsay.test");
  CHECK(c.recursors == std::vector<std::string>{"127.0.0.1:5353", "::1"});
  CHECK(c.dns.only_passing);
  CHECK(c.dns_port == -1);

  AgentConfig f;
  apply_config_text(R"({"recursors": ["10.0.0.53"], "dns_config": {"node_ttl": "10s", "service_ttl": {"*": "5s", "web": "30s"},
                        "udp_answer_limit": 5, "a_record_limit": 2, "enable_truncate": true, "only_passing": true,
                        "recursor_timeout": "500ms", "allow_stale": true, "soa": {"min_ttl": 60}}})",
                    "dns.json", f);
  CHECK(f.recursors == std::vector<std::string>{"10.0.0.53"});
  CHECK(f.dns.node_ttl == 10);
  CHECK(f.dns.service_ttl == 5);
  CHECK(f.dns.service_ttls.at("web") == 30);
  CHECK(f.dns_serve.udp_answer_limit == 5);
  CHECK(f.dns.a_record_limit == 2);
  CHECK(f.dns_serve.enable_truncate);
  CHECK(f.dns.only_passing);
  CHECK(f.recursor_timeout == std::chrono::milliseconds(500));
  CHECK(f.dns.soa_min_ttl == 60);

  CHECK(message_of({"-dev", "-recursor", "dns.google"}).find("dns.google") != std::string::npos);
  CHECK(message_of({"-dev", "-recursor", "1.2.3.4:99999"}).find("99999") != std::string::npos);
  CHECK(message_of({"-dev", "-domain", "bad..name"}).find("bad..name") != std::string::npos);
  CHECK(message_of({"-dev", "-join", "127.0.0.1:99999"}).find("99999") != std::string::npos);
  CHECK(parse_agent_command_line({"-dev", "-join", "127.0.0.1:8302", "-join", "10.0.0.2"}).config.join ==
        std::vector<std::string>{"127.0.0.1:8302", "10.0.0.2"});
  AgentConfig bad;
  CHECK_THROWS_WITH(apply_config_text(R"({"dns_config": {"node_ttl": "soon"}})", "x.json", bad),
                    Catch::Contains("dns_config.node_ttl"));
  CHECK_THROWS_WITH(apply_config_text(R"({"dns_config": {"nonsense": 1}})", "x.json", bad),
                    Catch::Contains("dns_config.nonsense"));
}

TEST_CASE("replication timings: -reap-after and -tombstone-grace, defaults as documented", "[unit]") {
  auto defaults = parse_agent_command_line({"-dev"}).config;
  CHECK(defaults.reap_after == std::chrono::hours(72));
  CHECK(defaults.tombstone_grace == std::chrono::hours(24));
  auto set = parse_agent_command_line({"-dev", "-reap-after", "20s", "-tombstone-grace", "1h30m"}).config;
  CHECK(set.reap_after == std::chrono::seconds(20));
  CHECK(set.tombstone_grace == std::chrono::minutes(90));
  CHECK(message_of({"-dev", "-reap-after", "soon"}).find("reap-after") != std::string::npos);
}

TEST_CASE("limits: Consul's http_max_conns_per_client and hearsay's connection caps", "[unit]") {
  AgentConfig c;
  CHECK(c.limits.http_max_conns_per_client == 200);  // Consul's default
  apply_config_text(R"({"limits": {"http_max_conns_per_client": 50, "dns_max_conns_per_client": 7,
                        "serf_max_conns_per_client": 9, "max_connections": 500, "rpc_rate": 10}})",
                    "limits.json", c);
  CHECK(c.limits.http_max_conns_per_client == 50);
  CHECK(c.limits.dns_max_conns_per_client == 7);
  CHECK(c.limits.serf_max_conns_per_client == 9);
  CHECK(c.limits.max_connections == 500);
  AgentConfig bad;
  CHECK_THROWS_WITH(apply_config_text(R"({"limits": {"http_max_conns_per_client": -1}})", "x.json", bad),
                    Catch::Contains("limits.http_max_conns_per_client"));
  CHECK_THROWS_WITH(apply_config_text(R"({"limits": {"nonsense": 1}})", "x.json", bad),
                    Catch::Contains("limits.nonsense: unknown config key"));
}

TEST_CASE("joins take host names with an optional port, as Consul's sample config does", "[unit]") {
  auto c = parse_agent_command_line({"-dev", "-join", "localhost", "-retry-join", "consul.example.com:8311",
                                     "-retry-join", "[::1]:8301"})
               .config;
  CHECK(c.join == std::vector<std::string>{"localhost"});
  CHECK(c.retry_join == std::vector<std::string>{"consul.example.com:8311", "[::1]:8301"});
  AgentConfig f;
  apply_config_text(R"({"start_join": ["seed-1.internal"], "retry_join": ["seed-2.internal:8301"]})", "j.json", f);
  CHECK(f.join == std::vector<std::string>{"seed-1.internal"});
  CHECK(message_of({"-dev", "-join", "bad name"}).find("\"bad name\" is not an address or host name") !=
        std::string::npos);
  CHECK(message_of({"-dev", "-retry-join", "seed:0"}).find("seed:0") != std::string::npos);
  CHECK(message_of({"-dev", "-join", "seed..x"}).find("seed..x") != std::string::npos);
}

TEST_CASE("client_addr takes a space-separated list and the address flags take templates", "[unit]") {
  auto c = parse_agent_command_line({"-dev", "-client", "127.0.0.1 127.0.0.2"}).config;
  CHECK(client_addresses(c) == std::vector<std::string>{"127.0.0.1", "127.0.0.2"});
  CHECK(message_of({"-dev", "-client", "127.0.0.1 nowhere"}).find("\"nowhere\" is not an IP address") !=
        std::string::npos);
  // The loopback interface exists on every host this runs on.
  auto t = parse_agent_command_line({"-dev", "-bind", "{{ GetInterfaceIP \"lo\" }}", "-client",
                                     "{{ GetAllInterfaces | include \"name\" \"^lo$\" | include \"type\" \"IPv4\" | "
                                     "attr \"address\" }}"})
               .config;
  CHECK(t.bind_addr == "127.0.0.1");
  CHECK(t.client_addr == "127.0.0.1");
  CHECK(message_of({"-dev", "-advertise", "{{ GetInterfaceIP \"no-such-if0\" }}"}).find("-advertise: ") == 0);
}

TEST_CASE("log_json and -log-json, and log levels in Consul's capitals", "[unit]") {
  CHECK_FALSE(parse_agent_command_line({"-dev"}).config.log_json);
  CHECK(parse_agent_command_line({"-dev", "-log-json"}).config.log_json);
  AgentConfig c;
  apply_config_text(R"({"log_json": true, "log_level": "DEBUG"})", "l.json", c);
  CHECK(c.log_json);
  CHECK(c.log_level == "debug");
  CHECK(parse_agent_command_line({"-dev", "-log-level", "WARN"}).config.log_level == "warn");
}

TEST_CASE("keys Consul knows are ignored, at the top and inside blocks, and unknown ones stay errors", "[unit]") {
  AgentConfig c;
  CHECK_NOTHROW(apply_config_text(R"({"tls": {"defaults": {"verify_incoming": true}}, "addresses": {"http": "0.0.0.0"},
      "enable_syslog": true, "rejoin_after_leave": true, "http_config": {"response_headers": {"X": "y"}},
      "ports": {"grpc": 8502, "https": -1, "serf_wan": 8302}, "limits": {"rpc_rate": 100},
      "dns_config": {"allow_stale": true}, "acl": {"enabled": true}, "telemetry": {"disable_hostname": true},
      "ca_file": "/ca.pem", "verify_incoming": false, "auto_encrypt": {"tls": true}})",
                                  "consul.json", c));
  CHECK_THROWS_WITH(apply_config_text(R"({"ports": {"htp": 1}})", "x.json", c),
                    Catch::Contains("x.json: ports.htp: unknown config key"));
  CHECK_THROWS_WITH(apply_config_text(R"({"tls_defaults": {}})", "x.json", c),
                    Catch::Contains("x.json: tls_defaults: unknown config key"));
}

TEST_CASE("HCL config files in -config-file and -config-dir, mixed with JSON in lexical order", "[unit]") {
  hearsay::test::TempDir dir;
  write_file(dir.path / "a.hcl", "node_name = \"from-hcl\"\ndata_dir = \"/d\"\nports { http = 9001 }\n"
                                 "service { name = \"a\" }\nservice { name = \"b\" }\n");
  write_file(dir.path / "b.json", R"({"datacenter": "dc-json"})");
  write_file(dir.path / "c.conf", "datacenter = \"dc-conf\"\n");  // neither suffix: not in the dir
  auto c = parse_agent_command_line({"-config-dir", dir.path.string()}).config;
  CHECK(c.node_name == "from-hcl");
  CHECK(c.http_port == 9001);
  CHECK(c.datacenter == "dc-json");
  REQUIRE(c.services.size() == 2);
  CHECK(c.services[1].name == "b");
  // -config-file takes any name: HCL unless the text is a JSON object.
  auto f = parse_agent_command_line({"-config-file", (dir.path / "c.conf").string(), "-data-dir", "/d"}).config;
  CHECK(f.datacenter == "dc-conf");
  write_file(dir.path / "bad.hcl", "datacenter = \n");
  CHECK(message_of({"-config-file", (dir.path / "bad.hcl").string()}).find("bad.hcl: invalid HCL at line 2") !=
        std::string::npos);
}
