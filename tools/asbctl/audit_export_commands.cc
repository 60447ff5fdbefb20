// asbctl audit export and verify-export: the log with its signed tree heads and public key as
// JSON lines, and the check of such a file on any machine, with no hub.
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "asb/v1/api.pb.h"
#include "common/auditlog/verifier.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "google/protobuf/util/time_util.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/internal/audit_commands.h"
#include "tools/asbctl/internal/audit_helpers.h"
#include "tools/asbctl/options.h"
#include "tools/asbctl/outcome.h"

namespace asb::ctl {
namespace internal {
namespace {

// An export file read back: its header, entries and earlier tree heads. A line that is not an
// export line, or a header anywhere but first, is kDataLoss naming the line.
struct ExportFile {
  asb::v1::AuditExportHeader header;
  std::vector<asb::v1::AuditEntry> entries;
  std::vector<asb::v1::SignedTreeHead> checkpoints;
};

absl::StatusOr<ExportFile> ReadExport(const std::string& file, std::ifstream& in) {
  ExportFile ex;
  bool has_header = false;
  std::string text;
  int line_no = 0;
  while (std::getline(in, text)) {
    ++line_no;
    if (text.empty()) {
      continue;
    }
    asb::v1::AuditExportLine line;
    if (absl::Status s = config::ParseJson(text, &line); !s.ok()) {
      return absl::DataLossError(
          absl::StrCat(file, ":", line_no, ": not an export line: ", s.message()));
    }
    if (line.has_header()) {
      if (has_header || line_no != 1) {
        return absl::DataLossError(
            absl::StrCat(file, ":", line_no, ": a header must be the first line only"));
      }
      has_header = true;
      ex.header = line.header();
    } else if (line.has_entry()) {
      ex.entries.push_back(line.entry());
    } else if (line.has_tree_head()) {
      ex.checkpoints.push_back(line.tree_head());
    }
  }
  if (!has_header) {
    return absl::DataLossError(file + ": no header line");
  }
  return ex;
}

// The export as a LogSource: its entries in pages, and the one compact range it holds (of the
// expired entries); it holds no consistency proofs. `ex` must outlive the source.
audit::LogSource ExportSource(const ExportFile& ex) {
  audit::LogSource source;
  auto next = std::make_shared<std::size_t>(0);
  source.fetch = [&ex, next](uint64_t) -> absl::StatusOr<asb::v1::AuditQueryResponse> {
    asb::v1::AuditQueryResponse page;
    for (; *next < ex.entries.size() && page.entries_size() < static_cast<int>(kAuditPage);
         ++*next) {
      *page.add_entries() = ex.entries[*next];
    }
    if (*next < ex.entries.size()) {
      page.set_next_after_index(page.entries(page.entries_size() - 1).index());
    }
    return page;
  };
  source.consistency = [](uint64_t, uint64_t) -> absl::StatusOr<std::vector<std::string>> {
    return absl::UnimplementedError("an export holds no consistency proofs");
  };
  source.frontier = [&ex](uint64_t size) -> absl::StatusOr<std::vector<std::string>> {
    if (size != ex.header.expired_through()) {
      return absl::NotFoundError("the export holds no compact range of that size");
    }
    return std::vector<std::string>(ex.header.expired_frontier().begin(),
                                    ex.header.expired_frontier().end());
  };
  return source;
}

}  // namespace

absl::Status RunAuditExport(const Globals& g, const AuditExportOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub, OpenHub(g, Daemon::kAudit, o.as, "auditor"));
  ASB_ASSIGN_OR_RETURN(HeadInfo heads, FetchHeads(*hub, /*with_history=*/true));
  std::ofstream file(o.out, std::ios::trunc);
  if (!file) {
    return absl::UnavailableError(o.out + ": cannot write");
  }
  asb::v1::AuditExportLine line;
  auto* header = line.mutable_header();
  header->set_format_version(1);
  header->set_public_key_pem(heads.public_key_pem);
  *header->mutable_tree_head() = heads.head;
  *header->mutable_exported_at() = google::protobuf::util::TimeUtil::GetCurrentTime();
  header->set_exported_by(hub->principal());
  if (heads.expired_through != 0) {
    ASB_ASSIGN_OR_RETURN(std::vector<std::string> frontier,
                         HubSource(*hub).frontier(heads.expired_through));
    header->set_expired_through(heads.expired_through);
    for (auto& h : frontier) {
      header->add_expired_frontier(std::move(h));
    }
  }
  file << config::ToJson(line) << "\n";
  const uint64_t n = heads.head.tree_size();
  uint64_t after = heads.expired_through, written = 0;
  while (written < n) {
    asb::v1::Request request;
    request.mutable_audit_query()->set_after_index(after);
    request.mutable_audit_query()->set_limit(kAuditPage);
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
    const auto& r = response.audit();
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
  for (const auto& h : heads.history) {
    if (h.tree_size() < n) {
      *line.mutable_tree_head() = h;
      file << config::ToJson(line) << "\n";
    }
  }
  file.close();
  if (!file) {
    return absl::UnavailableError(o.out + ": write failed");
  }
  std::printf("exported %llu entries and %zu tree heads to %s (%s)\n",
              static_cast<unsigned long long>(written), heads.history.size(), o.out.c_str(),
              Describe(heads.head).c_str());
  return absl::OkStatus();
}

absl::Status RunAuditVerifyExport(const Globals&, const AuditVerifyExportOptions& o) {
  std::ifstream in(o.file);
  if (!in) {
    return absl::NotFoundError(o.file + ": cannot open");
  }
  absl::StatusOr<ExportFile> ex = ReadExport(o.file, in);
  if (!ex.ok()) {
    return NotVerified(ex.status());
  }
  ASB_ASSIGN_OR_RETURN(
      crypto::Ed25519PublicKey key,
      TrustedKey(o.public_key, ex->header.public_key_pem(), "the export file itself"));
  std::vector<asb::v1::SignedTreeHead> checkpoints = ex->checkpoints;
  checkpoints.push_back(ex->header.tree_head());
  if (absl::Status s = CheckSignatures(checkpoints, key); !s.ok()) {
    return NotVerified(s);
  }
  audit::VerifyRange range;
  range.expired_through = ex->header.expired_through();
  return ReportVerification(
      audit::VerifyLog(ex->header.tree_head(), ex->checkpoints, range, ExportSource(*ex)),
      ex->header.tree_head(),
      absl::StrCat(ex->checkpoints.size(), " earlier tree heads consistent"));
}

}  // namespace internal

CLI::App* AddAuditExportOptions(CLI::App& parent, AuditExportOptions& o) {
  auto* cmd = parent.add_subcommand(
      "export",
      "write the log with its signed tree heads and public key as JSON lines (one "
      "AuditExportLine each), for `asbctl audit verify-export` on any machine");
  cmd->add_option("--out", o.out, "output file")->required();
  cmd->add_option("--as", o.as, "auditor")->capture_default_str();
  return cmd;
}

CLI::App* AddAuditVerifyExportOptions(CLI::App& parent, AuditVerifyExportOptions& o) {
  auto* cmd = parent.add_subcommand(
      "verify-export",
      "check an export file with no hub: signatures of its tree heads, every entry's leaf hash, "
      "order and the Merkle roots; names the first bad entry (exit 3 if bad)");
  cmd->add_option("FILE", o.file, "the export (JSON lines)")->required();
  cmd->add_option("--public-key", o.public_key, "the tree-head signing key you trust (PEM)");
  return cmd;
}

}  // namespace asb::ctl
