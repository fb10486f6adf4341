// The gossip keyring on disk, where Consul keeps it: <data-dir>/serf/local.keyring, a JSON array
// of base64 keys, primary first. Written after every change, so a rotation survives a restart.
#pragma once

#include <string>

#include "gossip/wire/keyring.h"

namespace hearsay::agent {

std::string keyring_path(const std::string& data_dir);

// The keyring the agent starts with. An existing file wins over -encrypt, as in Consul (a
// warning says so when they differ); otherwise -encrypt (base64, may be empty) starts a new ring,
// which is written out. Throws ConfigError for a bad key or an unreadable file.
gossip::Keyring load_or_create_keyring(const std::string& data_dir, const std::string& encrypt);

// Atomic replace (temporary file, fsync, rename), mode 0600. Throws std::runtime_error.
void save_keyring(const std::string& data_dir, const gossip::Keyring& keyring);

}  // namespace hearsay::agent
