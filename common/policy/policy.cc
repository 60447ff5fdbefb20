// The Policy object itself: its accessors, the notification rules, and the per-thread token
// cache behind pseudonyms and subject keys. The engine's rooms are apart:
//   policy_compile.cc  LoadFile, Compile: reading, checking and compiling an ISP
//   policy_apply.cc    Apply, ApplyEncoded: a case's view for an agency (message or wire bytes)
//   policy_explain.cc  Explain: the same decision field by field, for people
//   internal/          the compiled plan, row matching, the Case schema tree, the wire writer
// and dates.

#include "common/policy/policy.h"

#include <algorithm>
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/policy/internal/plan.h"

namespace asb::policy {

Policy::Policy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Policy::~Policy() = default;

const std::string& Policy::version() const { return impl_->version; }
const asb::config::v1::Isp& Policy::isp() const { return impl_->isp; }
const std::vector<std::string>& Policy::warnings() const { return impl_->warnings; }
const std::vector<std::string>& Policy::reviewed() const { return impl_->reviewed; }

std::vector<Policy::Notification> Policy::NotificationsFor(const EventContext& context) const {
  std::vector<Notification> out;
  for (const asb::config::v1::NotificationRule& n : impl_->isp.notification_rules()) {
    if (std::find(n.event_types().begin(), n.event_types().end(), context.event_type) ==
        n.event_types().end()) {
      continue;
    }
    if (n.order_types_size() > 0 && std::find(n.order_types().begin(), n.order_types().end(),
                                              context.order_type) == n.order_types().end()) {
      continue;
    }
    for (const std::string& agency : n.agencies()) {
      out.push_back(Notification{n.id(), agency});
    }
  }
  return out;
}

std::string Policy::SubjectKey(const std::string& person_id) const {
  return impl_->Token("sk_", person_id, 32);
}

std::vector<std::string> Policy::agencies() const {
  std::vector<std::string> out;
  for (const internal::AgencyPlan& a : impl_->agencies) {
    out.push_back(a.id);
  }
  return out;
}

// Tokens are pure functions of (key, prefix, data); the sharing daemon derives the same subject
// keys and pseudonyms for every agency of a case, so each thread remembers recent ones (per
// policy generation: a reloaded policy may have another key).
std::string Policy::Impl::Token(const char* prefix, std::string_view data,
                                std::size_t hex_chars) const {
  static constexpr std::size_t kMaxCachedTokens = 1 << 16;
  struct Cache {
    uint64_t generation = 0;
    std::string scratch;
    absl::flat_hash_map<std::string, std::string> tokens;
  };
  thread_local Cache cache;
  if (cache.generation != generation) {
    cache.tokens.clear();
    cache.generation = generation;
  }
  cache.scratch.assign(prefix).append(data.data(), data.size());
  if (auto it = cache.tokens.find(cache.scratch); it != cache.tokens.end()) {
    return it->second;
  }
  std::string token = ComputeToken(prefix, data, hex_chars);
  if (cache.tokens.size() >= kMaxCachedTokens) {
    cache.tokens.clear();
  }
  cache.tokens.emplace(cache.scratch, token);
  return token;
}

std::string Policy::Impl::ComputeToken(const char* prefix, std::string_view data,
                                       std::size_t hex_chars) const {
  unsigned char mac[32];
  key->MacTo(data, mac);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(prefix);
  out.reserve(out.size() + hex_chars);
  for (std::size_t i = 0; i < hex_chars / 2; ++i) {
    out.push_back(kDigits[mac[i] >> 4]);
    out.push_back(kDigits[mac[i] & 0xf]);
  }
  return out;
}

}  // namespace asb::policy
