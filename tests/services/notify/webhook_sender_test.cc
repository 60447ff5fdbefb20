// WebhookSender against a real HTTPS receiver (tests/support/https_receiver: a CA made for the
// test) that answers, fails, times out and recovers; and the signature a receiver checks.
#include "services/notify/webhook_sender.h"

#include <condition_variable>
#include <deque>
#include <mutex>

#include "absl/time/clock.h"
#include "services/notify/webhook_signature.h"
#include "tests/support/https_receiver.h"
#include "tests/support/status_matchers.h"

namespace asb::notify {
namespace {

using ::asb::testing::HttpsReceiver;
using ::asb::testing::StatusIs;
using ::testing::HasSubstr;

constexpr char kSecret[] = "0123456789abcdef0123456789abcdef-test";

// Results as the sender hands them over (on its worker threads).
class Results {
 public:
  WebhookSender::ResultFn Fn() {
    return [this](WebhookResult r) {
      std::lock_guard<std::mutex> lock(mu_);
      results_.push_back(std::move(r));
      cv_.notify_all();
    };
  }
  // The next result, or a failed one saying so after 30 s.
  WebhookResult Next() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(30), [this] { return !results_.empty(); })) {
      return WebhookResult{"", 0, 0, 0, "no result within 30 s"};
    }
    WebhookResult r = results_.front();
    results_.pop_front();
    return r;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<WebhookResult> results_;
};

class WebhookSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto receiver = HttpsReceiver::Start();
    ASB_ASSERT_OK(receiver);
    receiver_ = std::move(*receiver);
  }

  WebhookEndpoint Endpoint() const {
    return WebhookEndpoint{"fire", receiver_->url(), receiver_->pki().ca_file, kSecret,
                           absl::Milliseconds(500)};
  }

  std::unique_ptr<WebhookSender> Sender(WebhookEndpoint endpoint) {
    auto sender = WebhookSender::Create({std::move(endpoint)}, results_.Fn(), 1, 4);
    EXPECT_TRUE(sender.ok()) << sender.status();
    return sender.ok() ? std::move(*sender) : nullptr;
  }

  static WebhookAttempt Attempt(uint64_t seq, uint32_t attempt) {
    return WebhookAttempt{"fire", seq, attempt,
                          "{\"agencySeq\":\"" + std::to_string(seq) + "\",\"agency\":\"fire\"}"};
  }

  std::unique_ptr<HttpsReceiver> receiver_;
  Results results_;
};

TEST_F(WebhookSenderTest, PostsTheAlertSignedAndTheReceiverVerifiesIt) {
  auto sender = Sender(Endpoint());
  ASSERT_NE(sender, nullptr);
  ASSERT_TRUE(sender->Submit(Attempt(7, 3)));
  WebhookResult r = results_.Next();
  EXPECT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.http_status, 200);
  EXPECT_EQ(r.seq, 7u);
  EXPECT_EQ(r.attempt, 3u);
  auto got = receiver_->requests();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].path, "/alerts");
  EXPECT_EQ(got[0].alert_id, "fire/7");
  EXPECT_EQ(got[0].attempt, "3");
  EXPECT_EQ(got[0].body, Attempt(7, 3).body);
  ASB_EXPECT_OK(VerifyWebhook(kSecret, got[0].signature, got[0].body, absl::Now()));
  // A receiver holding another secret, or a changed body, refuses it.
  EXPECT_THAT(
      VerifyWebhook("another-secret-another-secret-xx", got[0].signature, got[0].body, absl::Now()),
      StatusIs(absl::StatusCode::kUnauthenticated));
  EXPECT_THAT(VerifyWebhook(kSecret, got[0].signature, got[0].body + " ", absl::Now()),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST_F(WebhookSenderTest, AReceiverThatFailsTimesOutAndRecoversGetsEachResultReported) {
  auto sender = Sender(Endpoint());
  ASSERT_NE(sender, nullptr);
  receiver_->SetBehaviour([](const HttpsReceiver::Request&) { return 503; });
  ASSERT_TRUE(sender->Submit(Attempt(1, 1)));
  WebhookResult failed = results_.Next();
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(failed.http_status, 503);
  EXPECT_EQ(failed.error, "HTTP 503");

  receiver_->SetBehaviour([](const HttpsReceiver::Request&) { return HttpsReceiver::kHold; });
  const absl::Time start = absl::Now();
  ASSERT_TRUE(sender->Submit(Attempt(1, 2)));
  WebhookResult timed_out = results_.Next();
  EXPECT_EQ(timed_out.http_status, 0);
  EXPECT_THAT(timed_out.error, HasSubstr("timed out"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));  // the 500 ms timeout, not the hold
  receiver_->Release();

  ASSERT_TRUE(sender->Submit(Attempt(1, 3)));
  WebhookResult recovered = results_.Next();
  EXPECT_TRUE(recovered.ok()) << recovered.error;
  EXPECT_EQ(recovered.attempt, 3u);
}

TEST_F(WebhookSenderTest, AReceiverWhoseCertificateIsNotFromTheConfiguredCaIsRefused) {
  ::asb::testing::TempDir other;
  auto pki = ::asb::testing::MakeTestPki(other.path(), "other-");
  ASB_ASSERT_OK(pki);
  WebhookEndpoint endpoint = Endpoint();
  endpoint.ca_file = pki->ca_file;
  auto sender = Sender(endpoint);
  ASSERT_NE(sender, nullptr);
  ASSERT_TRUE(sender->Submit(Attempt(1, 1)));
  WebhookResult r = results_.Next();
  EXPECT_EQ(r.http_status, 0);
  EXPECT_THAT(r.error, HasSubstr("TLS"));
  EXPECT_TRUE(receiver_->requests().empty());  // nothing was sent to it
}

TEST_F(WebhookSenderTest, NoReceiverListeningIsAConnectionFailure) {
  ::asb::testing::TempDir dir;
  auto pki = ::asb::testing::MakeTestPki(dir.path());
  ASB_ASSERT_OK(pki);
  WebhookEndpoint endpoint = Endpoint();
  endpoint.ca_file = pki->ca_file;
  receiver_.reset();  // its port is closed now
  auto sender = Sender(endpoint);
  ASSERT_NE(sender, nullptr);
  ASSERT_TRUE(sender->Submit(Attempt(1, 1)));
  WebhookResult r = results_.Next();
  EXPECT_EQ(r.http_status, 0);
  EXPECT_FALSE(r.error.empty());
}

TEST_F(WebhookSenderTest, UnknownAgencyOrBadConfigIsRefused) {
  auto sender = Sender(Endpoint());
  ASSERT_NE(sender, nullptr);
  WebhookAttempt a = Attempt(1, 1);
  a.agency = "police";
  EXPECT_FALSE(sender->Submit(a));
  WebhookEndpoint plain = Endpoint();
  plain.url = "http://127.0.0.1:1/alerts";
  EXPECT_THAT(WebhookSender::Create({plain}, results_.Fn()).status(),
              StatusIs(absl::StatusCode::kInvalidArgument));
  WebhookEndpoint no_ca = Endpoint();
  no_ca.ca_file = "/nonexistent/ca.pem";
  EXPECT_THAT(WebhookSender::Create({no_ca}, results_.Fn()).status(),
              StatusIs(absl::StatusCode::kNotFound));
}

TEST(WebhookSignature, StaleOrMalformedSignaturesAreRefused) {
  const absl::Time t = absl::FromUnixSeconds(1700000000);
  const std::string header = SignWebhook(kSecret, t, "{}");
  EXPECT_EQ(header.rfind("t=1700000000,v1=", 0), 0u);
  ASB_EXPECT_OK(VerifyWebhook(kSecret, header, "{}", t + absl::Minutes(4)));
  EXPECT_THAT(VerifyWebhook(kSecret, header, "{}", t + absl::Minutes(6)),
              StatusIs(absl::StatusCode::kUnauthenticated));  // a replay outside the window
  EXPECT_THAT(VerifyWebhook(kSecret, "v1=abc", "{}", t),
              StatusIs(absl::StatusCode::kUnauthenticated));
}

TEST(WebhookUrl, OnlyHttpsWithAHost) {
  std::string host, path;
  int port = 0;
  ASB_ASSERT_OK(ParseHttpsUrl("https://fire.example:8443/hub/alerts", &host, &port, &path));
  EXPECT_EQ(host, "fire.example");
  EXPECT_EQ(port, 8443);
  EXPECT_EQ(path, "/hub/alerts");
  ASB_ASSERT_OK(ParseHttpsUrl("https://fire.example", &host, &port, &path));
  EXPECT_EQ(port, 443);
  EXPECT_EQ(path, "/");
  EXPECT_FALSE(ParseHttpsUrl("http://fire.example/", &host, &port, &path).ok());
  EXPECT_FALSE(ParseHttpsUrl("https:///x", &host, &port, &path).ok());
  EXPECT_FALSE(ParseHttpsUrl("https://fire.example:0/", &host, &port, &path).ok());
}

}  // namespace
}  // namespace asb::notify
