#include "services/intake/order_ledger.h"

#include <memory>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/log/log.h"
#include "common/model/model.h"
#include "common/orders/lifecycle.h"
#include "common/orders/names.h"
#include "common/status/macros.h"

namespace asb::intake {
namespace {

using asb::v1::CaseEvent;
using asb::v1::LedgerOrder;
using asb::v1::Order;
using model::ToTime;
using model::ToTimestamp;

std::string CasePrefix(const std::string& case_id) {
  std::string key = case_id;
  key.push_back('\0');
  return key;
}

std::string OrderKey(const std::string& case_id, const std::string& order_id) {
  return CasePrefix(case_id) + "o" + order_id;
}

std::string PersonKey(const std::string& case_id, const std::string& person_id) {
  return CasePrefix(case_id) + "p" + person_id;
}

// A reminder that no longer helps: its deadline has passed (the overdue notice is what is due),
// or a later reminder of the same deadline is due too (backfill: only the latest one is sent).
bool Moot(const orders::Deadline& d, const std::vector<orders::Deadline>& all, absl::Time now) {
  if (d.kind != asb::v1::NOTICE_KIND_REVIEW_DUE) {
    return false;
  }
  const absl::Time deadline = ToTime(d.context.deadline());
  if (now >= deadline) {
    return true;
  }
  for (const orders::Deadline& other : all) {
    if (other.kind == asb::v1::NOTICE_KIND_REVIEW_DUE && other.name != d.name &&
        ToTime(other.context.deadline()) == deadline && other.fire_at > d.fire_at &&
        other.fire_at <= now) {
      return true;
    }
  }
  return false;
}

}  // namespace

OrderLedger::OrderLedger(store::Store* store, clock::TimerStore* timers)
    : store_(store), timers_(timers), rules_(orders::StatutoryRules::Empty()) {}

void OrderLedger::SetRules(std::shared_ptr<const orders::StatutoryRules> rules) {
  rules_ = rules != nullptr ? std::move(rules) : orders::StatutoryRules::Empty();
}

void OrderLedger::SetAgencies(std::vector<std::string> agencies) {
  agencies_ = std::set<std::string>(agencies.begin(), agencies.end());
}

std::string OrderLedger::TimerName(const std::string& case_id, const std::string& order_id,
                                   const std::string& deadline_name) {
  std::string name = CasePrefix(case_id);
  name.append(order_id);
  name.push_back('\0');
  name.append(deadline_name);
  return name;
}

std::string OrderLedger::HubEventId(const std::string& case_id, const std::string& order_id,
                                    const std::string& name) {
  return absl::StrCat("hub:", case_id, "/", order_id, "/", name);
}

void OrderLedger::Bind(store::Batch* batch) {
  if (bound_ == batch) {
    return;
  }
  cache_.clear();
  bound_ = batch;
  const uint64_t generation = ++generation_;
  auto reset = [this, generation] {
    if (generation_ == generation) {
      cache_.clear();
      bound_ = nullptr;
      ++generation_;
    }
  };
  batch->OnCommit(reset);
  batch->OnAbort(reset);
}

absl::Status OrderLedger::Load(const std::string& case_id, store::Batch* batch) {
  Bind(batch);
  CaseLedger& c = cache_[case_id];
  if (c.loaded) {
    return absl::OkStatus();
  }
  const std::string prefix = CasePrefix(case_id);
  std::unique_ptr<rocksdb::Iterator> it = store_->NewIterator(kLedgerColumnFamily);
  CaseLedger loaded;
  // The orders ('o') and the people ('p') only: the victim ledger's records of the case (its
  // head 'r', its complaints window 'w', its incidents 'i') are not read, nor decrypted, for an
  // order event.
  for (const char kind : {'o', 'p'}) {
    const std::string from = prefix + kind;
    for (it->Seek(from); it->Valid() && it->key().starts_with(from); it->Next()) {
      const std::string id(it->key().ToStringView().substr(from.size()));
      if (kind == 'o') {
        LedgerOrder lo;
        if (!lo.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError(
              absl::StrCat("an order of case '", case_id, "' in the ledger does not parse"));
        }
        loaded.orders.emplace(id, std::move(lo));
      } else {
        asb::v1::LedgerPerson p;
        if (!p.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError(
              absl::StrCat("a person of case '", case_id, "' in the ledger does not parse"));
        }
        loaded.dobs.emplace(id, p.date_of_birth());
      }
    }
    ASB_RETURN_IF_ERROR(store::FromRocks(it->status(), "reading the order ledger"));
  }
  // What this batch already changed stays ahead of what the store has.
  for (auto& [id, lo] : loaded.orders) {
    c.orders.emplace(id, std::move(lo));
  }
  for (auto& [id, dob] : loaded.dobs) {
    c.dobs.emplace(id, std::move(dob));
  }
  c.loaded = true;
  return absl::OkStatus();
}

absl::Status OrderLedger::Prefetch(const CaseEvent& event, store::Batch* batch) {
  if (!orders::IsOrderEvent(event)) {
    return absl::OkStatus();
  }
  return Load(event.case_id(), batch);
}

std::string OrderLedger::IssuingAgency(const Order& order, const std::string& source_agency) const {
  if (!order.issued_by().empty() && agencies_.count(order.issued_by()) != 0) {
    return order.issued_by();
  }
  return source_agency;
}

orders::OrderFacts OrderLedger::Facts(const CaseLedger& c, const LedgerOrder& lo) const {
  orders::OrderFacts facts;
  facts.order = &lo.order();
  facts.issuing_agency = lo.issuing_agency();
  if (!lo.order().subject_person_id().empty()) {
    if (auto it = c.dobs.find(lo.order().subject_person_id());
        it != c.dobs.end() && !it->second.empty()) {
      facts.subject_dob = orders::ParseDate(it->second);
    }
  }
  return facts;
}

OrderLedger::Decision OrderLedger::Evaluate(const std::string& source_agency,
                                            const CaseEvent& event) const {
  Decision d;
  if (!orders::IsOrderEvent(event)) {
    return d;
  }
  const std::string& case_id = event.case_id();
  auto cit = cache_.find(case_id);
  if (cit == cache_.end() || !cit->second.loaded) {
    d.outcome = Decision::Outcome::kRefuse;
    d.refusal = absl::InternalError("the order ledger of the case was not loaded");
    return d;
  }
  const CaseLedger& c = cit->second;
  const std::string& order_id = orders::OrderIdOf(event);
  orders::Orders before_orders;
  const LedgerOrder* existing = nullptr;
  for (const auto& [id, lo] : c.orders) {
    *before_orders.Add() = lo.order();
    if (id == order_id) {
      existing = &lo;
    }
  }
  // An expiry already recorded (by the hub's clock, or an earlier event) is stored once.
  if (event.has_order_expired() && existing != nullptr &&
      existing->order().status() == asb::v1::ORDER_STATUS_EXPIRED) {
    d.outcome = Decision::Outcome::kDuplicate;
    d.duplicate_of = existing->ended_seq();
    return d;
  }
  orders::Orders after_orders = before_orders;
  if (absl::Status s = orders::ApplyOrderEvent(event, case_id, &after_orders); !s.ok()) {
    d.outcome = Decision::Outcome::kRefuse;
    d.refusal = s;
    return d;
  }
  const Order* after = orders::FindOrder(after_orders, order_id);
  if (after == nullptr) {
    d.outcome = Decision::Outcome::kRefuse;
    d.refusal = absl::InternalError("the order vanished from its own event");
    return d;
  }
  LedgerOrder lo = existing != nullptr ? *existing : LedgerOrder();
  *lo.mutable_order() = *after;
  if (lo.issuing_agency().empty() || event.has_order_issued()) {
    lo.set_issuing_agency(IssuingAgency(*after, source_agency));
  }
  std::vector<orders::Finding> findings = rules_->Check(
      event, existing != nullptr ? &existing->order() : nullptr, Facts(c, lo), before_orders);
  std::vector<std::string> refusals;
  for (orders::Finding& f : findings) {
    if (f.refuse) {
      refusals.push_back(f.message);
    } else {
      d.notices.push_back(std::move(f));
    }
  }
  if (!refusals.empty()) {
    d.outcome = Decision::Outcome::kRefuse;
    d.refusal = absl::InvalidArgumentError(absl::StrJoin(refusals, "; "));
    d.notices.clear();
    return d;
  }
  d.order = std::move(lo);
  return d;
}

void OrderLedger::Put(const std::string& case_id, const LedgerOrder& lo, store::Batch* batch) {
  std::string bytes;
  lo.SerializeToString(&bytes);
  batch->Put(kLedgerColumnFamily, OrderKey(case_id, lo.order().order_id()), bytes);
}

void OrderLedger::Reconcile(const std::string& case_id, const CaseLedger& c, LedgerOrder* lo,
                            absl::Time now, store::Batch* batch) {
  std::map<std::string, absl::Time> desired;
  const std::vector<orders::Deadline> deadlines = rules_->Deadlines(Facts(c, *lo));
  for (const orders::Deadline& d : deadlines) {
    if (Moot(d, deadlines, now)) {
      continue;
    }
    desired.emplace(d.name, d.fire_at);
  }
  const std::string& order_id = lo->order().order_id();
  for (const auto& [name, due_ms] : lo->timers()) {
    if (desired.count(name) == 0) {
      timers_->Remove(TimerName(case_id, order_id, name), absl::FromUnixMillis(due_ms), batch);
    }
  }
  google::protobuf::Map<std::string, int64_t> next;
  for (const auto& [name, at] : desired) {
    const int64_t ms = absl::ToUnixMillis(at);
    std::optional<absl::Time> current;
    if (auto it = lo->timers().find(name); it != lo->timers().end()) {
      if (it->second == ms) {
        next[name] = ms;
        continue;
      }
      current = absl::FromUnixMillis(it->second);
    }
    asb::v1::ClockTimer payload;
    payload.set_case_id(case_id);
    payload.set_order_id(order_id);
    payload.set_name(name);
    timers_->Replace(TimerName(case_id, order_id, name), current, at, payload.SerializeAsString(),
                     batch);
    next[name] = ms;
  }
  *lo->mutable_timers() = std::move(next);
}

std::vector<CaseEvent> OrderLedger::Commit(const CaseEvent& event, Decision decision, uint64_t seq,
                                           absl::Time now, store::Batch* batch) {
  Bind(batch);
  std::vector<CaseEvent> raised;
  const std::string& case_id = event.case_id();
  CaseLedger& c = cache_[case_id];
  if (event.has_person_linked()) {
    const asb::v1::Person& p = event.person_linked().person();
    if (!p.date_of_birth().empty()) {
      c.dobs[p.person_id()] = p.date_of_birth();
      asb::v1::LedgerPerson lp;
      lp.set_date_of_birth(p.date_of_birth());
      batch->Put(kLedgerColumnFamily, PersonKey(case_id, p.person_id()), lp.SerializeAsString());
    }
  }
  if (!decision.order.has_value()) {
    return raised;
  }
  LedgerOrder lo = std::move(*decision.order);
  const std::string order_id = lo.order().order_id();
  const bool was_in_force = lo.ended_seq() == 0;
  for (orders::Finding& f : decision.notices) {
    CaseEvent n;
    const std::string notice_id =
        absl::StrCat(orders::NoticeKindWord(f.kind), "/",
                     f.context.rule_id().empty() ? "rule" : f.context.rule_id(), "/", seq);
    n.set_source_event_id(HubEventId(case_id, order_id, notice_id));
    n.set_case_id(case_id);
    *n.mutable_occurred_at() = event.occurred_at();
    asb::v1::StatutoryNotice* s = n.mutable_statutory_notice();
    s->set_notice_id(notice_id);
    s->set_order_id(order_id);
    s->set_kind(f.kind);
    *s->mutable_context() = std::move(f.context);
    for (std::string& r : f.recipients) {
      s->add_recipients(std::move(r));
    }
    s->set_order_type(lo.order().type());
    orders::Orders one;
    *one.Add() = lo.order();
    if (orders::ApplyOrderEvent(n, case_id, &one).ok()) {
      *lo.mutable_order() = one.Get(0);
      raised.push_back(std::move(n));
    }
  }
  if (was_in_force && orders::Ended(lo.order())) {
    lo.set_ended_seq(seq);
  }
  Reconcile(case_id, c, &lo, now, batch);
  Put(case_id, lo, batch);
  c.orders[order_id] = std::move(lo);
  return raised;
}

absl::StatusOr<std::optional<CaseEvent>> OrderLedger::Fire(const clock::Timer& timer,
                                                           absl::Time now, store::Batch* batch) {
  asb::v1::ClockTimer t;
  if (!t.ParseFromString(timer.payload) || t.case_id().empty() || t.order_id().empty() ||
      t.name().empty()) {
    return absl::InvalidArgumentError("a clock timer's payload does not parse");
  }
  ASB_RETURN_IF_ERROR(Load(t.case_id(), batch));
  CaseLedger& c = cache_[t.case_id()];
  auto it = c.orders.find(t.order_id());
  if (it == c.orders.end()) {
    return absl::NotFoundError("a clock timer names an order the ledger does not have");
  }
  LedgerOrder& lo = it->second;
  lo.mutable_timers()->erase(t.name());  // the service removed it
  const orders::Deadline* due = nullptr;
  std::vector<orders::Deadline> deadlines = rules_->Deadlines(Facts(c, lo));
  for (const orders::Deadline& d : deadlines) {
    if (d.name == t.name()) {
      due = &d;
    }
  }
  if (due == nullptr || Moot(*due, deadlines, now)) {
    Reconcile(t.case_id(), c, &lo, now, batch);
    Put(t.case_id(), lo, batch);
    return std::optional<CaseEvent>();
  }
  CaseEvent e;
  e.set_source_event_id(HubEventId(t.case_id(), t.order_id(), t.name()));
  e.set_case_id(t.case_id());
  if (due->expiry) {
    *e.mutable_occurred_at() = due->context.deadline();
    e.mutable_order_expired()->set_order_id(t.order_id());
    *e.mutable_order_expired()->mutable_context() = due->context;
  } else {
    *e.mutable_occurred_at() = ToTimestamp(due->fire_at);
    asb::v1::StatutoryNotice* n = e.mutable_statutory_notice();
    n->set_notice_id(due->name);
    n->set_order_id(t.order_id());
    n->set_kind(due->kind);
    *n->mutable_context() = due->context;
    for (const std::string& r : due->recipients) {
      n->add_recipients(r);
    }
    n->set_escalates(due->escalates);
    n->set_order_type(lo.order().type());
  }
  return std::optional<CaseEvent>(std::move(e));
}

absl::StatusOr<LedgerOrder> OrderLedger::Get(const std::string& case_id,
                                             const std::string& order_id) {
  if (auto c = cache_.find(case_id); c != cache_.end()) {
    if (auto o = c->second.orders.find(order_id); o != c->second.orders.end()) {
      return o->second;
    }
  }
  std::string bytes;
  absl::Status got = store_->Get(kLedgerColumnFamily, OrderKey(case_id, order_id), &bytes);
  if (absl::IsNotFound(got)) {
    return absl::NotFoundError(
        absl::StrCat("no order '", order_id, "' of case '", case_id, "' in the ledger"));
  }
  ASB_RETURN_IF_ERROR(got);
  LedgerOrder lo;
  if (!lo.ParseFromString(bytes)) {
    return absl::DataLossError("a ledger order does not parse");
  }
  return lo;
}

}  // namespace asb::intake
