// An Answer turned into libknot record sets once, so serving it again costs a shuffle and the
// copy into the reply, not a catalog walk and dozens of allocations. AnswerCache keeps them per
// (name, type) until the catalog changes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "dns/records.h"

extern "C" {  // libknot's headers do not declare C linkage themselves
#include <libknot/libknot.h>
}

namespace hearsay::dns {

class PreparedAnswer {
 public:
  // `question_name` in lower case: records owned by it are written as a pointer to the
  // question, so replies echo the name as the client spelled it.
  PreparedAnswer(const Answer& answer, const std::string& question_name);

  // One record as a knot_rrset_t whose owner and rdata this object allocated.
  struct Rr {
    knot_rrset_t rrset{};
    bool valid = false;             // false: could not be encoded, and is skipped
    bool owner_is_question = false;
    Rr(const Record& record, const std::string& question_name);
    ~Rr();
    Rr(const Rr&) = delete;
    Rr& operator=(const Rr&) = delete;
  };
  const Answer& meta() const { return meta_; }  // rcode, flags, limits; records left out
  const std::vector<std::unique_ptr<Rr>>& answer() const { return answer_; }
  const std::vector<std::unique_ptr<Rr>>& authority() const { return authority_; }
  const std::vector<std::unique_ptr<Rr>>& additional() const { return additional_; }
  // For SRV answers: the additional records (indexes) that belong to answer i's target.
  const std::vector<std::vector<std::size_t>>& glue_of_answer() const { return glue_of_answer_; }

 private:
  Answer meta_;
  std::vector<std::unique_ptr<Rr>> answer_, authority_, additional_;
  std::vector<std::vector<std::size_t>> glue_of_answer_;
};

// Prepared answers by lower-case name and type, valid for one catalog index: the first lookup
// after a change empties the cache. Bounded: when full, it starts again empty.
class AnswerCache {
 public:
  explicit AnswerCache(std::size_t max_entries = 16384) : max_entries_(max_entries) {}
  std::shared_ptr<const PreparedAnswer> find(const std::string& key, std::uint64_t catalog_index);
  void put(const std::string& key, std::shared_ptr<const PreparedAnswer> answer);
  std::size_t size() const { return entries_.size(); }
  void clear() { entries_.clear(); }  // the resolver's config changed

 private:
  std::size_t max_entries_;
  std::uint64_t index_ = 0;
  std::unordered_map<std::string, std::shared_ptr<const PreparedAnswer>> entries_;
};

}  // namespace hearsay::dns
