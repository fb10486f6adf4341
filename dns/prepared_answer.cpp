// Record data to RFC 1035 wire rdata (names uncompressed inside rdata; libknot compresses the
// whole message when the reply is written).
#include "dns/prepared_answer.h"

#include <algorithm>
#include <cctype>

namespace hearsay::dns {
namespace {

void append_dname(std::vector<std::uint8_t>& out, const std::string& text) {
  knot_dname_t* d = knot_dname_from_str_alloc(text.c_str());
  if (!d) return;
  out.insert(out.end(), d, d + knot_dname_size(d));
  knot_dname_free(d, nullptr);
}

void append_u16(std::vector<std::uint8_t>& out, std::uint16_t v) {
  out.push_back(static_cast<std::uint8_t>(v >> 8));
  out.push_back(static_cast<std::uint8_t>(v & 0xff));
}

void append_u32(std::vector<std::uint8_t>& out, std::uint32_t v) {
  append_u16(out, static_cast<std::uint16_t>(v >> 16));
  append_u16(out, static_cast<std::uint16_t>(v & 0xffff));
}

std::vector<std::uint8_t> rdata_of(const Record& r) {
  std::vector<std::uint8_t> out;
  switch (r.type) {
    case RType::A:
    case RType::AAAA: out = r.address; break;
    case RType::NS:
    case RType::CNAME:
    case RType::PTR: append_dname(out, r.target); break;
    case RType::SRV:
      append_u16(out, r.srv.priority);
      append_u16(out, r.srv.weight);
      append_u16(out, r.srv.port);
      append_dname(out, r.srv.target);
      break;
    case RType::TXT:
      // Character-strings of at most 255 bytes; a longer text is split, an empty one kept.
      for (const std::string& text : r.texts) {
        std::size_t at = 0;
        do {
          std::size_t n = std::min<std::size_t>(255, text.size() - at);
          out.push_back(static_cast<std::uint8_t>(n));
          out.insert(out.end(), text.begin() + static_cast<long>(at), text.begin() + static_cast<long>(at + n));
          at += n;
        } while (at < text.size());
      }
      break;
    case RType::SOA:
      append_dname(out, r.soa.mname);
      append_dname(out, r.soa.rname);
      for (std::uint32_t v : {r.soa.serial, r.soa.refresh, r.soa.retry, r.soa.expire, r.soa.minimum}) append_u32(out, v);
      break;
    case RType::ANY: break;
  }
  return out;
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

}  // namespace

PreparedAnswer::Rr::Rr(const Record& record, const std::string& question_name) {
  owner_is_question = lower(record.owner) == question_name;
  knot_dname_t* owner = knot_dname_from_str_alloc(record.owner.c_str());
  if (!owner) return;
  knot_rrset_init(&rrset, owner, static_cast<std::uint16_t>(record.type), KNOT_CLASS_IN, record.ttl);
  std::vector<std::uint8_t> data = rdata_of(record);
  valid = data.size() <= 65535 &&
          knot_rrset_add_rdata(&rrset, data.data(), static_cast<std::uint16_t>(data.size()), nullptr) == KNOT_EOK;
}

PreparedAnswer::Rr::~Rr() { knot_rrset_clear(&rrset, nullptr); }

PreparedAnswer::PreparedAnswer(const Answer& answer, const std::string& question_name) {
  meta_.rcode = answer.rcode;
  meta_.is_srv = answer.is_srv;
  meta_.in_domain = answer.in_domain;
  meta_.shuffle = answer.shuffle;
  meta_.answer_limit = answer.answer_limit;
  meta_.local_first = answer.local_first;
  for (const Record& r : answer.answer) answer_.push_back(std::make_unique<Rr>(r, question_name));
  for (const Record& r : answer.authority) authority_.push_back(std::make_unique<Rr>(r, question_name));
  for (const Record& r : answer.additional) additional_.push_back(std::make_unique<Rr>(r, question_name));
  if (answer.is_srv) {
    glue_of_answer_.resize(answer.answer.size());
    for (std::size_t i = 0; i < answer.answer.size(); ++i) {
      for (std::size_t j = 0; j < answer.additional.size(); ++j) {
        if (answer.additional[j].owner == answer.answer[i].srv.target) glue_of_answer_[i].push_back(j);
      }
    }
  }
}

std::shared_ptr<const PreparedAnswer> AnswerCache::find(const std::string& key, std::uint64_t catalog_index) {
  if (catalog_index != index_) {
    entries_.clear();
    index_ = catalog_index;
    return nullptr;
  }
  auto it = entries_.find(key);
  return it == entries_.end() ? nullptr : it->second;
}

void AnswerCache::put(const std::string& key, std::shared_ptr<const PreparedAnswer> answer) {
  if (entries_.size() >= max_entries_) entries_.clear();
  entries_[key] = std::move(answer);
}

}  // namespace hearsay::dns
