#include "tests/support/daemon_harness.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/config/config.h"
#include "common/status/macros.h"
#include "common/status/proto_status.h"

extern char** environ;

namespace asb::testing {
namespace {

// Poll interval of readiness and exit waits: short, so a test waits no longer than it must.
constexpr absl::Duration kPollInterval = absl::Milliseconds(5);

std::string ReadWhole(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) {
    return absl::StrCat("exited with status ", WEXITSTATUS(status));
  }
  if (WIFSIGNALED(status)) {
    return absl::StrCat("killed by signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)),
                        ")");
  }
  return absl::StrCat("ended with wait status ", status);
}

}  // namespace

std::string ClockOffsetFor(absl::Time as_of) {
  return std::to_string(absl::ToInt64Seconds(as_of - absl::Now()));
}

absl::Status WaitUntil(const std::function<absl::StatusOr<bool>()>& done, absl::Time deadline,
                       const std::string& what, absl::Duration interval) {
  std::string last_error;
  while (true) {
    absl::StatusOr<bool> r = done();
    if (r.ok() && *r) {
      return absl::OkStatus();
    }
    if (!r.ok()) {
      last_error = r.status().ToString();
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("timed out waiting for ", what,
                       last_error.empty() ? "" : absl::StrCat(" (last: ", last_error, ")")));
    }
    absl::SleepFor(interval);
  }
}

absl::StatusOr<std::vector<asb::v1::CaseEvent>> LoadEventsFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return absl::NotFoundError("cannot open " + path);
  }
  std::vector<asb::v1::CaseEvent> events;
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos || line[0] == '#') {
      continue;
    }
    asb::v1::CaseEvent event;
    if (absl::Status s = config::ParseJson(line, &event); !s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_no, ": not a CaseEvent: ", s.message()));
    }
    events.push_back(std::move(event));
  }
  return events;
}

const std::vector<std::string>& Hub::Daemons() {
  static const std::vector<std::string> kDaemons = {"intake", "sharing", "notify", "audit"};
  return kDaemons;
}

Hub::Hub(HubOptions options) : options_(std::move(options)) {
  // Secret key files must be private or the daemons refuse them; git does not keep the mode.
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(KeysDir(), ec)) {
    if (entry.path().extension() == ".key") {
      ::chmod(entry.path().c_str(), 0600);
    }
  }
}

Hub::~Hub() {
  clients_.clear();
  StopAll().IgnoreError();  // best effort: a failing test already reported what went wrong
}

std::string Hub::KeysDir() const { return options_.source_dir + "/config/keys/demo"; }

std::string Hub::ApiEndpoint(const std::string& daemon) const {
  return "ipc://" + data_.path() + "/run/" + daemon + ".api";
}

std::string Hub::ReadyFile(const std::string& name) const {
  return data_.path() + "/" + name + ".ready";
}

std::string Hub::LogFile(const std::string& name) const {
  return data_.path() + "/" + name + ".log";
}

std::string Hub::LogTail(const std::string& name, size_t max_bytes) const {
  std::string text = ReadWhole(LogFile(name));
  if (text.size() > max_bytes) {
    text = "…" + text.substr(text.size() - max_bytes);
  }
  return text;
}

absl::Status Hub::Start(const std::string& name) {
  auto bin = options_.binaries.find(name);
  if (bin == options_.binaries.end()) {
    return absl::NotFoundError("no binary for daemon '" + name + "'");
  }
  if (Poll(name)) {
    return absl::FailedPreconditionError("asb-" + name + " is already running");
  }
  DropClients(name);
  // A ready file left by a killed daemon must not count as the new one's.
  std::error_code ec;
  std::filesystem::remove(ReadyFile(name), ec);

  // Everything the child needs is built before fork: after it only async-signal-safe calls.
  auto config = options_.config_files.find(name);
  std::vector<std::string> args = {
      bin->second, "--config",
      config != options_.config_files.end() ? config->second : "config/" + name + ".yaml",
      "--ready-file", ReadyFile(name)};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  std::vector<char*> argv;
  for (std::string& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  std::map<std::string, std::string> extra = {{"ASBHUB_DATA", data_.path()}};
  for (const std::string& d : Daemons()) {
    std::string var = "ASBHUB_" + d + "_METRICS";
    std::transform(var.begin(), var.end(), var.begin(), ::toupper);
    extra[var] = "127.0.0.1:0";
  }
  for (const auto& [k, v] : options_.env) {
    extra[k] = v;
  }
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view entry(*e);
    if (!extra.contains(std::string(entry.substr(0, entry.find('='))))) {
      env_strings.emplace_back(*e);
    }
  }
  for (const auto& [k, v] : extra) {
    env_strings.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (std::string& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  const std::string log_file = LogFile(name);
  const std::string cwd = options_.source_dir;
  const pid_t parent = ::getpid();

  const pid_t pid = ::fork();
  if (pid < 0) {
    return absl::InternalError(absl::StrCat("fork: ", std::strerror(errno)));
  }
  if (pid == 0) {
    // The child: die with the test, run in the source tree, log to DATA/<name>.log.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) {
      ::_exit(127);
    }
    int fd = ::open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0 || ::chdir(cwd.c_str()) != 0) {
      ::_exit(127);
    }
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      ::dup2(devnull, STDIN_FILENO);
    }
    // The test process may block signals in its threads; the daemon must see SIGTERM.
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  children_[name] = Child{pid, 0, false};
  return absl::OkStatus();
}

absl::StatusOr<std::string> Hub::ReadyValue(const std::string& name, const std::string& key) const {
  std::ifstream in(ReadyFile(name));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string needle = "\"" + key + "\":";
  const std::size_t at = text.find(needle);
  if (!in.good() && text.empty()) {
    return absl::NotFoundError("no ready file of " + name);
  }
  if (at == std::string::npos) {
    return absl::NotFoundError("no \"" + key + "\" in the ready file of " + name);
  }
  std::size_t begin = at + needle.size();
  if (begin < text.size() && text[begin] == '"') {
    const std::size_t end = text.find('"', begin + 1);
    return text.substr(begin + 1, end - begin - 1);
  }
  const std::size_t end = text.find_first_of(",}", begin);
  return text.substr(begin, end - begin);
}

bool Hub::Poll(const std::string& name) {
  auto it = children_.find(name);
  if (it == children_.end() || it->second.pid <= 0) {
    return false;
  }
  int status = 0;
  pid_t r = ::waitpid(it->second.pid, &status, WNOHANG);
  if (r == 0) {
    return true;
  }
  if (r == it->second.pid) {
    it->second.exit_status = status;
  }
  it->second.pid = -1;
  return false;
}

bool Hub::Running(const std::string& name) { return Poll(name); }

bool Hub::WaitExit(const std::string& name, absl::Time deadline) {
  while (Poll(name)) {
    if (absl::Now() >= deadline) {
      return false;
    }
    absl::SleepFor(kPollInterval);
  }
  return true;
}

absl::Status Hub::WaitReady(const std::string& name, absl::Time deadline) {
  const std::string ready = ReadyFile(name);
  while (true) {
    // The daemon writes the file atomically (rename), so existing means complete.
    if (std::filesystem::exists(ready)) {
      if (!Poll(name)) {
        break;  // it wrote the file and then died: report below
      }
      children_[name].ready = true;
      return absl::OkStatus();
    }
    if (!Poll(name)) {
      break;
    }
    if (absl::Now() >= deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("asb-", name, " not ready in time; log:\n", LogTail(name)));
    }
    absl::SleepFor(kPollInterval);
  }
  const Child& c = children_[name];
  return absl::InternalError(absl::StrCat("asb-", name, " ", DescribeExit(c.exit_status),
                                          " before it was ready; log:\n", LogTail(name)));
}

absl::Status Hub::StartAndWait(const std::string& name, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  ASB_RETURN_IF_ERROR(Start(name));
  return WaitReady(name, deadline);
}

absl::Status Hub::StartAll(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  for (const std::string& name : Daemons()) {
    ASB_RETURN_IF_ERROR(Start(name));
  }
  for (const std::string& name : Daemons()) {
    ASB_RETURN_IF_ERROR(WaitReady(name, deadline));
  }
  return absl::OkStatus();
}

absl::Status Hub::Stop(const std::string& name, absl::Duration grace) {
  DropClients(name);
  if (!Poll(name)) {
    return absl::OkStatus();
  }
  const pid_t pid = children_[name].pid;
  ::kill(pid, SIGTERM);
  if (!WaitExit(name, absl::Now() + grace)) {
    ::kill(pid, SIGKILL);
    WaitExit(name, absl::InfiniteFuture());
    return absl::InternalError(absl::StrCat("asb-", name, " ignored SIGTERM for ",
                                            absl::FormatDuration(grace), "; killed. Log:\n",
                                            LogTail(name)));
  }
  const int status = children_[name].exit_status;
  // Before it is ready a daemon has not installed its handlers yet: SIGTERM just ends it.
  const bool killed_while_starting =
      !children_[name].ready && WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM;
  if (!killed_while_starting && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
    return absl::InternalError(absl::StrCat("asb-", name, " ", DescribeExit(status),
                                            " on SIGTERM; log:\n", LogTail(name)));
  }
  return absl::OkStatus();
}

absl::Status Hub::Kill(const std::string& name) {
  DropClients(name);
  if (!Poll(name)) {
    return absl::OkStatus();
  }
  ::kill(children_[name].pid, SIGKILL);
  WaitExit(name, absl::InfiniteFuture());
  return absl::OkStatus();
}

absl::Status Hub::Signal(const std::string& name, int signo) {
  if (!Poll(name)) {
    return absl::FailedPreconditionError("asb-" + name + " is not running");
  }
  if (::kill(children_[name].pid, signo) != 0) {
    return absl::InternalError(absl::StrCat("kill asb-", name, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status Hub::Restart(const std::string& name) {
  ASB_RETURN_IF_ERROR(Stop(name));
  return StartAndWait(name);
}

absl::Status Hub::StopAll() {
  absl::Status first;
  const auto& daemons = Daemons();
  for (auto it = daemons.rbegin(); it != daemons.rend(); ++it) {
    absl::Status s = Stop(*it);
    if (first.ok() && !s.ok()) {
      first = s;
    }
  }
  return first;
}

void Hub::DropClients(const std::string& daemon) {
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->first.first == daemon) {
      it = clients_.erase(it);
    } else {
      ++it;
    }
  }
}

absl::StatusOr<bus::Client*> Hub::ClientFor(const std::string& daemon,
                                            const std::string& principal) {
  auto key = std::make_pair(daemon, principal);
  auto it = clients_.find(key);
  if (it != clients_.end()) {
    return it->second.get();
  }
  ASB_ASSIGN_OR_RETURN(bus::KeyPair keys,
                       bus::LoadKeyFile(KeysDir() + "/" + principal + ".key", true));
  ASB_ASSIGN_OR_RETURN(bus::KeyPair server,
                       bus::LoadKeyFile(KeysDir() + "/" + daemon + ".pub", false));
  bus::ClientOptions o;
  o.endpoint = ApiEndpoint(daemon);
  o.server_public_key = server.public_key;
  o.keys = keys;
  ASB_ASSIGN_OR_RETURN(auto client, bus::Client::Connect(&context_, o));
  bus::Client* raw = client.get();
  clients_[key] = std::move(client);
  return raw;
}

absl::StatusOr<asb::v1::Response> Hub::Call(const std::string& daemon, const std::string& principal,
                                            asb::v1::Request request) {
  ASB_ASSIGN_OR_RETURN(bus::Client * client, ClientFor(daemon, principal));
  absl::StatusOr<asb::v1::Response> response =
      client->Call(std::move(request), options_.call_timeout);
  if (!response.ok()) {
    // A connection that saw a timeout or refusal is not reused.
    clients_.erase(std::make_pair(daemon, principal));
    return response.status();
  }
  if (response->status().code() != asb::v1::STATUS_CODE_OK) {
    return FromProto(response->status());
  }
  return response;
}

absl::StatusOr<asb::v1::Response> Hub::CallWithKeys(const std::string& daemon,
                                                    const bus::KeyPair& keys,
                                                    asb::v1::Request request) {
  ASB_ASSIGN_OR_RETURN(bus::KeyPair server,
                       bus::LoadKeyFile(KeysDir() + "/" + daemon + ".pub", false));
  bus::ClientOptions o;
  o.endpoint = ApiEndpoint(daemon);
  o.server_public_key = server.public_key;
  o.keys = keys;
  ASB_ASSIGN_OR_RETURN(auto client, bus::Client::Connect(&context_, o));
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response,
                       client->Call(std::move(request), options_.call_timeout));
  if (response.status().code() != asb::v1::STATUS_CODE_OK) {
    return FromProto(response.status());
  }
  return response;
}

absl::StatusOr<asb::v1::SubmitResponse> Hub::Submit(const std::string& feed,
                                                    const std::vector<asb::v1::CaseEvent>& events) {
  asb::v1::Request request;
  for (const auto& e : events) {
    *request.mutable_submit()->add_events() = e;
  }
  if (events.empty()) {
    request.mutable_submit();
  }
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, Call("intake", feed, std::move(request)));
  return std::move(*response.mutable_submit());
}

absl::StatusOr<asb::v1::PullAlertsResponse> Hub::PullAlerts(const std::string& partner,
                                                            uint32_t max, uint32_t wait_ms,
                                                            std::optional<uint64_t> from_seq) {
  asb::v1::Request request;
  auto* pull = request.mutable_pull_alerts();
  pull->set_max(max);
  pull->set_wait_ms(wait_ms);
  if (from_seq.has_value()) {
    pull->set_from_seq(*from_seq);
  }
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, Call("notify", partner, std::move(request)));
  return std::move(*response.mutable_alerts());
}

absl::StatusOr<asb::v1::AckAlertsResponse> Hub::Ack(const std::string& partner,
                                                    uint64_t through_seq) {
  asb::v1::Request request;
  request.mutable_ack_alerts()->set_through_seq(through_seq);
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, Call("notify", partner, std::move(request)));
  return std::move(*response.mutable_ack());
}

asb::v1::OnBehalfOf TestOfficer() {
  asb::v1::OnBehalfOf o;
  o.set_officer_id("T-0001");
  o.set_officer_name("Test Officer");
  o.set_reason("integration test: checking the view the hub gives");
  return o;
}

absl::StatusOr<asb::v1::Disclosure> Hub::GetCase(const std::string& partner,
                                                 const std::string& case_id,
                                                 const asb::v1::OnBehalfOf& on_behalf_of) {
  asb::v1::Request request;
  request.mutable_get_case()->set_case_id(case_id);
  *request.mutable_get_case()->mutable_on_behalf_of() = on_behalf_of;
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, Call("sharing", partner, std::move(request)));
  return std::move(*response.mutable_case_view()->mutable_disclosure());
}

absl::StatusOr<asb::v1::AuditQueryResponse> Hub::AuditQuery(const std::string& auditor,
                                                            asb::v1::AuditQueryRequest query) {
  asb::v1::Request request;
  *request.mutable_audit_query() = std::move(query);
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, Call("audit", auditor, std::move(request)));
  return std::move(*response.mutable_audit());
}

absl::StatusOr<std::vector<asb::v1::AuditEntry>> Hub::AuditQueryAll(
    const std::string& auditor, asb::v1::AuditQueryRequest query) {
  std::vector<asb::v1::AuditEntry> all;
  query.set_limit(1000);
  while (true) {
    ASB_ASSIGN_OR_RETURN(asb::v1::AuditQueryResponse page, AuditQuery(auditor, query));
    for (auto& e : *page.mutable_entries()) {
      all.push_back(std::move(e));
    }
    if (page.next_after_index() == 0) {
      return all;
    }
    if (page.next_after_index() <= query.after_index()) {
      return absl::InternalError("audit query pagination does not advance");
    }
    query.set_after_index(page.next_after_index());
  }
}

absl::StatusOr<asb::v1::PingResponse> Hub::Ping(const std::string& daemon,
                                                const std::string& principal) {
  asb::v1::Request request;
  request.mutable_ping();
  ASB_ASSIGN_OR_RETURN(asb::v1::Response response, Call(daemon, principal, std::move(request)));
  return std::move(*response.mutable_ping());
}

absl::StatusOr<std::vector<asb::v1::Envelope>> Hub::FetchAll(const std::string& daemon,
                                                             const std::string& stream,
                                                             uint64_t from_seq) {
  // The daemon key allowed to fetch: a consumer of that stream in the shipped configs.
  std::string as = "audit";
  if (daemon == "intake" && stream == "events") {
    as = "sharing";
  } else if (daemon == "sharing" && stream == "disclosures") {
    as = "notify";
  }
  std::vector<asb::v1::Envelope> out;
  uint64_t next = from_seq;
  while (true) {
    asb::v1::Request request;
    request.mutable_fetch()->set_stream(stream);
    request.mutable_fetch()->set_from_seq(next);
    request.mutable_fetch()->set_max_records(500);
    ASB_ASSIGN_OR_RETURN(asb::v1::Response response, Call(daemon, as, std::move(request)));
    const asb::v1::FetchResponse& f = response.fetch();
    for (const auto& r : f.records()) {
      if (r.seq() != next) {
        return absl::DataLossError(
            absl::StrCat(daemon, "/", stream, ": expected seq ", next, ", got ", r.seq()));
      }
      out.push_back(r);
      ++next;
    }
    if (next > f.head()) {
      return out;
    }
    if (f.records().empty()) {
      return absl::DataLossError(absl::StrCat(daemon, "/", stream, ": no records from ", next,
                                              " though head is ", f.head()));
    }
  }
}

absl::Status Hub::CheckDrained() {
  // Two rounds of pings: the streams' heads, then every consumer's offset and the heads again.
  // Consumers form a cycle (asb-intake consumes asb-sharing's "erasures", asb-notify asb-audit's
  // "tree_heads"), so no order pings every upstream before its consumers; instead the pipeline
  // is drained when no head moved between the rounds and every consumer's offset is at the head
  // of the first. A consumer of a stream that flows against the pipeline's order is not waited
  // for while its upstream is stopped (nothing can arrive); any other one is an error.
  std::map<std::string, uint64_t> heads;  // "daemon/stream" → head, first round
  std::vector<std::string> running;
  const std::vector<std::string> daemons = Daemons();
  for (const std::string& name : daemons) {
    if (!Running(name)) {
      continue;
    }
    running.push_back(name);
    ASB_ASSIGN_OR_RETURN(asb::v1::PingResponse ping, Ping(name));
    for (const auto& s : ping.streams()) {
      heads[name + "/" + s.name()] = s.head();
    }
  }
  for (const std::string& name : running) {
    ASB_ASSIGN_OR_RETURN(asb::v1::PingResponse ping, Ping(name));
    for (const auto& c : ping.consumers()) {
      auto head = heads.find(c.upstream() + "/" + c.stream());
      if (head == heads.end()) {
        const bool upstream_later = std::find(std::find(daemons.begin(), daemons.end(), name),
                                              daemons.end(), c.upstream()) != daemons.end();
        if (upstream_later && !Running(c.upstream())) {
          continue;
        }
        return absl::FailedPreconditionError(absl::StrCat(name, " consumes ", c.upstream(), "/",
                                                          c.stream(), ", which is not running"));
      }
      if (c.offset() != head->second) {
        return absl::FailedPreconditionError(absl::StrCat(name, " is at ", c.offset(), " of ",
                                                          c.upstream(), "/", c.stream(),
                                                          ", whose head is ", head->second));
      }
    }
    for (const auto& s : ping.streams()) {
      if (heads[name + "/" + s.name()] != s.head()) {
        return absl::FailedPreconditionError(absl::StrCat(name, "/", s.name(), " moved from ",
                                                          heads[name + "/" + s.name()], " to ",
                                                          s.head(), " while checked"));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status Hub::WaitDrained(absl::Duration timeout) {
  return WaitUntil(
      [this]() -> absl::StatusOr<bool> {
        ASB_RETURN_IF_ERROR(CheckDrained());
        return true;
      },
      absl::Now() + timeout, "the pipeline to drain");
}

absl::StatusOr<asb::v1::AuditTreeHeadResponse> Hub::TreeHead(const std::string& principal,
                                                             bool fresh, bool with_history) {
  asb::v1::AuditTreeHeadResponse out;
  asb::v1::Request request;
  request.mutable_audit_tree_head()->set_fresh(fresh);
  request.mutable_audit_tree_head()->set_with_history(with_history);
  while (true) {
    auto response = Call("audit", principal, request);
    if (!response.ok()) {
      return response.status();
    }
    const auto& r = response->audit_tree_head();
    auto history = std::move(*out.mutable_history());
    out = r;
    history.MergeFrom(r.history());
    *out.mutable_history() = std::move(history);
    if (!with_history || r.next_history_after_size() == 0) {
      return out;
    }
    request.mutable_audit_tree_head()->set_history_after_size(r.next_history_after_size());
  }
}

audit::LogSource Hub::AuditSource(const std::string& auditor) {
  audit::LogSource source;
  source.fetch = [this, auditor](uint64_t after) -> absl::StatusOr<asb::v1::AuditQueryResponse> {
    asb::v1::AuditQueryRequest q;
    q.set_after_index(after);
    q.set_limit(10000);
    q.set_stored(true);
    return AuditQuery(auditor, q);
  };
  source.consistency = [this, auditor](uint64_t m,
                                       uint64_t n) -> absl::StatusOr<std::vector<std::string>> {
    asb::v1::Request r;
    r.mutable_audit_consistency_proof()->set_first_size(m);
    r.mutable_audit_consistency_proof()->set_second_size(n);
    auto response = Call("audit", auditor, r);
    if (!response.ok()) {
      return response.status();
    }
    const auto& p = response->audit_consistency_proof().proof();
    return std::vector<std::string>(p.begin(), p.end());
  };
  source.frontier = [this, auditor](uint64_t n) -> absl::StatusOr<std::vector<std::string>> {
    asb::v1::Request r;
    r.mutable_audit_frontier()->set_tree_size(n);
    auto response = Call("audit", auditor, r);
    if (!response.ok()) {
      return response.status();
    }
    const auto& h = response->audit_frontier().hashes();
    return std::vector<std::string>(h.begin(), h.end());
  };
  return source;
}

pid_t SpawnTool(const Hub& hub, const std::vector<std::string>& argv, const std::string& out_file,
                const std::map<std::string, std::string>& env) {
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent || ::chdir(hub.source_dir().c_str()) != 0) {
      ::_exit(127);
    }
    ::setenv("ASBHUB_DATA", hub.data_dir().c_str(), 1);
    for (const auto& [name, value] : env) {
      ::setenv(name.c_str(), value.c_str(), 1);
    }
    const int fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, STDOUT_FILENO);
    ::dup2(fd, STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) {
      args.push_back(const_cast<char*>(a.c_str()));
    }
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

}  // namespace asb::testing
