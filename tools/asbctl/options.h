#pragma once

// Every asbctl command's options: one struct per command, holding its defaults, and the function
// that adds the command under `parent` (the app, or its group: `case`, `keys`, `policy`, `audit`)
// and binds the command line into the struct. The struct must outlive `parent`. Binding runs
// nothing, so tests parse real command lines against these. The help texts and the commands
// themselves live in the file of each group.

#include <cstdint>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"

namespace asb::ctl {

// --- commands.cc --------------------------------------------------------------------------

struct SubmitOptions {
  std::string file;
  std::string as = "council";
  int batch = 500;
  // A batch answered UNAVAILABLE (the hub is behind: backpressure; or its disk is full) is sent
  // again, backing off from 50 ms to 2 s, for up to this long before the command fails.
  int retry_s = 300;
};
CLI::App* AddSubmitOptions(CLI::App& parent, SubmitOptions& o);

struct AlertsOptions {
  std::string as;
  bool follow = false;
  bool no_ack = false;
  uint32_t max = 100;
  int64_t from_seq = 0;
};
CLI::App* AddAlertsOptions(CLI::App& parent, AlertsOptions& o);

// The officer on whose behalf a command reads case data or aggregates of it (api.proto:
// OnBehalfOf), from --officer, --officer-name, --purpose and --reason or $ASBHUB_OFFICER /
// $ASBHUB_OFFICER_NAME / $ASBHUB_REASON.
struct OfficerOptions {
  std::string officer_id;
  std::string officer_name;
  std::string purpose;
  std::string reason;
};
// Adds --officer, --officer-name, --reason and --purpose to `cmd`. With `required`, --officer
// (or $ASBHUB_OFFICER) and --reason (or $ASBHUB_REASON) must be given; without, the hub refuses
// a request that lacks them.
void AddOfficerOptions(CLI::App* cmd, OfficerOptions& o, bool required);

struct CaseGetOptions {
  std::string id;
  std::string as;
  OfficerOptions officer;
};
CLI::App* AddCaseGetOptions(CLI::App& parent, CaseGetOptions& o);

struct CaseEraseOptions {
  std::string id;
  std::string reference;
  std::string as = "hub";
};
CLI::App* AddCaseEraseOptions(CLI::App& parent, CaseEraseOptions& o);

struct KeysGenerateOptions {
  std::string name;
  std::string dir = ".";
};
CLI::App* AddKeysGenerateOptions(CLI::App& parent, KeysGenerateOptions& o);

struct KeysRotateOptions {
  std::string ring;
};
CLI::App* AddKeysRotateOptions(CLI::App& parent, KeysRotateOptions& o);

struct PingOptions {
  std::string as = "council";
  std::string daemon = "intake";
  std::string kind = "feed";
};
CLI::App* AddPingOptions(CLI::App& parent, PingOptions& o);

// --- status_command.cc, deadletters_command.cc -----------------------------------------------

struct StatusOptions {
  std::string as = "hub";
  double wait_idle = 0;  // seconds; 0: one snapshot
};
CLI::App* AddStatusOptions(CLI::App& parent, StatusOptions& o);

struct DeadLettersOptions {
  std::string as;  // empty: the hub-admin key, which sees every agency's
  std::string agency;
  uint32_t page = 100;
};
CLI::App* AddDeadLettersOptions(CLI::App& parent, DeadLettersOptions& o);

// --- policy_commands.cc -----------------------------------------------------------------------

struct PolicyCheckOptions {
  std::string file;
};
CLI::App* AddPolicyCheckOptions(CLI::App& parent, PolicyCheckOptions& o);

struct PolicyExplainOptions {
  std::string isp = "config/isp/chesterfield.yaml";
  std::string agency;
  std::string case_ref;  // a case file, or the id of a case the hub holds
  std::string event;
  std::string order_type;
  std::string as = "hub";
  OfficerOptions officer;  // for a case id (the hub records who asked and why)
};
CLI::App* AddPolicyExplainOptions(CLI::App& parent, PolicyExplainOptions& o);

struct PolicyTestOptions {
  std::string file;
};
CLI::App* AddPolicyTestOptions(CLI::App& parent, PolicyTestOptions& o);

struct PolicyDiffOptions {
  std::string old_file;
  std::string new_file;
};
CLI::App* AddPolicyDiffOptions(CLI::App& parent, PolicyDiffOptions& o);

// --- policy_document_command.cc -------------------------------------------------------------

struct PolicyDocumentOptions {
  std::string file;
  std::string format = "html";
  std::string out;  // empty: stdout
};
CLI::App* AddPolicyDocumentOptions(CLI::App& parent, PolicyDocumentOptions& o);

// --- audit_query_commands.cc --------------------------------------------------------------

struct AuditQueryOptions {
  std::string as = "dpo";
  std::string case_id;
  std::string agency;
  std::string since;
  std::string until;
  std::string actor;
  std::string subject;
  std::string purpose;
  std::string officer;
  std::vector<std::string> kinds;
  uint32_t limit = 1000;
  bool all = false;
  std::string format = "table";
};
CLI::App* AddAuditQueryOptions(CLI::App& parent, AuditQueryOptions& o);

struct AuditSubjectOptions {
  std::string key;
  std::string as = "dpo";
  std::string format = "table";
};
CLI::App* AddAuditSubjectOptions(CLI::App& parent, AuditSubjectOptions& o);

// --- audit_verify_commands.cc -------------------------------------------------------------

struct AuditVerifyOptions {
  std::string as = "dpo";
  std::string public_key;
  uint64_t from = 1;
  uint64_t to = 0;                     // 0: the latest signed tree head's size
  std::vector<std::string> witnesses;  // saved heads the log must contain
};
CLI::App* AddAuditVerifyOptions(CLI::App& parent, AuditVerifyOptions& o);

struct AuditHeadOptions {
  std::string as = "dpo";
  std::string out;  // write the head there (an AuditWitness file)
  std::string public_key;
};
CLI::App* AddAuditHeadOptions(CLI::App& parent, AuditHeadOptions& o);

struct AuditProveOptions {
  uint64_t index = 0;
  uint64_t tree_size = 0;  // 0: the latest
  std::string as = "dpo";
  std::string public_key;
};
CLI::App* AddAuditProveOptions(CLI::App& parent, AuditProveOptions& o);

// --- audit_export_commands.cc -------------------------------------------------------------

struct AuditExportOptions {
  std::string out;
  std::string as = "dpo";
};
CLI::App* AddAuditExportOptions(CLI::App& parent, AuditExportOptions& o);

struct AuditVerifyExportOptions {
  std::string file;
  std::string public_key;
};
CLI::App* AddAuditVerifyExportOptions(CLI::App& parent, AuditVerifyExportOptions& o);

// --- audit_erase_command.cc ---------------------------------------------------------------

struct AuditEraseOptions {
  std::string subject;
  std::string case_id;
  std::string reference;
  bool dry_run = false;
  std::string as = "hub-admin";
};
CLI::App* AddAuditEraseOptions(CLI::App& parent, AuditEraseOptions& o);

struct AuditRepairOptions {
  std::string reference;
  bool dry_run = false;
  std::string as = "hub-admin";
};
CLI::App* AddAuditRepairOptions(CLI::App& parent, AuditRepairOptions& o);

// --- import_command.cc, intelligence_commands.cc (issue 16) ---------------------------------

struct ImportPoliceUkOptions {
  std::vector<std::string> files;
  std::string as = "police";
  bool only_asb = false;       // the default, stated
  bool include_crime = false;  // other crime types too
  std::string district;
  std::string wards;  // LSOA → ward lookup CSV
  int batch = 1000;
  int parallel = 3;
  bool progress = true;  // a progress bar when stdout and stderr are terminals
};
CLI::App* AddImportPoliceUkOptions(CLI::App& parent, ImportPoliceUkOptions& o);

// On whose behalf a request that reads aggregates asks: OfficerOptions (above), as for cases.
struct HotspotsOptions {
  std::string month;
  std::string by = "lsoa";
  std::string category = "asb";
  uint32_t top = 10;
  uint32_t baseline = 6;
  double fdr = 0.05;
  std::string format = "table";
  std::string as;
  OfficerOptions officer;
};
CLI::App* AddHotspotsOptions(CLI::App& parent, HotspotsOptions& o);

struct ReportIndicatorsOptions {
  std::string from;
  std::string to;
  std::string by = "district";
  uint32_t top = 10;
  std::string format = "html";
  std::string out;  // "" or "-": stdout
  std::string as;
  OfficerOptions officer;
};
CLI::App* AddReportIndicatorsOptions(CLI::App& parent, ReportIndicatorsOptions& o);

}  // namespace asb::ctl
