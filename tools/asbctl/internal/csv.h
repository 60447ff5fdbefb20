#pragma once

// CSV output shared by asbctl's --format csv commands (audit query, orders list).

#include <string>
#include <vector>

namespace asb::ctl::internal {

// `s` quoted as CSV needs it (RFC 4180: a field with a comma, quote or newline is quoted, its
// quotes doubled).
std::string CsvField(const std::string& s);

// Prints one CSV row (each column quoted as needed) and a newline to stdout.
void PrintCsvRow(std::vector<std::string> cols);

}  // namespace asb::ctl::internal
