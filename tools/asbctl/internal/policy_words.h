// The ISP's values in words, for the agreement a signatory reads (asbctl policy document): no
// enum name or proto text reaches the paper. Fields the schema gains later are rendered too
// (by reflection), as "<field>: <values>".

#ifndef ASBHUB_TOOLS_ASBCTL_INTERNAL_POLICY_WORDS_H_
#define ASBHUB_TOOLS_ASBCTL_INTERNAL_POLICY_WORDS_H_

#include <set>
#include <string>

#include "asb/config/v1/isp.pb.h"
#include "asb/v1/disclosure.pb.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"

namespace asb::ctl::internal {

// "ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER" → "criminal behaviour order": the enum's common prefix
// (its UNSPECIFIED value's, e.g. "ORDER_TYPE_") removed.
std::string EnumWords(const google::protobuf::EnumValueDescriptor* v);
// A field's name in words ("date_of_birth" → "date of birth").
std::string FieldWords(const google::protobuf::FieldDescriptor* f);
// The value(s) of field `f` of `m` in words.
std::string ValueWords(const google::protobuf::Message& m,
                       const google::protobuf::FieldDescriptor* f);
// Whom a person selector covers: "victims or perpetrators who are children and flagged
// vulnerable".
std::string PersonWords(const asb::config::v1::PersonSelector& p);
// A rule's row condition, field by field as the ISP sets them; "every case" for none.
std::string ConditionWords(const asb::config::v1::Condition& c);
// Whatever else `m` sets beyond the `known` fields, in words.
std::string OtherTerms(const google::protobuf::Message& m, const std::set<std::string>& known);
// What a field rule does to a value ("shown", "redacted", …).
std::string ActionWords(asb::v1::FieldAction a);
// A contact as a line of the agreement.
std::string ContactWords(const asb::config::v1::DataSharingAgreement::Contact& c);
// From when the agreement's retention counts.
std::string RetentionFrom(asb::config::v1::DataSharingAgreement::RetentionData d);

}  // namespace asb::ctl::internal

#endif  // ASBHUB_TOOLS_ASBCTL_INTERNAL_POLICY_WORDS_H_
