// HTTPS settings (issue 18): Consul's tls { defaults, https } keys, the legacy top-level ones and
// ports.https / -https-port, and the context they make (https_tls.h), with its errors.
#include <catch2/catch.hpp>

#include <fstream>

#include "agent/config_file.h"
#include "agent/https_tls.h"
#include "agent/options.h"
#include "loop/tls_context.h"
#include "../temp_dir.h"

using namespace hearsay::agent;

namespace {
void write_file(const std::filesystem::path& path, const std::string& text) { std::ofstream(path) << text; }
}  // namespace

TEST_CASE("tls keys: defaults, https overrides, legacy top-level keys", "[unit]") {
  AgentConfig c;
  CHECK(c.https_port == -1);  // Consul's default: off
  apply_config_text(R"({"ports": {"https": 8501},
                        "tls": {"defaults": {"ca_file": "ca.pem", "cert_file": "d.pem", "key_file": "d.key",
                                             "verify_incoming": false, "tls_min_version": "TLSv1_2"},
                                "https": {"cert_file": "h.pem", "key_file": "h.key", "verify_incoming": true},
                                "internal_rpc": {"verify_server_hostname": true}}})",
                    "tls.json", c);
  CHECK(c.https_port == 8501);
  TlsFiles f = effective_https_tls(c);
  CHECK(f.ca_file == "ca.pem");
  CHECK(f.cert_file == "h.pem");  // tls.https wins over tls.defaults, whatever the order
  CHECK(f.key_file == "h.key");
  CHECK(f.verify_incoming == true);

  AgentConfig legacy;
  apply_config_text(R"({"ca_file": "ca.pem", "cert_file": "c.pem", "key_file": "c.key", "verify_incoming": true,
                        "verify_outgoing": true})",
                    "legacy.json", legacy);
  f = effective_https_tls(legacy);
  CHECK(f.ca_file == "ca.pem");
  CHECK(f.cert_file == "c.pem");
  CHECK(f.verify_incoming == true);

  AgentConfig bad;
  CHECK_THROWS_WITH(apply_config_text(R"({"tls": {"defaults": {"nonsense": 1}}})", "x.json", bad),
                    Catch::Contains("tls.defaults.nonsense: unknown config key"));
  CHECK_THROWS_WITH(apply_config_text(R"({"tls": {"elsewhere": {}}})", "x.json", bad),
                    Catch::Contains("tls.elsewhere: unknown config key"));
  CHECK_THROWS_WITH(apply_config_text(R"({"tls": {"defaults": {"verify_incoming": "yes"}}})", "x.json", bad),
                    Catch::Contains("tls.defaults.verify_incoming: must be true or false"));
  CHECK(parse_agent_command_line({"-dev", "-https-port", "8443"}).config.https_port == 8443);
}

TEST_CASE("the HTTPS context loads its files and names what is wrong", "[unit]") {
  hearsay::test::TempDir dir;
  std::string error;
  auto id = hearsay::loop::generate_self_signed({"localhost"}, {"127.0.0.1"}, 30, error);
  REQUIRE(id);
  auto other = hearsay::loop::generate_self_signed({"other"}, {}, 30, error);
  REQUIRE(other);
  write_file(dir.path / "cert.pem", id->cert_pem);
  write_file(dir.path / "key.pem", id->key_pem);
  write_file(dir.path / "other.key", other->key_pem);
  write_file(dir.path / "ca.pem", other->cert_pem);

  AgentConfig c;
  c.https_port = 8501;
  c.tls_defaults.cert_file = (dir.path / "cert.pem").string();
  c.tls_defaults.key_file = (dir.path / "key.pem").string();
  auto ctx = https_tls_context(c, error);
  INFO(error);
  REQUIRE(ctx);
  CHECK(ctx->fingerprint() == *hearsay::loop::certificate_fingerprint(id->cert_pem, error));

  c.tls_defaults.verify_incoming = true;
  CHECK(!https_tls_context(c, error));
  CHECK_THAT(error, Catch::Contains("verify_incoming needs a CA"));
  c.tls_defaults.ca_file = (dir.path / "ca.pem").string();
  CHECK(https_tls_context(c, error));

  c.tls_https.key_file = (dir.path / "other.key").string();
  CHECK(!https_tls_context(c, error));
  CHECK_THAT(error, Catch::Contains("does not belong") && Catch::Contains("cert.pem"));
  c.tls_https.key_file = (dir.path / "missing.key").string();
  CHECK(!https_tls_context(c, error));
  CHECK_THAT(error, Catch::Contains("missing.key"));

  AgentConfig none;
  none.https_port = 8501;
  CHECK(!https_tls_context(none, error));
  CHECK_THAT(error, Catch::Contains("cert_file"));
  none.dev = true;  // -dev: a certificate is made
  CHECK(https_tls_context(none, error));
}
