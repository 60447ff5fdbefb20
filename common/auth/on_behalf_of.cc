#include "common/auth/on_behalf_of.h"

#include <algorithm>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace asb::auth {
namespace {

// Characters of a UTF-8 string (bytes that do not continue a character).
int Chars(const std::string& s) {
  int n = 0;
  for (unsigned char c : s) {
    n += (c & 0xC0) != 0x80 ? 1 : 0;
  }
  return n;
}

bool HasControl(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) {
      return true;
    }
  }
  return false;
}

void CheckText(std::vector<std::string>* problems, const char* field, const std::string& value,
               int max_chars, const char* required) {
  const std::string at = absl::StrCat("on_behalf_of.", field, ": ");
  if (absl::StripAsciiWhitespace(value).empty()) {
    if (required != nullptr) {
      problems->push_back(absl::StrCat(at, "required: ", required));
    }
    return;
  }
  if (Chars(value) > max_chars) {
    problems->push_back(absl::StrCat(at, "at most ", max_chars, " characters"));
  }
  if (HasControl(value)) {
    problems->push_back(absl::StrCat(at, "no control characters"));
  }
}

}  // namespace

absl::Status CheckOnBehalfOf(const asb::v1::OnBehalfOf& on_behalf_of,
                             const asb::config::v1::Isp& isp) {
  std::vector<std::string> problems;
  CheckText(&problems, "officer_id", on_behalf_of.officer_id(), kMaxOfficerIdChars,
            "the officer on whose behalf your system reads case data (their id in your "
            "agency's own system, e.g. a staff or collar number)");
  CheckText(&problems, "officer_name", on_behalf_of.officer_name(), kMaxOfficerNameChars, nullptr);
  CheckText(&problems, "reason", on_behalf_of.reason(), kMaxReasonChars,
            "why the officer reads it, in their own words (recorded in the access log)");
  const std::string& purpose = on_behalf_of.purpose();
  if (!purpose.empty()) {
    std::vector<std::string> ids;
    for (const auto& p : isp.purposes()) {
      ids.push_back(p.id());
    }
    if (std::find(ids.begin(), ids.end(), purpose) == ids.end()) {
      problems.push_back(absl::StrCat("on_behalf_of.purpose: '", purpose,
                                      "' is not a purpose of the ISP (", absl::StrJoin(ids, ", "),
                                      ")"));
    }
  }
  if (problems.empty()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrJoin(problems, "; "));
}

asb::v1::OnBehalfOf Bounded(const asb::v1::OnBehalfOf& in) {
  // At most 4 bytes a character (UTF-8); a cut inside a character is harmless in a record.
  auto cut = [](const std::string& s, int chars) { return s.substr(0, 4 * chars); };
  asb::v1::OnBehalfOf out;
  out.set_officer_id(cut(in.officer_id(), kMaxOfficerIdChars));
  out.set_officer_name(cut(in.officer_name(), kMaxOfficerNameChars));
  out.set_purpose(cut(in.purpose(), kMaxOfficerIdChars));
  out.set_reason(cut(in.reason(), kMaxReasonChars));
  return out;
}

}  // namespace asb::auth
