// The indicators report and hot-spot tables render what the response holds: charts with one
// series per line, suppressed figures said so, no markup from data, one self-contained page.

#include "tools/asbctl/report.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace asb::ctl {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

asb::v1::IndicatorsResponse Sample() {
  asb::v1::IndicatorsResponse r;
  r.set_from_month("2018-10");
  r.set_to_month("2018-12");
  r.set_by(asb::v1::AREA_LEVEL_DISTRICT);
  r.set_suppress_below(5);
  const int asb[] = {110, 80, 65};
  for (int i = 0; i < 3; ++i) {
    const std::string m = "2018-1" + std::to_string(i);
    r.add_months(m);
    auto* mi = r.add_by_month();
    mi->set_month(m);
    mi->mutable_asb_incidents()->set_count(asb[i]);
    mi->mutable_cases_opened()->set_suppressed(true);
    auto* c = r.add_incidents();
    c->set_month(m);
    c->set_category("not-known");
    c->set_area("Chesterfield");
    c->set_name("Chesterfield");
    c->mutable_incidents()->set_count(asb[i]);
  }
  auto* t = r.add_top_areas();
  t->set_rank(1);
  t->set_area("Chesterfield <script>");
  t->set_name("Chesterfield <script>");
  t->mutable_total()->set_count(255);
  for (int v : asb) {
    t->add_by_month()->set_count(v);
  }
  t->set_first_month_rank(2);
  t->set_last_month_rank(1);
  auto* o = r.add_orders();
  o->set_month("2018-11");
  o->set_order_type("ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER");
  o->mutable_issued()->set_count(6);
  return r;
}

TEST(ReportTest, TheHtmlPageHasItsChartsAndFiguresAndNoExternalParts) {
  const std::string html = IndicatorsHtml(Sample(), "Test CSP");
  EXPECT_THAT(html, HasSubstr("data-chart=\"trend\""));
  EXPECT_THAT(html, HasSubstr("data-chart=\"top-areas\""));
  EXPECT_THAT(html, HasSubstr("data-chart=\"orders\""));
  EXPECT_THAT(html, HasSubstr("data-chart=\"cases\""));
  EXPECT_THAT(html, HasSubstr("data-series=\"ASB, all categories\""));
  EXPECT_THAT(html, HasSubstr("255 ASB incidents over 3 months; down from 110 in 2018-10 to 65 "
                              "in 2018-12 (-41%)"));
  EXPECT_THAT(html, HasSubstr("suppressed"));
  EXPECT_THAT(html, HasSubstr("1 &#9650; up 1"));
  EXPECT_THAT(html, HasSubstr("Chesterfield &lt;script&gt;"));
  EXPECT_THAT(html, Not(HasSubstr("<script")));
  EXPECT_THAT(html, Not(HasSubstr("src=")));
  EXPECT_THAT(html, Not(HasSubstr("href=")));
}

TEST(ReportTest, TheCsvHasOneFigurePerRow) {
  const std::string csv = IndicatorsCsv(Sample());
  EXPECT_THAT(csv, HasSubstr("section,month,category,area,name,measure,value\n"));
  EXPECT_THAT(csv, HasSubstr("month,2018-10,asb,,,asb_incidents,110\n"));
  EXPECT_THAT(csv, HasSubstr("month,2018-10,,,,cases_opened,suppressed\n"));
  EXPECT_THAT(csv, HasSubstr("orders,2018-11,ORDER_TYPE_CRIMINAL_BEHAVIOUR_ORDER,,,issued,6\n"));
}

TEST(ReportTest, HotspotTablesStateTheRuleAndMarkBandedValues) {
  asb::v1::HotspotsResponse r;
  r.set_month("2018-11");
  r.set_category("asb");
  r.set_baseline_months(6);
  r.add_baseline_months_with_data("2018-10");
  r.set_rule("the rule");
  r.set_suppress_below(5);
  auto* a = r.add_areas();
  a->set_rank(1);
  a->set_area("E01019566");
  a->set_name("Chesterfield 002D");
  a->set_count(16);
  a->set_baseline_months(1);
  a->set_baseline_suppressed(true);
  a->set_p_value(0.001);
  a->set_q_value(0.01);
  a->set_emerging(true);
  const std::string table = HotspotsTable(r);
  EXPECT_THAT(table, HasSubstr("Chesterfield 002D"));
  EXPECT_THAT(table, HasSubstr("<=0.0010"));
  EXPECT_THAT(table, HasSubstr("YES"));
  EXPECT_THAT(table, HasSubstr("Rule: the rule"));
  EXPECT_THAT(HotspotsCsv(r), HasSubstr("2018-11,lsoa,asb,1,E01019566,Chesterfield 002D,16,1,"
                                        "suppressed,suppressed,0.001,0.01,true,true,false\n"));
}

}  // namespace
}  // namespace asb::ctl
