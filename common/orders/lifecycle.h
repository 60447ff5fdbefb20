#pragma once

// The lifecycle of an order, as one pure function both asb-intake and asb-sharing run: intake on
// its order ledger, to refuse at once what cannot apply (and to keep the hub's clock), sharing in
// its case fold. Because both run the same code on the same log, they agree on every order's
// status.
//
// The rules: an order id is issued once (a second OrderIssued is refused: vary it instead); an
// id first seen in a consultation, hearing or authorisation is a PROPOSED order until it is
// issued; a variation, discharge or review needs an order in force; a breach needs an issued
// order and, if the order has ended, a breach that happened while it was in force; an order
// expires or is discharged once.

#include <string>

#include "absl/status/status.h"
#include "asb/v1/case.pb.h"
#include "asb/v1/events.pb.h"
#include "google/protobuf/repeated_field.h"

namespace asb::orders {

using Orders = google::protobuf::RepeatedPtrField<asb::v1::Order>;

// True if the event concerns one order (every order_* event, consultations, hearings,
// authorisations, reviews and the hub's statutory notices).
bool IsOrderEvent(const asb::v1::CaseEvent& event);

// The id of the order the event concerns ("" for other events).
const std::string& OrderIdOf(const asb::v1::CaseEvent& event);

// The order type an event names for an order it may create (consultation and hearing events),
// or UNSPECIFIED.
asb::v1::OrderType OrderTypeNamedBy(const asb::v1::CaseEvent& event);

asb::v1::Order* FindOrder(Orders* orders, const std::string& order_id);
const asb::v1::Order* FindOrder(const Orders& orders, const std::string& order_id);

// True for DISCHARGED and EXPIRED.
bool Ended(const asb::v1::Order& order);

// Applies an order event of case `case_id` to the case's orders. The event's occurred_at is the
// time of what happened (an issue without issued_at was issued then; a discharge ended it then).
// Errors (`orders` unchanged): kFailedPrecondition when it cannot apply, the message naming the
// field, the order, the case and why (never a personal value), e.g. "order_issued: order 'CBO-1'
// is already issued on case 'CBC-1' (ACTIVE): vary it instead"; kInvalidArgument for an event
// that concerns no order.
absl::Status ApplyOrderEvent(const asb::v1::CaseEvent& event, const std::string& case_id,
                             Orders* orders);

}  // namespace asb::orders
