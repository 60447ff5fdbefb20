#include "tools/asbctl/internal/csv.h"

#include <cstdio>

#include "absl/strings/str_join.h"

namespace asb::ctl::internal {

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) {
    return s;
  }
  std::string out = "\"";
  for (char c : s) {
    out += c == '"' ? std::string("\"\"") : std::string(1, c);
  }
  return out + "\"";
}

void PrintCsvRow(std::vector<std::string> cols) {
  for (auto& c : cols) {
    c = CsvField(c);
  }
  std::printf("%s\n", absl::StrJoin(cols, ",").c_str());
}

}  // namespace asb::ctl::internal
