#pragma once

// The load generator's events: realistic ASB cases (opened, incidents, people, a risk
// assessment, an order of every type in turn, breaches, variations, discharge or expiry) placed
// on real locations from police.uk street-level CSVs (Chesterfield rows first) when available.
// All names, phone numbers and addresses are synthetic. Deterministic for a given seed.

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "asb/v1/events.pb.h"

namespace asb::loadgen {

struct Place {
  double latitude = 0;
  double longitude = 0;
  std::string description;  // "On or near Mansfield Road"
  std::string lsoa_code;    // E01019400
  std::string ward;         // the LSOA name, e.g. "Chesterfield 001A"
};

// Reads police.uk street CSVs (*.csv in `dir`); Chesterfield rows if there are any, otherwise
// every row. Returns an empty list (and the generator uses a few built-in places) if none.
std::vector<Place> LoadPlaces(const std::string& dir, std::size_t max_places = 20000);

// What else the mix does.
struct EventMixOptions {
  // Every Nth order (0: none) is a short fuse: it ends, and falls due for review, a few seconds
  // after its case is generated, with no later variation or discharge, so the hub's clock fires
  // its timers while the load runs (the fault-injection test). Only order types whose statutory
  // terms allow a short term are used.
  uint32_t short_fuse_every = 0;
};

// Produces events case by case. `run_id` makes source_event_ids and case ids unique per run;
// `stream` tells concurrent generators apart. Every order keeps the statutory rules
// (config/statutory/rules.yaml): terms within their limits, dispersal directions and closure
// notices authorised by an inspector, CPNs to subjects 16 or over; the soft rules (YOT
// consultations, a CPW before a CPN) are not always met, as in life, so the hub raises notices.
// Dispersal directions and closure notices last their statutory hours from a date weeks back: the
// hub's clock expires them (and raises the closure hearing's deadline) as soon as they arrive.
class EventMix {
 public:
  EventMix(std::vector<Place> places, std::string run_id, int stream, uint32_t seed,
           EventMixOptions options = {});

  // The next event (cases are generated whole and handed out in order).
  asb::v1::CaseEvent Next(absl::Time now);

 private:
  void NewCase(absl::Time now);
  const Place& RandomPlace();

  std::vector<Place> places_;
  std::string run_id_;
  EventMixOptions options_;
  int stream_;
  std::mt19937 rng_;
  uint64_t case_no_ = 0;
  uint64_t event_no_ = 0;
  uint64_t order_no_ = 0;
  std::vector<asb::v1::CaseEvent> queue_;
  std::size_t next_ = 0;
};

}  // namespace asb::loadgen
