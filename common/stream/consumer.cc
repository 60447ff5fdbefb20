#include "common/stream/consumer.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "common/status/proto_status.h"

namespace asb::stream {
namespace {

spdlog::logger* Logger() {
  static spdlog::logger* lg = asb::log::Get("stream");
  return lg;
}

bool IsPermanent(const absl::Status& status) {
  return absl::IsInvalidArgument(status) || absl::IsFailedPrecondition(status);
}

}  // namespace

Consumer::Consumer(zmq::context_t* context, bus::Loop* loop, store::Store* store,
                   ConsumerOptions options, ApplyFn apply)
    : context_(context),
      loop_(loop),
      store_(store),
      options_(std::move(options)),
      apply_(std::move(apply)) {}

Consumer::~Consumer() {
  *alive_ = false;
  if (poll_timer_ != 0) {
    loop_->CancelTimer(poll_timer_);
  }
  if (retry_timer_ != 0) {
    loop_->CancelTimer(retry_timer_);
  }
  if (settle_timer_ != 0) {
    loop_->CancelTimer(settle_timer_);
  }
  // A batch still being flushed commits (its callbacks use this consumer) or aborts now.
  Settle();
  // Destroying the client cancels its pending requests: no callback runs after this.
  hints_.reset();
  client_.reset();
}

std::string Consumer::OffsetKey() const {
  return absl::StrCat(options_.upstream, "/", options_.stream);
}

std::string Consumer::Tag() const { return absl::StrCat(options_.upstream, "/", options_.stream); }

absl::Status Consumer::Start() {
  if (client_ != nullptr) {
    return absl::FailedPreconditionError(absl::StrCat("consumer ", Tag(), " already started"));
  }
  if (!store_->HasColumnFamily(kOffsetsColumnFamily)) {
    return absl::FailedPreconditionError(absl::StrCat("consumer ", Tag(), ": column family ",
                                                      kOffsetsColumnFamily,
                                                      " is not in the store's column_families"));
  }
  std::string value;
  absl::Status got = store_->Get(kOffsetsColumnFamily, OffsetKey(), &value);
  if (got.ok()) {
    if (value.size() != 8) {
      return absl::DataLossError(absl::StrCat("consumer ", Tag(), ": stored offset is malformed"));
    }
    offset_ = store::DecodeSeq(value);
  } else if (absl::IsNotFound(got)) {
    offset_ = 0;
  } else {
    return got;
  }
  applied_ = offset_;

  bus::ClientOptions client_options;
  client_options.endpoint = options_.api_endpoint;
  client_options.server_public_key = options_.server_public_key;
  client_options.keys = options_.keys;
  client_options.plaintext_for_test = options_.plaintext_for_test;
  auto client = std::make_unique<bus::AsyncClient>(context_, loop_, client_options);
  ASB_RETURN_IF_ERROR(client->Start());

  std::unique_ptr<bus::HintSubscriber> hints;
  if (!options_.hints_endpoint.empty()) {
    client_options.endpoint = options_.hints_endpoint;
    hints = std::make_unique<bus::HintSubscriber>(context_, loop_, client_options);
    ASB_RETURN_IF_ERROR(
        hints->Start(options_.stream, [this](const std::string& stream, uint64_t head) {
          // SUB matches topics by prefix ("events" also matches "events2"): check the name.
          if (stream != options_.stream) {
            return;
          }
          upstream_head_ = std::max(upstream_head_, head);
          hinted_head_ = std::max(hinted_head_, head);
          if (head > applied_) {
            MaybeFetch();
          }
        }));
  }
  client_ = std::move(client);
  hints_ = std::move(hints);
  poll_timer_ = loop_->Every(options_.poll_interval, [this] { MaybeFetch(); });
  SPDLOG_LOGGER_INFO(Logger(), "[{}] consuming from {} after offset {}", Tag(),
                     options_.api_endpoint, offset_);
  MaybeFetch();
  return absl::OkStatus();
}

void Consumer::MaybeFetch() {
  if (client_ == nullptr || in_flight_ || bus::Clock::now() < backoff_until_) {
    return;
  }
  if (hold_) {
    if (absl::Status hold = hold_(); !hold.ok()) {
      if (!held_) {
        ++holds_;
        // At saturation holds come and go every second or so: one line every 10 s at most.
        const bus::Clock::time_point now = bus::Clock::now();
        if (now - last_hold_log_ >= std::chrono::seconds(10)) {
          SPDLOG_LOGGER_INFO(Logger(), "[{}] holding back at {} ({} holds so far): {}", Tag(),
                             applied_, holds_, std::string(hold.message()));
          last_hold_log_ = now;
        }
      }
      held_ = true;
      return;
    }
    held_ = false;
  }
  asb::v1::Request request;
  asb::v1::FetchRequest* fetch = request.mutable_fetch();
  fetch->set_stream(options_.stream);
  fetch->set_from_seq(applied_ + 1);
  fetch->set_committed_seq(offset_);
  fetch->set_max_records(options_.batch);
  in_flight_ = true;
  hinted_head_ = 0;
  std::weak_ptr<bool> alive = alive_;
  client_->Send(std::move(request), options_.request_timeout,
                [this, alive](absl::StatusOr<asb::v1::Response> response) {
                  if (alive.expired()) {
                    return;
                  }
                  HandleResponse(std::move(response));
                });
}

void Consumer::Backoff() {
  backoff_until_ = bus::Clock::now() + options_.poll_interval;
  if (retry_timer_ != 0) {
    loop_->CancelTimer(retry_timer_);
  }
  retry_timer_ = loop_->RunAfter(options_.poll_interval, [this] {
    retry_timer_ = 0;
    MaybeFetch();
  });
}

void Consumer::Settle() {
  if (absl::Status s = store_->Settle(); !s.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "[{}] a batch did not reach the disk ({}); refetching from {}",
                       Tag(), s.ToString(), applied_ + 1);
  }
}

void Consumer::HandleResponse(absl::StatusOr<asb::v1::Response> response) {
  in_flight_ = false;
  // Unless this reply brings records (whose write overlaps the last batch's flush), the last
  // batch commits now.
  if (!response.ok() || !response->has_fetch() || response->fetch().records().empty()) {
    Settle();
  }
  absl::Status status = response.ok() ? FromProto(response->status()) : response.status();
  if (absl::IsOutOfRange(status) && response.ok() && response->has_fetch()) {
    answered_ = true;
    failures_ = 0;
    JumpTo(response->fetch().first_retained());
    return;
  }
  if (status.ok() && (!response->has_fetch() || response->fetch().stream() != options_.stream)) {
    status = absl::InvalidArgumentError("reply carries no records of this stream");
  }
  if (!status.ok()) {
    ++failures_;
    if (absl::IsPermissionDenied(status) || absl::IsUnauthenticated(status)) {
      SPDLOG_LOGGER_ERROR(Logger(), "[{}] fetch refused: {}", Tag(), status.ToString());
    } else if (failures_ == 1) {
      SPDLOG_LOGGER_WARN(Logger(), "[{}] fetch failed: {}; retrying every {} ms", Tag(),
                         status.ToString(), options_.poll_interval.count());
    } else {
      SPDLOG_LOGGER_DEBUG(Logger(), "[{}] fetch failed again ({}): {}", Tag(), failures_,
                          status.ToString());
    }
    Backoff();
    return;
  }
  if (failures_ > 0) {
    SPDLOG_LOGGER_INFO(Logger(), "[{}] fetching again after {} failures", Tag(), failures_);
    failures_ = 0;
  }
  answered_ = true;

  const asb::v1::FetchResponse& fetch = response->fetch();
  upstream_head_ = fetch.head();
  if (fetch.records().empty()) {
    if (fetch.head() < applied_) {
      SPDLOG_LOGGER_ERROR(Logger(),
                          "[{}] upstream head {} is below our offset {}: was its store replaced?",
                          Tag(), fetch.head(), applied_);
    }
  } else if (!ApplyRecords(fetch)) {
    Settle();
    Backoff();
    return;
  }
  // More is there (or a hint during the fetch says so): fetch again at once. An empty reply
  // only refetches on a newer hint, so a confused upstream cannot make this spin.
  const bool progress = !fetch.records().empty() && fetch.head() > applied_;
  if (progress || hinted_head_ > std::max(applied_, fetch.head())) {
    MaybeFetch();
  }
}

bool Consumer::ApplyRecords(const asb::v1::FetchResponse& fetch) {
  const auto& records = fetch.records();
  for (int i = 0; i < records.size(); ++i) {
    if (records[i].seq() != applied_ + 1 + static_cast<uint64_t>(i)) {
      SPDLOG_LOGGER_WARN(Logger(), "[{}] upstream sent record {} where {} was expected", Tag(),
                         records[i].seq(), applied_ + 1 + i);
      return false;
    }
  }
  const uint64_t first = records.begin()->seq();
  const uint64_t last = records.rbegin()->seq();
  if (absl::Status space = CheckFreeSpace(store_->path(), options_.min_free_bytes); !space.ok()) {
    if (!short_of_space_) {
      SPDLOG_LOGGER_WARN(Logger(), "[{}] paused: {}", Tag(), space.ToString());
    }
    short_of_space_ = true;
    return false;
  }
  if (short_of_space_) {
    SPDLOG_LOGGER_INFO(Logger(), "[{}] free space is back: consuming again", Tag());
    short_of_space_ = false;
  }

  store::Batch batch = store_->NewBatch();
  // Skipped records are reported once the batch is on disk (the reply is gone by then).
  std::vector<std::pair<asb::v1::Envelope, absl::Status>> skipped;
  for (int i = 0; i < records.size(); ++i) {
    absl::Status s = apply_(records[i], &batch);
    if (s.ok()) {
      continue;
    }
    if (IsPermanent(s)) {
      skipped.emplace_back(records[i], std::move(s));
      continue;
    }
    // The batch is dropped unwritten: its abort callbacks roll back whatever it touched.
    SPDLOG_LOGGER_WARN(Logger(), "[{}] record {} not applied ({}); retrying from {} in {} ms",
                       Tag(), records[i].seq(), s.ToString(), first,
                       options_.poll_interval.count());
    return false;
  }
  batch.Put(kOffsetsColumnFamily, OffsetKey(), store::EncodeSeq(last));
  batch.OnCommit([this, first, last, skipped = std::move(skipped)]() mutable {
    offset_ = last;
    ++batches_;
    skipped_ += skipped.size();
    SPDLOG_LOGGER_DEBUG(Logger(), "[{}] committed {}..{}", Tag(), first, last);
    // The owner's hooks may write to the store themselves: they run from the loop, never inside
    // whichever write commits this batch (another handler's Write settles it).
    if (skipped.empty() && !on_committed_) {
      return;
    }
    std::weak_ptr<bool> alive = alive_;
    loop_->RunAfter(std::chrono::milliseconds(0),
                    [this, alive, last, skipped = std::move(skipped)] {
                      if (alive.expired()) {
                        return;
                      }
                      for (const auto& [record, s] : skipped) {
                        SPDLOG_LOGGER_WARN(Logger(), "[{}] record {} skipped: {}", Tag(),
                                           record.seq(), s.ToString());
                        if (on_skipped_) {
                          on_skipped_(record, s);
                        }
                      }
                      if (on_committed_) {
                        on_committed_(last);
                      }
                    });
  });
  // Not on disk after all: fetched again from here.
  batch.OnAbort([this, first] { applied_ = std::min(applied_, first - 1); });
  // The previous batch's flush overlaps this write; its callbacks run in it, this one's in the
  // next (or in Settle: when a fetch brings nothing new, or soon after, by a timer).
  absl::Status written = store_->WriteDeferred(&batch);
  if (!written.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "[{}] committing records {}..{} failed ({}); retrying in {} ms",
                       Tag(), first, last, written.ToString(), options_.poll_interval.count());
    return false;
  }
  applied_ = std::max(applied_, last);
  if (settle_timer_ != 0) {
    loop_->CancelTimer(settle_timer_);
  }
  settle_timer_ = loop_->RunAfter(kSettleAfter, [this] {
    settle_timer_ = 0;
    Settle();
  });
  return true;
}

void Consumer::JumpTo(uint64_t first_retained) {
  if (first_retained <= applied_ + 1) {
    // Out of range yet our next record is retained: the upstream is inconsistent; wait.
    SPDLOG_LOGGER_WARN(Logger(), "[{}] upstream says {} is below retention but keeps from {}",
                       Tag(), applied_ + 1, first_retained);
    Backoff();
    return;
  }
  const uint64_t new_offset = first_retained - 1;
  store::Batch batch = store_->NewBatch();
  batch.Put(kOffsetsColumnFamily, OffsetKey(), store::EncodeSeq(new_offset));
  absl::Status written = store_->Write(&batch);
  if (!written.ok()) {
    SPDLOG_LOGGER_WARN(Logger(), "[{}] moving offset past retention failed ({})", Tag(),
                       written.ToString());
    Backoff();
    return;
  }
  SPDLOG_LOGGER_ERROR(Logger(),
                      "[{}] records {}..{} were deleted upstream before this daemon read them; "
                      "continuing from {}",
                      Tag(), offset_ + 1, new_offset, first_retained);
  lost_ += new_offset - offset_;
  offset_ = new_offset;
  applied_ = new_offset;
  if (on_committed_) {
    on_committed_(offset_);
  }
  MaybeFetch();
}

}  // namespace asb::stream
