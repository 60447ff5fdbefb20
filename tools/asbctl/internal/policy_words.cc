// The ISP's values in words, for the agreement a signatory reads (asbctl policy document).
#include "tools/asbctl/internal/policy_words.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"

namespace asb::ctl::internal {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Agreement = asb::config::v1::DataSharingAgreement;

// "ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER" → "criminal behaviour order": the enum's common prefix
// (its UNSPECIFIED value's, e.g. "ORDER_TYPE_") removed.
std::string EnumWords(const google::protobuf::EnumValueDescriptor* v) {
  if (v == nullptr) {
    return "?";
  }
  std::string name = v->name();
  const google::protobuf::EnumValueDescriptor* zero = v->type()->FindValueByNumber(0);
  if (zero != nullptr && absl::EndsWith(zero->name(), "UNSPECIFIED")) {
    const std::string prefix = zero->name().substr(0, zero->name().size() - 11);
    if (absl::StartsWith(name, prefix)) {
      name = name.substr(prefix.size());
    }
  }
  absl::AsciiStrToLower(&name);
  return absl::StrReplaceAll(name, {{"_", " "}});
}

std::string FieldWords(const FieldDescriptor* f) {
  return absl::StrReplaceAll(f->name(), {{"_", " "}});
}

// The value(s) of field `f` of `m` in words.
std::string ValueWords(const Message& m, const FieldDescriptor* f) {
  const Reflection* r = m.GetReflection();
  std::vector<std::string> values;
  const int n = f->is_repeated() ? r->FieldSize(m, f) : 1;
  for (int i = 0; i < n; ++i) {
    const bool rep = f->is_repeated();
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_ENUM:
        values.push_back(EnumWords(rep ? r->GetRepeatedEnum(m, f, i) : r->GetEnum(m, f)));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        values.push_back((rep ? r->GetRepeatedBool(m, f, i) : r->GetBool(m, f)) ? "yes" : "no");
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        values.push_back(rep ? r->GetRepeatedString(m, f, i) : r->GetString(m, f));
        break;
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        std::string text;
        google::protobuf::TextFormat::Printer printer;
        printer.SetSingleLineMode(true);
        printer.PrintToString(rep ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f), &text);
        values.push_back(std::string(absl::StripAsciiWhitespace(text)));
        break;
      }
      default: {
        std::string text;
        google::protobuf::TextFormat::PrintFieldValueToString(m, f, rep ? i : -1, &text);
        values.push_back(text);
      }
    }
  }
  return absl::StrJoin(values, ", ");
}

std::string OtherTerms(const Message& m, const std::set<std::string>& known);

// Whom a person selector covers, in words: "victims or perpetrators who are children and
// flagged vulnerable". Terms the schema gains later read "<field>: <values>".
std::string PersonWords(const asb::config::v1::PersonSelector& p) {
  std::vector<std::string> roles;
  for (int r : p.roles()) {
    const std::string role = EnumWords(asb::v1::PersonRole_descriptor()->FindValueByNumber(r));
    roles.push_back(role + (absl::EndsWith(role, "s") ? "es" : "s"));
  }
  std::string who = roles.empty() ? "people" : absl::StrJoin(roles, " or ");
  std::vector<std::string> terms;
  std::string tenure;
  if (p.has_child()) {
    terms.push_back(p.child() ? "children (under 18)" : "not known to be children");
  }
  if (p.has_vulnerable()) {
    terms.push_back(p.vulnerable() ? "flagged vulnerable" : "not flagged vulnerable");
  }
  if (p.has_order_subject() || p.order_types_size() > 0) {
    std::vector<std::string> types;
    for (int t : p.order_types()) {
      types.push_back(EnumWords(asb::v1::OrderType_descriptor()->FindValueByNumber(t)));
    }
    const std::string order = types.empty() ? "an order" : "a " + absl::StrJoin(types, " or ");
    terms.push_back(absl::StrCat(
        p.has_order_subject() && !p.order_subject() ? "not the subject of " : "the subject of ",
        order, " on the case"));
  }
  if (p.tenures_size() > 0) {
    std::vector<std::string> tenures;
    for (int t : p.tenures()) {
      tenures.push_back(EnumWords(asb::v1::Tenure_descriptor()->FindValueByNumber(t)));
    }
    tenure = " whose tenure is " + absl::StrJoin(tenures, " or ");
  }
  if (p.has_confidential()) {
    terms.push_back(p.confidential() ? "confidential reporters or fearful witnesses only"
                                     : "not confidential reporters or fearful witnesses");
  }
  if (std::string other = OtherTerms(p, {"roles", "child", "vulnerable", "order_subject",
                                         "order_types", "tenures", "confidential"});
      !other.empty()) {
    terms.push_back(other);
  }
  return absl::StrCat(who, terms.empty() ? "" : " who are ", absl::StrJoin(terms, " and "),
                      terms.empty() || tenure.empty() ? "" : ",", tenure);
}

// A rule's row condition in words, field by field as the ISP sets them (by reflection, so a
// condition added to the schema is rendered too); "every case" for none.
std::string ConditionWords(const asb::config::v1::Condition& c) {
  // Phrases for the conditions the schema has today; any other reads "<field>: <values>".
  static const std::map<std::string, std::string>* const kPhrase =
      new std::map<std::string, std::string>{
          {"nsir_categories", "the case's NSIR category is"},
          {"event_types", "the event shared is"},
          {"order_types", "the case has an order of type"},
          {"person_roles", "its people.* grants cover only people with role"},
          {"min_victim_risk", "the victim risk is at least"},
          {"wards", "the location's ward is"},
          {"lsoa_codes", "the location's LSOA is"},
          {"tenures", "someone linked holds their home as"},
          {"source_agencies", "its grants cover only facts from the feeds of"},
          {"exclude_source_agencies", "its grants cover no fact from the feeds of"},
      };
  static const std::map<std::string, std::pair<std::string, std::string>>* const kFlag =
      new std::map<std::string, std::pair<std::string, std::string>>{
          {"fire_risk", {"the case is a fire risk", "the case is not a fire risk"}},
          {"council_tenancy",
           {"a council tenancy or council premises is involved", "no council tenancy is involved"}},
          {"hate_motivated", {"the behaviour is hate-motivated", "it is not hate-motivated"}},
          {"subject_under_18",
           {"a victim or perpetrator is under 18", "no victim or perpetrator is under 18"}},
          {"has_vulnerable_person",
           {"someone linked is assessed as vulnerable", "no one linked is vulnerable"}},
          {"licensed_premises", {"the premises are licensed", "the premises are not licensed"}},
          {"lead_agency", {"the agency leads the case", "the agency does not lead the case"}},
      };
  std::vector<const FieldDescriptor*> set;
  c.GetReflection()->ListFields(c, &set);
  std::vector<std::string> parts;
  for (const FieldDescriptor* f : set) {
    if (auto flag = kFlag->find(f->name());
        flag != kFlag->end() && f->cpp_type() == FieldDescriptor::CPPTYPE_BOOL) {
      parts.push_back(c.GetReflection()->GetBool(c, f) ? flag->second.first : flag->second.second);
    } else if (f->name() == "any_person") {
      parts.push_back("the case has " + PersonWords(c.any_person()));
    } else if (auto phrase = kPhrase->find(f->name()); phrase != kPhrase->end()) {
      parts.push_back(absl::StrCat(phrase->second, " ", ValueWords(c, f)));
    } else {
      parts.push_back(absl::StrCat(FieldWords(f), ": ", ValueWords(c, f)));
    }
  }
  return parts.empty() ? "every case" : absl::StrJoin(parts, "; and ");
}

// Whatever else a message sets beyond `known` fields, in words (so terms the schema gains are
// on the paper too).
std::string OtherTerms(const Message& m, const std::set<std::string>& known) {
  std::vector<const FieldDescriptor*> set;
  m.GetReflection()->ListFields(m, &set);
  std::vector<std::string> parts;
  for (const FieldDescriptor* f : set) {
    if (!known.contains(f->name())) {
      parts.push_back(absl::StrCat(FieldWords(f), ": ", ValueWords(m, f)));
    }
  }
  return absl::StrJoin(parts, "; ");
}

std::string ActionWords(asb::v1::FieldAction a) {
  switch (a) {
    case asb::v1::FIELD_ACTION_SHOW:
      return "shown";
    case asb::v1::FIELD_ACTION_PSEUDONYMISE:
      return "pseudonymised";
    case asb::v1::FIELD_ACTION_GENERALISE:
      return "generalised";
    case asb::v1::FIELD_ACTION_REDACT:
      return "redacted";
    case asb::v1::FIELD_ACTION_DENY:
      return "denied";
    default:
      return "?";
  }
}

std::string ContactWords(const Agreement::Contact& c) {
  std::vector<std::string> parts;
  std::string who = c.name();
  if (!c.role().empty()) {
    absl::StrAppend(&who, " (", c.role(), ")");
  }
  parts.push_back(who);
  if (!c.email().empty()) {
    parts.push_back(c.email());
  }
  if (!c.phone().empty()) {
    parts.push_back(c.phone());
  }
  return absl::StrJoin(parts, ", ");
}

std::string RetentionFrom(Agreement::RetentionData d) {
  switch (d) {
    case Agreement::RETENTION_CASE_DATA:
      return "the case's closure; then deleted (crypto-shredded) by the hub in every daemon, and "
             "each agency that received the case is told to review its copies";
    case Agreement::RETENTION_ACCESS_LOG:
      return "the entry's time; then deleted by asb-audit in whole daily segments "
             "(AuditConfig.retention_days)";
    case Agreement::RETENTION_ALERTS:
      return "the alert's acknowledgement; then deleted by asb-notify "
             "(NotifyConfig.retention_days)";
    case Agreement::RETENTION_PARTNER_COPIES:
      return "each party's own schedule, applied in its own systems";
    default:
      return "";
  }
}

}  // namespace asb::ctl::internal
