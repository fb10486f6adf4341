// Reading and writing <data-dir>/serf/local.keyring (Consul's file): a temp file, fsync and rename,
// so a crash never leaves half a keyring (keyring_file.h).
#include "agent/keyring_file.h"

#include <fcntl.h>
#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include "agent/config.h"

namespace hearsay::agent {

std::string keyring_path(const std::string& data_dir) { return data_dir + "/serf/local.keyring"; }

namespace {

gossip::Keyring read_keyring_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) throw ConfigError("cannot read the keyring " + path);
  rapidjson::Document doc;
  doc.Parse(text.str().c_str());
  if (doc.HasParseError() || !doc.IsArray()) throw ConfigError(path + ": not a JSON array of base64 keys");
  gossip::Keyring ring;
  for (const auto& v : doc.GetArray()) {
    std::string error;
    if (!v.IsString()) throw ConfigError(path + ": every key must be a base64 string");
    auto key = gossip::decode_key(v.GetString(), error);
    if (!key) throw ConfigError(path + ": " + error);
    ring.add(*key);
  }
  return ring;
}

}  // namespace

gossip::Keyring load_or_create_keyring(const std::string& data_dir, const std::string& encrypt) {
  std::optional<gossip::Bytes> flag_key;
  if (!encrypt.empty()) {
    std::string error;
    flag_key = gossip::decode_key(encrypt, error);
    if (!flag_key) throw ConfigError("-encrypt: " + error);
  }
  const std::string path = keyring_path(data_dir);
  if (std::filesystem::exists(path)) {
    gossip::Keyring ring = read_keyring_file(path);
    if (flag_key && ring.enabled() && ring.primary() != *flag_key) {
      spdlog::warn("keyring {} exists: -encrypt is ignored (as Consul does); use the keyring commands to rotate", path);
    }
    return ring;
  }
  gossip::Keyring ring;
  if (flag_key) {
    ring.add(*flag_key);
    save_keyring(data_dir, ring);
  }
  return ring;
}

void save_keyring(const std::string& data_dir, const gossip::Keyring& keyring) {
  const std::string path = keyring_path(data_dir);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  rapidjson::StringBuffer buf;
  rapidjson::Writer<rapidjson::StringBuffer> w(buf);
  w.StartArray();
  for (const gossip::Bytes& key : keyring.keys()) w.String(gossip::encode_key(key));
  w.EndArray();
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot write " + tmp);
  const bool written = ::write(fd, buf.GetString(), buf.GetSize()) == static_cast<ssize_t>(buf.GetSize()) &&
                       ::fsync(fd) == 0;
  ::close(fd);
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) throw std::runtime_error("cannot write " + path);
}

}  // namespace hearsay::agent
