#include "common/bus/keys.h"

#include <sys/stat.h>
#include <zmq.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "asb/config/v1/common.pb.h"
#include "common/config/config.h"

namespace asb::bus {

bool IsValidZ85Key(const std::string& key) {
  if (key.size() != 40) {
    return false;
  }
  uint8_t decoded[32];
  return zmq_z85_decode(decoded, key.c_str()) != nullptr;
}

std::string KeyPrefix(const std::string& public_key) { return public_key.substr(0, 8) + "…"; }

absl::StatusOr<KeyPair> GenerateKeyPair(const std::string& name) {
  char pub[41];
  char sec[41];
  // A key containing "${" would read like an environment reference in a config file; such keys
  // are simply drawn again (about 1 in 200).
  for (int attempt = 0; attempt < 100; ++attempt) {
    if (zmq_curve_keypair(pub, sec) != 0) {
      return absl::InternalError(std::string("zmq_curve_keypair: ") + zmq_strerror(zmq_errno()));
    }
    std::string p(pub), s(sec);
    if (p.find("${") == std::string::npos && s.find("${") == std::string::npos) {
      return KeyPair{name, p, s};
    }
  }
  return absl::InternalError("could not draw a usable key pair");
}

namespace {

std::string KeyFileText(const KeyPair& keys, bool with_secret) {
  std::string text = "# asbhub CurveZMQ key for " + keys.name + "\n";
  text += "name: \"" + keys.name + "\"\n";
  text += "public_key: \"" + keys.public_key + "\"\n";
  if (with_secret) {
    text += "# SECRET: keep this file private (mode 0600).\n";
    text += "secret_key: \"" + keys.secret_key + "\"\n";
  }
  return text;
}

absl::Status WriteFile(const std::string& path, const std::string& text, mode_t mode) {
  std::FILE* f = std::fopen(path.c_str(), "wx");  // exclusive: never overwrite
  if (f == nullptr) {
    if (errno == EEXIST) {
      return absl::AlreadyExistsError(path + " exists; refusing to overwrite a key");
    }
    return absl::UnavailableError(path + ": " + std::strerror(errno));
  }
  ::fchmod(fileno(f), mode);
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) {
    return absl::UnavailableError(path + ": write failed");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status WriteKeyFiles(const std::string& dir, const KeyPair& keys) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::UnavailableError(dir + ": " + ec.message());
  }
  const std::string base = dir + "/" + keys.name;
  if (std::filesystem::exists(base + ".key")) {
    return absl::AlreadyExistsError(base + ".key exists; refusing to overwrite a key");
  }
  std::filesystem::remove(base + ".pub", ec);
  if (absl::Status s = WriteFile(base + ".key", KeyFileText(keys, true), 0600); !s.ok()) {
    return s;
  }
  return WriteFile(base + ".pub", KeyFileText(keys, false), 0644);
}

absl::StatusOr<KeyPair> LoadKeyFile(const std::string& path, bool require_secret) {
  std::string text;
  if (absl::Status s = config::ReadFile(path, &text); !s.ok()) {
    return s;
  }
  // No environment expansion here: key files are literal.
  std::string json;
  asb::config::v1::CurveKeyFile file;
  if (absl::Status s = config::YamlToJson(text, &json); !s.ok()) {
    return absl::InvalidArgumentError(path + ": " + std::string(s.message()));
  }
  if (absl::Status s = config::ParseJson(json, &file); !s.ok()) {
    return absl::InvalidArgumentError(path + ": " + std::string(s.message()));
  }
  if (!IsValidZ85Key(file.public_key())) {
    return absl::InvalidArgumentError(path + ": public_key: must be a 40-character Z85 key");
  }
  if (require_secret) {
    if (!IsValidZ85Key(file.secret_key())) {
      return absl::InvalidArgumentError(path + ": secret_key: required, a 40-character Z85 key");
    }
    // A public key that is not the secret key's own makes every handshake fail at the server
    // with no reason the client could see: say so here.
    char derived[41];
    if (zmq_curve_public(derived, file.secret_key().c_str()) != 0 || file.public_key() != derived) {
      return absl::InvalidArgumentError(
          path +
          ": public_key does not belong to secret_key (the two halves come from "
          "different key pairs; regenerate with asbctl keys generate)");
    }
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && (st.st_mode & 0077) != 0) {
      return absl::PermissionDeniedError(path +
                                         ": secret key file is readable by others; chmod 600 it");
    }
  }
  return KeyPair{file.name(), file.public_key(), file.secret_key()};
}

}  // namespace asb::bus
