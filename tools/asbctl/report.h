#pragma once

// How asbctl shows the depersonalised figures of asb-sharing: hot spots as a table, CSV or
// JSON; the indicators of a period as CSV for analysts or as one self-contained HTML page with
// SVG charts (no script, no external file) for the Crime and Disorder Panel. Pure functions of
// the responses, so tests render them without a hub.

#include <string>

#include "asb/v1/intelligence.pb.h"

namespace asb::ctl {

// "lsoa", "ward", "district" (LSOA for UNSPECIFIED).
std::string AreaLevelName(asb::v1::AreaLevel level);

// Hot spots: an aligned table with the rule under it.
std::string HotspotsTable(const asb::v1::HotspotsResponse& r);
// Hot spots: CSV, one row per listed area (header first).
std::string HotspotsCsv(const asb::v1::HotspotsResponse& r);

// Indicators: tidy CSV (section,month,category,area,name,measure,value), one figure per row;
// suppressed figures have value "suppressed".
std::string IndicatorsCsv(const asb::v1::IndicatorsResponse& r);
// Indicators: the annual-report page. `title` heads it (e.g. the partnership's name).
std::string IndicatorsHtml(const asb::v1::IndicatorsResponse& r, const std::string& title);

}  // namespace asb::ctl
