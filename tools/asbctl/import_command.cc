// asbctl import policeuk: data.police.uk street-level CSV files → incident events submitted to
// asb-intake as a feed, in batches (tools/asbctl/policeuk.h says how rows map to events). Every
// file's header is checked before anything is sent; files are streamed line by line.

#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status/macros.h"
#include "tools/asbctl/commands.h"
#include "tools/asbctl/hub_client.h"
#include "tools/asbctl/options.h"
#include "tools/asbctl/policeuk.h"

namespace asb::ctl {
namespace {

using Clock = std::chrono::steady_clock;

// A progress bar on stderr: done/total bytes, rows per second, the time left.
class Progress {
 public:
  Progress(bool enabled, uint64_t total_bytes)
      : enabled_(enabled), total_(total_bytes), start_(Clock::now()) {}

  void Update(uint64_t bytes, uint64_t rows, bool force = false) {
    if (!enabled_) {
      return;
    }
    const Clock::time_point now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) {
      return;
    }
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double frac = total_ == 0 ? 1.0 : static_cast<double>(bytes) / total_;
    const int width = 30;
    const int filled = static_cast<int>(frac * width);
    const double rate = elapsed > 0 ? rows / elapsed : 0;
    const double eta = frac > 0 ? elapsed * (1 - frac) / frac : 0;
    std::fprintf(stderr, "\r[%s%s] %3d%%  %llu rows  %.0f rows/s  ETA %.0fs ",
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 static_cast<int>(frac * 100), static_cast<unsigned long long>(rows), rate, eta);
    std::fflush(stderr);
  }

  void Clear() {
    if (enabled_) {
      std::fprintf(stderr, "\r\033[K");
      std::fflush(stderr);
    }
  }

 private:
  bool enabled_;
  uint64_t total_;
  Clock::time_point start_;
  Clock::time_point last_{};
};

struct Tally {
  uint64_t rows = 0;
  uint64_t submitted = 0;
  uint64_t duplicate = 0;
  uint64_t refused = 0;
  uint64_t bad = 0;
  std::map<std::string, uint64_t> skipped;  // reason → rows
  uint64_t cases_opened = 0;
  uint64_t cases_held = 0;
};

// Sends events in batches over `parallel` connections, each its own thread, so intake can
// commit several batches with one fsync (it groups the requests that wait). At most
// `parallel` batches are queued besides those in flight: memory stays bounded. Tallies the
// outcomes by row.
class Sender {
 public:
  Sender(const std::string& hub_config, const std::string& as, int batch, int parallel,
         Tally* tally)
      : batch_(batch), parallel_(parallel), tally_(tally) {
    for (int i = 0; i < parallel; ++i) {
      auto hub = HubClient::Open(hub_config, Daemon::kIntake, as, "feed");
      if (!hub.ok()) {
        error_ = hub.status();
        break;
      }
      workers_.emplace_back(
          [this, client = std::shared_ptr<HubClient>(std::move(*hub))] { Work(*client); });
    }
  }

  ~Sender() { Stop(); }

  // `line` 0 marks an area case's case_opened.
  absl::Status Add(const std::string& file, int line, asb::v1::CaseEvent event) {
    *current_.request.mutable_submit()->add_events() = std::move(event);
    current_.origin.push_back({&file, line});
    return current_.request.submit().events_size() >= batch_ ? Send() : Error();
  }

  // Sends what is left and waits for every answer.
  absl::Status Finish() {
    ASB_RETURN_IF_ERROR(Send());
    Stop();
    return Error();
  }

 private:
  struct Job {
    asb::v1::Request request;
    std::vector<std::pair<const std::string*, int>> origin;
  };

  absl::Status Error() {
    std::lock_guard<std::mutex> lock(mu_);
    return error_;
  }

  absl::Status Send() {
    if (current_.request.submit().events_size() == 0) {
      return Error();
    }
    std::unique_lock<std::mutex> lock(mu_);
    space_.wait(
        lock, [&] { return queue_.size() < static_cast<std::size_t>(parallel_) || !error_.ok(); });
    if (!error_.ok()) {
      return error_;
    }
    queue_.push_back(std::move(current_));
    current_ = Job();
    work_.notify_one();
    return absl::OkStatus();
  }

  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    work_.notify_all();
    for (std::thread& t : workers_) {
      if (t.joinable()) {
        t.join();
      }
    }
  }

  void Work(HubClient& hub) {
    while (true) {
      Job job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        work_.wait(lock, [&] { return !queue_.empty() || done_; });
        if (queue_.empty()) {
          return;
        }
        job = std::move(queue_.front());
        queue_.pop_front();
      }
      space_.notify_one();
      // Unavailable (the pipeline is behind: backpressure; intake short of disk, restarting):
      // the same batch again for up to 5 minutes; de-duplication makes that safe.
      absl::StatusOr<asb::v1::Response> response = hub.CallRetryingUnavailable(
          job.request, std::chrono::seconds(60), std::chrono::minutes(5));
      std::lock_guard<std::mutex> lock(mu_);
      if (!response.ok()) {
        if (error_.ok()) {
          error_ = absl::Status(
              response.status().code(),
              absl::StrCat(response.status().message(), " (", tally_->submitted,
                           " rows were stored before this; run the import again: they are "
                           "duplicates)"));
        }
        space_.notify_all();
        continue;
      }
      for (const auto& r : response->submit().results()) {
        const auto& [file, line] = job.origin[r.index()];
        const bool opened = line == 0;
        switch (r.outcome()) {
          case asb::v1::SubmitResult::OUTCOME_ACCEPTED:
            ++(opened ? tally_->cases_opened : tally_->submitted);
            break;
          case asb::v1::SubmitResult::OUTCOME_DUPLICATE:
            ++(opened ? tally_->cases_held : tally_->duplicate);
            break;
          default:
            ++tally_->refused;
            std::fprintf(stderr, "%s:%d: refused by the hub: %s\n", file->c_str(), line,
                         r.status().message().c_str());
        }
      }
    }
  }

  const int batch_;
  const int parallel_;
  Tally* tally_;  // guarded by mu_ once workers run
  Job current_;   // the main thread's batch being filled
  std::mutex mu_;
  std::condition_variable work_;
  std::condition_variable space_;
  std::deque<Job> queue_;
  bool done_ = false;
  absl::Status error_;
  std::vector<std::thread> workers_;
};

absl::Status RunImportPoliceUk(const Globals& g, const ImportPoliceUkOptions& o) {
  if (o.only_asb && o.include_crime) {
    return absl::InvalidArgumentError("--only-asb and --include-crime exclude each other");
  }
  // Every file's format first: a wrong file is refused before anything is sent.
  uint64_t total_bytes = 0;
  for (const std::string& file : o.files) {
    std::ifstream in(file);
    if (!in) {
      return absl::NotFoundError(file + ": cannot open");
    }
    std::string header;
    std::getline(in, header);
    if (absl::Status s = policeuk::CheckHeader(header); !s.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(file, ": ", s.message()));
    }
    std::error_code ec;
    total_bytes += std::filesystem::file_size(file, ec);
  }
  absl::flat_hash_map<std::string, std::string> wards;
  if (!o.wards.empty()) {
    ASB_ASSIGN_OR_RETURN(wards, policeuk::LoadWardLookup(o.wards));
  }
  ASB_ASSIGN_OR_RETURN(std::unique_ptr<HubClient> hub,
                       HubClient::Open(g.hub_config, Daemon::kIntake, o.as, "feed"));
  // Who the hub says this key is: its agency leads the area cases.
  asb::v1::Request ping;
  ping.mutable_ping();
  ASB_ASSIGN_OR_RETURN(asb::v1::Response who, hub->Call(ping));
  if (who.ping().role() != asb::v1::ROLE_FEED) {
    return absl::PermissionDeniedError(absl::StrCat(
        "key '", who.ping().principal(), "' is not a feed: import with a feed's key (--as)"));
  }

  policeuk::MapOptions map_options;
  map_options.agency = who.ping().agency();
  map_options.include_crime = o.include_crime;
  map_options.district = o.district;
  map_options.wards = o.wards.empty() ? nullptr : &wards;
  policeuk::RowMapper mapper(map_options);
  Tally tally;
  Sender sender(g.hub_config, o.as, o.batch, o.parallel, &tally);
  Progress progress(o.progress && isatty(STDOUT_FILENO) && isatty(STDERR_FILENO), total_bytes);
  const Clock::time_point start = Clock::now();
  uint64_t bytes = 0;
  for (const std::string& file : o.files) {
    std::ifstream in(file);
    std::string line;
    std::getline(in, line);  // the header, checked above
    bytes += line.size() + 1;
    mapper.StartFile();
    int line_no = 1;
    while (std::getline(in, line)) {
      ++line_no;
      bytes += line.size() + 1;
      if (line.empty() || line == "\r") {
        continue;
      }
      ++tally.rows;
      auto fields = policeuk::SplitCsvLine(line);
      policeuk::Mapped m;
      if (!fields.ok()) {
        m.kind = policeuk::Mapped::kBad;
        m.reason = std::string(fields.status().message());
      } else {
        m = mapper.Map(*fields);
      }
      switch (m.kind) {
        case policeuk::Mapped::kBad:
          ++tally.bad;
          progress.Clear();
          std::fprintf(stderr, "%s:%d: bad row, not imported: %s\n", file.c_str(), line_no,
                       m.reason.c_str());
          break;
        case policeuk::Mapped::kSkipped:
          ++tally.skipped[m.reason];
          break;
        case policeuk::Mapped::kEvents:
          if (m.case_opened.has_value()) {
            ASB_RETURN_IF_ERROR(sender.Add(file, 0, std::move(*m.case_opened)));
          }
          ASB_RETURN_IF_ERROR(sender.Add(file, line_no, std::move(m.incident)));
          break;
      }
      progress.Update(bytes, tally.rows);
    }
    if (in.bad()) {
      return absl::DataLossError(absl::StrCat(file, ":", line_no, ": read error"));
    }
  }
  ASB_RETURN_IF_ERROR(sender.Finish());
  progress.Update(bytes, tally.rows, /*force=*/true);
  progress.Clear();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  uint64_t skipped = 0;
  for (const auto& [reason, n] : tally.skipped) {
    skipped += n;
  }
  std::printf(
      "%llu rows read in %.1f s: %llu submitted, %llu duplicate (already held), %llu "
      "skipped, %llu bad, %llu refused by the hub\n",
      static_cast<unsigned long long>(tally.rows), seconds,
      static_cast<unsigned long long>(tally.submitted),
      static_cast<unsigned long long>(tally.duplicate), static_cast<unsigned long long>(skipped),
      static_cast<unsigned long long>(tally.bad), static_cast<unsigned long long>(tally.refused));
  for (const auto& [reason, n] : tally.skipped) {
    std::printf("  skipped %llu: %s\n", static_cast<unsigned long long>(n), reason.c_str());
  }
  std::printf("area pictures (one case per LSOA and month): %llu opened, %llu already held\n",
              static_cast<unsigned long long>(tally.cases_opened),
              static_cast<unsigned long long>(tally.cases_held));
  if (tally.bad > 0 || tally.refused > 0) {
    return Quiet(
        absl::InvalidArgumentError(absl::StrCat(tally.bad + tally.refused, " rows not imported")));
  }
  return absl::OkStatus();
}

}  // namespace

CLI::App* AddImportPoliceUkOptions(CLI::App& parent, ImportPoliceUkOptions& o) {
  auto* cmd = parent.add_subcommand(
      "policeuk",
      "import data.police.uk street-level CSV files: each ASB row an incident of its LSOA and "
      "month's area-intelligence case (NSIR category not known); re-importing is all "
      "duplicates");
  cmd->add_option("FILE", o.files, "street-level CSV files (YYYY-MM-force-street.csv)")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--as", o.as, "feed to submit as: keys_dir/NAME.key or NAME-feed.key")
      ->capture_default_str();
  auto* only = cmd->add_flag("--only-asb", o.only_asb,
                             "anti-social behaviour rows only (the default, stated)");
  cmd->add_flag("--include-crime", o.include_crime,
                "also import the other crime types (as incidents with their crime type)")
      ->excludes(only);
  cmd->add_option("--district", o.district,
                  "only rows whose LSOA is in this district (e.g. Chesterfield)");
  cmd->add_option("--wards", o.wards,
                  "LSOA to ward lookup CSV (ONS; columns like LSOA11CD and WD18NM)")
      ->check(CLI::ExistingFile);
  cmd->add_option("--batch", o.batch, "events per request (1-1000)")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--parallel", o.parallel,
                  "requests in flight at once, each on its own connection (1-8)")
      ->check(CLI::Range(1, 8))
      ->capture_default_str();
  cmd->add_flag("!--no-progress", o.progress, "no progress bar even on a terminal");
  return cmd;
}

void AddImportCommand(CLI::App& app, Globals& g) {
  auto* group = app.add_subcommand("import", "import published data sets as a feed");
  group->require_subcommand(1);
  AddCommand(*group, g, AddImportPoliceUkOptions, RunImportPoliceUk);
}

}  // namespace asb::ctl
