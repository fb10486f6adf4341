// DNS answers as plain data: what the resolver decides, before libknot turns it into wire
// format (packet.h). Keeping records abstract lets the resolver be tested without any wire code.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace hearsay::dns {

// RR types we answer (RFC 1035, 2782, 3596).
enum class RType : std::uint16_t { A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, TXT = 16, AAAA = 28, SRV = 33, ANY = 255 };
enum class Rcode : std::uint8_t { noerror = 0, formerr = 1, servfail = 2, nxdomain = 3, notimp = 4, refused = 5 };

struct Soa {
  std::string mname, rname;
  std::uint32_t serial = 0, refresh = 3600, retry = 600, expire = 86400, minimum = 0;
};

struct Srv {
  std::uint16_t priority = 1, weight = 1, port = 0;
  std::string target;  // absolute name
};

struct Record {
  std::string owner;  // absolute name, as it goes on the wire
  RType type = RType::A;
  std::uint32_t ttl = 0;
  std::vector<std::uint8_t> address;  // A: 4 bytes, AAAA: 16
  std::string target;                 // NS, CNAME, PTR
  std::vector<std::string> texts;     // TXT character-strings
  Srv srv;
  Soa soa;
};

struct Answer {
  Rcode rcode = Rcode::noerror;
  std::vector<Record> answer;
  std::vector<Record> authority;
  std::vector<Record> additional;
  bool is_srv = false;     // SRV answers have their own caps when trimming
  bool in_domain = false;  // authoritative (AA) answer for our domain
  bool shuffle = false;    // service answers: a new random order for every query
  std::size_t answer_limit = 0;  // keep this many answers after shuffling (a_record_limit); 0: all
  // The first `local_first` answers are this agent's own instances (ResolverConfig::local_first):
  // shuffled among themselves and kept ahead of the others, which are shuffled after them.
  std::size_t local_first = 0;
};

}  // namespace hearsay::dns
