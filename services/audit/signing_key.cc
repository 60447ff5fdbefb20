#include "services/audit/signing_key.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace asb::audit {
namespace {

absl::Status WriteFileWithMode(const std::string& path, const std::string& data, mode_t mode) {
  // O_EXCL: never overwrite a key that appeared meanwhile.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::UnavailableError(absl::StrCat(path, ": cannot create: ", std::strerror(errno)));
  }
  std::size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      const int err = errno;
      ::close(fd);
      return absl::UnavailableError(absl::StrCat(path, ": write failed: ", std::strerror(err)));
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    return absl::UnavailableError(absl::StrCat(path, ": write failed: ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

}  // namespace

std::string PublicKeyPathFor(const std::string& private_key_path) {
  if (absl::EndsWith(private_key_path, ".pem")) {
    return private_key_path.substr(0, private_key_path.size() - 4) + ".pub.pem";
  }
  return private_key_path + ".pub.pem";
}

absl::StatusOr<crypto::Ed25519PrivateKey> LoadOrCreateSigningKey(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) {
    if (errno != ENOENT) {
      return absl::UnavailableError(absl::StrCat(path, ": ", std::strerror(errno)));
    }
    auto key = crypto::Ed25519PrivateKey::Generate();
    if (!key.ok()) {
      return key.status();
    }
    auto pem = key->PrivatePem();
    if (!pem.ok()) {
      return pem.status();
    }
    auto pub = key->PublicPem();
    if (!pub.ok()) {
      return pub.status();
    }
    std::error_code ec;
    const auto dir = std::filesystem::path(path).parent_path();
    if (!dir.empty()) {
      std::filesystem::create_directories(dir, ec);
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat(dir.string(), ": cannot create directory: ", ec.message()));
      }
    }
    if (absl::Status s = WriteFileWithMode(path, *pem, 0600); !s.ok()) {
      return s;
    }
    const std::string pub_path = PublicKeyPathFor(path);
    std::filesystem::remove(pub_path, ec);  // a stale public key of an older key
    if (absl::Status s = WriteFileWithMode(pub_path, *pub, 0644); !s.ok()) {
      return s;
    }
    return key;
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        path, ": the tree-head signing key is accessible by group or others; chmod 600 it"));
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buf;
  buf << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return absl::UnavailableError(absl::StrCat(path, ": cannot read"));
  }
  auto key = crypto::Ed25519PrivateKey::FromPem(buf.str());
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", key.status().message()));
  }
  return key;
}

}  // namespace asb::audit
