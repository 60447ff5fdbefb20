#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <thread>

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
    server_->OnBadMessage([this](const Principal&, const std::string&) { ++bad_; });
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

  testing::TempDir dir_;
  zmq::context_t context_;
  Loop loop_;
  KeyPair server_keys_, feed_keys_;
  std::unique_ptr<Authenticator> auth_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
  std::atomic<int> refused_{0};
  std::atomic<int> bad_{0};
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

TEST_F(BusTest, NoServerMeansDeadlineNotHang) {
  ClientOptions options = OptionsFor(feed_keys_);
  options.endpoint = "ipc://" + dir_.Sub("nobody");
  auto client = Client::Connect(&context_, options);
  ASB_ASSERT_OK(client);
  EXPECT_THAT((*client)->Call(Ping(), 300ms), StatusIs(absl::StatusCode::kDeadlineExceeded));
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
}

}  // namespace
}  // namespace asb::bus
