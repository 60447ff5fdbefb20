#pragma once

// Repeat victims across cases (asb-sharing). A victim is matched by keyed subject keys - the
// partnership's pseudonymisation key (HMAC-SHA256, Policy::SubjectKey) over the person_id, over
// the normalised name and date of birth, and over the home address's UPRN - so the index holds
// no name, date of birth or UPRN, and matching never shows one agency's data to another: who is
// told what is decided by the ISP (SharingHandler: a link suggestion to each lead agency only
// where the ISP lets it see the other case; otherwise the coordinator is told a link exists).
//
// The index: column family "victim_index", match key '\0' case_id '\0' person_id -> MatchBasis
// (one byte), sealed under the case's data key. Within a batch, entries added earlier in the same
// batch are seen (kept until the batch commits or aborts). Thread-compatible.

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/case.pb.h"
#include "asb/v1/victims.pb.h"
#include "common/policy/policy.h"
#include "common/store/store.h"

namespace asb::sharing {

// One match key of a person.
struct MatchKey {
  std::string key;
  asb::v1::MatchBasis basis = asb::v1::MATCH_BASIS_UNSPECIFIED;
};

// The person's match keys: person_id always; the normalised name (letters and digits, lower
// case, one space between given and family name) with the date of birth if both are given; the
// UPRN if given.
std::vector<MatchKey> MatchKeysOf(const policy::Policy& policy, const asb::v1::Person& person);

// "Mary-Jane  O'Neil" -> "maryjane oneil".
std::string NormaliseName(const std::string& given, const std::string& family);

class VictimIndex {
 public:
  explicit VictimIndex(store::Store* store);

  // An entry of the index.
  struct Entry {
    std::string key;
    std::string case_id;
    std::string person_id;
    asb::v1::MatchBasis basis = asb::v1::MATCH_BASIS_UNSPECIFIED;
  };

  // Adds the person's keys in `batch` and returns the entries of OTHER cases that share one of
  // them, one per (case, person), the strongest basis first (person id, name and date of birth,
  // UPRN). kUnavailable / kDataLoss for a store error (nothing added).
  absl::StatusOr<std::vector<Entry>> AddAndMatch(const std::string& case_id,
                                                 const std::string& person_id,
                                                 const std::vector<MatchKey>& keys,
                                                 store::Batch* batch);

  // Every committed key shared by at least two cases, with its entries (key order).
  absl::Status ForEachShared(const std::function<bool(const std::vector<Entry>&)>& fn) const;

  // Deletes, in `batch`, every entry of these cases (retention deletes the cases: their match
  // keys, case and person ids must not outlive them in the index's keys). One scan of the index.
  // kUnavailable / kDataLoss for a store error.
  absl::Status DeleteCases(const absl::flat_hash_set<std::string>& case_ids, store::Batch* batch);

 private:
  void Bind(store::Batch* batch);
  absl::StatusOr<std::vector<Entry>> Lookup(const std::string& key) const;

  store::Store* store_;
  std::map<std::string, std::vector<Entry>> dirty_;  // key -> entries added in the bound batch
  store::Batch* bound_ = nullptr;
  uint64_t generation_ = 0;
};

}  // namespace asb::sharing
