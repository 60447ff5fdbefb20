// A real full disk under asb-intake: its store on a small tmpfs, filled up by a ballast file
// while a feed submits. Intake must refuse with a retryable UNAVAILABLE that names the cause,
// never acknowledge what it did not store, keep running, and accept again by itself once space
// returns (the ballast deleted), with the refused events stored once, as new.
//
// Mounting needs root (CI runs as root) or an unprivileged user+mount namespace; a machine that
// allows neither FAILS this test with a message saying so — it is never silently skipped.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "asb/v1/api.pb.h"
#include "tests/support/daemon_harness.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"
#include "tools/loadgen/event_mix.h"

namespace asb::testing {
namespace {

constexpr int kDiskMiB = 64;  // RocksDB preallocates ~18 MiB for its WAL

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  return static_cast<bool>(out);
}

// Mounts a tmpfs of `mib` MiB at `dir`: directly as root, else in a new user+mount namespace
// (which this process and the daemons it forks then share). Returns the reason if neither works.
absl::Status MountTmpfs(const std::string& dir, int mib) {
  const std::string opts = absl::StrCat("size=", mib, "m,mode=0700");
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) == 0) {
    return absl::OkStatus();
  }
  const std::string as_root = std::strerror(errno);
  const uid_t uid = ::getuid();
  const gid_t gid = ::getgid();
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot mount a tmpfs for the full-disk test: mount: ", as_root,
                     "; unshare(user+mount namespace): ", std::strerror(errno),
                     ". Run it as root (as CI does) or allow unprivileged user namespaces."));
  }
  WriteFile("/proc/self/setgroups", "deny");
  WriteFile("/proc/self/uid_map", absl::StrCat("0 ", uid, " 1"));
  WriteFile("/proc/self/gid_map", absl::StrCat("0 ", gid, " 1"));
  if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        "cannot mount a tmpfs for the full-disk test: as root: ", as_root,
        "; in a user namespace: ", std::strerror(errno), ". Run it as root (as CI does)."));
  }
  return absl::OkStatus();
}

// Writes `path` until the file system is full; returns the bytes written.
uint64_t FillUp(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (fd < 0) {
    return 0;
  }
  std::string chunk(64 << 10, 'x');
  uint64_t written = 0;
  while (true) {
    ssize_t n = ::write(fd, chunk.data(), chunk.size());
    if (n <= 0) {
      break;
    }
    written += static_cast<uint64_t>(n);
  }
  ::close(fd);
  return written;
}

class DiskFullTest : public ::testing::Test {
 protected:
  void TearDown() override {
    hub_.reset();
    if (mounted_) {
      ::umount2(disk_.c_str(), MNT_DETACH);
    }
  }

  std::unique_ptr<TempDir> dir_;
  std::string disk_;
  bool mounted_ = false;
  std::unique_ptr<Hub> hub_;
};

TEST_F(DiskFullTest, IntakeRefusesWhileFullAcknowledgesNothingUnstoredAndRecoversByItself) {
  dir_ = std::make_unique<TempDir>();
  disk_ = dir_->path() + "/disk";
  std::filesystem::create_directories(disk_);
  absl::Status mounted = MountTmpfs(disk_, kDiskMiB);
  ASSERT_TRUE(mounted.ok()) << mounted;
  mounted_ = true;

  // asb-intake with its store on the small disk.
  const std::string config = dir_->path() + "/intake.yaml";
  {
    std::string yaml = ReadFile(std::string(ASB_SOURCE_DIR) + "/config/intake.yaml");
    const std::string store_line = "path: \"${ASBHUB_DATA:-var}/intake/db\"";
    ASSERT_NE(yaml.find(store_line), std::string::npos);
    // 4 MiB kept free on a 64 MiB disk (the default, 64 MiB, is for real disks).
    yaml =
        absl::StrReplaceAll(yaml, {{store_line, "path: \"" + disk_ + "/db\"\n  min_free_mb: 4"}});
    ASSERT_TRUE(WriteFile(config, yaml));
  }
  HubOptions o;
  o.source_dir = ASB_SOURCE_DIR;
  o.binaries = {{"intake", ASB_INTAKE_BIN}};
  o.config_files = {{"intake", config}};
  o.call_timeout = std::chrono::milliseconds(10000);
  hub_ = std::make_unique<Hub>(o);
  ASB_ASSERT_OK(hub_->StartAndWait("intake"));

  loadgen::EventMix mix({}, "diskfull", 0, 7);
  std::map<std::string, uint64_t> acked;  // source_event_id → hub_seq
  auto submit = [&](const std::vector<asb::v1::CaseEvent>& events) {
    auto r = hub_->Submit("council-feed", events);
    if (r.ok()) {
      for (const auto& result : r->results()) {
        EXPECT_EQ(result.outcome(), asb::v1::SubmitResult::OUTCOME_ACCEPTED)
            << result.source_event_id() << ": " << result.status().message();
        acked[result.source_event_id()] = result.hub_seq();
      }
    }
    return r.status();
  };
  auto next_batch = [&](int n) {
    std::vector<asb::v1::CaseEvent> events;
    for (int i = 0; i < n; ++i) {
      events.push_back(mix.Next(absl::Now()));
    }
    return events;
  };

  // Some events stored while there is room.
  ASB_ASSERT_OK(submit(next_batch(100)));

  // The disk fills up (another process's file, as in life), leaving almost nothing.
  const std::string ballast = disk_ + "/ballast";
  const uint64_t ballast_bytes = FillUp(ballast);
  ASSERT_GT(ballast_bytes, 0u);
  ASSERT_EQ(::truncate(ballast.c_str(), static_cast<off_t>(ballast_bytes - (256 << 10))), 0);

  // Submissions go on until intake refuses one.
  absl::Status refused;
  std::vector<asb::v1::CaseEvent> refused_batch;
  // (The WAL file was preallocated while there was room: writes fill that first.)
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  while (refused.ok() && absl::Now() < give_up) {
    refused_batch = next_batch(100);
    refused = submit(refused_batch);
  }
  ASSERT_FALSE(refused.ok()) << "intake never noticed the full disk";
  EXPECT_TRUE(absl::IsUnavailable(refused)) << refused;
  EXPECT_NE(refused.message().find("space"), std::string::npos)
      << "the error should name the cause: " << refused;
  std::printf("full disk: %zu events acknowledged, then refused: %s\n", acked.size(),
              refused.ToString().c_str());

  // While full: still refused, still running, nothing acknowledged.
  const std::size_t acked_when_full = acked.size();
  for (int i = 0; i < 3; ++i) {
    absl::Status again = submit(refused_batch);
    EXPECT_TRUE(absl::IsUnavailable(again)) << again;
  }
  EXPECT_EQ(acked.size(), acked_when_full);
  ASSERT_TRUE(hub_->Running("intake")) << hub_->LogTail("intake");

  // Space returns: intake accepts again by itself (no restart), and the refused events are
  // stored now, as new (ACCEPTED, not DUPLICATE: they were not stored before).
  ASSERT_EQ(::unlink(ballast.c_str()), 0);
  const absl::Time recovered_by = absl::Now() + absl::Seconds(40);
  absl::Status retried = absl::UnknownError("not tried");
  const absl::Time freed_at = absl::Now();
  while (!retried.ok() && absl::Now() < recovered_by) {
    retried = submit(refused_batch);
    if (!retried.ok()) {
      EXPECT_TRUE(absl::IsUnavailable(retried)) << retried;
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  ASSERT_TRUE(retried.ok()) << "intake did not recover by itself once space returned: " << retried
                            << "\n"
                            << hub_->LogTail("intake");
  std::printf("recovered %.1f s after space returned\n",
              absl::ToDoubleSeconds(absl::Now() - freed_at));
  ASB_ASSERT_OK(submit(next_batch(100)));

  // The stream holds exactly the acknowledged events, once each, under their numbers (and the
  // hub's own, which its clock made from their deadlines once there was room, once each too).
  using BySourceId = std::map<std::string, uint64_t>;
  auto split = [](const std::vector<asb::v1::Envelope>& stored, BySourceId* fed, BySourceId* hub) {
    for (const auto& e : stored) {
      BySourceId& by = e.accepted_event().made_by_hub() ? *hub : *fed;
      EXPECT_TRUE(by.emplace(e.accepted_event().event().source_event_id(), e.seq()).second)
          << "stored twice: " << e.accepted_event().event().source_event_id();
    }
  };
  auto stored = hub_->FetchAll("intake", "events");
  ASSERT_TRUE(stored.ok()) << stored.status();
  BySourceId in_stream, made_by_hub;
  split(*stored, &in_stream, &made_by_hub);
  EXPECT_EQ(in_stream, acked);

  // And it all survives a restart: the same feed events, the hub's earlier ones under the same
  // numbers (its clock may have made more since, each once).
  ASB_ASSERT_OK(hub_->Restart("intake"));
  auto reread = hub_->FetchAll("intake", "events");
  ASSERT_TRUE(reread.ok()) << reread.status();
  BySourceId reread_fed, reread_hub;
  split(*reread, &reread_fed, &reread_hub);
  EXPECT_EQ(reread_fed, acked);
  for (const auto& [id, seq] : made_by_hub) {
    auto it = reread_hub.find(id);
    ASSERT_NE(it, reread_hub.end()) << "the hub's event " << id << " was lost in the restart";
    EXPECT_EQ(it->second, seq) << id;
  }
}

}  // namespace
}  // namespace asb::testing
