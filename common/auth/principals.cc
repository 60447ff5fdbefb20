#include "common/auth/principals.h"

#include <cctype>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "common/agreement/agreement.h"
#include "common/crypto/crypto.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace asb::auth {
namespace {

using ::asb::config::v1::Isp;

void CheckAgency(const asb::config::v1::Agency& a, const std::string& at, config::Violations* p,
                 absl::flat_hash_set<std::string>* ids) {
  if (!ValidId(a.id())) {
    p->Add(at + ".id",
           a.id().empty() ? "required" : "'" + a.id() + "' is not a valid id ([a-z0-9_-]+)");
  } else if (a.id() == kHubAgency) {
    p->Add(at + ".id", "'hub' is reserved for the hub's own daemons");
  } else if (!ids->insert(a.id()).second) {
    p->Add(at + ".id", "duplicate agency '" + a.id() + "'");
  }
  if (a.name().empty()) {
    p->Add(at + ".name", "required");
  }
}

void CheckPrincipal(const asb::config::v1::Principal& pr, const std::string& at,
                    const absl::flat_hash_set<std::string>& agencies, config::Violations* p,
                    absl::flat_hash_set<std::string>* names,
                    absl::flat_hash_set<std::string>* keys) {
  if (pr.name().empty()) {
    p->Add(at + ".name", "required");
  } else if (!names->insert(pr.name()).second) {
    p->Add(at + ".name", "duplicate principal '" + pr.name() + "'");
  }
  const bool hub = pr.agency() == kHubAgency;
  if (pr.agency().empty()) {
    p->Add(at + ".agency", "required");
  } else if (!hub && !agencies.contains(pr.agency())) {
    p->Add(at + ".agency", "unknown agency '" + pr.agency() + "'");
  }
  if (pr.role() == asb::v1::ROLE_UNSPECIFIED || !asb::v1::Role_IsValid(pr.role())) {
    p->Add(at + ".role", "required: FEED, PARTNER, AUDITOR, ADMIN or DAEMON");
  } else if (hub != (pr.role() == asb::v1::ROLE_DAEMON)) {
    p->Add(at + ".role", hub ? "agency 'hub' is for the hub's daemons: role must be DAEMON"
                             : "role DAEMON is only for agency 'hub'");
  }
  if (pr.public_key().empty()) {
    p->Add(at + ".public_key", "required");
  } else if (pr.public_key().size() != 40 || !crypto::Z85Decode(pr.public_key()).ok()) {
    // The key itself is public, but keep messages short and uniform.
    p->Add(at + ".public_key", "not a CurveZMQ public key (40 Z85 characters)");
  } else if (!keys->insert(pr.public_key()).second) {
    p->Add(at + ".public_key", "key already used by another principal");
  }
}

std::string VersionOf(const Isp& isp) {
  Isp directory;
  *directory.mutable_agencies() = isp.agencies();
  *directory.mutable_principals() = isp.principals();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    directory.SerializeToCodedStream(&coded);
  }
  return crypto::HexEncode(crypto::Sha256(bytes));
}

}  // namespace

bool ValidId(const std::string& id) {
  if (id.empty()) {
    return false;
  }
  for (char c : id) {
    if (!(std::islower(static_cast<unsigned char>(c)) ||
          std::isdigit(static_cast<unsigned char>(c)) || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

absl::flat_hash_set<std::string> CheckAgenciesAndPrincipals(const Isp& isp,
                                                            config::Violations* problems) {
  absl::flat_hash_set<std::string> agencies;
  for (int i = 0; i < isp.agencies_size(); ++i) {
    CheckAgency(isp.agencies(i), absl::StrCat("agencies[", i, "]"), problems, &agencies);
  }
  absl::flat_hash_set<std::string> names;
  absl::flat_hash_set<std::string> keys;
  for (int i = 0; i < isp.principals_size(); ++i) {
    CheckPrincipal(isp.principals(i), absl::StrCat("principals[", i, "]"), agencies, problems,
                   &names, &keys);
  }
  return agencies;
}

absl::StatusOr<Principals> Principals::LoadFile(const std::string& isp_file, absl::Time now) {
  Isp isp;
  config::SourceMap lines;
  if (absl::Status s = config::LoadConfigFile(isp_file, &isp, &lines); !s.ok()) {
    return s;
  }
  return FromIsp(isp, isp_file, &lines, now);
}

absl::StatusOr<Principals> Principals::FromIsp(const Isp& isp, const std::string& file_name,
                                               const config::SourceMap* lines, absl::Time now) {
  config::Violations problems(file_name, lines);
  CheckAgenciesAndPrincipals(isp, &problems);
  // The agreement is every daemon's business: one that has lapsed is refused here, at load.
  agreement::Check(isp, &problems);
  agreement::CheckInForce(isp, now, &problems);
  if (absl::Status s = problems.ToStatus(); !s.ok()) {
    return s;
  }
  auto table = std::make_shared<bus::PrincipalTable>();
  for (const auto& pr : isp.principals()) {
    table->Add(bus::Principal{pr.name(), pr.agency(), pr.role(), pr.public_key()});
  }
  Principals out;
  out.isp_name_ = isp.name();
  out.review_isp_.set_name(isp.name());
  *out.review_isp_.mutable_agreement() = isp.agreement();
  out.version_ = VersionOf(isp);
  out.table_ = std::move(table);
  return out;
}

}  // namespace asb::auth
