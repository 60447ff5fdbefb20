#include "common/orders/names.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_replace.h"

namespace asb::orders {

std::string EnumSuffix(const std::string& name, std::string_view prefix) {
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

std::string EnumWords(const std::string& name, std::string_view prefix) {
  std::string words = absl::AsciiStrToLower(EnumSuffix(name, prefix));
  absl::StrReplaceAll({{"_", " "}}, &words);
  return words;
}

std::string NoticeKindWord(asb::v1::NoticeKind kind) {
  return absl::AsciiStrToLower(EnumSuffix(asb::v1::NoticeKind_Name(kind), "NOTICE_KIND_"));
}

}  // namespace asb::orders
