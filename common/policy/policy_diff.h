#pragma once

// What changes between two ISPs, for people reviewing a protocol change (asbctl policy diff):
// which agencies gain or lose which fields, with which actions, under which rule conditions.
// Rules are matched by id.

#include <string>
#include <vector>

#include "asb/config/v1/isp.pb.h"

namespace asb::policy {

// One line per change, grouped by rule in the new file's order (removed rules last), e.g.
//   "~ rule police-personal-parties (police): police gains people.phone: REDACT -> SHOW"
//   "+ rule fire-arson (fire, purpose fire-safety) when {"fireRisk":true}: people.address SHOW"
// then notification rules added, removed or changed ("~ notification rule case-opened: {..} ->
// {..}"). Empty if the two protocols grant and alert the same.
std::vector<std::string> DiffIsp(const asb::config::v1::Isp& old_isp,
                                 const asb::config::v1::Isp& new_isp);

}  // namespace asb::policy
