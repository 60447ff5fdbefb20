// `asbctl deadletters`: the alerts asb-notify gave up on (handed out max_deliveries times and
// never acknowledged). A partner (--as AGENCY) sees its own agency's; without --as the hub-admin
// key is used and every agency's are listed (or one, with --agency).

#include <cstdio>
#include <string>

#include "google/protobuf/util/time_util.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"

namespace asb::ctl {

void AddDeadLettersCommand(CLI::App& app, Globals& g);

namespace {

using google::protobuf::util::TimeUtil;

int RunDeadLetters(const Globals& g, const std::string& as, const std::string& agency,
                   uint32_t limit) {
  auto hub = HubClient::Load(g.hub_config);
  if (!hub.ok()) {
    return ReportError(hub.status());
  }
  const std::string who = as.empty() ? "hub-admin" : as;
  if (absl::Status s = (*hub)->Connect(Daemon::kNotify, who, "partner"); !s.ok()) {
    return ReportError(s);
  }
  asb::v1::Request request;
  auto* list = request.mutable_list_dead_letters();
  list->set_agency(agency);
  list->set_limit(limit);
  std::printf("%-10s %-8s %-12s %-10s %-20s %-24s %s\n", "AGENCY", "SEQ", "CASE", "DELIVERIES",
              "DEAD-LETTERED", "RULE", "REASON");
  int shown = 0;
  while (true) {
    auto response = (*hub)->Call(request);
    if (!response.ok()) {
      return ReportError(response.status());
    }
    const auto& r = response->dead_letters();
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
  return 0;
}

}  // namespace

void AddDeadLettersCommand(CLI::App& app, Globals& g) {
  auto* cmd = app.add_subcommand(
      "deadletters", "list alerts that were never acknowledged after the maximum deliveries");
  static std::string as, agency;
  static uint32_t limit = 100;
  cmd->add_option("--as", as,
                  "partner agency (uses keys_dir/AGENCY-partner.key; sees its own only); "
                  "default: the hub-admin key, which sees every agency's");
  cmd->add_option("--agency", agency, "admins: only this agency");
  cmd->add_option("--page", limit, "entries per request (1-1000)")->check(CLI::Range(1, 1000));
  cmd->callback([&g] { g.exit_code = RunDeadLetters(g, as, agency, limit); });
}

}  // namespace asb::ctl
