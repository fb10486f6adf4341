// libknot glue. The records come prepared (PreparedAnswer) and outlive the packet that
// references them; the reply bytes are copied out before the packet goes.
#include "dns/packet.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <memory>

namespace hearsay::dns {
namespace {

constexpr std::size_t kUdpPlain = 512;
constexpr std::size_t kMaxUdpAnswers = 8;
constexpr std::size_t kMaxTcpAnswers = 4096;
constexpr std::size_t kMaxTcpSrvAnswers = 1024;

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

// Everything libknot allocates while one query is answered comes from this per-thread arena,
// emptied when the next query starts (Knot DNS itself uses a memory pool per query the same
// way): no malloc/free pairs per query. Frees are no-ops; an exhausted arena fails the
// allocation and libknot reports it as an error (a reply we cannot build is dropped).
class QueryArena {
 public:
  // Under AddressSanitizer libknot uses malloc, so the sanitizer sees every buffer on its own.
  knot_mm_t* mm() { return kSanitized ? nullptr : &mm_; }
  void reset() { used_ = 0; }

 private:
  static void* allocate(void* ctx, std::size_t len) {
    auto* self = static_cast<QueryArena*>(ctx);
    const std::size_t aligned = (len + 15) & ~std::size_t{15};
    if (aligned > self->buffer_.size() - self->used_) return nullptr;
    void* at = self->buffer_.data() + self->used_;
    self->used_ += aligned;
    return at;
  }
  static void release(void*) {}

  // 4096 TCP answers fit with room. Not zero-filled (see query_arena): a page costs memory only
  // once an answer has reached it.
  alignas(16) std::array<std::uint8_t, 2 << 20> buffer_;
  std::size_t used_ = 0;
  knot_mm_t mm_{this, &QueryArena::allocate, &QueryArena::release};
};

QueryArena& query_arena() {
  // for_overwrite: default-initialized, so the 2 MiB buffer is not written until used.
  thread_local auto arena = std::make_unique_for_overwrite<QueryArena>();
  return *arena;
}

struct PktDeleter {
  void operator()(knot_pkt_t* p) const { knot_pkt_free(p); }
};
using Pkt = std::unique_ptr<knot_pkt_t, PktDeleter>;

// A header-only reply (FORMERR, NOTIMP) echoing the ID and opcode.
std::vector<std::uint8_t> header_reply(const std::uint8_t* wire, Rcode rcode) {
  std::vector<std::uint8_t> out(wire, wire + KNOT_WIRE_HEADER_SIZE);
  knot_wire_set_qr(out.data());
  knot_wire_clear_aa(out.data());
  knot_wire_clear_tc(out.data());
  knot_wire_clear_ra(out.data());
  knot_wire_clear_ad(out.data());
  knot_wire_set_rcode(out.data(), static_cast<short>(rcode));
  knot_wire_set_qdcount(out.data(), 0);
  knot_wire_set_ancount(out.data(), 0);
  knot_wire_set_nscount(out.data(), 0);
  knot_wire_set_arcount(out.data(), 0);
  return out;
}

// Puts the prepared records into `reply` in a fresh random order when the answer asks for it,
// at most `answer_cap` answers (and answer_limit), each SRV answer followed into Additional by
// its own target's records only. Returns whether answers were left out.
bool put_records(knot_pkt_t* reply, const PreparedAnswer& prepared, std::size_t answer_cap, std::mt19937_64& rng) {
  // `owner_at`: where the owner name already is in the packet (a compression pointer), or 0.
  auto put = [&](const PreparedAnswer::Rr& rr, std::uint16_t owner_at = KNOT_COMPR_HINT_NONE) {
    if (!rr.valid) return true;  // skipped, not a reason to stop
    const std::uint16_t hint = rr.owner_is_question ? std::uint16_t{KNOT_COMPR_HINT_QNAME} : owner_at;
    return knot_pkt_put(reply, hint, &rr.rrset, KNOT_PF_NOTRUNC) == KNOT_EOK;
  };
  // Where the target name of the SRV record just put was written, for its glue's owner.
  auto last_rdata_name_at = [&]() -> std::uint16_t {
    if (reply->rrset_count == 0) return KNOT_COMPR_HINT_NONE;
    return knot_compr_hint(&reply->rr_info[reply->rrset_count - 1], KNOT_COMPR_HINT_RDATA);
  };
  const auto& answers = prepared.answer();
  thread_local std::vector<std::uint16_t> order;  // reused: no allocation per query
  order.resize(answers.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = static_cast<std::uint16_t>(i);
  if (prepared.meta().shuffle) {
    const std::size_t local = std::min(prepared.meta().local_first, order.size());
    std::shuffle(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(local), rng);
    std::shuffle(order.begin() + static_cast<std::ptrdiff_t>(local), order.end(), rng);
  }
  // a_record_limit picks from the shuffled list and is not truncation (Consul applies it first).
  std::size_t wanted = order.size();
  if (prepared.meta().answer_limit > 0) wanted = std::min(wanted, prepared.meta().answer_limit);

  std::size_t kept = 0;
  thread_local std::vector<std::uint16_t> target_at;
  target_at.assign(wanted, KNOT_COMPR_HINT_NONE);
  knot_pkt_begin(reply, KNOT_ANSWER);
  while (kept < wanted && kept < answer_cap && put(*answers[order[kept]])) {
    target_at[kept] = last_rdata_name_at();
    ++kept;
  }
  const bool trimmed = kept < wanted;
  knot_pkt_begin(reply, KNOT_AUTHORITY);
  for (const auto& rr : prepared.authority()) {
    if (!put(*rr)) break;
  }
  knot_pkt_begin(reply, KNOT_ADDITIONAL);
  const auto& additional = prepared.additional();
  if (prepared.meta().is_srv) {
    // Glue for the targets that made it into the answer, once each, in answer order.
    thread_local std::vector<bool> added;
    added.assign(additional.size(), false);
    for (std::size_t k = 0; k < kept; ++k) {
      for (std::size_t j : prepared.glue_of_answer()[order[k]]) {
        if (added[j]) continue;
        added[j] = true;
        // The owner is the SRV target: a pointer to it, as an authoritative server writes it.
        if (!put(*additional[j], target_at[k])) return trimmed;
      }
    }
  } else {
    for (const auto& rr : additional) {
      if (!put(*rr)) break;
    }
  }
  return trimmed;
}

}  // namespace

QueryOutcome answer_query(const std::uint8_t* wire, std::size_t size, bool tcp, const PrepareFn& prepare,
                          std::mt19937_64& rng, const ServeConfig& config, DnsStats& stats) {
  auto reply_with = [](std::vector<std::uint8_t> bytes) {
    return QueryOutcome{QueryOutcome::Action::reply, std::move(bytes)};
  };
  ++stats.queries;
  if (size < KNOT_WIRE_HEADER_SIZE || size > 65535 || knot_wire_get_qr(wire)) {
    ++stats.dropped;  // not a query we can even answer
    return QueryOutcome{};
  }
  // Scratch space for this thread: libknot parses the query in place and writes the reply into
  // a buffer we give it; neither needs a fresh (zeroed) allocation per query.
  thread_local std::array<std::uint8_t, 65535> query_copy;
  thread_local std::array<std::uint8_t, 65535> reply_buffer;
  std::memcpy(query_copy.data(), wire, size);
  QueryArena& arena = query_arena();
  arena.reset();
  Pkt query(knot_pkt_new(query_copy.data(), static_cast<std::uint16_t>(size), arena.mm()));
  if (!query) return QueryOutcome{};
  if (knot_wire_get_opcode(wire) != KNOT_OPCODE_QUERY) {
    ++stats.notimp;
    return reply_with(header_reply(wire, Rcode::notimp));
  }
  if (knot_wire_get_qdcount(wire) != 1 || knot_pkt_parse(query.get(), 0) != KNOT_EOK) {
    ++stats.formerr;
    return reply_with(header_reply(wire, Rcode::formerr));
  }
  const std::uint16_t qtype = knot_pkt_qtype(query.get());
  const std::uint16_t qclass = knot_pkt_qclass(query.get());
  if (qtype == KNOT_RRTYPE_AXFR || qtype == KNOT_RRTYPE_IXFR) {
    ++stats.notimp;
    return reply_with(header_reply(wire, Rcode::notimp));
  }

  char name_buf[KNOT_DNAME_TXT_MAXLEN + 1];
  if (!knot_dname_to_str(name_buf, knot_pkt_wire_qname(query.get()), sizeof(name_buf))) {
    ++stats.formerr;
    return reply_with(header_reply(wire, Rcode::formerr));
  }
  std::shared_ptr<const PreparedAnswer> prepared;
  if (qclass == KNOT_CLASS_IN || qclass == KNOT_CLASS_ANY) {
    // Names are case-insensitive: prepare (and cache) by the lower-case name.
    for (char* c = name_buf; *c; ++c) *c = static_cast<char>(std::tolower(static_cast<unsigned char>(*c)));
    prepared = prepare(Question{name_buf, static_cast<RType>(qtype)});
  }
  const bool in_domain = prepared && prepared->meta().in_domain;
  if (!in_domain) {
    if (config.recursion_available && (qclass == KNOT_CLASS_IN || qclass == KNOT_CLASS_ANY)) {
      ++stats.forwarded;
      return QueryOutcome{QueryOutcome::Action::forward, {}};
    }
    prepared = nullptr;  // no recursors: REFUSED with RA=0, as Consul (F7)
  }
  const Rcode rcode = prepared ? prepared->meta().rcode : Rcode::refused;
  const bool is_srv = prepared && prepared->meta().is_srv;

  // Size budget: TCP 64 KiB; UDP 512 unless the query's EDNS allows more.
  const bool edns = knot_pkt_has_edns(query.get());
  const std::uint16_t payload = edns ? knot_edns_get_payload(query.get()->opt_rr) : 0;
  std::size_t limit = tcp ? 65535 : std::clamp<std::size_t>(payload, kUdpPlain, config.max_edns_payload);
  std::size_t answer_cap = tcp ? (is_srv ? kMaxTcpSrvAnswers : kMaxTcpAnswers)
                               : (payload <= kUdpPlain ? std::min(config.udp_answer_limit, kMaxUdpAnswers) : SIZE_MAX);

  Pkt reply(knot_pkt_new(reply_buffer.data(), static_cast<std::uint16_t>(limit), arena.mm()));
  if (!reply || knot_pkt_init_response(reply.get(), query.get()) != KNOT_EOK) {
    ++stats.formerr;
    return reply_with(header_reply(wire, Rcode::formerr));
  }
  knot_rrset_t opt{};
  if (edns) {
    knot_edns_init(&opt, std::min<std::uint16_t>(std::max<std::uint16_t>(payload, kUdpPlain), config.max_edns_payload),
                   0, 0, arena.mm());
    knot_pkt_reserve(reply.get(), static_cast<std::uint16_t>(knot_edns_wire_size(&opt)));
  }

  bool trimmed = false;
  if (prepared) trimmed = put_records(reply.get(), *prepared, answer_cap, rng);
  if (edns) {
    // The space kept for OPT is given back just before OPT goes in.
    knot_pkt_reclaim(reply.get(), static_cast<std::uint16_t>(knot_edns_wire_size(&opt)));
    if (knot_pkt_put(reply.get(), KNOT_COMPR_HINT_NONE, &opt, KNOT_PF_NOTRUNC) != KNOT_EOK) {
      knot_rrset_clear(&opt, arena.mm());
      return QueryOutcome{};
    }
  }

  std::uint8_t* head = reply->wire;
  if (in_domain) knot_wire_set_aa(head);
  if (config.recursion_available) knot_wire_set_ra(head);
  else knot_wire_clear_ra(head);
  knot_wire_clear_ad(head);
  knot_wire_set_rcode(head, static_cast<short>(rcode));
  knot_wire_clear_tc(head);
  if (trimmed) {
    ++stats.trimmed;
    if (config.enable_truncate) knot_wire_set_tc(head);
  }
  if (rcode == Rcode::nxdomain) ++stats.nxdomain;
  if (rcode == Rcode::refused) ++stats.refused;
  std::vector<std::uint8_t> bytes(reply->wire, reply->wire + reply->size);
  knot_rrset_clear(&opt, arena.mm());  // a no-op in the arena; frees under ASan
  return reply_with(std::move(bytes));
}

std::optional<std::vector<std::uint8_t>> servfail_reply(const std::uint8_t* wire, std::size_t size) {
  if (size < KNOT_WIRE_HEADER_SIZE || size > 65535) return std::nullopt;
  std::vector<std::uint8_t> copy(wire, wire + size);
  Pkt query(knot_pkt_new(copy.data(), static_cast<std::uint16_t>(copy.size()), nullptr));
  if (!query || knot_pkt_parse(query.get(), 0) != KNOT_EOK) return std::nullopt;
  std::vector<std::uint8_t> out(kUdpPlain);
  Pkt reply(knot_pkt_new(out.data(), static_cast<std::uint16_t>(out.size()), nullptr));
  if (!reply || knot_pkt_init_response(reply.get(), query.get()) != KNOT_EOK) return std::nullopt;
  knot_wire_set_ra(reply->wire);
  knot_wire_set_rcode(reply->wire, static_cast<short>(Rcode::servfail));
  return std::vector<std::uint8_t>(reply->wire, reply->wire + reply->size);
}

}  // namespace hearsay::dns
