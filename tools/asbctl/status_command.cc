// asbctl status: each daemon's streams and how far behind each consumer is.
#include <chrono>
#include <cstdio>
#include <thread>

#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/options.h"
#include "tools/asbctl/pipeline_status.h"

namespace asb::ctl {
namespace {

void Print(const PipelineSnapshot& snap) {
  for (const auto& line : snap.down) {
    std::printf("DOWN  %s\n", line.c_str());
  }
  for (const auto& [stream, head] : snap.heads) {
    std::printf("stream    %-20s head %llu\n", stream.c_str(),
                static_cast<unsigned long long>(head));
  }
  for (const auto& [daemon, c] : snap.consumers) {
    auto it = snap.heads.find(c.upstream() + "/" + c.stream());
    uint64_t head = it == snap.heads.end() ? c.upstream_head() : it->second;
    std::printf("consumer  %-8s <- %-20s offset %llu, behind %llu, skipped %llu\n", daemon.c_str(),
                (c.upstream() + "/" + c.stream()).c_str(),
                static_cast<unsigned long long>(c.offset()),
                static_cast<unsigned long long>(head > c.offset() ? head - c.offset() : 0),
                static_cast<unsigned long long>(c.skipped()));
  }
  for (const auto& [daemon, c] : snap.counters) {
    std::printf("counter   %-8s %-28s %llu\n", daemon.c_str(), c.name().c_str(),
                static_cast<unsigned long long>(c.value()));
  }
}

absl::Status RunStatus(const Globals& g, const StatusOptions& o) {
  auto deadline = std::chrono::steady_clock::now() +
                  std::chrono::milliseconds(static_cast<int64_t>(o.wait_idle * 1000));
  PipelineSnapshot snap = TakePipelineSnapshot(g.hub_config, o.as);
  while (o.wait_idle > 0 && !Drained(snap) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // poll interval, not a wait
    snap = TakePipelineSnapshot(g.hub_config, o.as);
  }
  Print(snap);
  if (!snap.down.empty()) {
    return Quiet(absl::UnavailableError("a daemon is down"));
  }
  if (o.wait_idle > 0 && !Drained(snap)) {
    return Quiet(absl::DeadlineExceededError("the consumers did not catch up in time"));
  }
  return absl::OkStatus();
}

}  // namespace

CLI::App* AddStatusOptions(CLI::App& parent, StatusOptions& o) {
  auto* cmd = parent.add_subcommand(
      "status", "each daemon's streams and consumer lag (exit 1 if a daemon is down)");
  cmd->add_option("--as", o.as, "principal to ask as (keys_dir/NAME.key or NAME-admin.key)")
      ->capture_default_str();
  cmd->add_option("--wait-idle", o.wait_idle,
                  "wait up to SECONDS until every consumer has caught up (exit 1 if not)");
  return cmd;
}

void AddStatusCommand(CLI::App& app, Globals& g) {
  AddCommand(app, g, AddStatusOptions, RunStatus);
}

}  // namespace asb::ctl
