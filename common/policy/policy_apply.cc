// Policy::Apply and Policy::ApplyEncoded: one walk of the schema tree over a case (Walker)
// decides what the agency may see, and hands it either to MessageOut, which builds the view as a
// message by reflection (Apply, for queries), or to WireOut, which writes its bytes with the
// hand-written wire writer of internal/wire_writer.h (ApplyEncoded, what asb-sharing uses for
// every event). One walk for both outputs keeps them the same decision.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/policy/internal/dates.h"
#include "common/policy/internal/match.h"
#include "common/policy/internal/plan.h"
#include "common/policy/internal/schema.h"
#include "common/policy/internal/wire_writer.h"
#include "common/policy/policy.h"
#include "google/protobuf/timestamp.pb.h"

namespace asb::policy {

namespace {

using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using internal::AgencyPlan;
using internal::CaseFacts;
using internal::Coverage;
using internal::FactKind;
using internal::GenKind;
using internal::kDeny;
using internal::kGeneralise;
using internal::kNumActions;
using internal::kPseudonymise;
using internal::kRedact;
using internal::kReveal;
using internal::kShow;
using internal::NodePlan;
using internal::RulePlan;
using internal::Schema;
using internal::SchemaNode;
using internal::WireWriter;

uint8_t Bits(const NodePlan& np, uint64_t mask) {
  uint8_t s = 0;
  for (int a = 0; a < kNumActions; ++a) {
    if ((np.explicit_rules[a] & mask) != 0) {
      s |= static_cast<uint8_t>(1u << a);
    }
  }
  return s;
}

// The actions granted on a node or an enclosing one by the rules of `mask`.
uint8_t ChainBits(const NodePlan& np, uint64_t mask) {
  uint8_t s = 0;
  for (int a = 0; a < kNumActions; ++a) {
    if ((np.chain_rules[a] & mask) != 0) {
      s |= static_cast<uint8_t>(1u << a);
    }
  }
  return s;
}

void CopyField(const Reflection* r, const Message& src, Message* dst, const FieldDescriptor* f) {
  if (f->is_repeated()) {
    const int n = r->FieldSize(src, f);
    for (int i = 0; i < n; ++i) {
      switch (f->cpp_type()) {
        case FieldDescriptor::CPPTYPE_INT32:
          r->AddInt32(dst, f, r->GetRepeatedInt32(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_INT64:
          r->AddInt64(dst, f, r->GetRepeatedInt64(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_UINT32:
          r->AddUInt32(dst, f, r->GetRepeatedUInt32(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_UINT64:
          r->AddUInt64(dst, f, r->GetRepeatedUInt64(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_DOUBLE:
          r->AddDouble(dst, f, r->GetRepeatedDouble(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_FLOAT:
          r->AddFloat(dst, f, r->GetRepeatedFloat(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_BOOL:
          r->AddBool(dst, f, r->GetRepeatedBool(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_ENUM:
          r->AddEnumValue(dst, f, r->GetRepeatedEnumValue(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_STRING:
          r->AddString(dst, f, r->GetRepeatedString(src, f, i));
          break;
        case FieldDescriptor::CPPTYPE_MESSAGE:
          r->AddMessage(dst, f)->MergeFrom(r->GetRepeatedMessage(src, f, i));
          break;
      }
    }
    return;
  }
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      r->SetInt32(dst, f, r->GetInt32(src, f));
      break;
    case FieldDescriptor::CPPTYPE_INT64:
      r->SetInt64(dst, f, r->GetInt64(src, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT32:
      r->SetUInt32(dst, f, r->GetUInt32(src, f));
      break;
    case FieldDescriptor::CPPTYPE_UINT64:
      r->SetUInt64(dst, f, r->GetUInt64(src, f));
      break;
    case FieldDescriptor::CPPTYPE_DOUBLE:
      r->SetDouble(dst, f, r->GetDouble(src, f));
      break;
    case FieldDescriptor::CPPTYPE_FLOAT:
      r->SetFloat(dst, f, r->GetFloat(src, f));
      break;
    case FieldDescriptor::CPPTYPE_BOOL:
      r->SetBool(dst, f, r->GetBool(src, f));
      break;
    case FieldDescriptor::CPPTYPE_ENUM:
      r->SetEnumValue(dst, f, r->GetEnumValue(src, f));
      break;
    case FieldDescriptor::CPPTYPE_STRING: {
      // One copy: GetString would copy once more.
      std::string scratch;
      r->SetString(dst, f, std::string(r->GetStringReference(src, f, &scratch)));
    } break;
    case FieldDescriptor::CPPTYPE_MESSAGE:
      r->MutableMessage(dst, f)->MergeFrom(r->GetMessage(src, f));
      break;
  }
}

// The justifications, field decisions and ISP version of a disclosure: a function of the plan
// and the matching rules only, not of the case.
void FillDecisions(const Policy::Impl& impl, const AgencyPlan& plan, uint64_t mask,
                   asb::v1::Disclosure* out) {
  out->set_isp_version(impl.version);
  for (std::size_t i = 0; i < plan.rules.size(); ++i) {
    if ((mask & plan.reveal_rules & (uint64_t{1} << i)) != 0) {
      const RulePlan& rp = plan.rules[i];
      auto* j = out->add_justifications();
      j->set_rule_id(rp.rule->id());
      j->set_purpose(rp.purpose->id());
      j->set_lawful_basis(rp.purpose->lawful_basis());
    }
  }
  const Schema& schema = Schema::Get();
  for (int id : plan.decision_nodes) {
    if ((plan.nodes[id].any_explicit & mask) == 0) {
      continue;
    }
    // The actions in force here: this path's and every enclosing path's.
    uint64_t by_action[kNumActions];
    for (int a = 0; a < kNumActions; ++a) {
      by_action[a] = plan.nodes[id].chain_rules[a] & mask;
    }
    int winner = by_action[4] != 0 ? 4 : -1;
    for (int a = 0; winner < 0 && a < kNumActions; ++a) {
      if (by_action[a] != 0) {
        winner = a;
      }
    }
    auto* d = out->add_fields();
    d->set_path(schema.node(id).path);
    d->set_action(internal::kActionOfIndex[winner]);
    d->set_rule_id(plan.rules[__builtin_ctzll(by_action[winner])].rule->id());
  }
}

// FillDecisions, serialised, remembered per thread for each (policy, agency, matching rules):
// a partnership's cases fall into few such combinations.
const std::string& DecisionBytes(const Policy::Impl& impl, const AgencyPlan& plan, uint64_t mask) {
  static constexpr std::size_t kMaxEntries = 4096;
  struct Cache {
    uint64_t generation = 0;
    absl::flat_hash_map<std::pair<const AgencyPlan*, uint64_t>, std::string> bytes;
  };
  thread_local Cache cache;
  if (cache.generation != impl.generation) {
    cache.bytes.clear();
    cache.generation = impl.generation;
  }
  auto [it, inserted] = cache.bytes.try_emplace({&plan, mask});
  if (inserted) {
    if (cache.bytes.size() > kMaxEntries) {
      cache.bytes.clear();
      it = cache.bytes.try_emplace({&plan, mask}).first;
    }
    asb::v1::Disclosure d;
    FillDecisions(impl, plan, mask, &d);
    d.SerializeToString(&it->second);
  }
  return it->second;
}

// Builds the view as a message (Apply): a scope is the message being filled.
class MessageOut {
 public:
  using Scope = Message*;

  explicit MessageOut(asb::v1::Case* view) : view_(view) {}
  Scope Root() { return view_; }
  void CloseRoot(Scope) {}

  Scope Open(Scope parent, const FieldDescriptor* f) {
    const Reflection* r = parent->GetReflection();
    return f->is_repeated() ? r->AddMessage(parent, f) : r->MutableMessage(parent, f);
  }
  void Close(Scope parent, const FieldDescriptor* f, Scope, bool keep) {
    if (keep) {
      return;
    }
    const Reflection* r = parent->GetReflection();
    if (f->is_repeated()) {
      r->RemoveLast(parent, f);
    } else {
      r->ClearField(parent, f);
    }
  }
  // `to` is empty, so MergeFrom is a copy without CopyFrom's whole-tree descendant check.
  void CopyWhole(Scope to, const Message& src) { to->MergeFrom(src); }
  void ShowString(Scope to, const SchemaNode& n, const std::string& value) {
    n.mutable_string(to)->assign(value);
  }
  void ShowTyped(Scope to, const SchemaNode& n, const Message& src) { n.copy_leaf(src, to); }
  void ShowField(Scope to, const Reflection* r, const Message& src, const FieldDescriptor* f) {
    CopyField(r, src, to, f);
  }
  void String(Scope to, const FieldDescriptor* f, std::string value) {
    const Reflection* r = to->GetReflection();
    if (f->is_repeated()) {
      r->AddString(to, f, std::move(value));
    } else {
      r->SetString(to, f, std::move(value));
    }
  }
  void Timestamp(Scope to, const FieldDescriptor* f, int64_t seconds, int32_t nanos) {
    auto* ts =
        static_cast<google::protobuf::Timestamp*>(to->GetReflection()->MutableMessage(to, f));
    ts->set_seconds(seconds);
    ts->set_nanos(nanos);
  }

 private:
  asb::v1::Case* view_;
};

// Writes the view's bytes (ApplyEncoded): a scope is the open length-delimited field; values
// go to the end of the output, so the scope a value belongs to needs no name.
class WireOut {
 public:
  using Scope = WireWriter::Mark;

  explicit WireOut(std::string* out) : w_(out) {}
  WireWriter& writer() { return w_; }
  Scope Root() { return w_.Begin(asb::v1::Disclosure::kViewFieldNumber); }
  void CloseRoot(Scope root) { w_.End(root); }

  Scope Open(Scope, const FieldDescriptor* f) { return w_.Begin(f->number()); }
  void Close(Scope, const FieldDescriptor*, Scope child, bool keep) {
    if (keep) {
      w_.End(child);
    } else {
      w_.Drop(child);
    }
  }
  void CopyWhole(Scope, const Message& src) { src.AppendPartialToString(w_.out()); }
  void ShowString(Scope, const SchemaNode& n, const std::string& value) {
    w_.Bytes(n.field->number(), value);
  }
  void ShowTyped(Scope, const SchemaNode& n, const Message& src) {
    if (n.get_int != nullptr) {
      w_.Tag(n.field->number(), 0);
      w_.Varint(static_cast<uint64_t>(n.get_int(src)));
    } else {
      const google::protobuf::Timestamp* ts = n.get_timestamp(src);
      Timestamp(Scope{}, n.field, ts->seconds(), ts->nanos());
    }
  }
  void ShowField(Scope, const Reflection* r, const Message& src, const FieldDescriptor* f) {
    WriteField(&w_, r, src, f);
  }
  void String(Scope, const FieldDescriptor* f, std::string value) { w_.Bytes(f->number(), value); }
  void Timestamp(Scope, const FieldDescriptor* f, int64_t seconds, int32_t nanos) {
    const WireWriter::Mark m = w_.Begin(f->number());
    if (seconds != 0) {
      w_.Tag(google::protobuf::Timestamp::kSecondsFieldNumber, 0);
      w_.Varint(static_cast<uint64_t>(seconds));
    }
    if (nanos != 0) {
      w_.Tag(google::protobuf::Timestamp::kNanosFieldNumber, 0);
      w_.Varint(static_cast<uint64_t>(static_cast<int64_t>(nanos)));
    }
    w_.End(m);
  }

 private:
  WireWriter w_;
};

// One application of a plan to a case: walks the schema tree over the case and hands what the
// agency may see to `Out` (MessageOut for Apply, WireOut for ApplyEncoded), so both outputs
// come from one walk. Each fact (a person, an incident, an order, a breach) is decided under the
// rules that cover it (internal::Coverage), the case's own fields under those covering the
// opener's facts. Collects the redacted paths and the subject keys of the people shown.
template <class Out>
class Walker {
 public:
  using Scope = typename Out::Scope;

  Walker(const Policy::Impl& impl, const AgencyPlan& plan, const asb::v1::Case& c,
         const Coverage& coverage, Out* out)
      : impl_(impl),
        plan_(plan),
        case_(c),
        coverage_(coverage),
        out_(*out),
        schema_(Schema::Get()) {}

  void Run() {
    const Scope root = out_.Root();
    CopyMessage(schema_.node(0), case_, root, 0, coverage_.root());
    out_.CloseRoot(root);
  }

  // Paths present in the case withheld by a REDACT decision, once each, in walk order.
  const std::vector<const std::string*>& redacted() const { return redacted_; }
  // Subject keys of the people in the view, once each, in walk order.
  std::vector<std::string>& subject_keys() { return subject_keys_; }

 private:
  // Hands the granted part of `src` (of node n's message type) to `dst`. True if anything was
  // written.
  bool CopyMessage(const SchemaNode& n, const Message& src, Scope dst, uint8_t inherited,
                   uint64_t mask) {
    bool wrote = false;
    const Reflection* r = src.GetReflection();
    for (int child : n.children) {
      const SchemaNode& cn = schema_.node(child);
      const NodePlan& np = plan_.nodes[child];
      // The case's fact lists are decided from every matching rule, not only the opener's.
      const uint64_t here = n.id == 0 && cn.fact != FactKind::kNone ? coverage_.mask() : mask;
      if (inherited == 0 && ((np.any_explicit | np.below_any) & here) == 0) {
        continue;  // nothing granted here or below
      }
      const FieldDescriptor* f = cn.field;
      if (cn.leaf) {
        const uint8_t s =
            (cn.free_text ? inherited & (kRedact | kDeny) : inherited) | Bits(np, mask);
        if ((s & kDeny) == 0) {
          wrote |= Leaf(cn, s, r, src, dst);
        }
        continue;
      }
      if (f->is_repeated()) {
        const int size = r->FieldSize(src, f);
        for (int i = 0; i < size; ++i) {
          const Message& element = r->GetRepeatedMessage(src, f, i);
          const uint64_t m = coverage_.element(cn.fact, element, i, here);
          // A fact may be covered by fewer rules than its container (a breach from an excluded
          // source): its actions are its path's and every enclosing path's under its own rules.
          const uint8_t s = cn.fact != FactKind::kNone ? ChainBits(np, m) : inherited | Bits(np, m);
          if ((s & kDeny) != 0 || (s == 0 && (np.below_any & m) == 0)) {
            continue;
          }
          const Scope d = out_.Open(dst, f);
          const bool kept = SubMessage(cn, np, s, m, element, d);
          out_.Close(dst, f, d, kept);
          if (kept) {
            wrote = true;
            if (cn.is_people) {
              AddSubjectKey(static_cast<const asb::v1::Person&>(element).person_id());
            }
          }
        }
      } else if (r->HasField(src, f)) {
        const uint8_t s = inherited | Bits(np, mask);
        if ((s & kDeny) != 0) {
          continue;
        }
        const Scope d = out_.Open(dst, f);
        const bool kept = SubMessage(cn, np, s, mask, r->GetMessage(src, f), d);
        out_.Close(dst, f, d, kept);
        wrote |= kept;
      }
    }
    return wrote;
  }

  // Whether a message shown whole may be copied as it is: every free-text field below it is
  // named by a SHOW (an enclosing SHOW does not reach free text), and no fact below it has a
  // coverage of its own.
  bool CopyWholeAllowed(const SchemaNode& n, uint64_t mask) const {
    if (n.facts_below && plan_.source_rules != 0) {
      return false;
    }
    for (int free_text : n.free_text_below) {
      if ((plan_.nodes[free_text].explicit_rules[0] & mask) == 0) {
        return false;
      }
    }
    return true;
  }

  // A present message value under action set s (no DENY). True if anything was written.
  bool SubMessage(const SchemaNode& n, const NodePlan& np, uint8_t s, uint64_t mask,
                  const Message& src, Scope d) {
    if ((s & kShow) != 0 && (np.below_deny & mask) == 0 && CopyWholeAllowed(n, mask)) {
      out_.CopyWhole(d, src);  // shown whole, nothing denied below: the fast path
      return true;
    }
    if ((s & kReveal) == 0 && (s & kRedact) != 0 && (np.below_reveal & mask) == 0) {
      Redacted(n);
      return false;
    }
    return CopyMessage(n, src, d, s, mask);
  }

  bool Leaf(const SchemaNode& n, uint8_t s, const Reflection* r, const Message& src, Scope dst) {
    const FieldDescriptor* f = n.field;
    // Absent: nothing to show or withhold. Typed accessors where the schema has them.
    if (n.get_string != nullptr) {
      const std::string& value = n.get_string(src);
      if (value.empty()) {
        return false;
      }
      if ((s & kShow) != 0) {
        out_.ShowString(dst, n, value);
        return true;
      }
    } else if (n.get_int != nullptr || n.get_timestamp != nullptr) {
      if (n.get_int != nullptr ? n.get_int(src) == 0 : n.get_timestamp(src) == nullptr) {
        return false;
      }
      if ((s & kShow) != 0) {
        out_.ShowTyped(dst, n, src);
        return true;
      }
    } else if (f->is_repeated() ? r->FieldSize(src, f) == 0 : !r->HasField(src, f)) {
      return false;
    } else if ((s & kShow) != 0) {
      out_.ShowField(dst, r, src, f);
      return true;
    }
    if ((s & kGeneralise) != 0 && n.gen != GenKind::kNone && !f->is_repeated()) {
      return Generalise(n, r, src, dst);
    }
    if ((s & kPseudonymise) != 0 && n.is_string) {
      std::string scratch;
      if (f->is_repeated()) {
        for (int i = 0; i < r->FieldSize(src, f); ++i) {
          out_.String(dst, f, Pseudonym(n, r->GetRepeatedStringReference(src, f, i, &scratch)));
        }
      } else {
        out_.String(dst, f, Pseudonym(n, r->GetStringReference(src, f, &scratch)));
      }
      return true;
    }
    if ((s & kRedact) != 0) {
      Redacted(n);
    }
    return false;
  }

  bool Generalise(const SchemaNode& n, const Reflection* r, const Message& src, Scope dst) {
    const FieldDescriptor* f = n.field;
    std::string scratch;
    switch (n.gen) {
      case GenKind::kAgeBand: {
        internal::Date dob;
        if (!internal::ParseIsoDate(r->GetStringReference(src, f, &scratch), &dob)) {
          return false;
        }
        const int age = internal::AgeOn(dob, as_of());
        if (age < 0) {
          return false;
        }
        out_.String(dst, n.gen_target, internal::AgeBand(age));
        return true;
      }
      case GenKind::kPostcodeDistrict: {
        std::string outward = internal::OutwardCode(r->GetStringReference(src, f, &scratch));
        if (outward.empty()) {
          return false;
        }
        out_.String(dst, n.gen_target != nullptr ? n.gen_target : f, std::move(outward));
        return true;
      }
      case GenKind::kKeep:
        out_.ShowField(dst, r, src, f);
        return true;
      case GenKind::kDate: {
        const auto& ts = static_cast<const google::protobuf::Timestamp&>(r->GetMessage(src, f));
        out_.Timestamp(dst, f, internal::TruncateToUtcDay(ts.seconds()), 0);
        return true;
      }
      case GenKind::kNone:
      case GenKind::kDescend:
        return false;
    }
    return false;
  }

  std::string Pseudonym(const SchemaNode& n, const std::string& value) {
    std::string data;
    data.reserve(n.path.size() + 1 + value.size());
    data.append(n.path).push_back(':');
    data.append(value);
    return impl_.Token("ps_", data, 24);
  }

  void Redacted(const SchemaNode& n) {
    // Each node has one path string: pointer equality is path equality.
    if (std::find(redacted_.begin(), redacted_.end(), &n.path) == redacted_.end()) {
      redacted_.push_back(&n.path);
    }
  }

  void AddSubjectKey(const std::string& person_id) {
    if (person_id.empty()) {
      return;
    }
    std::string key = impl_.Token("sk_", person_id, 32);
    if (std::find(subject_keys_.begin(), subject_keys_.end(), key) == subject_keys_.end()) {
      subject_keys_.push_back(std::move(key));
    }
  }

  const internal::Date& as_of() {
    if (!as_of_) {
      as_of_ = internal::AsOf(case_);
    }
    return *as_of_;
  }

  const Policy::Impl& impl_;
  const AgencyPlan& plan_;
  const asb::v1::Case& case_;
  const Coverage& coverage_;
  Out& out_;
  const Schema& schema_;
  std::optional<internal::Date> as_of_;
  std::vector<const std::string*> redacted_;
  std::vector<std::string> subject_keys_;
};

// The agency's plan and its rules matching this case, if any of them grants something;
// null when the agency may not see the case at all.
const AgencyPlan* RevealingPlan(const Policy::Impl& impl, const std::string& agency,
                                const asb::v1::Case& c, const EventContext& context,
                                CaseFacts* facts, uint64_t* mask) {
  const AgencyPlan* plan = impl.Find(agency);
  if (plan == nullptr || plan->reveal_rules == 0) {
    return nullptr;
  }
  *mask = internal::MatchMask(*plan, c, context, facts);
  return (*mask & plan->reveal_rules) != 0 ? plan : nullptr;
}

}  // namespace

bool Policy::Apply(const std::string& agency, const asb::v1::Case& c, const EventContext& context,
                   asb::v1::Disclosure* out) const {
  uint64_t mask = 0;
  CaseFacts facts;
  const AgencyPlan* plan = RevealingPlan(*impl_, agency, c, context, &facts, &mask);
  if (plan == nullptr) {
    return false;
  }
  const Coverage coverage(*plan, c, facts, mask);

  // Clear, not clear_view(): a reused Disclosure keeps its allocated messages and strings.
  out->mutable_view()->Clear();
  out->clear_redacted_paths();
  out->clear_justifications();
  out->clear_fields();
  out->clear_subject_keys();
  MessageOut view(out->mutable_view());
  Walker<MessageOut> walker(*impl_, *plan, c, coverage, &view);
  walker.Run();
  for (const std::string* path : walker.redacted()) {
    out->add_redacted_paths(*path);
  }
  for (std::string& key : walker.subject_keys()) {
    out->add_subject_keys(std::move(key));
  }
  FillDecisions(*impl_, *plan, mask, out);
  return true;
}

bool Policy::ApplyEncoded(const std::string& agency, const asb::v1::Case& c,
                          const EventContext& context, std::string* out) const {
  uint64_t mask = 0;
  CaseFacts facts;
  const AgencyPlan* plan = RevealingPlan(*impl_, agency, c, context, &facts, &mask);
  if (plan == nullptr) {
    return false;
  }
  const Coverage coverage(*plan, c, facts, mask);
  WireOut wire(out);
  Walker<WireOut> walker(*impl_, *plan, c, coverage, &wire);
  walker.Run();
  for (const std::string* path : walker.redacted()) {
    wire.writer().Bytes(asb::v1::Disclosure::kRedactedPathsFieldNumber, *path);
  }
  for (const std::string& key : walker.subject_keys()) {
    wire.writer().Bytes(asb::v1::Disclosure::kSubjectKeysFieldNumber, key);
  }
  out->append(DecisionBytes(*impl_, *plan, mask));
  return true;
}

bool Policy::ShowsOrder(const std::string& agency, const asb::v1::Case& c,
                        const EventContext& context, const std::string& order_id) const {
  uint64_t mask = 0;
  CaseFacts facts;
  const AgencyPlan* plan = RevealingPlan(*impl_, agency, c, context, &facts, &mask);
  if (plan == nullptr) {
    return false;
  }
  static const int kOrders = [] {
    std::string error;
    return Schema::Get().Resolve("orders", &error);
  }();
  const NodePlan& np = plan->nodes[kOrders];
  const uint64_t reveal =
      np.explicit_rules[0] | np.explicit_rules[1] | np.explicit_rules[2] | np.below_reveal;
  for (const asb::v1::Order& o : c.orders()) {
    if (o.order_id() == order_id) {
      return (Coverage(*plan, c, facts, mask).order(o) & reveal) != 0;
    }
  }
  return false;
}

}  // namespace asb::policy
