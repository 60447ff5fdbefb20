// `asbctl deadletters`: the alerts asb-notify gave up on (handed out max_deliveries times and
// never acknowledged). A partner (--as AGENCY) sees its own agency's; without --as the hub-admin
// key is used and every agency's are listed (or one, with --agency).

#include <cstdio>
#include <string>

#include "common/status/macros.h"
#include "google/protobuf/util/time_util.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/options.h"

namespace asb::ctl {
namespace {

using google::protobuf::util::TimeUtil;

absl::Status RunDeadLetters(const Globals& g, const DeadLettersOptions& o) {
  ASB_ASSIGN_OR_RETURN(
      std::unique_ptr<HubClient> hub,
      HubClient::Open(g.hub_config, Daemon::kNotify, o.as.empty() ? "hub-admin" : o.as, "partner"));
  asb::v1::Request request;
  auto* list = request.mutable_list_dead_letters();
  list->set_agency(o.agency);
  list->set_limit(o.page);
  std::printf("%-10s %-8s %-12s %-10s %-20s %-24s %s\n", "AGENCY", "SEQ", "CASE", "DELIVERIES",
              "DEAD-LETTERED", "RULE", "REASON");
  int shown = 0;
  while (true) {
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, hub->Call(request));
    const auto& r = response.dead_letters();
    for (const auto& d : r.dead_letters()) {
      const auto& a = d.alert();
      std::printf("%-10s %-8llu %-12s %-10u %-20s %-24s %s\n", a.agency().c_str(),
                  static_cast<unsigned long long>(a.agency_seq()), a.disclosure().case_id().c_str(),
                  a.delivery_count(),
                  TimeUtil::ToString(d.dead_lettered_at()).substr(0, 19).c_str(),
                  a.notification_rule().c_str(), d.reason().c_str());
      ++shown;
    }
    if (!r.more() || r.dead_letters().empty()) {
      break;
    }
    const auto& last = r.dead_letters(r.dead_letters_size() - 1).alert();
    list->set_after_agency(last.agency());
    list->set_after_seq(last.agency_seq());
  }
  std::printf("(%d dead letters)\n", shown);
  return absl::OkStatus();
}

}  // namespace

CLI::App* AddDeadLettersOptions(CLI::App& parent, DeadLettersOptions& o) {
  auto* cmd = parent.add_subcommand(
      "deadletters", "list alerts that were never acknowledged after the maximum deliveries");
  cmd->add_option("--as", o.as,
                  "partner agency (uses keys_dir/AGENCY-partner.key; sees its own only); "
                  "default: the hub-admin key, which sees every agency's");
  cmd->add_option("--agency", o.agency, "admins: only this agency");
  cmd->add_option("--page", o.page, "entries per request (1-1000)")->check(CLI::Range(1, 1000));
  return cmd;
}

void AddDeadLettersCommand(CLI::App& app, Globals& g) {
  AddCommand(app, g, AddDeadLettersOptions, RunDeadLetters);
}

}  // namespace asb::ctl
