#include "common/policy/internal/schema.h"

#include "absl/strings/str_split.h"
#include "asb/v1/case.pb.h"

namespace asb::policy::internal {

namespace {

using google::protobuf::Descriptor;
using google::protobuf::FieldDescriptor;

constexpr char kTimestamp[] = "google.protobuf.Timestamp";

bool IsTimestamp(const FieldDescriptor* f) {
  return f->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE &&
         f->message_type()->full_name() == kTimestamp;
}

struct StringAccess {
  const Descriptor* type;
  const char* name;
  const std::string& (*get)(const google::protobuf::Message&);
  std::string* (*mutable_)(google::protobuf::Message*);
};

#define ASB_STRING_FIELD(Type, field)                                  \
  StringAccess {                                                       \
    asb::v1::Type::descriptor(), #field,                               \
        [](const google::protobuf::Message& m) -> const std::string& { \
          return static_cast<const asb::v1::Type&>(m).field();         \
        },                                                             \
        [](google::protobuf::Message* m) -> std::string* {             \
          return static_cast<asb::v1::Type*>(m)->mutable_##field();    \
        }                                                              \
  }

const std::vector<StringAccess>& StringFields() {
  static const auto* table = new std::vector<StringAccess>{
      ASB_STRING_FIELD(Address, line1),
      ASB_STRING_FIELD(Address, line2),
      ASB_STRING_FIELD(Address, town),
      ASB_STRING_FIELD(Address, postcode),
      ASB_STRING_FIELD(Address, uprn),
      ASB_STRING_FIELD(Address, postcode_district),
      ASB_STRING_FIELD(Location, description),
      ASB_STRING_FIELD(Location, lsoa_code),
      ASB_STRING_FIELD(Location, ward),
      ASB_STRING_FIELD(Person, person_id),
      ASB_STRING_FIELD(Person, given_name),
      ASB_STRING_FIELD(Person, family_name),
      ASB_STRING_FIELD(Person, date_of_birth),
      ASB_STRING_FIELD(Person, age_band),
      ASB_STRING_FIELD(Person, vulnerability),
      ASB_STRING_FIELD(Person, phone),
      ASB_STRING_FIELD(Incident, incident_id),
      ASB_STRING_FIELD(Incident, description),
      ASB_STRING_FIELD(Incident, reported_by),
      ASB_STRING_FIELD(Breach, description),
      ASB_STRING_FIELD(Order, order_id),
      ASB_STRING_FIELD(Order, subject_person_id),
      ASB_STRING_FIELD(Order, issued_by),
      ASB_STRING_FIELD(Order, conditions),
      ASB_STRING_FIELD(Order, court),
      ASB_STRING_FIELD(Order, discharge_reason),
      ASB_STRING_FIELD(Case, case_id),
      ASB_STRING_FIELD(Case, title),
      ASB_STRING_FIELD(Case, summary),
      ASB_STRING_FIELD(Case, lead_agency),
      ASB_STRING_FIELD(Case, lead_officer),
      ASB_STRING_FIELD(Case, risk_notes),
      ASB_STRING_FIELD(Case, closure_reason),
      ASB_STRING_FIELD(Case, source_agency),
      ASB_STRING_FIELD(Person, source_agency),
      ASB_STRING_FIELD(Incident, source_agency),
      ASB_STRING_FIELD(Order, source_agency),
      ASB_STRING_FIELD(Breach, source_agency),
      ASB_STRING_FIELD(Location, district),
      ASB_STRING_FIELD(Location, lsoa_name),
      ASB_STRING_FIELD(Incident, crime_type),
      // The statutory lifecycle of an order (issue 14).
      ASB_STRING_FIELD(Authorisation, officer),
      ASB_STRING_FIELD(Authorisation, reference),
      ASB_STRING_FIELD(Consultation, consultee),
      ASB_STRING_FIELD(Consultation, response),
      ASB_STRING_FIELD(Hearing, hearing_id),
      ASB_STRING_FIELD(Hearing, court),
      ASB_STRING_FIELD(Hearing, notes),
      ASB_STRING_FIELD(Review, outcome),
      ASB_STRING_FIELD(StatutoryNotice, notice_id),
      ASB_STRING_FIELD(StatutoryNotice, order_id),
      ASB_STRING_FIELD(StatutoryNotice, escalates),
      ASB_STRING_FIELD(StatutoryContext, rule_id),
      ASB_STRING_FIELD(StatutoryContext, section),
      ASB_STRING_FIELD(StatutoryContext, effective_from),
      ASB_STRING_FIELD(StatutoryContext, due),
      ASB_STRING_FIELD(StatutoryContext, rules_version),
  };
  return *table;
}

#undef ASB_STRING_FIELD

struct LeafCopy {
  const Descriptor* type;
  const char* name;
  bool (*copy)(const google::protobuf::Message&, google::protobuf::Message*);
  int64_t (*get_int)(const google::protobuf::Message&);
  const google::protobuf::Timestamp* (*get_timestamp)(const google::protobuf::Message&);
};

// proto3 enums and bools are present iff non-zero (doubles are left to reflection: -0.0).
#define ASB_SCALAR_FIELD(Type, field)                                                  \
  LeafCopy {                                                                           \
    asb::v1::Type::descriptor(), #field,                                               \
        [](const google::protobuf::Message& s, google::protobuf::Message* d) -> bool { \
          const auto& m = static_cast<const asb::v1::Type&>(s);                        \
          if (!m.field()) {                                                            \
            return false;                                                              \
          }                                                                            \
          static_cast<asb::v1::Type*>(d)->set_##field(m.field());                      \
          return true;                                                                 \
        },                                                                             \
        [](const google::protobuf::Message& s) -> int64_t {                            \
          return static_cast<int64_t>(static_cast<const asb::v1::Type&>(s).field());   \
        },                                                                             \
        nullptr                                                                        \
  }
#define ASB_TIMESTAMP_FIELD(Type, field)                                                        \
  LeafCopy {                                                                                    \
    asb::v1::Type::descriptor(), #field,                                                        \
        [](const google::protobuf::Message& s, google::protobuf::Message* d) -> bool {          \
          const auto& m = static_cast<const asb::v1::Type&>(s);                                 \
          if (!m.has_##field()) {                                                               \
            return false;                                                                       \
          }                                                                                     \
          *static_cast<asb::v1::Type*>(d)->mutable_##field() = m.field();                       \
          return true;                                                                          \
        },                                                                                      \
        nullptr, [](const google::protobuf::Message& s) -> const google::protobuf::Timestamp* { \
          const auto& m = static_cast<const asb::v1::Type&>(s);                                 \
          return m.has_##field() ? &m.field() : nullptr;                                        \
        }                                                                                       \
  }

const std::vector<LeafCopy>& LeafCopies() {
  static const auto* table = new std::vector<LeafCopy>{
      ASB_SCALAR_FIELD(Person, role),
      ASB_SCALAR_FIELD(Person, vulnerable),
      ASB_SCALAR_FIELD(Person, tenure),
      ASB_SCALAR_FIELD(Person, child),
      ASB_SCALAR_FIELD(Person, confidential),
      ASB_SCALAR_FIELD(Incident, category),
      ASB_TIMESTAMP_FIELD(Incident, occurred_at),
      ASB_TIMESTAMP_FIELD(Breach, occurred_at),
      ASB_SCALAR_FIELD(Order, type),
      ASB_SCALAR_FIELD(Order, status),
      ASB_TIMESTAMP_FIELD(Order, issued_at),
      ASB_TIMESTAMP_FIELD(Order, expires_at),
      ASB_TIMESTAMP_FIELD(Order, review_at),
      ASB_TIMESTAMP_FIELD(Order, applied_at),
      ASB_SCALAR_FIELD(Order, without_notice),
      ASB_SCALAR_FIELD(Order, premises_licensed),
      ASB_TIMESTAMP_FIELD(Order, ended_at),
      ASB_TIMESTAMP_FIELD(Order, varied_at),
      ASB_SCALAR_FIELD(Authorisation, rank),
      ASB_TIMESTAMP_FIELD(Authorisation, authorised_at),
      ASB_TIMESTAMP_FIELD(Consultation, requested_at),
      ASB_TIMESTAMP_FIELD(Consultation, given_at),
      ASB_TIMESTAMP_FIELD(Hearing, listed_for),
      ASB_TIMESTAMP_FIELD(Hearing, held_at),
      ASB_SCALAR_FIELD(Hearing, outcome),
      ASB_TIMESTAMP_FIELD(Review, held_at),
      ASB_TIMESTAMP_FIELD(Review, next_review_at),
      ASB_SCALAR_FIELD(StatutoryNotice, kind),
      ASB_SCALAR_FIELD(StatutoryNotice, order_type),
      ASB_TIMESTAMP_FIELD(StatutoryContext, deadline),
      ASB_SCALAR_FIELD(CaseFlags, fire_risk),
      ASB_SCALAR_FIELD(CaseFlags, council_tenancy),
      ASB_SCALAR_FIELD(CaseFlags, hate_motivated),
      ASB_SCALAR_FIELD(CaseFlags, domestic_abuse),
      ASB_SCALAR_FIELD(CaseFlags, licensed_premises),
      ASB_SCALAR_FIELD(CaseFlags, area_intelligence),
      ASB_SCALAR_FIELD(Case, status),
      ASB_SCALAR_FIELD(Case, nsir_category),
      ASB_SCALAR_FIELD(Case, victim_risk),
      ASB_TIMESTAMP_FIELD(Case, opened_at),
      ASB_TIMESTAMP_FIELD(Case, updated_at),
      ASB_TIMESTAMP_FIELD(Case, closed_at),
  };
  return *table;
}

#undef ASB_SCALAR_FIELD
#undef ASB_TIMESTAMP_FIELD

// Free text: personal data a feed writes in its own words. Shown only by a grant naming it.
bool IsFreeText(const Descriptor* container, const std::string& name) {
  if (container == asb::v1::Case::descriptor()) {
    return name == "summary" || name == "risk_notes" || name == "closure_reason";
  }
  if (container == asb::v1::Incident::descriptor() || container == asb::v1::Breach::descriptor()) {
    return name == "description";
  }
  if (container == asb::v1::Order::descriptor()) {
    return name == "conditions" || name == "discharge_reason";
  }
  if (container == asb::v1::Person::descriptor()) {
    return name == "vulnerability";
  }
  return false;
}

}  // namespace

const Schema& Schema::Get() {
  static const Schema* schema = new Schema();
  return *schema;
}

Schema::Schema() {
  nodes_.push_back(SchemaNode{});  // root: asb.v1.Case
  const Descriptor* root = asb::v1::Case::descriptor();
  for (int i = 0; i < root->field_count(); ++i) {
    int child = Add(0, root->field(i), root->field(i)->name());
    nodes_[0].children.push_back(child);
  }
  for (const SchemaNode& n : nodes_) {
    if (n.free_text) {
      free_text_paths_.push_back(n.path);
    }
  }
}

int Schema::Add(int parent, const FieldDescriptor* field, const std::string& path) {
  const int id = static_cast<int>(nodes_.size());
  nodes_.push_back(SchemaNode{});
  {
    SchemaNode& n = nodes_.back();
    n.id = id;
    n.parent = parent;
    n.field = field;
    n.path = path;
    n.is_people = parent == 0 && field->name() == "people";
    const Descriptor* container = field->containing_type();
    n.free_text = IsFreeText(container, field->name());
    if (parent == 0 && field->is_repeated()) {
      n.fact = field->name() == "people"      ? FactKind::kPerson
               : field->name() == "incidents" ? FactKind::kIncident
               : field->name() == "orders"    ? FactKind::kOrder
                                              : FactKind::kNone;
    } else if (container == asb::v1::Order::descriptor() && field->name() == "breaches") {
      n.fact = FactKind::kBreach;
    }
    const bool is_message = field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE;
    n.leaf = !is_message || IsTimestamp(field);
    n.is_string = field->cpp_type() == FieldDescriptor::CPPTYPE_STRING;
    if (!field->is_repeated()) {
      for (const LeafCopy& c : LeafCopies()) {
        if (c.type == container && field->name() == c.name) {
          n.copy_leaf = c.copy;
          n.get_int = c.get_int;
          n.get_timestamp = c.get_timestamp;
        }
      }
    }
    if (n.is_string && !field->is_repeated()) {
      for (const StringAccess& a : StringFields()) {
        if (a.type == container && field->name() == a.name) {
          n.get_string = a.get;
          n.mutable_string = a.mutable_;
        }
      }
    }
    if (IsTimestamp(field)) {
      n.gen = GenKind::kDate;
      n.explicit_generalise_ok = true;
    } else if (is_message && (field->message_type() == asb::v1::Address::descriptor() ||
                              field->message_type() == asb::v1::Location::descriptor())) {
      n.gen = GenKind::kDescend;
      n.explicit_generalise_ok = true;
    } else if (container == asb::v1::Person::descriptor() && field->name() == "date_of_birth") {
      n.gen = GenKind::kAgeBand;
      n.gen_target = container->FindFieldByName("age_band");
      n.explicit_generalise_ok = true;
    } else if (n.is_string && field->name() == "postcode") {
      n.gen = GenKind::kPostcodeDistrict;
      n.gen_target = container->FindFieldByName("postcode_district");
      n.explicit_generalise_ok = true;
    } else if ((container == asb::v1::Location::descriptor() &&
                (field->name() == "lsoa_code" || field->name() == "ward" ||
                 field->name() == "district" || field->name() == "lsoa_name")) ||
               (container == asb::v1::Address::descriptor() &&
                field->name() == "postcode_district") ||
               (container == asb::v1::Person::descriptor() && field->name() == "age_band")) {
      n.gen = GenKind::kKeep;
    }
  }
  by_path_[path] = id;
  if (!nodes_[id].leaf) {
    const Descriptor* type = field->message_type();
    for (int i = 0; i < type->field_count(); ++i) {
      int child = Add(id, type->field(i), path + "." + type->field(i)->name());
      nodes_[id].children.push_back(child);
      const SchemaNode& c = nodes_[child];
      if (c.free_text) {
        nodes_[id].free_text_below.push_back(child);
      }
      for (int below : c.free_text_below) {
        nodes_[id].free_text_below.push_back(below);
      }
      nodes_[id].facts_below |= c.fact != FactKind::kNone || c.facts_below;
    }
  }
  return id;
}

int Schema::Resolve(const std::string& path, std::string* error) const {
  if (auto it = by_path_.find(path); it != by_path_.end()) {
    return it->second;
  }
  // Find the first part that does not resolve, to say exactly what is wrong.
  int at = 0;
  std::string so_far;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    const SchemaNode& n = nodes_[at];
    if (n.leaf && at != 0) {
      *error = "no field '" + path + "' in asb.v1.Case ('" + n.path + "' is a " +
               (n.field->cpp_type() == FieldDescriptor::CPPTYPE_MESSAGE
                    ? n.field->message_type()->full_name() + ", selected whole"
                    : std::string("scalar")) +
               ")";
      return -1;
    }
    const std::string type_name = at == 0 ? "asb.v1.Case" : n.field->message_type()->full_name();
    std::string next = so_far.empty() ? std::string(part) : so_far + "." + std::string(part);
    auto it = by_path_.find(next);
    if (it == by_path_.end()) {
      *error = "no field '" + path + "' in asb.v1.Case ('" + std::string(part) +
               "' is not a field of " + type_name + ")";
      return -1;
    }
    at = it->second;
    so_far = std::move(next);
  }
  *error = "no field '" + path + "' in asb.v1.Case";
  return -1;
}

}  // namespace asb::policy::internal
