#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "common/bus/auth.h"
#include "common/bus/client.h"
#include "common/bus/keys.h"
#include "common/bus/loop.h"
#include "common/bus/server.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::bus {
namespace {

using ::asb::testing::StatusIs;
using ::asb::testing::StatusIsWith;
using namespace std::chrono_literals;

KeyPair MustGenerate(const std::string& name) {
  auto keys = GenerateKeyPair(name);
  EXPECT_TRUE(keys.ok());
  return *keys;
}

// A server in its own thread answering Ping with the caller's identity.
class BusTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_keys_ = MustGenerate("server");
    feed_keys_ = MustGenerate("feed");
    auto table = std::make_shared<PrincipalTable>();
    table->Add(Principal{"feed", "council", asb::v1::ROLE_FEED, feed_keys_.public_key});
    auth_ = std::make_unique<Authenticator>(&context_, &loop_);
    auth_->SetPrincipals(table);
    auth_->OnRefused([this](const std::string&, const std::string&) { ++refused_; });
    ServerOptions options;
    options.api_bind = "ipc://" + dir_.Sub("api");
    options.hints_bind = "ipc://" + dir_.Sub("hints");
    options.keys = server_keys_;
    options.max_message_bytes = 1 << 16;
    server_ = std::make_unique<Server>(&context_, &loop_, auth_.get(), options);
    server_->OnBadMessage([this](const Principal&, const std::string& reason) {
      std::lock_guard<std::mutex> lock(mu_);
      reasons_.push_back(reason);
      ++bad_;
    });
    ASB_ASSERT_OK(server_->Start([this](const Caller& caller, const asb::v1::Request& request) {
      asb::v1::Response response;
      if (request.has_ping()) {
        response.mutable_ping()->set_principal(caller.principal.name);
        response.mutable_ping()->set_agency(caller.principal.agency);
        response.mutable_ping()->set_role(caller.principal.role);
      }
      server_->Reply(caller, response);
    }));
    thread_ = std::thread([this] { loop_.Run(); });
  }

  void TearDown() override {
    loop_.Stop();
    thread_.join();
    server_.reset();
    auth_.reset();
  }

  ClientOptions OptionsFor(const KeyPair& keys) {
    ClientOptions options;
    options.endpoint = server_->api_endpoint();
    options.server_public_key = server_keys_.public_key;
    options.keys = keys;
    return options;
  }

  asb::v1::Request Ping() {
    asb::v1::Request r;
    r.mutable_ping();
    return r;
  }

  // A DEALER authenticated as the feed, for raw frames.
  zmq::socket_t RawFeed() {
    zmq::socket_t raw(context_, zmq::socket_type::dealer);
    raw.set(zmq::sockopt::curve_serverkey, server_keys_.public_key);
    raw.set(zmq::sockopt::curve_publickey, feed_keys_.public_key);
    raw.set(zmq::sockopt::curve_secretkey, feed_keys_.secret_key);
    raw.set(zmq::sockopt::rcvtimeo, 5000);
    raw.set(zmq::sockopt::linger, 0);
    raw.connect(server_->api_endpoint());
    return raw;
  }

  // The reply to `frames` sent on `raw`: [empty][Response].
  asb::v1::Response Exchange(zmq::socket_t& raw, const std::vector<std::string>& frames) {
    for (std::size_t i = 0; i < frames.size(); ++i) {
      raw.send(zmq::buffer(frames[i]),
               i + 1 < frames.size() ? zmq::send_flags::sndmore : zmq::send_flags::none);
    }
    asb::v1::Response response;
    zmq::message_t frame;
    std::vector<zmq::message_t> got;
    do {
      if (!raw.recv(frame)) {
        ADD_FAILURE() << "no reply";
        return response;
      }
      got.push_back(std::move(frame));
    } while (got.back().more());
    EXPECT_TRUE(response.ParseFromArray(got.back().data(), static_cast<int>(got.back().size())));
    return response;
  }

  // Waits (until `within` has passed) for a bad-message report containing `text`.
  bool Reported(const std::string& text, std::chrono::milliseconds within = 5s) {
    const auto until = std::chrono::steady_clock::now() + within;
    while (true) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        for (const std::string& r : reasons_) {
          if (r.find(text) != std::string::npos) {
            return true;
          }
        }
      }
      if (std::chrono::steady_clock::now() >= until) {
        return false;
      }
      std::this_thread::sleep_for(20ms);
    }
  }

  testing::TempDir dir_;
  zmq::context_t context_;
  Loop loop_;
  KeyPair server_keys_, feed_keys_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::atomic<int> refused_{0};
  std::atomic<int> bad_{0};
  std::mutex mu_;
  std::vector<std::string> reasons_;
};

TEST_F(BusTest, KnownKeyIsIdentifiedByConnection) {
  auto client = Client::Connect(&context_, OptionsFor(feed_keys_));
  ASB_ASSERT_OK(client);
  auto response = (*client)->Call(Ping(), 5s);
  ASB_ASSERT_OK(response);
  EXPECT_EQ(response->ping().principal(), "feed");
  EXPECT_EQ(response->ping().agency(), "council");
  EXPECT_EQ(response->ping().role(), asb::v1::ROLE_FEED);
}

TEST_F(BusTest, UnknownKeyIsToldItIsNotAuthorised) {
  KeyPair stranger = MustGenerate("stranger");
  auto client = Client::Connect(&context_, OptionsFor(stranger));
  ASB_ASSERT_OK(client);
  auto response = (*client)->Call(Ping(), 5s);
  EXPECT_THAT(response, StatusIsWith(absl::StatusCode::kPermissionDenied, "not authorised"));
  EXPECT_THAT(response,
              StatusIsWith(absl::StatusCode::kPermissionDenied, stranger.public_key.substr(0, 8)));
  EXPECT_GE(refused_.load(), 1);
}

TEST_F(BusTest, MalformedRequestGetsErrorAndIsCounted) {
  // A raw DEALER with a valid key sending garbage.
  zmq::socket_t raw(context_, zmq::socket_type::dealer);
  raw.set(zmq::sockopt::curve_serverkey, server_keys_.public_key);
  raw.set(zmq::sockopt::curve_publickey, feed_keys_.public_key);
  raw.set(zmq::sockopt::curve_secretkey, feed_keys_.secret_key);
  raw.set(zmq::sockopt::rcvtimeo, 5000);
  raw.set(zmq::sockopt::linger, 0);
  raw.connect(server_->api_endpoint());
  raw.send(zmq::message_t(), zmq::send_flags::sndmore);
  raw.send(zmq::str_buffer("\xff\xff\xff not a protobuf"), zmq::send_flags::none);
  zmq::message_t empty, body;
  ASSERT_TRUE(raw.recv(empty));
  ASSERT_TRUE(raw.recv(body));
  asb::v1::Response response;
  ASSERT_TRUE(response.ParseFromArray(body.data(), static_cast<int>(body.size())));
  EXPECT_EQ(response.status().code(), asb::v1::STATUS_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(bad_.load(), 1);
  // The server is still serving.
  auto client = Client::Connect(&context_, OptionsFor(feed_keys_));
  ASB_ASSERT_OK(client);
  ASB_EXPECT_OK((*client)->Call(Ping(), 5s));
}

// Error replies echo the request_id whenever the bytes let it be read: a message without the
// empty delimiter frame, a Request without a body, bytes that are a Request only up to a point.
TEST_F(BusTest, ErrorRepliesEchoTheRequestId) {
  zmq::socket_t raw = RawFeed();
  asb::v1::Request no_body;
  no_body.set_request_id(41);
  asb::v1::Response r = Exchange(raw, {"", no_body.SerializeAsString()});
  EXPECT_EQ(r.status().code(), asb::v1::STATUS_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(r.request_id(), 41u);

  asb::v1::Request ping = Ping();
  ping.set_request_id(42);
  r = Exchange(raw, {ping.SerializeAsString()});  // no empty delimiter frame
  EXPECT_EQ(r.status().code(), asb::v1::STATUS_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(r.request_id(), 42u);

  ping.set_request_id(43);
  r = Exchange(raw, {"", ping.SerializeAsString() + "\xff\xff\xff"});  // then garbage
  EXPECT_EQ(r.status().code(), asb::v1::STATUS_CODE_INVALID_ARGUMENT);
  EXPECT_EQ(r.request_id(), 43u);

  r = Exchange(raw, {"", "\xff\xff\xff not a protobuf"});
  EXPECT_EQ(r.request_id(), 0u);  // nothing readable
  EXPECT_EQ(bad_.load(), 4);
}

TEST(ReadableRequestIdTest, ReadsFieldOneAsFarAsTheBytesGo) {
  asb::v1::Request request;
  request.set_request_id(300);
  request.mutable_submit()->add_events()->set_source_event_id("e1");
  std::string bytes = request.SerializeAsString();
  auto id = [](const std::string& b) {
    return ReadableRequestId(reinterpret_cast<const uint8_t*>(b.data()), b.size());
  };
  EXPECT_EQ(id(bytes), 300u);
  EXPECT_EQ(id(bytes.substr(0, bytes.size() - 1)), 300u);  // truncated body
  EXPECT_EQ(id(bytes.substr(1)), 0u);
  EXPECT_EQ(id(""), 0u);
  asb::v1::Request later;
  later.set_request_id(7);
  EXPECT_EQ(id(bytes + later.SerializeAsString()), 7u);  // the last one wins, as in parsing
}

// A client holding the wrong server key is told so, naming the key it used, within the call —
// and the server says the handshake did not decrypt.
TEST_F(BusTest, WrongServerKeyIsToldNotSilence) {
  ClientOptions options = OptionsFor(feed_keys_);
  options.server_public_key = MustGenerate("not-the-server").public_key;
  options.server_key_file = "keys/intake.pub";
  auto client = Client::Connect(&context_, options);
  ASB_ASSERT_OK(client);
  const auto started = std::chrono::steady_clock::now();
  auto response = (*client)->Call(Ping(), 10s);
  EXPECT_THAT(response, StatusIsWith(absl::StatusCode::kUnauthenticated,
                                     options.server_public_key.substr(0, 8)));
  EXPECT_THAT(response, StatusIsWith(absl::StatusCode::kUnauthenticated, "keys/intake.pub"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  EXPECT_TRUE(Reported("did not decrypt"));
}

// A client without CurveZMQ on the CURVE socket: the server says what happened (not "a key
// that is not the client's own"). Which side notices the mismatch first is a race, so the
// report is either "without CurveZMQ (a plaintext client …)" or "closed by the client during
// the handshake (as a client without CurveZMQ, e.g. a plaintext one, does …)".
TEST_F(BusTest, PlaintextClientIsReportedAsPlaintext) {
  zmq::socket_t plain(context_, zmq::socket_type::dealer);
  plain.set(zmq::sockopt::linger, 0);
  plain.connect(server_->api_endpoint());
  plain.send(zmq::message_t(), zmq::send_flags::sndmore);
  plain.send(zmq::buffer(Ping().SerializeAsString()), zmq::send_flags::none);
  EXPECT_TRUE(Reported("plaintext"));
  EXPECT_FALSE(Reported("not the client's own", 0ms));
  EXPECT_GE(server_->failed_handshakes(), 1u);
}

// Where nothing listens, the deadline says so (not "is the hub running?" for every cause).
TEST_F(BusTest, NoServerMeansDeadlineNotHang) {
  ClientOptions options = OptionsFor(feed_keys_);
  options.endpoint = "ipc://" + dir_.Sub("nobody");
  auto client = Client::Connect(&context_, options);
  ASB_ASSERT_OK(client);
  EXPECT_THAT((*client)->Call(Ping(), 300ms),
              StatusIsWith(absl::StatusCode::kDeadlineExceeded, "nothing accepted the connection"));
}

TEST(Keys, GenerateWriteLoad) {
  testing::TempDir dir;
  auto keys = GenerateKeyPair("police-partner");
  ASB_ASSERT_OK(keys);
  EXPECT_TRUE(IsValidZ85Key(keys->public_key));
  ASB_ASSERT_OK(WriteKeyFiles(dir.path(), *keys));
  struct stat st;
  ASSERT_EQ(::stat(dir.Sub("police-partner.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto loaded = LoadKeyFile(dir.Sub("police-partner.key"), true);
  ASB_ASSERT_OK(loaded);
  EXPECT_EQ(loaded->secret_key, keys->secret_key);
  auto pub = LoadKeyFile(dir.Sub("police-partner.pub"), false);
  ASB_ASSERT_OK(pub);
  EXPECT_TRUE(pub->secret_key.empty());
  EXPECT_THAT(LoadKeyFile(dir.Sub("police-partner.pub"), true),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(WriteKeyFiles(dir.path(), *keys), StatusIs(absl::StatusCode::kAlreadyExists));
  ::chmod(dir.Sub("police-partner.key").c_str(), 0644);
  EXPECT_THAT(LoadKeyFile(dir.Sub("police-partner.key"), true),
              StatusIs(absl::StatusCode::kPermissionDenied));

  // Halves of two key pairs: refused when loaded, since every handshake would fail unexplained.
  auto other = GenerateKeyPair("other");
  ASB_ASSERT_OK(other);
  KeyPair mixed{"mixed", keys->public_key, other->secret_key};
  ASB_ASSERT_OK(WriteKeyFiles(dir.path(), mixed));
  EXPECT_THAT(LoadKeyFile(dir.Sub("mixed.key"), true),
              StatusIsWith(absl::StatusCode::kInvalidArgument, "does not belong to secret_key"));
}

}  // namespace
}  // namespace asb::bus
