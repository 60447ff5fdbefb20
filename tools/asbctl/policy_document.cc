// asbctl policy document: the agreement a signatory reads, from the ISP the hub enforces. The
// content is written once, to a Document, and a Document writes Markdown or HTML.
#include "tools/asbctl/policy_document.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/civil_time.h"
#include "common/agreement/agreement.h"
#include "common/status/macros.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/text_format.h"
#include "tools/asbctl/internal/policy_words.h"

namespace asb::ctl {
namespace {

using asb::config::v1::Isp;
using asb::config::v1::Rule;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;
using Agreement = asb::config::v1::DataSharingAgreement;
using Row = std::vector<std::string>;
using internal::ActionWords;
using internal::ConditionWords;
using internal::ContactWords;
using internal::EnumWords;
using internal::FieldWords;
using internal::OtherTerms;
using internal::PersonWords;
using internal::RetentionFrom;
using internal::ValueWords;

// --- the two formats ------------------------------------------------------------------------

// A document's building blocks; text is plain (each format escapes it).
class Document {
 public:
  virtual ~Document() = default;
  virtual void Title(const std::string& title, const std::string& subtitle) = 0;
  virtual void Heading(int level, const std::string& text) = 0;
  virtual void Para(const std::string& text) = 0;
  // A paragraph in bold: a warning the reader must not miss.
  virtual void Notice(const std::string& text) = 0;
  virtual void List(const std::vector<std::string>& items, bool numbered) = 0;
  virtual void Table(const Row& header, const std::vector<Row>& rows) = 0;
  // Label → value pairs.
  void Facts(const std::vector<std::pair<std::string, std::string>>& facts) {
    std::vector<Row> rows;
    for (const auto& [label, value] : facts) {
      if (!value.empty()) {
        rows.push_back({label, value});
      }
    }
    Table({"", ""}, rows);
  }
  virtual std::string Finish() = 0;
};

class Markdown : public Document {
 public:
  void Title(const std::string& title, const std::string& subtitle) override {
    absl::StrAppend(&out_, "# ", Line(title), "\n\n", Line(subtitle), "\n\n");
  }
  void Heading(int level, const std::string& text) override {
    absl::StrAppend(&out_, std::string(level + 1, '#'), " ", Line(text), "\n\n");
  }
  void Para(const std::string& text) override { absl::StrAppend(&out_, Line(text), "\n\n"); }
  void Notice(const std::string& text) override {
    absl::StrAppend(&out_, "**", Line(text), "**\n\n");
  }
  void List(const std::vector<std::string>& items, bool numbered) override {
    for (std::size_t i = 0; i < items.size(); ++i) {
      absl::StrAppend(&out_, numbered ? absl::StrCat(i + 1, ". ") : "- ", Line(items[i]), "\n");
    }
    out_ += "\n";
  }
  void Table(const Row& header, const std::vector<Row>& rows) override {
    if (rows.empty()) {
      return;
    }
    auto row = [this](const Row& cells) {
      out_ += "|";
      for (const std::string& c : cells) {
        absl::StrAppend(&out_, " ", Cell(c), " |");
      }
      out_ += "\n";
    };
    row(header);
    out_ += "|";
    for (std::size_t i = 0; i < header.size(); ++i) {
      out_ += " --- |";
    }
    out_ += "\n";
    for (const Row& r : rows) {
      row(r);
    }
    out_ += "\n";
  }
  std::string Finish() override { return std::move(out_); }

 private:
  // Markdown would read *, _, `, [ and < as markup.
  static std::string Line(const std::string& s) {
    return absl::StrReplaceAll(s, {{"\\", "\\\\"},
                                   {"*", "\\*"},
                                   {"_", "\\_"},
                                   {"`", "\\`"},
                                   {"[", "\\["},
                                   {"<", "&lt;"},
                                   {"\n", " "}});
  }
  static std::string Cell(const std::string& s) {
    return absl::StrReplaceAll(Line(s), {{"|", "\\|"}});
  }
  std::string out_;
};

class Html : public Document {
 public:
  void Title(const std::string& title, const std::string& subtitle) override {
    title_ = title;
    absl::StrAppend(&body_, "<header><h1>", Esc(title), "</h1><p class=\"sub\">", Esc(subtitle),
                    "</p></header>\n");
  }
  void Heading(int level, const std::string& text) override {
    const int h = std::min(level + 1, 6);
    absl::StrAppend(&body_, "<h", h, ">", Esc(text), "</h", h, ">\n");
  }
  void Para(const std::string& text) override {
    absl::StrAppend(&body_, "<p>", Esc(text), "</p>\n");
  }
  void Notice(const std::string& text) override {
    absl::StrAppend(&body_, "<p class=\"notice\"><strong>", Esc(text), "</strong></p>\n");
  }
  void List(const std::vector<std::string>& items, bool numbered) override {
    const char* tag = numbered ? "ol" : "ul";
    absl::StrAppend(&body_, "<", tag, ">");
    for (const std::string& item : items) {
      absl::StrAppend(&body_, "<li>", Esc(item), "</li>");
    }
    absl::StrAppend(&body_, "</", tag, ">\n");
  }
  void Table(const Row& header, const std::vector<Row>& rows) override {
    if (rows.empty()) {
      return;
    }
    const bool facts =
        std::all_of(header.begin(), header.end(), [](const std::string& h) { return h.empty(); });
    absl::StrAppend(&body_, facts ? "<table class=\"facts\">" : "<table>");
    if (!facts) {
      body_ += "<thead><tr>";
      for (const std::string& h : header) {
        absl::StrAppend(&body_, "<th>", Esc(h), "</th>");
      }
      body_ += "</tr></thead>";
    }
    body_ += "<tbody>";
    for (const Row& r : rows) {
      body_ += "<tr>";
      for (std::size_t i = 0; i < r.size(); ++i) {
        const char* cell = facts && i == 0 ? "th" : "td";
        absl::StrAppend(&body_, "<", cell, CellClass(r[i]), ">", Esc(r[i]), "</", cell, ">");
      }
      body_ += "</tr>";
    }
    body_ += "</tbody></table>\n";
  }
  std::string Finish() override {
    return absl::StrCat(
        "<!DOCTYPE html>\n<html lang=\"en-GB\">\n<head>\n<meta charset=\"utf-8\">\n"
        "<meta name=\"generator\" content=\"asbctl policy document\">\n<title>",
        Esc(title_), "</title>\n<style>\n", kStyle, "</style>\n</head>\n<body>\n<main>\n", body_,
        "</main>\n</body>\n</html>\n");
  }

 private:
  static constexpr char kStyle[] =
      "body{font-family:Georgia,'Times New Roman',serif;color:#111;margin:0;background:#fff}\n"
      "main{max-width:60rem;margin:0 auto;padding:2rem 1.5rem}\n"
      "h1{font-size:1.7rem;margin-bottom:.2rem}h2{margin-top:2rem;border-bottom:1px solid #999}\n"
      "h3{margin-top:1.5rem}.sub{color:#444;margin-top:0}\n"
      "table{border-collapse:collapse;width:100%;margin:.6rem 0 1rem;font-size:.92rem}\n"
      "th,td{border:1px solid #bbb;padding:.25rem .45rem;text-align:left;vertical-align:top}\n"
      "thead th{background:#eee}table.facts th{width:14rem;background:#f6f6f6}\n"
      "td.shown{background:#fde7e7}td.pseudonymised,td.generalised{background:#fdf3dc}\n"
      "td.redacted{background:#eef2f8}td.denied{background:#e4e4e4;font-weight:bold}\n"
      ".notice{border-left:4px solid #b00;padding:.4rem .8rem;background:#fff4f4}\n"
      "@media print{main{max-width:none;padding:0}h2{break-after:avoid}tr{break-inside:avoid}}\n";

  // Field plan cells are coloured by what they reveal.
  static std::string CellClass(const std::string& text) {
    for (const char* word : {"shown", "pseudonymised", "generalised", "redacted", "denied"}) {
      if (absl::StartsWith(text, word)) {
        return absl::StrCat(" class=\"", word, "\"");
      }
    }
    return "";
  }
  static std::string Esc(const std::string& s) {
    return absl::StrReplaceAll(
        s, {{"&", "&amp;"}, {"<", "&lt;"}, {">", "&gt;"}, {"\"", "&quot;"}, {"'", "&#39;"}});
  }
  std::string title_;
  std::string body_;
};

// --- the content ----------------------------------------------------------------------------

class Writer {
 public:
  Writer(const policy::Policy& policy, const std::string& source, absl::Time now, Document* doc)
      : policy_(policy),
        isp_(policy.isp()),
        a_(isp_.agreement()),
        source_(source),
        now_(now),
        doc_(doc) {}

  void Write() {
    const std::string title = isp_.has_agreement() ? a_.title() : isp_.name();
    doc_->Title(title, absl::StrCat(isp_.has_agreement() ? a_.reference() + " · " : "", isp_.name(),
                                    " · generated from ", source_, " (ISP version ",
                                    policy_.version().substr(0, 16), ") on ",
                                    absl::FormatCivilTime(agreement::DayOf(now_))));
    doc_->Para(
        "This agreement is generated from the Information Sharing Protocol the hub enforces. The "
        "purposes, gateways and what each agency sees are the rules themselves, not a "
        "description of them: regenerate it (asbctl policy document) after every change and "
        "never edit it by hand.");
    if (!isp_.has_agreement()) {
      doc_->Notice(
          "The ISP carries no data sharing agreement (isp.proto: agreement): parties, "
          "signatories, retention and the breach route are not stated.");
    } else {
      const agreement::ReviewStatus review = agreement::AssessReview(isp_, now_);
      if (review.state != agreement::ReviewStatus::State::kCurrent) {
        doc_->Notice(absl::StrCat("Review: the ", review.Describe(), "."));
      }
      Parties();
      Roles();
      Term();
    }
    Purposes();
    Agencies();
    if (isp_.has_aggregates()) {
      Aggregates();
    }
    if (isp_.has_agreement()) {
      Retention();
      Breaches();
      Rights();
      Onward();
    }
    Accountability();
    if (isp_.has_agreement()) {
      Signatures();
    }
  }

 private:
  std::string AgencyName(const std::string& id) const {
    for (const auto& a : isp_.agencies()) {
      if (a.id() == id) {
        return a.name();
      }
    }
    return id;
  }
  std::string PartyOf(const std::string& agency) const {
    for (const Agreement::Party& p : a_.parties()) {
      for (const std::string& id : p.agencies()) {
        if (id == agency) {
          return p.organisation();
        }
      }
    }
    return "";
  }
  void Section(const std::string& title) {
    doc_->Heading(1, absl::StrCat(++section_, ". ", title));
  }

  void Parties() {
    Section("Parties and signatories");
    doc_->Para("Each party is a controller for the agencies listed against it and signs below.");
    std::vector<Row> rows;
    for (const Agreement::Party& p : a_.parties()) {
      std::vector<std::string> agencies;
      for (const std::string& id : p.agencies()) {
        agencies.push_back(absl::StrCat(AgencyName(id), " (", id, ")"));
      }
      rows.push_back({p.organisation(), absl::StrJoin(agencies, "; "),
                      absl::StrCat(p.signatory().name(), ", ", p.signatory().role()),
                      p.ico_registration(), ContactWords(p.data_protection_officer()),
                      p.appropriate_policy_document()});
    }
    doc_->Table({"Party (controller)", "Agencies", "Signatory", "ICO registration",
                 "Data protection officer", "Appropriate policy document (DPA 2018 Sch 1 Pt 4)"},
                rows);
  }

  void Roles() {
    Section("Controllers and processor");
    if (a_.controller_model() == Agreement::CONTROLLER_MODEL_JOINT) {
      doc_->Para(absl::StrCat(
          "The parties are joint controllers (UK GDPR Art 26) under the arrangement ",
          a_.joint_arrangement(), ", whose essence is made available to data subjects."));
    } else {
      doc_->Para(
          "Each party is a separate controller (UK GDPR Art 4(7)): responsible for what it "
          "discloses through the hub and, once received, for what it holds.");
    }
    const Agreement::Processor& p = a_.processor();
    doc_->Facts({{"Processor (the hub's operator)", p.organisation()},
                 {"What it does", p.role()},
                 {"Contract (UK GDPR Art 28(3))", p.contract()},
                 {"Contact", ContactWords(p.contact())}});
  }

  void Term() {
    Section("Term, review and impact assessment");
    const agreement::ReviewStatus review = agreement::AssessReview(isp_, now_);
    const Agreement::Review& r = a_.review();
    doc_->Facts(
        {{"In force from", a_.effective_date()},
         {"Review due by", r.due()},
         {"Review cycle", r.cycle()},
         {"Reminder to the partnership coordinator from",
          absl::FormatCivilTime(review.remind_from)},
         {"The hub refuses this protocol after",
          absl::StrCat(absl::FormatCivilTime(review.grace_ends),
                       " (until the parties record the next review date)")},
         {"Partnership coordinator (receives the hub's notices)",
          absl::StrCat(AgencyName(a_.coordinator_agency()), " (", a_.coordinator_agency(), ")")},
         {"Data protection impact assessment",
          absl::StrCat(a_.dpia().reference(), ", completed ", a_.dpia().completed_on(),
                       a_.dpia().owner().empty() ? "" : ", owner " + a_.dpia().owner())}});
  }

  void Purposes() {
    Section("Purposes and lawful bases");
    doc_->Para("Data is shared only for these purposes, each under the gateway stated.");
    std::vector<Row> rows;
    for (const auto& p : isp_.purposes()) {
      std::vector<std::string> by;
      for (const Rule& rule : isp_.rules()) {
        if (rule.purpose() == p.id()) {
          by.push_back(absl::StrCat(rule.agency(), " (", rule.id(), ")"));
        }
      }
      rows.push_back({absl::StrCat(p.id()), p.description(), p.lawful_basis(),
                      by.empty() ? "no rule uses it" : absl::StrJoin(by, "; ")});
    }
    doc_->Table({"Purpose", "What for", "Lawful basis and gateway", "Agencies (rules)"}, rows);
  }

  void Agencies() {
    Section("What each agency sees, and in which cases");
    doc_->Para(
        "Generated from the rules. An agency sees a case only when one of its rules applies to "
        "it, and then only the fields those rules grant; anything not listed is not shared "
        "(default deny). When several of its rules apply to one case the agency gets the most "
        "revealing treatment of each field (shown, then generalised, then pseudonymised, then "
        "redacted), except that denied always wins. Generalised: a date of birth becomes an age "
        "band, an address its postcode district, a place its LSOA and ward, a time its date. "
        "Pseudonymised: a keyed token, the same across the partnership, so records link "
        "without identity. Redacted: the agency learns the field exists, not its value.");
    int n = 0;
    for (const auto& agency : isp_.agencies()) {
      ++n;
      doc_->Heading(2, absl::StrCat(section_, ".", n, " ", agency.name(), " (", agency.id(), ")"));
      std::vector<const Rule*> rules;
      for (const Rule& rule : isp_.rules()) {
        if (rule.agency() == agency.id()) {
          rules.push_back(&rule);
        }
      }
      const std::string party = PartyOf(agency.id());
      if (!party.empty()) {
        doc_->Para(absl::StrCat("Controller: ", party, "."));
      }
      if (rules.empty()) {
        doc_->Para("Sees nothing: no rule grants this agency any case data.");
      } else {
        std::vector<Row> rows;
        for (const Rule* rule : rules) {
          std::string when = ConditionWords(rule->when());
          if (rule->has_people()) {
            absl::StrAppend(&when, "; showing only ", PersonWords(rule->people()));
          }
          if (std::string other = OtherTerms(
                  *rule, {"id", "agency", "purpose", "description", "when", "fields", "people"});
              !other.empty()) {
            absl::StrAppend(&when, "; ", other);
          }
          rows.push_back({rule->id(), rule->purpose(), when, rule->description()});
        }
        doc_->Table({"Rule", "Purpose", "In which cases", "What for"}, rows);
        FieldPlan(rules);
      }
      Alerts(agency.id());
    }
  }

  // One row per field path the agency's rules name (in the order they first name it), one
  // column per rule.
  void FieldPlan(const std::vector<const Rule*>& rules) {
    std::vector<std::string> paths;
    std::map<std::pair<std::string, const Rule*>, std::string> cell;
    for (const Rule* rule : rules) {
      for (const auto& grant : rule->fields()) {
        if (std::find(paths.begin(), paths.end(), grant.path()) == paths.end()) {
          paths.push_back(grant.path());
        }
        std::string what = ActionWords(grant.action());
        if (std::string other = OtherTerms(grant, {"path", "action"}); !other.empty()) {
          absl::StrAppend(&what, " (", other, ")");
        }
        cell[{grant.path(), rule}] = what;
      }
    }
    Row header = {"Field"};
    for (const Rule* rule : rules) {
      header.push_back(rule->id());
    }
    std::vector<Row> rows;
    for (const std::string& path : paths) {
      Row row = {path};
      for (const Rule* rule : rules) {
        auto it = cell.find({path, rule});
        row.push_back(it == cell.end() ? "" : it->second);
      }
      rows.push_back(std::move(row));
    }
    doc_->Table(header, rows);
  }

  void Alerts(const std::string& agency) {
    std::vector<std::string> alerts;
    for (const auto& n : isp_.notification_rules()) {
      if (std::find(n.agencies().begin(), n.agencies().end(), agency) == n.agencies().end()) {
        continue;
      }
      std::vector<std::string> events;
      for (int e : n.event_types()) {
        events.push_back(EnumWords(asb::v1::EventType_descriptor()->FindValueByNumber(e)));
      }
      std::string line = absl::StrCat(absl::StrJoin(events, ", "));
      if (n.order_types_size() > 0) {
        std::vector<std::string> orders;
        for (int o : n.order_types()) {
          orders.push_back(EnumWords(asb::v1::OrderType_descriptor()->FindValueByNumber(o)));
        }
        absl::StrAppend(&line, " (orders: ", absl::StrJoin(orders, ", "), ")");
      }
      absl::StrAppend(&line, " — rule ", n.id());
      alerts.push_back(line);
    }
    if (alerts.empty()) {
      doc_->Para("Alerts: none (it may still look up the cases its rules let it see).");
      return;
    }
    doc_->Para("Alerted on these events, for cases its rules let it see:");
    doc_->List(alerts, false);
  }

  // The ISP's aggregates block (hot spots, indicators): counts, no person, case id or free text.
  void Aggregates() {
    const asb::config::v1::AggregateAccess& g = isp_.aggregates();
    Section("Depersonalised figures");
    std::vector<std::string> who;
    for (const std::string& a : g.agencies()) {
      who.push_back(a == "*" ? "every agency of the partnership" : AgencyName(a));
    }
    const uint32_t suppress = g.suppress_below() == 0 ? 5 : g.suppress_below();
    doc_->Para(absl::StrCat(
        "Counts of incidents, orders and cases by month, area, category and source agency (hot "
        "spots, the annual indicators) — no person, case id or free text — may be asked for by ",
        absl::StrJoin(who, ", "), ", for the purpose '", g.purpose(), "'",
        g.description().empty() ? "" : absl::StrCat(" (", g.description(), ")"), ", under ",
        g.lawful_basis(), ". Each request names the officer and the reason and is recorded. ",
        suppress > 1 ? absl::StrCat("Counts from 1 to ", suppress - 1, " are withheld.")
                     : "No count is withheld (small-cell suppression is off)."));
  }

  void Retention() {
    Section("Retention");
    std::vector<Row> rows;
    for (const Agreement::Retention& r : a_.retention()) {
      rows.push_back({EnumWords(Agreement::RetentionData_descriptor()->FindValueByNumber(r.data())),
                      absl::StrCat(r.days(), " days"), RetentionFrom(r.data()), r.basis()});
    }
    doc_->Table({"Data", "Kept for", "Counted from, then", "Why this long"}, rows);
  }

  void Breaches() {
    Section("Personal data breaches");
    const Agreement::BreachProcedure& b = a_.breach();
    doc_->Para(absl::StrCat(
        "A party that becomes aware of a breach involving shared data tells the breach contacts "
        "(and, where the hub is involved, the processor) within ",
        b.notify_partners_within_hours(),
        " hours. The controller concerned reports a notifiable breach to the Information "
        "Commissioner within ",
        b.report_to_ico_within_hours(),
        " hours of becoming aware of it (UK GDPR Art 33(1)), and tells the people affected "
        "without undue delay where the risk to them is high (Art 34)."));
    std::vector<Row> rows;
    for (const Agreement::Contact& c : b.contacts()) {
      rows.push_back({c.name(), c.role(), c.email(), c.phone()});
    }
    doc_->Table({"Breach contact", "Role", "Email", "Telephone"}, rows);
    doc_->Para("The route:");
    doc_->List({b.route().begin(), b.route().end()}, true);
  }

  void Rights() {
    Section("Data subjects' rights");
    doc_->Para(absl::StrCat(
        "Requests to exercise any right (access, rectification, erasure, restriction, "
        "objection) go to ",
        ContactWords(a_.subject_rights()),
        ", who passes each to the controller concerned; each controller answers for the data it "
        "holds within one month (UK GDPR Art 12(3)). The hub's access log lets each answer list "
        "who received a person's data, when and under which rule (asbctl audit subject)."));
  }

  void Onward() {
    Section("Onward disclosure");
    doc_->List({a_.onward_disclosure().begin(), a_.onward_disclosure().end()}, false);
  }

  void Accountability() {
    Section("How the hub holds the parties to this");
    doc_->List(
        {"Every disclosure names the rule, purpose, lawful basis and protocol version that "
         "allowed it; anything no rule grants is not shared.",
         "Every request that reads case data names the officer on whose behalf the agency's "
         "system asks, the purpose and the reason; without them it is refused and the refusal "
         "recorded (DPA 2018 s.62(3)).",
         "The access log (asb-audit) records every collection, disclosure, delivery, "
         "consultation, refusal and erasure; it is a signed, tamper-evident Merkle log that "
         "auditors verify (asbctl audit verify).",
         "Personal data is encrypted at rest under per-case keys; a deleted case's keys are "
         "destroyed in every daemon, so its data is unreadable everywhere at once.",
         isp_.has_agreement()
             ? "From the review date every daemon warns and the partnership coordinator is "
               "alerted; after the grace the hub refuses to load this protocol."
             : "Without an agreement the hub applies no retention and no review date."},
        false);
  }

  void Signatures() {
    Section("Signatures");
    doc_->Para(
        "Signed for each party, agreeing to share and to receive case information on "
        "the terms above.");
    std::vector<Row> rows;
    for (const Agreement::Party& p : a_.parties()) {
      const Agreement::Signatory& s = p.signatory();
      rows.push_back({p.organisation(), s.name(), s.role(),
                      s.signed_on().empty() ? "" : "signed (recorded in the protocol)",
                      s.signed_on().empty() ? "" : s.signed_on()});
    }
    doc_->Table({"Party", "Name", "Role", "Signature", "Date"}, rows);
  }

  const policy::Policy& policy_;
  const Isp& isp_;
  const Agreement& a_;
  const std::string& source_;
  absl::Time now_;
  Document* doc_;
  int section_ = 0;
};

}  // namespace

std::string RenderPolicyDocument(const policy::Policy& policy, const std::string& source,
                                 DocumentFormat format, absl::Time now) {
  std::unique_ptr<Document> doc;
  if (format == DocumentFormat::kHtml) {
    doc = std::make_unique<Html>();
  } else {
    doc = std::make_unique<Markdown>();
  }
  Writer(policy, source, now, doc.get()).Write();
  return doc->Finish();
}

absl::Status RunPolicyDocument(const Globals&, const PolicyDocumentOptions& o) {
  auto policy = policy::Policy::LoadFile(o.file);
  if (!policy.ok()) {
    return FileProblems(o.file, policy.status());
  }
  const DocumentFormat format =
      o.format == "md" ? DocumentFormat::kMarkdown : DocumentFormat::kHtml;
  const std::string text = RenderPolicyDocument(**policy, o.file, format, absl::Now());
  if (o.out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return absl::OkStatus();
  }
  std::ofstream out(o.out, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  if (!out) {
    return absl::UnavailableError(o.out + ": cannot write");
  }
  std::printf("wrote %s (%zu bytes)\n", o.out.c_str(), text.size());
  return absl::OkStatus();
}

CLI::App* AddPolicyDocumentOptions(CLI::App& parent, PolicyDocumentOptions& o) {
  auto* cmd = parent.add_subcommand(
      "document",
      "render the data sharing agreement a signatory reads, generated from the ISP's rules "
      "(purposes, gateways, what each agency sees in which cases) and its agreement section");
  cmd->add_option("FILE", o.file, "ISP file (.yaml or .json)")->required();
  cmd->add_option("--format", o.format, "html (one self-contained file) or md")
      ->check(CLI::IsMember({"html", "md"}))
      ->capture_default_str();
  cmd->add_option("--out", o.out, "write to this file (default: standard output)");
  return cmd;
}

}  // namespace asb::ctl
