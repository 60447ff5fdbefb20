#pragma once

// How the order model's enum values read in ids and messages.

#include <string>
#include <string_view>

#include "asb/v1/statutory.pb.h"

namespace asb::orders {

// The enum value's name without its prefix: "CLOSURE_NOTICE" for "ORDER_TYPE_CLOSURE_NOTICE".
std::string EnumSuffix(const std::string& name, std::string_view prefix);

// The same in words: "closure notice".
std::string EnumWords(const std::string& name, std::string_view prefix);

// "review_overdue" for NOTICE_KIND_REVIEW_OVERDUE: the hub's notice ids and the notification rule
// ids of its alerts ("statutory:review_overdue") are written with it.
std::string NoticeKindWord(asb::v1::NoticeKind kind);

}  // namespace asb::orders
