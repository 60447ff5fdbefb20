#pragma once

// asb-sharing's answers from the depersonalised aggregates (services/sharing/aggregates.h):
// emerging hot spots and the indicators of a period, for partner systems and `asbctl hotspots`
// / `asbctl report indicators`. No sockets, no threads. The ISP's aggregates block decides
// which agencies may ask and the small-cell threshold; every answer (and every refusal) is
// recorded on the "audit" log as a CONSULTATION (ACCESS_REFUSED) with the request's OnBehalfOf,
// in the caller's batch, before it is answered.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "asb/v1/intelligence.pb.h"
#include "common/policy/policy.h"
#include "common/store/store.h"
#include "common/stream/log.h"
#include "services/sharing/aggregates.h"

namespace asb::sharing {

// Owns nothing; the aggregates and the log must outlive it. Thread-compatible (loop thread).
class IntelligenceHandler {
 public:
  IntelligenceHandler(const Aggregates* aggregates, stream::Log* audit,
                      std::function<absl::Time()> clock);

  // The ISP in force (its aggregates block). Until one is set, queries return kUnavailable.
  void SetPolicy(std::shared_ptr<const policy::Policy> policy) { policy_ = std::move(policy); }

  // Emerging hot spots of request.month (services/sharing/hotspots.h states the test).
  // On success appends a CONSULTATION audit record to `batch`: write it before replying.
  // Errors: kInvalidArgument naming the field (on_behalf_of.officer_id / .reason missing, a bad
  // month, category or limit); kPermissionDenied if the ISP does not let `agency` ask for
  // aggregates (an ACCESS_REFUSED record is added to `batch`: write it too); kUnavailable (no
  // policy, store error).
  absl::StatusOr<asb::v1::HotspotsResponse> Hotspots(const std::string& principal,
                                                     const std::string& agency,
                                                     const asb::v1::HotspotsRequest& request,
                                                     store::Batch* batch);

  // The indicators of from_month..to_month. Audited and refused as Hotspots.
  absl::StatusOr<asb::v1::IndicatorsResponse> Indicators(const std::string& principal,
                                                         const std::string& agency,
                                                         const asb::v1::IndicatorsRequest& request,
                                                         store::Batch* batch);

  // Answers given since construction.
  uint64_t consultations() const { return consultations_; }

 private:
  // Checks the OnBehalfOf and the ISP's permission; on refusal adds ACCESS_REFUSED to `batch`.
  absl::Status Admit(const std::string& principal, const std::string& agency,
                     const asb::v1::OnBehalfOf& on_behalf_of, const std::string& what,
                     const policy::Policy& policy, store::Batch* batch);
  void Record(asb::v1::AuditKind kind, const std::string& principal, const std::string& agency,
              const asb::v1::OnBehalfOf& on_behalf_of, const std::string& detail,
              const policy::Policy& policy, store::Batch* batch);
  uint32_t SuppressBelow(const policy::Policy& policy) const;
  // The readable name of an area.
  std::string NameOf(asb::v1::AreaLevel level, const std::string& area) const;

  const Aggregates* aggregates_;
  stream::Log* audit_;
  std::function<absl::Time()> clock_;
  std::shared_ptr<const policy::Policy> policy_;
  uint64_t consultations_ = 0;
};

}  // namespace asb::sharing
