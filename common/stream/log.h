#pragma once

// A durable log: one named stream of asb.v1.Envelope records with dense sequence numbers from
// 1, kept in the owning daemon's Store (column family "log.<name>", key = EncodeSeq(seq)).
// Appends join the caller's Batch, so a record and the effects that produced it commit
// together; the head moves only when the batch is durably written.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "asb/v1/envelope.pb.h"
#include "common/store/store.h"

namespace asb::stream {

// Column family name for stream `name`; list it in StoreOptions.column_families.
std::string LogColumnFamily(const std::string& name);

class Log {
 public:
  // Opens stream `name` of `store` and reads its head. kFailedPrecondition unless
  // LogColumnFamily(name) was configured in the store; kDataLoss for corrupt metadata.
  // `producer` is the daemon name stamped on each envelope.
  static absl::StatusOr<std::unique_ptr<Log>> Open(store::Store* store, std::string name,
                                                   std::string producer);

  // Assigns the next sequence number to `envelope`, stamps seq, event_id
  // ("<producer>/<name>/<seq>"), produced_at (if unset) and producer, and adds it to `batch`.
  // Returns the sequence number. The head advances when the batch commits; if the write fails
  // (or the batch is dropped unwritten) the sequence number is reused. Write one batch with
  // appends to this log before appending to another.
  uint64_t Append(store::Batch* batch, asb::v1::Envelope* envelope);
  // The same with the payload already serialised (e.g. by policy::Policy::ApplyEncoded):
  // `payload` is the encoding of a message for the envelope's field `payload_field` (one of the
  // payload oneof's numbers), which `envelope` leaves unset.
  uint64_t AppendEncoded(store::Batch* batch, asb::v1::Envelope* envelope, int payload_field,
                         std::string_view payload);

  // Replaces *out with up to `max` committed records from `from_seq` (>= first_retained()), in
  // order, stopping early once they would exceed `max_bytes` of serialised records (at least one
  // record is always returned when any is available). kOutOfRange if from_seq is below
  // first_retained(); an empty result if from_seq > head(); kDataLoss if a record is missing or
  // unparseable.
  absl::Status Read(uint64_t from_seq, uint32_t max, std::vector<asb::v1::Envelope>* out,
                    std::size_t max_bytes = std::numeric_limits<std::size_t>::max()) const;
  // The same, each record as stored (its serialised Envelope, decrypted if the store is
  // encrypted at rest), for a server to hand on without parsing and re-encoding it: the records'
  // keys are checked (none missing), their bytes are not (the consumer parses them).
  absl::Status ReadEncoded(uint64_t from_seq, uint32_t max, std::vector<std::string>* out,
                           std::size_t max_bytes = std::numeric_limits<std::size_t>::max()) const;

  // Deletes records below `seq` (retention; every consumer has passed them), durably, and
  // remembers first_retained() across restarts even if nothing is left. `seq` is capped at
  // head() + 1; a `seq` at or below first_retained() does nothing.
  absl::Status TrimBefore(uint64_t seq);

  // Adds a listener called after each commit that moved the head, once per batch (the
  // StreamServer publishes a hint; a daemon may add its own, e.g. to wake long polls).
  void OnHeadAdvanced(std::function<void(uint64_t head)> fn) { on_head_.push_back(std::move(fn)); }

  const std::string& name() const { return name_; }
  uint64_t head() const { return head_; }
  uint64_t first_retained() const { return first_; }

 private:
  Log(store::Store* store, std::string name, std::string producer);

  store::Store* store_;
  std::string name_;
  std::string cf_;
  std::string producer_;
  uint64_t head_ = 0;     // highest committed
  uint64_t pending_ = 0;  // highest assigned
  uint64_t first_ = 1;
  std::vector<std::function<void(uint64_t)>> on_head_;
};

}  // namespace asb::stream
