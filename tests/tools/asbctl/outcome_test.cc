#include "tools/asbctl/outcome.h"

#include <gtest/gtest.h>

#include "absl/status/statusor.h"
#include "common/status/macros.h"

namespace asb::ctl {
namespace {

TEST(OutcomeTest, OkPrintsNothingAndExitsZero) {
  const Outcome o = Render(absl::OkStatus());
  EXPECT_EQ(o.exit_code, 0);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "");
}

TEST(OutcomeTest, AnErrorIsOneLineOnStderrAndExitsOne) {
  const Outcome o = Render(absl::NotFoundError("/x/events.jsonl: cannot open"));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "asbctl: error: /x/events.jsonl: cannot open\n");
}

TEST(OutcomeTest, EveryCodeButPermissionDeniedExitsOne) {
  for (const absl::Status& s :
       {absl::InvalidArgumentError("a"), absl::UnavailableError("b"), absl::DataLossError("c"),
        absl::FailedPreconditionError("d"), absl::InternalError("e"), absl::UnknownError("f")}) {
    EXPECT_EQ(Render(s).exit_code, 1) << s;
  }
}

// Scripts tell "not authorised" apart by exit 2 (the message is the bus client's).
TEST(OutcomeTest, ARefusedKeyExitsTwo) {
  const Outcome o = Render(absl::PermissionDeniedError(
      "key ABCDEFGH… (name) is not authorised by this hub (ipc:///run/intake.api)"));
  EXPECT_EQ(o.exit_code, kExitNotAuthorised);
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.err,
            "asbctl: error: key ABCDEFGH… (name) is not authorised by this hub "
            "(ipc:///run/intake.api)\n");
}

TEST(OutcomeTest, QuietPrintsNothingButKeepsTheExitCode) {
  Outcome o = Render(Quiet(absl::InvalidArgumentError("3 events refused")));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err, "");
  o = Render(Quiet(absl::PermissionDeniedError("not yours")));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.err, "");
}

TEST(OutcomeTest, FromDaemonNamesTheDaemonFirst) {
  Outcome o = Render(FromDaemon("sharing", absl::UnavailableError("no answer within 60 s")));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.err, "asb-sharing: asbctl: error: no answer within 60 s\n");
  o = Render(FromDaemon("intake", absl::PermissionDeniedError("key X… (x) is not authorised")));
  EXPECT_EQ(o.exit_code, 2);
  EXPECT_EQ(o.err, "asb-intake: asbctl: error: key X… (x) is not authorised\n");
}

TEST(OutcomeTest, FileProblemsAreOnePerLineWithoutThePrefix) {
  const Outcome o = Render(FileProblems(
      "isp.yaml", absl::InvalidArgumentError("isp.yaml:3: agencies[0].id: required; "
                                             "isp.yaml:9: rules[1]: unknown agency 'x'")));
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.out, "");
  EXPECT_EQ(o.err,
            "isp.yaml:3: agencies[0].id: required\nisp.yaml:9: rules[1]: unknown agency 'x'\n");
}

TEST(OutcomeTest, FileProblemsOfAPathWithAColon) {
  const Outcome o =
      Render(FileProblems("c:/isp.yaml", absl::NotFoundError("c:/isp.yaml: no such file")));
  EXPECT_EQ(o.err, "c:/isp.yaml: no such file\n");
}

TEST(OutcomeTest, NotVerifiedIsAVerdictOnStdoutAndExitsThree) {
  Outcome o = Render(NotVerified(
      absl::DataLossError("entry 3 was altered: its contents do not match its leaf hash"), 3));
  EXPECT_EQ(o.exit_code, kExitNotVerified);
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.out,
            "FAILED: entry 3 was altered: its contents do not match its leaf hash\n"
            "first bad entry: 3\n");
  EXPECT_EQ(o.err, "");
  // No entry to name (a forged signature, a bad file): the verdict alone; the code does not
  // change the exit code.
  o = Render(NotVerified(absl::PermissionDeniedError("tree head signature does not verify")));
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.out, "FAILED: tree head signature does not verify\n");
}

absl::StatusOr<int> Inner() { return NotVerified(absl::DataLossError("bad"), 7); }

absl::Status Outer() {
  ASB_ASSIGN_OR_RETURN(int x, Inner());
  (void)x;
  return absl::OkStatus();
}

absl::Status Outermost() {
  ASB_RETURN_IF_ERROR(Outer());
  return absl::OkStatus();
}

TEST(OutcomeTest, AMarkSurvivesTheMacros) {
  const Outcome o = Render(Outermost());
  EXPECT_EQ(o.exit_code, 3);
  EXPECT_EQ(o.out, "FAILED: bad\nfirst bad entry: 7\n");
}

TEST(OutcomeTest, AnotherPayloadIsAPlainError) {
  absl::Status s = absl::NotFoundError("erased");
  s.SetPayload("type.asbhub.dev/asb.store.Erased", absl::Cord("erased"));
  const Outcome o = Render(s);
  EXPECT_EQ(o.exit_code, 1);
  EXPECT_EQ(o.err, "asbctl: error: erased\n");
}

TEST(OutcomeDeathTest, MarkingOkIsABug) {
  EXPECT_DEATH((void)Quiet(absl::OkStatus()), "check failed");
}

}  // namespace
}  // namespace asb::ctl
