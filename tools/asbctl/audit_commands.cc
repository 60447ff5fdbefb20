// asbctl audit: query the access log, verify it against signed tree heads, prove entries,
// export it for an auditor's own check (verify-export needs no hub), and subject access reports.
#include <cstdio>
#include <fstream>
#include <functional>
#include <iostream>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "common/auditlog/verifier.h"
#include "common/config/config.h"
#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"
#include "google/protobuf/util/time_util.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"

namespace asb::ctl {
namespace {

using google::protobuf::util::TimeUtil;

// Entries per page when re-fetching the whole log.
constexpr uint32_t kPage = 10000;

absl::StatusOr<std::unique_ptr<HubClient>> Open(const Globals& g, const std::string& as,
                                                const char* kind = "auditor") {
  auto hub = HubClient::Load(g.hub_config);
  if (!hub.ok()) {
    return hub.status();
  }
  if (absl::Status s = (*hub)->Connect(Daemon::kAudit, as, kind); !s.ok()) {
    return s;
  }
  return hub;
}

std::string Csv(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (char c : s) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

absl::StatusOr<google::protobuf::Timestamp> ParseTime(const std::string& text) {
  google::protobuf::Timestamp ts;
  std::string t = text;
  if (t.size() == 10) {
    t += "T00:00:00Z";  // a bare date means its start, UTC
  }
  if (!TimeUtil::FromString(t, &ts)) {
    return absl::InvalidArgumentError("'" + text +
                                      "' is not a time: use 2026-01-31 or 2026-01-31T09:00:00Z");
  }
  return ts;
}

void PrintAuditTable(const asb::v1::AuditQueryResponse& r) {
  std::printf("%-6s %-20s %-15s %-9s %-20s %-9s %-10s %-22s %s\n", "INDEX", "AT", "KIND", "BY",
              "ACTOR", "TO", "CASE", "RULES", "DETAIL");
  for (const auto& e : r.entries()) {
    const auto& rec = e.record();
    std::vector<std::string> rules;
    for (const auto& j : rec.justifications()) {
      rules.push_back(j.rule_id());
    }
    std::string kind = asb::v1::AuditKind_Name(rec.kind()).substr(11);
    std::string at = TimeUtil::ToString(rec.at()).substr(0, 19);
    std::printf("%-6llu %-20s %-15s %-9s %-20s %-9s %-10s %-22s %s\n",
                static_cast<unsigned long long>(e.index()), at.c_str(), kind.c_str(),
                rec.component().c_str(), rec.actor().c_str(), rec.recipient_agency().c_str(),
                rec.case_id().c_str(), absl::StrJoin(rules, ",").c_str(), rec.detail().c_str());
  }
  std::printf("(%d entries shown of %llu in the log)\n", r.entries_size(),
              static_cast<unsigned long long>(r.log_size()));
}

void PrintAuditCsv(const asb::v1::AuditQueryResponse& r, bool header) {
  if (header) {
    std::printf(
        "index,at,kind,component,actor,actor_agency,recipient_agency,case_id,rules,purposes,"
        "lawful_bases,isp_version,fields,detail\n");
  }
  for (const auto& e : r.entries()) {
    const auto& rec = e.record();
    std::vector<std::string> rules, purposes, bases;
    for (const auto& j : rec.justifications()) {
      rules.push_back(j.rule_id());
      purposes.push_back(j.purpose());
      bases.push_back(j.lawful_basis());
    }
    std::vector<std::string> cols = {std::to_string(e.index()),
                                     TimeUtil::ToString(rec.at()),
                                     asb::v1::AuditKind_Name(rec.kind()).substr(11),
                                     rec.component(),
                                     rec.actor(),
                                     rec.actor_agency(),
                                     rec.recipient_agency(),
                                     rec.case_id(),
                                     absl::StrJoin(rules, ";"),
                                     absl::StrJoin(purposes, ";"),
                                     absl::StrJoin(bases, ";"),
                                     rec.isp_version(),
                                     absl::StrJoin(rec.fields(), ";"),
                                     rec.detail()};
    for (auto& c : cols) {
      c = Csv(c);
    }
    std::printf("%s\n", absl::StrJoin(cols, ",").c_str());
  }
}

std::string TimeMs(uint64_t ms) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixMillis(static_cast<int64_t>(ms)),
                          absl::UTCTimeZone());
}

std::string Describe(const asb::v1::SignedTreeHead& sth) {
  return absl::StrCat("size ", sth.tree_size(), ", signed ", TimeMs(sth.timestamp_ms()), ", root ",
                      crypto::HexEncode(sth.root_hash()));
}

// The key tree heads are checked with: --public-key FILE if given, else the PEM `fallback`
// (the hub's or the export's own), with a warning that this proves integrity only relative to
// that key.
absl::StatusOr<crypto::Ed25519PublicKey> TrustedKey(const std::string& public_key_file,
                                                    const std::string& fallback,
                                                    const char* fallback_source) {
  if (!public_key_file.empty()) {
    std::string pem;
    if (absl::Status s = config::ReadFile(public_key_file, &pem); !s.ok()) {
      return s;
    }
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

// Latest tree head (fresh), its key, and (with history) every stored earlier head.
struct HeadInfo {
  asb::v1::SignedTreeHead head;
  std::string public_key_pem;
  std::vector<asb::v1::SignedTreeHead> history;
  uint64_t expired_through = 0;
};

absl::StatusOr<HeadInfo> FetchHeads(HubClient& hub, bool with_history) {
  HeadInfo info;
  asb::v1::Request request;
  auto* q = request.mutable_audit_tree_head();
  q->set_fresh(true);
  q->set_with_history(with_history);
  while (true) {
    auto response = hub.Call(request);
    if (!response.ok()) {
      return response.status();
    }
    const auto& r = response->audit_tree_head();
    info.head = r.tree_head();
    info.public_key_pem = r.public_key_pem();
    info.expired_through = r.expired_through();
    info.history.insert(info.history.end(), r.history().begin(), r.history().end());
    if (!with_history || r.next_history_after_size() == 0) {
      break;
    }
    q->set_history_after_size(r.next_history_after_size());
  }
  return info;
}

// Verifies every checkpoint's signature; the first forged one is the error.
absl::Status CheckSignatures(const std::vector<asb::v1::SignedTreeHead>& heads,
                             const crypto::Ed25519PublicKey& key) {
  for (const auto& h : heads) {
    if (absl::Status s = audit::VerifyTreeHeadSignature(h, key); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status, uint64_t first_bad) {
  std::printf("FAILED: %s\n", std::string(status.message()).c_str());
  if (first_bad != 0) {
    std::printf("first bad entry: %llu\n", static_cast<unsigned long long>(first_bad));
  }
  return 3;
}

// The hub as a LogSource: unfiltered pages, consistency proofs and compact ranges.
audit::LogSource HubSource(HubClient& h) {
  audit::LogSource source;
  source.fetch = [&h](uint64_t after) -> absl::StatusOr<asb::v1::AuditQueryResponse> {
    asb::v1::Request request;
    request.mutable_audit_query()->set_after_index(after);
    request.mutable_audit_query()->set_limit(kPage);
    request.mutable_audit_query()->set_stored(true);
    auto response = h.Call(request);
    if (!response.ok()) {
      return response.status();
    }
    return std::move(*response->mutable_audit());  // pages are megabytes: no copy
  };
  source.consistency = [&h](uint64_t m, uint64_t n) -> absl::StatusOr<std::vector<std::string>> {
    asb::v1::Request request;
    request.mutable_audit_consistency_proof()->set_first_size(m);
    request.mutable_audit_consistency_proof()->set_second_size(n);
    auto response = h.Call(request);
    if (!response.ok()) {
      return response.status();
    }
    const auto& p = response->audit_consistency_proof().proof();
    return std::vector<std::string>(p.begin(), p.end());
  };
  source.frontier = [&h](uint64_t size) -> absl::StatusOr<std::vector<std::string>> {
    asb::v1::Request request;
    request.mutable_audit_frontier()->set_tree_size(size);
    auto response = h.Call(request);
    if (!response.ok()) {
      return response.status();
    }
    const auto& f = response->audit_frontier().hashes();
    return std::vector<std::string>(f.begin(), f.end());
  };
  return source;
}

// "12 (by 40), 13 (by 40), …": at most 20.
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

// Prints what verification found besides the verdict: expired and erased entries.
void PrintAccounted(const audit::VerifyReport& r) {
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

// Prints what a verification accounted for and its verdict; returns asbctl's exit code (3 and
// the first bad entry if the log does not verify).
int ReportVerification(const audit::VerifyReport& report, const asb::v1::SignedTreeHead& head,
                       const std::string& heads_note) {
  if (!report.status.ok() && !absl::IsDataLoss(report.status)) {
    return ReportError(report.status);
  }
  PrintAccounted(report);
  if (!report.status.ok()) {
    return Fail(report.status, report.first_bad);
  }
  std::printf("OK: entries %llu..%llu verified against the signed tree head (%s); %s\n",
              static_cast<unsigned long long>(report.first),
              static_cast<unsigned long long>(report.last), Describe(head).c_str(),
              heads_note.c_str());
  return 0;
}

void AddVerifyCommand(CLI::App& audit, Globals& g) {
  auto* cmd = audit.add_subcommand(
      "verify",
      "re-fetch the log (or entries --from..--to), recompute every leaf hash and the Merkle "
      "root, and check them against the hub's signed tree heads; says which entries expired "
      "or were erased, and names the first bad entry (exit 3 if bad)");
  static std::string as = "dpo", public_key;
  static uint64_t from = 1, to = 0;
  cmd->add_option("--as", as, "auditor (keys_dir/NAME.key or NAME-auditor.key)")
      ->capture_default_str();
  cmd->add_option("--public-key", public_key,
                  "the tree-head signing key you trust (PEM), e.g. sth-signing.pub.pem");
  cmd->add_option("--from", from, "first entry to check (default: the first kept)");
  cmd->add_option("--to", to, "last entry to check (default: the latest signed tree head's)");
  cmd->callback([&g] {
    auto hub = Open(g, as);
    if (!hub.ok()) {
      g.exit_code = ReportError(hub.status());
      return;
    }
    auto heads = FetchHeads(**hub, /*with_history=*/true);
    if (!heads.ok()) {
      g.exit_code = ReportError(heads.status());
      return;
    }
    if (heads->head.tree_size() == 0) {
      std::printf("the log is empty: nothing to verify\n");
      return;
    }
    auto key = TrustedKey(public_key, heads->public_key_pem, "the hub");
    if (!key.ok()) {
      g.exit_code = ReportError(key.status());
      return;
    }
    std::vector<asb::v1::SignedTreeHead> checkpoints = heads->history;
    checkpoints.push_back(heads->head);
    if (absl::Status s = CheckSignatures(checkpoints, *key); !s.ok()) {
      g.exit_code = Fail(s, 0);
      return;
    }
    audit::VerifyRange range;
    range.from = from;
    range.to = to;
    range.expired_through = heads->expired_through;
    g.exit_code = ReportVerification(
        audit::VerifyLog(heads->head, heads->history, range, HubSource(**hub)), heads->head,
        absl::StrCat(heads->history.size() + 1, " tree heads in all"));
  });
}

void AddProveCommand(CLI::App& audit, Globals& g) {
  auto* cmd = audit.add_subcommand(
      "prove", "print an entry with its inclusion proof and check it against a signed tree head");
  static std::string as = "dpo", public_key;
  static uint64_t index = 0, tree_size = 0;
  cmd->add_option("ENTRY", index, "entry index (from 1)")->required();
  cmd->add_option("--tree-size", tree_size, "prove against this tree size (default: latest)");
  cmd->add_option("--as", as, "auditor")->capture_default_str();
  cmd->add_option("--public-key", public_key, "the tree-head signing key you trust (PEM)");
  cmd->callback([&g] {
    auto hub = Open(g, as);
    if (!hub.ok()) {
      g.exit_code = ReportError(hub.status());
      return;
    }
    auto heads = FetchHeads(**hub, false);
    if (!heads.ok()) {
      g.exit_code = ReportError(heads.status());
      return;
    }
    asb::v1::Request request;
    request.mutable_audit_inclusion_proof()->set_index(index);
    request.mutable_audit_inclusion_proof()->set_tree_size(tree_size);
    auto response = (*hub)->Call(request);
    if (!response.ok()) {
      g.exit_code = ReportError(response.status());
      return;
    }
    const auto& r = response->audit_inclusion_proof();
    std::printf("%s\n", config::ToJson(r).c_str());
    if (!r.has_tree_head()) {
      g.exit_code = Fail(absl::FailedPreconditionError(absl::StrCat(
                             "no signed tree head of size ", r.tree_size(),
                             " is stored; prove against the latest one (omit --tree-size)")),
                         0);
      return;
    }
    auto key = TrustedKey(public_key, heads->public_key_pem, "the hub");
    if (!key.ok()) {
      g.exit_code = ReportError(key.status());
      return;
    }
    if (absl::Status s = audit::VerifyTreeHeadSignature(r.tree_head(), *key); !s.ok()) {
      g.exit_code = Fail(s, 0);
      return;
    }
    const std::string leaf = audit::LeafHash(r.entry());
    if (leaf != r.entry().leaf_hash() || r.entry().index() != index) {
      g.exit_code =
          Fail(absl::DataLossError(absl::StrCat("entry ", index, " does not match its leaf hash")),
               index);
      return;
    }
    const std::vector<std::string> proof(r.proof().begin(), r.proof().end());
    if (absl::Status s = crypto::merkle::VerifyInclusion(index - 1, r.tree_head().tree_size(), leaf,
                                                         proof, r.tree_head().root_hash());
        !s.ok()) {
      g.exit_code =
          Fail(absl::DataLossError(absl::StrCat("entry ", index, ": ", s.message())), index);
      return;
    }
    std::fprintf(stderr, "OK: entry %llu is in the signed tree head (%s); proof of %zu hashes\n",
                 static_cast<unsigned long long>(index), Describe(r.tree_head()).c_str(),
                 proof.size());
  });
}

void AddExportCommand(CLI::App& audit, Globals& g) {
  auto* cmd = audit.add_subcommand(
      "export",
      "write the log with its signed tree heads and public key as JSON lines (one "
      "AuditExportLine each), for `asbctl audit verify-export` on any machine");
  static std::string as = "dpo", out;
  cmd->add_option("--out", out, "output file")->required();
  cmd->add_option("--as", as, "auditor")->capture_default_str();
  cmd->callback([&g] {
    auto hub = Open(g, as);
    if (!hub.ok()) {
      g.exit_code = ReportError(hub.status());
      return;
    }
    auto heads = FetchHeads(**hub, true);
    if (!heads.ok()) {
      g.exit_code = ReportError(heads.status());
      return;
    }
    std::ofstream file(out, std::ios::trunc);
    if (!file) {
      g.exit_code = ReportError(absl::UnavailableError(out + ": cannot write"));
      return;
    }
    asb::v1::AuditExportLine line;
    auto* header = line.mutable_header();
    header->set_format_version(1);
    header->set_public_key_pem(heads->public_key_pem);
    *header->mutable_tree_head() = heads->head;
    *header->mutable_exported_at() = TimeUtil::GetCurrentTime();
    header->set_exported_by((*hub)->principal());
    if (heads->expired_through != 0) {
      auto frontier = HubSource(**hub).frontier(heads->expired_through);
      if (!frontier.ok()) {
        g.exit_code = ReportError(frontier.status());
        return;
      }
      header->set_expired_through(heads->expired_through);
      for (auto& h : *frontier) {
        header->add_expired_frontier(std::move(h));
      }
    }
    file << config::ToJson(line) << "\n";
    const uint64_t n = heads->head.tree_size();
    uint64_t after = heads->expired_through, written = 0;
    while (written < n) {
      asb::v1::Request request;
      request.mutable_audit_query()->set_after_index(after);
      request.mutable_audit_query()->set_limit(kPage);
      auto response = (*hub)->Call(request);
      if (!response.ok()) {
        g.exit_code = ReportError(response.status());
        return;
      }
      const auto& r = response->audit();
      for (const auto& e : r.entries()) {
        if (e.index() > n) {
          break;
        }
        *line.mutable_entry() = e;
        file << config::ToJson(line) << "\n";
        ++written;
      }
      if (r.next_after_index() == 0) {
        break;
      }
      after = r.next_after_index();
    }
    for (const auto& h : heads->history) {
      if (h.tree_size() < n) {
        *line.mutable_tree_head() = h;
        file << config::ToJson(line) << "\n";
      }
    }
    file.close();
    if (!file) {
      g.exit_code = ReportError(absl::UnavailableError(out + ": write failed"));
      return;
    }
    std::printf("exported %llu entries and %zu tree heads to %s (%s)\n",
                static_cast<unsigned long long>(written), heads->history.size(), out.c_str(),
                Describe(heads->head).c_str());
  });
}

void AddVerifyExportCommand(CLI::App& audit, Globals& g) {
  auto* cmd = audit.add_subcommand(
      "verify-export",
      "check an export file with no hub: signatures of its tree heads, every entry's leaf hash, "
      "order and the Merkle roots; names the first bad entry (exit 3 if bad)");
  static std::string file, public_key;
  cmd->add_option("FILE", file, "the export (JSON lines)")->required();
  cmd->add_option("--public-key", public_key, "the tree-head signing key you trust (PEM)");
  cmd->callback([&g] {
    std::ifstream in(file);
    if (!in) {
      g.exit_code = ReportError(absl::NotFoundError(file + ": cannot open"));
      return;
    }
    std::string text;
    std::vector<asb::v1::AuditEntry> entries;
    std::vector<asb::v1::SignedTreeHead> checkpoints;
    std::optional<asb::v1::AuditExportHeader> header;
    int line_no = 0;
    while (std::getline(in, text)) {
      ++line_no;
      if (text.empty()) {
        continue;
      }
      asb::v1::AuditExportLine line;
      if (absl::Status s = config::ParseJson(text, &line); !s.ok()) {
        g.exit_code = Fail(absl::DataLossError(absl::StrCat(file, ":", line_no,
                                                            ": not an export line: ", s.message())),
                           0);
        return;
      }
      if (line.has_header()) {
        if (header.has_value() || line_no != 1) {
          g.exit_code = Fail(absl::DataLossError(absl::StrCat(
                                 file, ":", line_no, ": a header must be the first line only")),
                             0);
          return;
        }
        header = line.header();
      } else if (line.has_entry()) {
        entries.push_back(line.entry());
      } else if (line.has_tree_head()) {
        checkpoints.push_back(line.tree_head());
      }
    }
    if (!header.has_value()) {
      g.exit_code = Fail(absl::DataLossError(file + ": no header line"), 0);
      return;
    }
    auto key = TrustedKey(public_key, header->public_key_pem(), "the export file itself");
    if (!key.ok()) {
      g.exit_code = ReportError(key.status());
      return;
    }
    checkpoints.push_back(header->tree_head());
    if (absl::Status s = CheckSignatures(checkpoints, *key); !s.ok()) {
      g.exit_code = Fail(s, 0);
      return;
    }
    const asb::v1::SignedTreeHead head = checkpoints.back();
    checkpoints.pop_back();
    std::size_t next = 0;
    audit::LogSource source;
    source.fetch = [&entries, &next](uint64_t) -> absl::StatusOr<asb::v1::AuditQueryResponse> {
      asb::v1::AuditQueryResponse page;
      for (; next < entries.size() && page.entries_size() < static_cast<int>(kPage); ++next) {
        *page.add_entries() = entries[next];
      }
      if (next < entries.size()) {
        page.set_next_after_index(page.entries(page.entries_size() - 1).index());
      }
      return page;
    };
    source.consistency = [](uint64_t, uint64_t) -> absl::StatusOr<std::vector<std::string>> {
      return absl::UnimplementedError("an export holds no consistency proofs");
    };
    const uint64_t expired = header->expired_through();
    source.frontier = [&header,
                       expired](uint64_t size) -> absl::StatusOr<std::vector<std::string>> {
      if (size != expired) {
        return absl::NotFoundError("the export holds no compact range of that size");
      }
      return std::vector<std::string>(header->expired_frontier().begin(),
                                      header->expired_frontier().end());
    };
    audit::VerifyRange range;
    range.expired_through = expired;
    g.exit_code =
        ReportVerification(audit::VerifyLog(head, checkpoints, range, source), head,
                           absl::StrCat(checkpoints.size(), " earlier tree heads consistent"));
  });
}

void AddEraseCommand(CLI::App& audit, Globals& g) {
  auto* cmd = audit.add_subcommand(
      "erase",
      "admins: erase a person's (--subject) or a case's (--case) identifiers from the access "
      "log; the entries keep their leaf hashes (the log still verifies) and one ERASURE entry "
      "records which were erased");
  static std::string as = "hub-admin", subject, case_id, reference;
  static bool dry_run = false;
  cmd->add_option("--subject", subject, "the pseudonymous subject key to erase");
  cmd->add_option("--case", case_id, "the case to erase (with --subject: only that case)");
  cmd->add_option("--reference", reference,
                  "the erasure request's reference, recorded (e.g. DSR-2026-0042)")
      ->required();
  cmd->add_flag("--dry-run", dry_run, "only list the entries that would be erased");
  cmd->add_option("--as", as, "admin (keys_dir/NAME.key or NAME-admin.key)")->capture_default_str();
  cmd->callback([&g] {
    if (subject.empty() && case_id.empty()) {
      g.exit_code = ReportError(absl::InvalidArgumentError("give --subject or --case (or both)"));
      return;
    }
    auto hub = Open(g, as, "admin");
    if (!hub.ok()) {
      g.exit_code = ReportError(hub.status());
      return;
    }
    asb::v1::Request request;
    auto* q = request.mutable_audit_erase();
    q->set_subject_key(subject);
    q->set_case_id(case_id);
    q->set_reference(reference);
    q->set_dry_run(dry_run);
    uint64_t total = 0;
    std::vector<std::string> records;
    while (true) {
      auto response = (*hub)->Call(request);
      if (!response.ok()) {
        g.exit_code = ReportError(response.status());
        return;
      }
      const auto& r = response->audit_erase();
      total += static_cast<uint64_t>(r.erased_size());
      if (r.erasure_index() != 0) {
        records.push_back(std::to_string(r.erasure_index()));
      }
      if (dry_run) {
        std::vector<std::string> list;
        for (uint64_t i : r.erased()) {
          list.push_back(std::to_string(i));
        }
        std::printf("would erase %d entries%s: %s\n", r.erased_size(),
                    r.more() ? " (and more)" : "", absl::StrJoin(list, ",").c_str());
        return;
      }
      if (!r.more()) {
        break;
      }
    }
    std::printf("erased the personal data of %llu entries; recorded as ERASURE entry %s\n",
                static_cast<unsigned long long>(total), absl::StrJoin(records, ", ").c_str());
  });
}

void AddSubjectCommand(CLI::App& audit, Globals& g) {
  auto* cmd = audit.add_subcommand(
      "subject",
      "subject access report: every disclosure, delivery and consultation of one pseudonymous "
      "subject key — to whom, when, why");
  static std::string as = "dpo", key, format = "table";
  cmd->add_option("KEY", key, "the pseudonymous subject key")->required();
  cmd->add_option("--as", as, "auditor")->capture_default_str();
  cmd->add_option("--format", format, "table, json (JSON lines) or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  cmd->callback([&g] {
    auto hub = Open(g, as);
    if (!hub.ok()) {
      g.exit_code = ReportError(hub.status());
      return;
    }
    asb::v1::Request request;
    auto* q = request.mutable_audit_query();
    q->set_subject_key(key);
    q->set_limit(kPage);
    for (auto kind : {asb::v1::AUDIT_KIND_DISCLOSURE, asb::v1::AUDIT_KIND_DELIVERY,
                      asb::v1::AUDIT_KIND_CONSULTATION}) {
      q->add_kinds(kind);
    }
    if (format == "table") {
      std::printf("%-6s %-20s %-12s %-10s %-20s %-12s %-30s %s\n", "INDEX", "WHEN", "KIND", "TO",
                  "BY", "CASE", "WHY (rule/purpose/lawful basis)", "FIELDS");
    } else if (format == "csv") {
      std::printf(
          "index,at,kind,recipient_agency,actor,actor_agency,case_id,rules,purposes,"
          "lawful_bases,isp_version,fields\n");
    }
    uint64_t count = 0;
    while (true) {
      auto response = (*hub)->Call(request);
      if (!response.ok()) {
        g.exit_code = ReportError(response.status());
        return;
      }
      const auto& r = response->audit();
      for (const auto& e : r.entries()) {
        ++count;
        const auto& rec = e.record();
        std::vector<std::string> why, rules, purposes, bases;
        for (const auto& j : rec.justifications()) {
          why.push_back(absl::StrCat(j.rule_id(), "/", j.purpose(), "/", j.lawful_basis()));
          rules.push_back(j.rule_id());
          purposes.push_back(j.purpose());
          bases.push_back(j.lawful_basis());
        }
        const std::string kind = asb::v1::AuditKind_Name(rec.kind()).substr(11);
        if (format == "json") {
          std::printf("%s\n", config::ToJson(e).c_str());
        } else if (format == "csv") {
          std::vector<std::string> cols = {std::to_string(e.index()),
                                           TimeUtil::ToString(rec.at()),
                                           kind,
                                           rec.recipient_agency(),
                                           rec.actor(),
                                           rec.actor_agency(),
                                           rec.case_id(),
                                           absl::StrJoin(rules, ";"),
                                           absl::StrJoin(purposes, ";"),
                                           absl::StrJoin(bases, ";"),
                                           rec.isp_version(),
                                           absl::StrJoin(rec.fields(), ";")};
          for (auto& c : cols) {
            c = Csv(c);
          }
          std::printf("%s\n", absl::StrJoin(cols, ",").c_str());
        } else {
          std::printf("%-6llu %-20s %-12s %-10s %-20s %-12s %-30s %s\n",
                      static_cast<unsigned long long>(e.index()),
                      TimeUtil::ToString(rec.at()).substr(0, 19).c_str(), kind.c_str(),
                      rec.recipient_agency().c_str(), rec.actor().c_str(), rec.case_id().c_str(),
                      absl::StrJoin(why, ",").c_str(), absl::StrJoin(rec.fields(), ",").c_str());
        }
      }
      if (r.next_after_index() == 0) {
        break;
      }
      q->set_after_index(r.next_after_index());
    }
    if (format == "table") {
      std::printf("(%llu disclosures, deliveries and consultations of this subject)\n",
                  static_cast<unsigned long long>(count));
    }
  });
}

}  // namespace

void AddAuditCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand("audit", "the access log");
  cmd->require_subcommand(1);
  auto* query = cmd->add_subcommand("query", "list access-log entries (filters combine)");
  static std::string as = "dpo", case_id, agency, since, until, actor, subject, purpose,
                     format = "table";
  static std::vector<std::string> kinds;
  static uint32_t limit = 1000;
  static bool all = false;
  query->add_option("--as", as, "auditor (keys_dir/NAME.key or NAME-auditor.key)")
      ->capture_default_str();
  query->add_option("--case", case_id, "only this case");
  query->add_option("--agency", agency, "only where this agency acted or received");
  query->add_option("--since", since, "only at or after (2026-01-31 or RFC 3339)");
  query->add_option("--until", until, "only before");
  query->add_option("--actor", actor, "only by this principal");
  query->add_option("--subject", subject, "only about this pseudonymous subject key");
  query->add_option("--purpose", purpose, "only justified by this purpose");
  query->add_option("--kind", kinds, "only these kinds (disclosure, delivery, consultation, …)");
  query->add_option("--limit", limit, "entries per page (1-10000)")->check(CLI::Range(1, 10000));
  query->add_flag("--all", all, "fetch every page");
  query->add_option("--format", format, "table, json (JSON lines) or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  query->callback([&g] {
    asb::v1::Request request;
    auto* q = request.mutable_audit_query();
    q->set_case_id(case_id);
    q->set_agency(agency);
    q->set_actor(actor);
    q->set_subject_key(subject);
    q->set_purpose(purpose);
    q->set_limit(limit);
    for (const std::string& k : kinds) {
      asb::v1::AuditKind kind;
      std::string name = "AUDIT_KIND_" + k;
      for (char& c : name) {
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      }
      if (!asb::v1::AuditKind_Parse(name, &kind)) {
        g.exit_code = ReportError(absl::InvalidArgumentError("--kind " + k + ": unknown kind"));
        return;
      }
      q->add_kinds(kind);
    }
    for (auto [text, field] :
         {std::pair{&since, q->mutable_since()}, std::pair{&until, q->mutable_until()}}) {
      if (text->empty()) {
        continue;
      }
      auto ts = ParseTime(*text);
      if (!ts.ok()) {
        g.exit_code = ReportError(ts.status());
        return;
      }
      *field = *ts;
    }
    if (since.empty()) {
      q->clear_since();
    }
    if (until.empty()) {
      q->clear_until();
    }
    auto hub = Open(g, as);
    if (!hub.ok()) {
      g.exit_code = ReportError(hub.status());
      return;
    }
    bool header = true;
    while (true) {
      auto response = (*hub)->Call(request);
      if (!response.ok()) {
        g.exit_code = ReportError(response.status());
        return;
      }
      const auto& r = response->audit();
      if (format == "json") {
        for (const auto& e : r.entries()) {
          std::printf("%s\n", config::ToJson(e).c_str());
        }
      } else if (format == "csv") {
        PrintAuditCsv(r, header);
      } else {
        PrintAuditTable(r);
      }
      header = false;
      if (!all || r.next_after_index() == 0) {
        break;
      }
      q->set_after_index(r.next_after_index());
    }
  });
  AddVerifyCommand(*cmd, g);
  AddProveCommand(*cmd, g);
  AddExportCommand(*cmd, g);
  AddVerifyExportCommand(*cmd, g);
  AddSubjectCommand(*cmd, g);
  AddEraseCommand(*cmd, g);
}

}  // namespace asb::ctl
