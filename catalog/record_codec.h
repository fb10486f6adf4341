// msgpack encoding of catalog records: the row body in SQLite and, later, the value that gossip
// replicates. Maps keyed by short field names so old readers skip fields they do not know.
// Decoding takes untrusted bytes: sizes are capped, types checked, and failure is a value.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "catalog/model.h"

namespace hearsay::catalog {

std::string encode_record(const Node& node);
std::string encode_record(const Service& service);
std::string encode_record(const Check& check);

// nullopt for anything that is not a well-formed record of that kind.
std::optional<Node> decode_node(std::string_view bytes);
std::optional<Service> decode_service(std::string_view bytes);
std::optional<Check> decode_check(std::string_view bytes);

// A record body may not exceed this (a service with 64 meta pairs of 512 bytes fits easily).
inline constexpr std::size_t kMaxRecordBytes = 256 * 1024;

}  // namespace hearsay::catalog
