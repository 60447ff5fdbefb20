// `asbctl orders list`: the orders a partner agency may see (its view of each case, from
// asb-sharing), with their next review and expiry; filtered by status, type and what falls due
// within N days. It reads case data, so it names the officer and the reason (DPA 2018 s.62(3)),
// and asb-sharing records a consultation of every case whose orders it returns.

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "asb/config/v1/isp.pb.h"
#include "asb/v1/api.pb.h"
#include "common/config/config.h"
#include "common/orders/rules.h"
#include "common/status/macros.h"
#include "google/protobuf/util/time_util.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/internal/csv.h"

namespace asb::ctl {
namespace {

using google::protobuf::util::TimeUtil;

struct OrdersListOptions {
  std::string as;
  std::string officer;
  std::string officer_name;
  std::string reason;
  std::string purpose;
  std::string status;  // active, expired, discharged, proposed (empty: any)
  uint32_t due_within = 0;
  std::vector<std::string> types;
  std::string format = "table";
};

// "2026-12-01" of a timestamp, or "-".
std::string Day(const google::protobuf::Timestamp& ts, bool present) {
  return present ? TimeUtil::ToString(ts).substr(0, 10) : std::string("-");
}

// ORDER_TYPE_CLOSURE_NOTICE → CLOSURE_NOTICE.
std::string Short(const std::string& enum_name, std::string_view prefix) {
  return enum_name.rfind(prefix, 0) == 0 ? enum_name.substr(prefix.size()) : enum_name;
}

absl::StatusOr<asb::v1::OrderType> ParseType(const std::string& text) {
  std::string name = absl::AsciiStrToUpper(text);
  for (char& c : name) {
    if (c == '-') {
      c = '_';
    }
  }
  if (name.rfind("ORDER_TYPE_", 0) != 0) {
    name = "ORDER_TYPE_" + name;
  }
  asb::v1::OrderType t;
  if (!asb::v1::OrderType_Parse(name, &t) || t == asb::v1::ORDER_TYPE_UNSPECIFIED) {
    return absl::InvalidArgumentError(
        absl::StrCat("--type: unknown order type '", text,
                     "' (e.g. criminal_behaviour_order, closure_notice, dispersal_direction)"));
  }
  return t;
}

absl::Status RunOrdersList(const Globals& g, const OrdersListOptions& o) {
  if (o.officer.empty()) {
    return absl::InvalidArgumentError(
        "--officer: required (the officer you ask for; or set ASBHUB_OFFICER)");
  }
  if (o.reason.empty()) {
    return absl::InvalidArgumentError(
        "--reason: required (why the officer looks, for the access log; or set ASBHUB_REASON)");
  }
  asb::v1::Request request;
  asb::v1::ListOrdersRequest* list = request.mutable_list_orders();
  asb::v1::OnBehalfOf* who = list->mutable_on_behalf_of();
  who->set_officer_id(o.officer);
  who->set_officer_name(o.officer_name);
  who->set_reason(o.reason);
  who->set_purpose(o.purpose);
  if (!o.status.empty()) {
    asb::v1::OrderStatus status;
    if (!asb::v1::OrderStatus_Parse("ORDER_STATUS_" + absl::AsciiStrToUpper(o.status), &status) ||
        status == asb::v1::ORDER_STATUS_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat(
          "--status: '", o.status, "' is not a status (active, expired, discharged, proposed)"));
    }
    list->set_status(status);
  }
  list->set_due_within_days(o.due_within);
  for (const std::string& t : o.types) {
    ASB_ASSIGN_OR_RETURN(asb::v1::OrderType type, ParseType(t));
    list->add_types(type);
  }
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kSharing, o.as, "partner"));
  if (o.format == "table") {
    std::printf("%-16s %-18s %-28s %-10s %-12s %-11s %-11s %s\n", "CASE", "ORDER", "TYPE", "STATUS",
                "ISSUED BY", "NEXT REVIEW", "EXPIRES", "NOTICES");
  } else if (o.format == "csv") {
    internal::PrintCsvRow({"case_id", "order_id", "type", "status", "issued_by", "issued_at",
                           "review_at", "expires_at", "next_due", "next_deadline", "notices"});
  }
  int shown = 0;
  while (true) {
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
    const asb::v1::ListOrdersResponse& r = response.orders();
    for (const asb::v1::OrderSummary& s : r.orders()) {
      const asb::v1::Order& order = s.order();
      const std::string type = Short(asb::v1::OrderType_Name(order.type()), "ORDER_TYPE_");
      const std::string status = Short(asb::v1::OrderStatus_Name(order.status()), "ORDER_STATUS_");
      if (o.format == "json") {
        std::printf("%s\n", config::ToJson(s).c_str());
      } else if (o.format == "csv") {
        internal::PrintCsvRow({s.case_id(), order.order_id(), type, status, order.issued_by(),
                               Day(order.issued_at(), order.has_issued_at()),
                               Day(order.review_at(), order.has_review_at()),
                               Day(order.expires_at(), order.has_expires_at()), s.next_due(),
                               s.has_next_deadline() ? TimeUtil::ToString(s.next_deadline()) : "",
                               std::to_string(order.notices_size())});
      } else {
        std::printf("%-16s %-18s %-28s %-10s %-12s %-11s %-11s %d\n", s.case_id().c_str(),
                    order.order_id().c_str(), type.c_str(), status.c_str(),
                    order.issued_by().c_str(),
                    Day(order.review_at(), order.has_review_at()).c_str(),
                    Day(order.expires_at(), order.has_expires_at()).c_str(), order.notices_size());
      }
      ++shown;
    }
    if (!r.more() || r.orders().empty()) {
      break;
    }
    const asb::v1::OrderSummary& last = r.orders(r.orders_size() - 1);
    list->set_after_case_id(last.case_id());
    list->set_after_order_id(last.order().order_id());
  }
  if (o.format == "table") {
    std::printf("(%d orders)\n", shown);
  }
  return absl::OkStatus();
}

struct RulesCheckOptions {
  std::string file = "config/statutory/rules.yaml";
  std::string isp = "config/isp/chesterfield.yaml";
};

// Loads the rules table as asb-intake does, against the ISP's agencies: OK, or every mistake with
// its file and line.
absl::Status RunRulesCheck(const Globals&, const RulesCheckOptions& o) {
  asb::config::v1::Isp isp;
  ASB_RETURN_IF_ERROR(config::LoadConfigFile(o.isp, &isp));
  std::vector<std::string> agencies;
  for (const auto& a : isp.agencies()) {
    agencies.push_back(a.id());
  }
  ASB_ASSIGN_OR_RETURN(std::shared_ptr<const orders::StatutoryRules> rules,
                       orders::StatutoryRules::LoadFile(o.file, agencies));
  std::printf("OK: %s: %zu rules, version %s\n", o.file.c_str(), rules->rule_count(),
              rules->version().c_str());
  return absl::OkStatus();
}

CLI::App* AddRulesCheckOptions(CLI::App& parent, RulesCheckOptions& o) {
  auto* cmd = parent.add_subcommand(
      "check-rules", "check a statutory rules table (as asb-intake loads it; offline)");
  cmd->add_option("file", o.file, "the rules table")->capture_default_str();
  cmd->add_option("--isp", o.isp, "the ISP whose agencies it names")->capture_default_str();
  return cmd;
}

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

CLI::App* AddOrdersListOptions(CLI::App& parent, OrdersListOptions& o) {
  auto* cmd = parent.add_subcommand(
      "list", "the orders your agency may see, with their next review and expiry (audited)");
  cmd->add_option("--as", o.as, "partner agency (keys_dir/AGENCY-partner.key)")->required();
  o.officer = Env("ASBHUB_OFFICER");
  o.reason = Env("ASBHUB_REASON");
  cmd->add_option("--officer", o.officer,
                  "the officer you ask for (their id in your agency's system; or $ASBHUB_OFFICER)")
      ->capture_default_str();
  cmd->add_option("--officer-name", o.officer_name, "the officer's name, for the access log");
  cmd->add_option("--reason", o.reason,
                  "why the officer looks (recorded in the access log; or $ASBHUB_REASON)")
      ->capture_default_str();
  cmd->add_option("--purpose", o.purpose, "the ISP purpose you act under");
  cmd->add_option("--status", o.status, "only: active, expired, discharged or proposed");
  cmd->add_option("--due-within", o.due_within,
                  "only orders in force whose next review or expiry falls within DAYS")
      ->check(CLI::Range(1, 3660));
  cmd->add_option("--type", o.types, "only this order type (repeatable), e.g. closure_notice");
  cmd->add_option("--format", o.format, "table, json (JSON lines) or csv")
      ->check(CLI::IsMember({"table", "json", "csv"}));
  return cmd;
}

}  // namespace

void AddOrdersCommand(CLI::App& app, Globals& g) {
  auto* group = app.add_subcommand("orders", "orders: monitoring what is in force and due");
  group->require_subcommand(1);
  AddCommand(*group, g, AddOrdersListOptions, RunOrdersList);
  AddCommand(*group, g, AddRulesCheckOptions, RunRulesCheck);
}

}  // namespace asb::ctl
