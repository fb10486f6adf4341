// Writes the seed corpus of remote_frame_fuzz (tests/fuzz/corpus/remote_frame/): one valid frame
// of each kind, and streams of frames as sessions carry them (replication messages of each kind
// inside). Run once by hand after changing the frame format:
//   build/tests/fuzz/remote_frame_corpus_gen tests/fuzz/corpus/remote_frame
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "gossip/replication/replication_messages.h"
#include "remote/frame.h"

using namespace hearsay::remote;
using hearsay::gossip::encode;
using hearsay::gossip::OwnerBlock;
using hearsay::gossip::OwnerMark;
using hearsay::gossip::ReplicaEntry;
using hearsay::gossip::ReplicationMessage;

namespace {

void write(const std::filesystem::path& dir, const std::string& name, const std::vector<Frame>& frames) {
  Bytes bytes;
  for (const Frame& f : frames) {
    const Bytes b = encode_frame(f);
    bytes.insert(bytes.end(), b.begin(), b.end());
  }
  std::ofstream out(dir / name, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

ReplicaEntry entry(const std::string& owner, const std::string& key, std::uint64_t version, bool deleted = false) {
  return ReplicaEntry{owner, key, 1, version, version - 1, deleted, deleted ? Bytes{} : Bytes{'v', '1'}};
}

ReplicationFrame replication(const ReplicationMessage& m, std::uint64_t stream = 0, bool wants_reply = false,
                             std::uint64_t reply_to = 0) {
  return ReplicationFrame{stream, wants_reply, reply_to, encode(m)};
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir(argv[1]);
  std::filesystem::create_directories(dir);
  const ReplicationMessage broadcast{ReplicationMessage::Kind::broadcast, "laptop", {entry("laptop", "node/laptop", 1),
                                     entry("laptop", "svc/dev-web", 2), entry("lan-1", "node/lan-1", 9)}, {}, {}};
  const ReplicationMessage request{ReplicationMessage::Kind::sync_request, "laptop", {},
                                   {OwnerMark{"laptop", 1, 2, 77}, OwnerMark{"lan-1", 1, 9, 5}}, {}};
  const ReplicationMessage reply{ReplicationMessage::Kind::sync_reply, "relay", {}, {OwnerMark{"lan-1", 1, 10, 6}},
                                 {OwnerBlock{OwnerMark{"lan-1", 1, 10, 6}, false, {entry("lan-1", "svc/web", 10)}}}};
  const ReplicationMessage push{ReplicationMessage::Kind::push, "laptop", {}, {},
                                {OwnerBlock{OwnerMark{"laptop", 1, 3, 8}, true,
                                            {entry("laptop", "node/laptop", 1), entry("laptop", "svc/dev-web", 3, true)}},
                                 OwnerBlock{OwnerMark{"lan-2", 1, 4, 1}, false, {entry("lan-2", "node/lan-2", 4)}}}};
  write(dir, "hello", {Hello{kProtocolVersion, "laptop", "0b6f0a2e-1111-4222-8333-444455556666", "token", 1765000000000000, 1}});
  write(dir, "welcome", {Welcome{"relay-a", 42, 2000}});
  write(dir, "refuse", {Refuse{"unknown token", false}});
  write(dir, "replication_broadcast", {replication(broadcast)});
  write(dir, "replication_sync_request", {replication(request, 3, true)});
  write(dir, "replication_sync_reply", {replication(reply, 0, false, 3)});
  write(dir, "replication_push", {replication(push, 4)});
  write(dir, "ack", {Ack{1, 3}});
  write(dir, "ping", {Ping{123456}});
  write(dir, "pong", {Pong{123456}});
  write(dir, "goodbye", {Goodbye{}});
  write(dir, "session_up", {Ping{1}, replication(broadcast), replication(request, 3, true), replication(push, 4),
                            Pong{2}, Goodbye{}});
  write(dir, "session_down", {Welcome{"relay-a", 42, 2000}, replication(broadcast), replication(reply, 0, false, 3),
                              Ack{1, 3}, Ping{5}});
  write(dir, "second_hello", {Ping{1}, Hello{kProtocolVersion, "laptop", "id", "token", 1, 2}});
  return 0;
}
