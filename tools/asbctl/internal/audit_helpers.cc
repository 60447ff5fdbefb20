#include "tools/asbctl/internal/audit_helpers.h"

#include <cstdio>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "tools/asbctl/outcome.h"

namespace asb::ctl::internal {
namespace {

std::string TimeMs(uint64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(static_cast<int64_t>(ms)),
                          absl::UTCTimeZone());
}

// "12 (by entry 40), 13 (by entry 40), …": at most 20.
std::string ErasedList(const std::vector<std::pair<uint64_t, uint64_t>>& pairs, bool by_first) {
  std::vector<std::string> parts;
  for (const auto& [a, b] : pairs) {
    if (parts.size() == 20) {
      parts.push_back(absl::StrCat("… (", pairs.size() - 20, " more)"));
      break;
    }
    parts.push_back(by_first ? absl::StrCat(b, " (by entry ", a, ")")
                             : absl::StrCat(a, " (by entry ", b, ")"));
  }
  return absl::StrJoin(parts, ", ");
}

// Damaged stretches printed at most (the rest are counted).
constexpr std::size_t kMaxDamageLines = 50;

// Prints what verification found besides the verdict: expired, erased and damaged entries.
void PrintAccounted(const audit::VerifyReport& r) {
  for (std::size_t i = 0; i < r.damaged.size(); ++i) {
    if (i == kMaxDamageLines) {
      std::printf("damaged: … and %zu more damaged stretches\n", r.damaged.size() - i);
      break;
    }
    std::printf("damaged: %s\n", DescribeDamage(r.damaged[i]).c_str());
  }
  if (r.expired_through != 0) {
    if (r.expiry_record != 0) {
      std::printf(
          "expired: entries 1..%llu, deleted under the retention policy (EXPIRY entry "
          "%llu); the rest verifies from the signed tree head of size %llu\n",
          static_cast<unsigned long long>(r.expired_through),
          static_cast<unsigned long long>(r.expiry_record),
          static_cast<unsigned long long>(r.expired_through));
    } else {
      std::printf("expired: entries 1..%llu, deleted under the retention policy\n",
                  static_cast<unsigned long long>(r.expired_through));
    }
  }
  if (!r.erased.empty()) {
    std::printf(
        "erased: %zu entries had personal data erased (their leaf hashes still verify): "
        "%s\n",
        r.erased.size(), ErasedList(r.erased, false).c_str());
  }
  if (!r.unconfirmed_erasures.empty()) {
    std::printf("not checked: the erasure entries of %s lie after the range\n",
                ErasedList(r.unconfirmed_erasures, true).c_str());
  }
}

}  // namespace

std::string DescribeDamage(const asb::v1::AuditDamage& d) {
  std::string where;
  if (d.first() != 0) {
    where = d.first() == d.last() ? absl::StrCat("entry ", d.first())
                                  : absl::StrCat("entries ", d.first(), "..", d.last());
    if (!d.case_id().empty()) {
      absl::StrAppend(&where, " (case ", d.case_id(), ")");
    }
    absl::StrAppend(&where, ": ");
  }
  return absl::StrCat(where, d.what());
}

absl::Status ReportHubDamage(const std::vector<asb::v1::AuditDamage>& damage) {
  if (damage.empty()) {
    return absl::OkStatus();
  }
  std::printf(
      "asb-audit found the log damaged at start (it appends and signs nothing until an "
      "admin runs `asbctl audit repair`):\n");
  for (const auto& d : damage) {
    std::printf("  %s\n", DescribeDamage(d).c_str());
  }
  return absl::DataLossError(absl::StrCat("the access log is not whole: asb-audit reports ",
                                          damage.size(), " problem(s) found at start (above)"));
}

std::string Describe(const asb::v1::SignedTreeHead& sth) {
  return absl::StrCat("size ", sth.tree_size(), ", signed ", TimeMs(sth.timestamp_ms()), ", root ",
                      crypto::HexEncode(sth.root_hash()));
}

absl::StatusOr<crypto::Ed25519PublicKey> TrustedKey(const std::string& public_key_file,
                                                    const std::string& fallback,
                                                    const char* fallback_source) {
  if (!public_key_file.empty()) {
    std::string pem;
    ASB_RETURN_IF_ERROR(config::ReadFile(public_key_file, &pem));
    auto key = crypto::Ed25519PublicKey::FromPem(pem);
    if (!key.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(public_key_file, ": ", key.status().message()));
    }
    return key;
  }
  std::fprintf(stderr,
               "asbctl: warning: no --public-key given; checking with the key from %s (pass the "
               "hub's published sth-signing.pub.pem to rule out a substituted key)\n",
               fallback_source);
  return crypto::Ed25519PublicKey::FromPem(fallback);
}

absl::StatusOr<HeadInfo> FetchHeads(HubClient& hub, bool with_history) {
  HeadInfo info;
  asb::v1::Request request;
  auto* q = request.mutable_audit_tree_head();
  q->set_fresh(true);
  q->set_with_history(with_history);
  while (true) {
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub.Call(request));
    const auto& r = response.audit_tree_head();
    info.head = r.tree_head();
    info.public_key_pem = r.public_key_pem();
    info.expired_through = r.expired_through();
    info.damage.assign(r.damage().begin(), r.damage().end());
    info.history.insert(info.history.end(), r.history().begin(), r.history().end());
    if (!with_history || r.next_history_after_size() == 0) {
      break;
    }
    q->set_history_after_size(r.next_history_after_size());
  }
  return info;
}

absl::Status CheckSignatures(const std::vector<asb::v1::SignedTreeHead>& heads,
                             const crypto::Ed25519PublicKey& key) {
  for (const auto& h : heads) {
    ASB_RETURN_IF_ERROR(audit::VerifyTreeHeadSignature(h, key));
  }
  return absl::OkStatus();
}

audit::LogSource HubSource(HubClient& hub) {
  audit::LogSource source;
  source.fetch = [&hub](uint64_t after) -> absl::StatusOr<asb::v1::AuditQueryResponse> {
    asb::v1::Request request;
    request.mutable_audit_query()->set_after_index(after);
    request.mutable_audit_query()->set_limit(kAuditPage);
    request.mutable_audit_query()->set_stored(true);
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub.Call(request));
    return std::move(*response.mutable_audit());  // pages are megabytes: no copy
  };
  source.consistency = [&hub](uint64_t m, uint64_t n) -> absl::StatusOr<std::vector<std::string>> {
    asb::v1::Request request;
    request.mutable_audit_consistency_proof()->set_first_size(m);
    request.mutable_audit_consistency_proof()->set_second_size(n);
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub.Call(request));
    const auto& p = response.audit_consistency_proof().proof();
    return std::vector<std::string>(p.begin(), p.end());
  };
  source.frontier = [&hub](uint64_t size) -> absl::StatusOr<std::vector<std::string>> {
    asb::v1::Request request;
    request.mutable_audit_frontier()->set_tree_size(size);
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub.Call(request));
    const auto& f = response.audit_frontier().hashes();
    return std::vector<std::string>(f.begin(), f.end());
  };
  return source;
}

absl::Status ReportVerification(const audit::VerifyReport& report,
                                const asb::v1::SignedTreeHead& head,
                                const std::string& heads_note) {
  if (!report.status.ok() && !absl::IsDataLoss(report.status)) {
    return report.status;
  }
  PrintAccounted(report);
  if (!report.status.ok()) {
    return NotVerified(report.status, report.first_bad);
  }
  std::printf("OK: entries %llu..%llu verified against the signed tree head (%s); %s\n",
              static_cast<unsigned long long>(report.first),
              static_cast<unsigned long long>(report.last), Describe(head).c_str(),
              heads_note.c_str());
  return absl::OkStatus();
}

}  // namespace asb::ctl::internal
