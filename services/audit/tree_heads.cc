#include "services/audit/tree_heads.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/config/config.h"
#include "common/crypto/crypto.h"
#include "common/crypto/merkle.h"
#include "common/log/log.h"
#include "common/status/macros.h"
#include "services/audit/internal/log_store.h"

namespace asb::audit {
namespace {

using ::asb::audit::internal::Logger;

// Writes `text` to `path` durably and atomically: a temporary file, fsync, rename, fsync of
// the directory.
absl::Status WriteDurably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", tmp, ": ", std::strerror(errno)));
  }
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::UnavailableError(absl::StrCat("cannot write ", path, ": ", std::strerror(errno)));
  }
  std::string dir = std::filesystem::path(path).parent_path().string();
  const int dfd = ::open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return absl::OkStatus();
}

std::string Hex(const std::string& bytes) { return crypto::HexEncode(bytes).substr(0, 16); }

}  // namespace

TreeHeads::TreeHeads(AuditLog* log, store::Store* store, const TreeHeadSigner* signer,
                     std::string kept_file, std::function<absl::Time()> clock)
    : log_(log),
      store_(store),
      signer_(signer),
      kept_file_(std::move(kept_file)),
      clock_(std::move(clock)) {}

absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> TreeHeads::ReadKept() const {
  std::string text;
  absl::Status read = config::ReadFile(kept_file_, &text);
  if (absl::IsNotFound(read)) {
    return std::nullopt;
  }
  ASB_RETURN_IF_ERROR(read);
  asb::v1::SignedTreeHead sth;
  if (absl::Status s = config::ParseJson(text, &sth); !s.ok()) {
    return absl::DataLossError(
        absl::StrCat("the kept tree head ", kept_file_, " does not parse: ", s.message()));
  }
  return sth;
}

bool TreeHeads::Check(const asb::v1::SignedTreeHead& sth, const std::string& where) {
  asb::v1::AuditDamage d;
  auto key = crypto::Ed25519PublicKey::FromPem(signer_->public_key_pem());
  absl::Status signed_ok = key.ok() ? VerifyTreeHeadSignature(sth, *key) : key.status();
  if (!signed_ok.ok()) {
    d.set_what(absl::StrCat("the signed tree head of size ", sth.tree_size(), " ", where,
                            " is not signed by this hub's key (", signed_ok.message(), ")"));
  } else if (sth.tree_size() > log_->size()) {
    d.set_first(log_->size() + 1);
    d.set_last(sth.tree_size());
    d.set_what(absl::StrCat("the log was truncated: the signed tree head of size ", sth.tree_size(),
                            " ", where, " covers entries 1..", sth.tree_size(),
                            " but the log has only ", log_->size()));
  } else if (sth.tree_size() > 0) {
    auto root = log_->RootAt(sth.tree_size());
    if (!root.ok() || *root != sth.root_hash()) {
      d.set_first(1);
      d.set_last(sth.tree_size());
      d.set_what(absl::StrCat(
          "the tree's hashes of entries 1..", sth.tree_size(),
          " do not give the root of the signed tree head of that size ", where,
          root.ok() ? absl::StrCat(" (", Hex(*root), "… instead of ", Hex(sth.root_hash()), "…)")
                    : absl::StrCat(" (", root.status().message(), ")")));
    }
  }
  if (d.what().empty()) {
    return true;
  }
  log_->AddDamage(std::move(d));
  return false;
}

absl::Status TreeHeads::Load() {
  ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::SignedTreeHead> stored, log_->LatestTreeHead());
  auto kept = ReadKept();
  if (absl::IsDataLoss(kept.status())) {
    asb::v1::AuditDamage d;
    d.set_what(std::string(kept.status().message()));
    log_->AddDamage(std::move(d));
    kept = std::nullopt;
  }
  ASB_RETURN_IF_ERROR(kept.status());
  const bool stored_fits = stored.has_value() && Check(*stored, "stored in the database");
  const bool kept_fits = kept->has_value() && Check(**kept, absl::StrCat("kept in ", kept_file_));
  if (kept->has_value() && (!stored.has_value() || stored->tree_size() < (*kept)->tree_size())) {
    if (kept_fits) {
      asb::v1::AuditDamage d;
      d.set_what(absl::StrCat(
          "signed tree heads are missing from the database: the newest "
          "stored is of size ",
          stored.has_value() ? stored->tree_size() : 0, ", but the last one signed (kept in ",
          kept_file_, ") is of size ", (*kept)->tree_size()));
      log_->AddDamage(std::move(d));
    }
    // The newest head this hub signed, whatever the store says: a verifier checks against it.
    last_ = **kept;
  } else if (stored.has_value()) {
    last_ = *stored;
    if (stored_fits &&
        (!kept->has_value() || (kept_fits && (*kept)->tree_size() < stored->tree_size()))) {
      // First start with a kept file, or a crash between the store's write and the file's.
      if (absl::Status s = Keep(*stored); !s.ok()) {
        SPDLOG_LOGGER_ERROR(Logger(), "the last tree head could not be kept: {}", s.ToString());
      }
    }
  }
  // The entries appended since the last head were never signed: their stored tree must still be
  // the tree of their leaf hashes, or the next head would sign hashes nobody can check.
  if (!log_->read_only() && log_->size() > 0) {
    const uint64_t m = last_.has_value() ? last_->tree_size() : 0;
    ASB_ASSIGN_OR_RETURN(bool matches, log_->TreeMatchesLeavesAfter(m));
    if (!matches) {
      asb::v1::AuditDamage d;
      d.set_first(m + 1);
      d.set_last(log_->size());
      d.set_what(absl::StrCat("the tree's hashes of entries ", m + 1, "..", log_->size(),
                              " (after the last signed tree head, of size ", m,
                              ") do not match their leaf hashes"));
      log_->AddDamage(std::move(d));
    }
  }
  if (last_.has_value()) {
    SPDLOG_LOGGER_INFO(Logger(), "last signed tree head: size {} (kept in {})", last_->tree_size(),
                       kept_file_);
  }
  return absl::OkStatus();
}

absl::Status TreeHeads::Keep(const asb::v1::SignedTreeHead& sth) {
  return WriteDurably(kept_file_, config::ToJson(sth) + "\n");
}

absl::StatusOr<std::optional<asb::v1::SignedTreeHead>> TreeHeads::Issue() {
  const uint64_t n = log_->size();
  if (log_->read_only()) {
    if (last_.has_value() && last_->tree_size() >= n) {
      return last_;
    }
    ++refused_;
    return absl::FailedPreconditionError(absl::StrCat(
        "the access log is damaged (", log_->damage().size(), " problem(s) found at start, e.g. ",
        log_->damage().empty() ? "an unreadable tree" : log_->damage()[0].what(),
        "): no tree head is signed until an admin runs `asbctl audit repair`"));
  }
  if (n == 0 || (last_.has_value() && last_->tree_size() >= n)) {
    return last_;
  }
  ASB_ASSIGN_OR_RETURN(std::string root, log_->RootAt(n));
  if (last_.has_value()) {
    // Never sign over a gap: the new tree must extend the last signed one.
    const uint64_t m = last_->tree_size();
    auto proof = log_->ConsistencyProof(m, n);
    absl::Status consistent =
        proof.ok() ? crypto::merkle::VerifyConsistency(m, n, last_->root_hash(), root, *proof)
                   : proof.status();
    if (!consistent.ok()) {
      ++refused_;
      asb::v1::AuditDamage d;
      d.set_first(1);
      d.set_last(n);
      d.set_what(absl::StrCat("the tree of ", n,
                              " entries is not consistent with the last signed tree head (size ", m,
                              "): ", consistent.message()));
      log_->AddDamage(d);
      return absl::DataLossError(d.what());
    }
  }
  const uint64_t now_ms = static_cast<uint64_t>(absl::ToUnixMillis(clock_()));
  ASB_ASSIGN_OR_RETURN(asb::v1::SignedTreeHead sth, signer_->Sign(n, root, now_ms));
  store::Batch batch = store_->NewBatch();
  log_->PutTreeHead(sth, &batch);
  if (stream_ != nullptr) {
    asb::v1::Envelope env;
    *env.mutable_tree_head() = sth;
    stream_->Append(&batch, &env);
  }
  ASB_RETURN_IF_ERROR(store_->Write(&batch));
  last_ = sth;
  if (absl::Status s = Keep(sth); !s.ok()) {
    // Stored and served; only the copy outside the database lags (Load catches up).
    SPDLOG_LOGGER_ERROR(Logger(), "signed tree head of size {} not kept: {}", n, s.ToString());
  }
  SPDLOG_LOGGER_DEBUG(Logger(), "signed tree head of size {}", n);
  return last_;
}

absl::StatusOr<std::vector<asb::v1::SignedTreeHead>> TreeHeads::Supersede(bool dry_run) {
  // Heads are issued in size order and a head's root at size s commits to every leaf up to s:
  // once one does not fit the rebuilt tree, none above it does. So the first misfit is found
  // by binary search over the stored sizes.
  ASB_ASSIGN_OR_RETURN(std::vector<uint64_t> sizes, log_->TreeHeadSizes());
  auto fits = [this](const asb::v1::SignedTreeHead& sth) {
    if (sth.tree_size() > log_->size()) {
      return false;
    }
    auto root = log_->RootAt(sth.tree_size());
    return root.ok() && *root == sth.root_hash();
  };
  auto head_at = [this](uint64_t size) -> absl::StatusOr<asb::v1::SignedTreeHead> {
    ASB_ASSIGN_OR_RETURN(std::optional<asb::v1::SignedTreeHead> h, log_->TreeHeadAt(size));
    if (!h.has_value()) {
      return absl::NotFoundError(absl::StrCat("tree head ", size, " vanished"));
    }
    return *h;
  };
  std::size_t lo = 0;
  std::size_t hi = sizes.size();  // sizes[hi..] do not fit
  while (lo < hi) {
    const std::size_t mid = lo + (hi - lo) / 2;
    ASB_ASSIGN_OR_RETURN(asb::v1::SignedTreeHead h, head_at(sizes[mid]));
    if (fits(h)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  std::vector<asb::v1::SignedTreeHead> out;
  store::Batch batch = store_->NewBatch();
  for (std::size_t i = lo; i < sizes.size(); ++i) {
    ASB_ASSIGN_OR_RETURN(asb::v1::SignedTreeHead h, head_at(sizes[i]));
    log_->SupersedeTreeHead(h, &batch);
    out.push_back(std::move(h));
  }
  std::optional<asb::v1::SignedTreeHead> newest;
  if (lo > 0) {
    ASB_ASSIGN_OR_RETURN(newest, head_at(sizes[lo - 1]));
  }
  auto kept = ReadKept();
  if (kept.ok() && kept->has_value() && !fits(**kept) &&
      (out.empty() || out.back().tree_size() < (*kept)->tree_size())) {
    log_->SupersedeTreeHead(**kept, &batch);
    out.push_back(**kept);
  }
  if (dry_run) {
    return out;
  }
  ASB_RETURN_IF_ERROR(store_->Write(&batch));
  last_ = newest;
  if (newest.has_value()) {
    ASB_RETURN_IF_ERROR(Keep(*newest));
  } else {
    std::error_code ec;
    std::filesystem::remove(kept_file_, ec);
  }
  return out;
}

}  // namespace asb::audit
