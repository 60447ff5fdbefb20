#pragma once

// asbctl policy document: the data sharing agreement a signatory reads, rendered from the ISP
// the hub enforces — its agreement section (parties, roles, term, DPIA, retention, breaches,
// rights, onward disclosure, signatures) and, generated from the rules themselves, the purposes
// with their gateways and, per agency, what it sees in which cases. Re-rendered from the file,
// the paper cannot drift from the code. Markdown, or one self-contained HTML file (no scripts,
// no external resources).

#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/policy/policy.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/options.h"

namespace asb::ctl {

enum class DocumentFormat { kMarkdown, kHtml };

// The document for `policy`, loaded from `source` (named in it), as of `now` (its review
// status and the generation date).
std::string RenderPolicyDocument(const policy::Policy& policy, const std::string& source,
                                 DocumentFormat format, absl::Time now);

// asbctl policy document FILE [--format html|md] [--out F].
absl::Status RunPolicyDocument(const Globals& g, const PolicyDocumentOptions& o);

}  // namespace asb::ctl
