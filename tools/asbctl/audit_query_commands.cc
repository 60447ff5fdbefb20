// asbctl audit query and subject: list access-log entries by filter, and the subject access
// report (every disclosure, delivery and consultation of one subject), as a table, JSON lines or
// CSV.
#include <cctype>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "asb/v1/api.pb.h"
#include "asb/v1/audit.pb.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "google/protobuf/util/time_util.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/internal/audit_commands.h"
#include "tools/asbctl/internal/audit_helpers.h"
#include "tools/asbctl/internal/csv.h"
#include "tools/asbctl/options.h"

namespace asb::ctl {
namespace internal {
namespace {

using google::protobuf::util::TimeUtil;

// "DISCLOSURE" for AUDIT_KIND_DISCLOSURE.
std::string KindName(const asb::v1::AuditRecord& rec) {
  return asb::v1::AuditKind_Name(rec.kind()).substr(11);
}

// A record's justifications, column by column.
struct Justifications {
  std::vector<std::string> rules;
  std::vector<std::string> purposes;
  std::vector<std::string> bases;
};

Justifications JustificationsOf(const asb::v1::AuditRecord& rec) {
  Justifications j;
  for (const auto& x : rec.justifications()) {
    j.rules.push_back(x.rule_id());
    j.purposes.push_back(x.purpose());
    j.bases.push_back(x.lawful_basis());
  }
  return j;
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

// The query the options ask for (kInvalidArgument for an unknown kind or a bad time).
absl::StatusOr<asb::v1::AuditQueryRequest> QueryFor(const AuditQueryOptions& o) {
  asb::v1::AuditQueryRequest q;
  q.set_case_id(o.case_id);
  q.set_agency(o.agency);
  q.set_actor(o.actor);
  q.set_subject_key(o.subject);
  q.set_purpose(o.purpose);
  q.set_officer_id(o.officer);
  q.set_limit(o.limit);
  for (const std::string& k : o.kinds) {
    asb::v1::AuditKind kind;
    std::string name = "AUDIT_KIND_" + k;
    for (char& c : name) {
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    if (!asb::v1::AuditKind_Parse(name, &kind)) {
      return absl::InvalidArgumentError("--kind " + k + ": unknown kind");
    }
    q.add_kinds(kind);
  }
  if (!o.since.empty()) {
    ASB_ASSIGN_OR_RETURN(*q.mutable_since(), ParseTime(o.since));
  }
  if (!o.until.empty()) {
    ASB_ASSIGN_OR_RETURN(*q.mutable_until(), ParseTime(o.until));
  }
  return q;
}

// "officer id (name): reason [purpose]" of a record made on an officer's behalf; "" otherwise.
std::string OfficerOf(const asb::v1::AuditRecord& rec) {
  if (!rec.has_on_behalf_of()) {
    return "";
  }
  const asb::v1::OnBehalfOf& o = rec.on_behalf_of();
  std::string out = o.officer_id();
  if (!o.officer_name().empty()) {
    absl::StrAppend(&out, " (", o.officer_name(), ")");
  }
  if (!o.purpose().empty()) {
    absl::StrAppend(&out, " [", o.purpose(), "]");
  }
  if (!o.reason().empty()) {
    absl::StrAppend(&out, ": \"", o.reason(), "\"");
  }
  return out;
}

void PrintQueryTable(const asb::v1::AuditQueryResponse& r) {
  std::printf("%-6s %-20s %-15s %-9s %-20s %-9s %-10s %-22s %s\n", "INDEX", "AT", "KIND", "BY",
              "ACTOR", "TO", "CASE", "RULES", "DETAIL");
  for (const auto& e : r.entries()) {
    const auto& rec = e.record();
    const std::string at = TimeUtil::ToString(rec.at()).substr(0, 19);
    std::printf("%-6llu %-20s %-15s %-9s %-20s %-9s %-10s %-22s %s\n",
                static_cast<unsigned long long>(e.index()), at.c_str(), KindName(rec).c_str(),
                rec.component().c_str(), rec.actor().c_str(), rec.recipient_agency().c_str(),
                rec.case_id().c_str(), absl::StrJoin(JustificationsOf(rec).rules, ",").c_str(),
                rec.detail().c_str());
    if (const std::string officer = OfficerOf(rec); !officer.empty()) {
      std::printf("%-6s on behalf of %s\n", "", officer.c_str());
    }
  }
  std::printf("(%d entries shown of %llu in the log)\n", r.entries_size(),
              static_cast<unsigned long long>(r.log_size()));
}

void PrintQueryCsv(const asb::v1::AuditQueryResponse& r, bool header) {
  if (header) {
    std::printf(
        "index,at,kind,component,actor,actor_agency,recipient_agency,case_id,rules,purposes,"
        "lawful_bases,isp_version,fields,detail,officer_id,officer_name,officer_purpose,"
        "officer_reason\n");
  }
  for (const auto& e : r.entries()) {
    const auto& rec = e.record();
    const Justifications j = JustificationsOf(rec);
    PrintCsvRow({std::to_string(e.index()), TimeUtil::ToString(rec.at()), KindName(rec),
                 rec.component(), rec.actor(), rec.actor_agency(), rec.recipient_agency(),
                 rec.case_id(), absl::StrJoin(j.rules, ";"), absl::StrJoin(j.purposes, ";"),
                 absl::StrJoin(j.bases, ";"), rec.isp_version(), absl::StrJoin(rec.fields(), ";"),
                 rec.detail(), rec.on_behalf_of().officer_id(), rec.on_behalf_of().officer_name(),
                 rec.on_behalf_of().purpose(), rec.on_behalf_of().reason()});
  }
}

void PrintSubjectEntry(const asb::v1::AuditEntry& e, const std::string& format) {
  const auto& rec = e.record();
  const Justifications j = JustificationsOf(rec);
  if (format == "json") {
    std::printf("%s\n", config::ToJson(e).c_str());
  } else if (format == "csv") {
    PrintCsvRow({std::to_string(e.index()), TimeUtil::ToString(rec.at()), KindName(rec),
                 rec.recipient_agency(), rec.actor(), rec.actor_agency(), rec.case_id(),
                 absl::StrJoin(j.rules, ";"), absl::StrJoin(j.purposes, ";"),
                 absl::StrJoin(j.bases, ";"), rec.isp_version(), absl::StrJoin(rec.fields(), ";")});
  } else {
    std::vector<std::string> why;
    for (std::size_t i = 0; i < j.rules.size(); ++i) {
      why.push_back(absl::StrCat(j.rules[i], "/", j.purposes[i], "/", j.bases[i]));
    }
    // A consultation names the officer on whose behalf the agency's system asked.
    const std::string by =
        rec.on_behalf_of().officer_id().empty()
            ? rec.actor()
            : absl::StrCat(rec.actor(), " for ", rec.on_behalf_of().officer_id());
    std::printf("%-6llu %-20s %-12s %-10s %-20s %-12s %-30s %s\n",
                static_cast<unsigned long long>(e.index()),
                TimeUtil::ToString(rec.at()).substr(0, 19).c_str(), KindName(rec).c_str(),
                rec.recipient_agency().c_str(), by.c_str(), rec.case_id().c_str(),
                absl::StrJoin(why, ",").c_str(), absl::StrJoin(rec.fields(), ",").c_str());
  }
}

}  // namespace

absl::Status RunAuditQuery(const Globals& g, const AuditQueryOptions& o) {
  asb::v1::Request request;
  ASB_ASSIGN_OR_RETURN(*request.mutable_audit_query(), QueryFor(o));
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub, OpenHub(g, Daemon::kAudit, o.as, "auditor"));
  bool header = true;
  while (true) {
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
    const auto& r = response.audit();
    if (o.format == "json") {
      for (const auto& e : r.entries()) {
        std::printf("%s\n", config::ToJson(e).c_str());
      }
    } else if (o.format == "csv") {
      PrintQueryCsv(r, header);
    } else {
      PrintQueryTable(r);
    }
    header = false;
    if (!o.all || r.next_after_index() == 0) {
      break;
    }
    request.mutable_audit_query()->set_after_index(r.next_after_index());
  }
  return absl::OkStatus();
}

absl::Status RunAuditSubject(const Globals& g, const AuditSubjectOptions& o) {
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub, OpenHub(g, Daemon::kAudit, o.as, "auditor"));
  asb::v1::Request request;
  auto* q = request.mutable_audit_query();
  q->set_subject_key(o.key);
  q->set_limit(kAuditPage);
  for (auto kind : {asb::v1::AUDIT_KIND_DISCLOSURE, asb::v1::AUDIT_KIND_DELIVERY,
                    asb::v1::AUDIT_KIND_CONSULTATION}) {
    q->add_kinds(kind);
  }
  if (o.format == "table") {
    std::printf("%-6s %-20s %-12s %-10s %-20s %-12s %-30s %s\n", "INDEX", "WHEN", "KIND", "TO",
                "BY", "CASE", "WHY (rule/purpose/lawful basis)", "FIELDS");
  } else if (o.format == "csv") {
    std::printf(
        "index,at,kind,recipient_agency,actor,actor_agency,case_id,rules,purposes,"
        "lawful_bases,isp_version,fields\n");
  }
  uint64_t count = 0;
  while (true) {
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
    const auto& r = response.audit();
    for (const auto& e : r.entries()) {
      ++count;
      PrintSubjectEntry(e, o.format);
    }
    if (r.next_after_index() == 0) {
      break;
    }
    q->set_after_index(r.next_after_index());
  }
  if (o.format == "table") {
    std::printf("(%llu disclosures, deliveries and consultations of this subject)\n",
                static_cast<unsigned long long>(count));
  }
  return absl::OkStatus();
}

}  // namespace internal

CLI::App* AddAuditQueryOptions(CLI::App& parent, AuditQueryOptions& o) {
  auto* cmd = parent.add_subcommand("query", "list access-log entries (filters combine)");
  cmd->add_option("--as", o.as, "auditor (keys_dir/NAME.key or NAME-auditor.key)")
      ->capture_default_str();
  cmd->add_option("--case", o.case_id, "only this case");
  cmd->add_option("--agency", o.agency, "only where this agency acted or received");
  cmd->add_option("--since", o.since, "only at or after (2026-01-31 or RFC 3339)");
  cmd->add_option("--until", o.until, "only before");
  cmd->add_option("--actor", o.actor, "only by this principal");
  cmd->add_option("--subject", o.subject, "only about this pseudonymous subject key");
  cmd->add_option("--purpose", o.purpose,
                  "only justified by this purpose (or stated by the officer who asked)");
  cmd->add_option("--officer", o.officer,
                  "only made on behalf of this officer id (add --agency: ids are per agency)");
  cmd->add_option("--kind", o.kinds, "only these kinds (disclosure, delivery, consultation, …)");
  cmd->add_option("--limit", o.limit, "entries per page (1-10000)")->check(CLI::Range(1, 10000));
  cmd->add_flag("--all", o.all, "fetch every page");
  cmd->add_option("--format", o.format, "table, json (JSON lines) or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  return cmd;
}

CLI::App* AddAuditSubjectOptions(CLI::App& parent, AuditSubjectOptions& o) {
  auto* cmd = parent.add_subcommand(
      "subject",
      "subject access report: every disclosure, delivery and consultation of one pseudonymous "
      "subject key — to whom, when, why");
  cmd->add_option("KEY", o.key, "the pseudonymous subject key")->required();
  cmd->add_option("--as", o.as, "auditor")->capture_default_str();
  cmd->add_option("--format", o.format, "table, json (JSON lines) or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}))
      ->capture_default_str();
  return cmd;
}

}  // namespace asb::ctl
