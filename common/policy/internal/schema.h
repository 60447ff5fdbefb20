#pragma once

// The asb.v1.Case schema as a tree of field nodes, built once from the descriptors. ISP field
// paths resolve to node ids here at load; Apply() walks node ids, never path strings.

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"

namespace asb::policy::internal {

// What GENERALISE does to a field, explicitly or inherited from an enclosing Address/Location.
enum class GenKind {
  kNone,              // no generaliser: dropped under an inherited GENERALISE
  kAgeBand,           // Person.date_of_birth -> sibling age_band
  kPostcodeDistrict,  // a string `postcode` -> outward code in sibling postcode_district (or in
                      // place if the message has none)
  kKeep,              // already coarse (ward, LSOA, postcode_district, age_band): kept as is
  kDate,              // google.protobuf.Timestamp -> truncated to the UTC date
  kDescend,           // Address or Location: generalised field by field
};

// Which kind of fact an element of a repeated field is, for ISP source conditions and person
// selectors: each fact has its own source agency (and a person, their own predicates).
enum class FactKind { kNone, kPerson, kIncident, kOrder, kBreach };

struct SchemaNode {
  int id = 0;
  int parent = -1;                                           // -1 for the root (Case itself)
  const google::protobuf::FieldDescriptor* field = nullptr;  // null for the root
  std::string path;                                          // "people.address.postcode"
  std::vector<int> children;  // one per field of a message type (not Timestamp)
  bool leaf = false;          // scalar, enum, string or Timestamp
  bool is_string = false;     // a string leaf (may be pseudonymised)
  bool is_people = false;     // Case.people (person_roles filtering applies to its elements)
  // Free text (summary, risk_notes, descriptions, conditions …): only a grant naming this path
  // reveals it; enclosing paths' SHOW, GENERALISE and PSEUDONYMISE do not reach it.
  bool free_text = false;
  std::vector<int> free_text_below;  // free-text nodes strictly below this one
  FactKind fact = FactKind::kNone;   // for people, incidents, orders, orders.breaches
  bool facts_below = false;          // some node strictly below is a fact list
  GenKind gen = GenKind::kNone;
  bool explicit_generalise_ok = false;  // may carry an explicit GENERALISE grant
  // For kAgeBand: Person.age_band; for kPostcodeDistrict: Address.postcode_district (or null).
  const google::protobuf::FieldDescriptor* gen_target = nullptr;
  // For a singular string field of a generated asb.v1 message: its typed accessors (no
  // reflection, and assigning into the destination reuses a cleared string's capacity). Null
  // for fields not in the table: use reflection.
  const std::string& (*get_string)(const google::protobuf::Message&) = nullptr;
  std::string* (*mutable_string)(google::protobuf::Message*) = nullptr;
  // For an enum, bool or Timestamp field of a generated asb.v1 message: copies the value from
  // src to dst if it is set, and says whether it was. Null: use reflection.
  bool (*copy_leaf)(const google::protobuf::Message& src, google::protobuf::Message* dst) = nullptr;
  // The same fields read without reflection: an enum's or bool's value (0 when absent), and a
  // Timestamp (null when absent). Exactly one is set where copy_leaf is.
  int64_t (*get_int)(const google::protobuf::Message&) = nullptr;
  const google::protobuf::Timestamp* (*get_timestamp)(const google::protobuf::Message&) = nullptr;
};

class Schema {
 public:
  // The process-wide schema of asb.v1.Case.
  static const Schema& Get();

  const std::vector<SchemaNode>& nodes() const { return nodes_; }
  const SchemaNode& node(int id) const { return nodes_[id]; }
  // Node id of a dotted path, or -1 with *error set to a sentence naming the bad part.
  int Resolve(const std::string& path, std::string* error) const;
  // The free-text paths, in schema order ("summary", "risk_notes", …).
  const std::vector<std::string>& free_text_paths() const { return free_text_paths_; }

 private:
  Schema();
  int Add(int parent, const google::protobuf::FieldDescriptor* field, const std::string& path);

  std::vector<SchemaNode> nodes_;
  absl::flat_hash_map<std::string, int> by_path_;
  std::vector<std::string> free_text_paths_;
};

}  // namespace asb::policy::internal
