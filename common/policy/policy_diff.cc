#include "common/policy/policy_diff.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/config/config.h"

namespace asb::policy {

namespace {

using asb::config::v1::Isp;
using asb::config::v1::NotificationRule;
using asb::config::v1::Rule;
using asb::v1::FieldAction;

std::string ActionName(FieldAction a) {
  return std::string(absl::StripPrefix(asb::v1::FieldAction_Name(a), "FIELD_ACTION_"));
}

// How much an action reveals: DENY < nothing < REDACT < PSEUDONYMISE < GENERALISE < SHOW.
int Reveal(FieldAction a) {
  switch (a) {
    case asb::v1::FIELD_ACTION_SHOW:
      return 5;
    case asb::v1::FIELD_ACTION_GENERALISE:
      return 4;
    case asb::v1::FIELD_ACTION_PSEUDONYMISE:
      return 3;
    case asb::v1::FIELD_ACTION_REDACT:
      return 2;
    case asb::v1::FIELD_ACTION_DENY:
      return 0;
    default:
      return 1;
  }
}

std::string When(const Rule& r) {
  if (!r.has_when() || r.when().ByteSizeLong() == 0) {
    return "always";
  }
  return "when " + config::ToJson(r.when());
}

std::map<std::string, FieldAction> Grants(const Rule& r) {
  std::map<std::string, FieldAction> out;
  for (const auto& g : r.fields()) {
    out[g.path()] = g.action();
  }
  return out;
}

std::string GrantList(const Rule& r) {
  std::string out;
  for (const auto& g : r.fields()) {
    absl::StrAppend(&out, out.empty() ? "" : ", ", g.path(), " ", ActionName(g.action()));
  }
  return out;
}

const Rule* FindRule(const Isp& isp, const std::string& id) {
  for (const Rule& r : isp.rules()) {
    if (r.id() == id) {
      return &r;
    }
  }
  return nullptr;
}

}  // namespace

std::vector<std::string> DiffIsp(const Isp& old_isp, const Isp& new_isp) {
  std::vector<std::string> out;
  for (const auto& a : new_isp.agencies()) {
    bool found = false;
    for (const auto& b : old_isp.agencies()) {
      found |= a.id() == b.id();
    }
    if (!found) {
      out.push_back(absl::StrCat("+ agency ", a.id(), " (", a.name(), ")"));
    }
  }
  for (const auto& b : old_isp.agencies()) {
    bool found = false;
    for (const auto& a : new_isp.agencies()) {
      found |= a.id() == b.id();
    }
    if (!found) {
      out.push_back(absl::StrCat("- agency ", b.id(), " (", b.name(), ")"));
    }
  }
  for (const auto& p : new_isp.purposes()) {
    for (const auto& q : old_isp.purposes()) {
      if (p.id() == q.id() && p.lawful_basis() != q.lawful_basis()) {
        out.push_back(absl::StrCat("~ purpose ", p.id(), ": lawful basis '", q.lawful_basis(),
                                   "' -> '", p.lawful_basis(), "'"));
      }
    }
  }
  for (const Rule& r : new_isp.rules()) {
    const Rule* o = FindRule(old_isp, r.id());
    if (o == nullptr) {
      out.push_back(absl::StrCat("+ rule ", r.id(), " (", r.agency(), ", purpose ", r.purpose(),
                                 ") ", When(r), ": ", r.agency(), " gains ", GrantList(r)));
      continue;
    }
    const std::string head = absl::StrCat("~ rule ", r.id(), " (", r.agency(), ")");
    if (o->agency() != r.agency()) {
      out.push_back(absl::StrCat(head, ": moved from agency ", o->agency(), " to ", r.agency(),
                                 " (", o->agency(), " loses ", GrantList(*o), "; ", r.agency(),
                                 " gains ", GrantList(r), ") ", When(r)));
      continue;
    }
    if (o->purpose() != r.purpose()) {
      out.push_back(absl::StrCat(head, ": purpose ", o->purpose(), " -> ", r.purpose()));
    }
    const std::string ow = When(*o), nw = When(r);
    if (ow != nw) {
      out.push_back(absl::StrCat(head, ": condition ", ow, " -> ", nw));
    }
    const auto og = Grants(*o), ng = Grants(r);
    for (const auto& [path, action] : ng) {
      auto it = og.find(path);
      const FieldAction before = it == og.end() ? asb::v1::FIELD_ACTION_UNSPECIFIED : it->second;
      if (before == action) {
        continue;
      }
      const char* verb = Reveal(action) > Reveal(before) ? " gains " : " loses ";
      out.push_back(absl::StrCat(head, ": ", r.agency(), verb, path, ": ",
                                 it == og.end() ? "none" : ActionName(before), " -> ",
                                 ActionName(action), " (", nw, ")"));
    }
    for (const auto& [path, action] : og) {
      if (!ng.contains(path)) {
        const char* verb =
            Reveal(action) > Reveal(asb::v1::FIELD_ACTION_UNSPECIFIED) ? " loses " : " gains ";
        out.push_back(absl::StrCat(head, ": ", r.agency(), verb, path, ": ", ActionName(action),
                                   " -> none (", nw, ")"));
      }
    }
  }
  for (const Rule& o : old_isp.rules()) {
    if (FindRule(new_isp, o.id()) == nullptr) {
      out.push_back(absl::StrCat("- rule ", o.id(), " (", o.agency(), ", purpose ", o.purpose(),
                                 ") ", When(o), ": ", o.agency(), " loses ", GrantList(o)));
    }
  }
  // Alerts: compared as whole rules (events, order types, agencies).
  auto find_notification = [](const Isp& isp, const std::string& id) -> const NotificationRule* {
    for (const NotificationRule& n : isp.notification_rules()) {
      if (n.id() == id) {
        return &n;
      }
    }
    return nullptr;
  };
  for (const NotificationRule& n : new_isp.notification_rules()) {
    const NotificationRule* o = find_notification(old_isp, n.id());
    if (o == nullptr) {
      out.push_back(absl::StrCat("+ notification rule ", n.id(), ": ", config::ToJson(n)));
    } else {
      NotificationRule a = *o, b = n;
      a.clear_description();
      b.clear_description();
      if (a.SerializeAsString() != b.SerializeAsString()) {
        out.push_back(absl::StrCat("~ notification rule ", n.id(), ": ", config::ToJson(a), " -> ",
                                   config::ToJson(b)));
      }
    }
  }
  for (const NotificationRule& o : old_isp.notification_rules()) {
    if (find_notification(new_isp, o.id()) == nullptr) {
      out.push_back(absl::StrCat("- notification rule ", o.id(), ": ", config::ToJson(o)));
    }
  }
  return out;
}

}  // namespace asb::policy
