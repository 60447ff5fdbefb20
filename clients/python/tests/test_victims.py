"""Partner.casereview_list() and victims_repeat() against the real asb-sharing, on the victims
sample (config/samples/victims-demo.jsonl) and the shipped ISP."""

import json

import pytest

import asbhub
from conftest import SOURCE, wait_until

OFFICER = asbhub.OnBehalfOf(officer_id="CS-0301", reason="case review panel")
CASE = "CBC-2026-0301"
SECOND = "CBC-2026-0302"


@pytest.fixture(scope="module")
def victims(hub):
    events = [json.loads(line) for line in
              (SOURCE / "config/samples/victims-demo.jsonl").read_text().splitlines()
              if line.strip() and not line.startswith("#")]
    with asbhub.Feed.from_config(principal="council") as feed:
        results = feed.submit(events)  # one request: the sample is judged as one submission
    assert all(r.outcome in (asbhub.SubmitResult.OUTCOME_ACCEPTED,
                             asbhub.SubmitResult.OUTCOME_DUPLICATE) for r in results)
    return events


def test_casereview_list_as_the_lead_and_as_the_coordinator(victims):
    with asbhub.Partner.from_config(principal="community-safety") as cs:
        reviews = wait_until(lambda: [r for r in cs.casereview_list(on_behalf_of=OFFICER)
                                      if r.case_id == CASE and r.case_review.applications],
                             what="the case review of " + CASE)
        assert reviews[0].lead_agency == "community-safety"
        assert reviews[0].case_review.complaints == 3
        assert reviews[0].case_review.applications[0].decision_reason  # the lead sees reasons
        status = reviews[0].case_review.status
        # The status filter, by name: the same case, or none at another point of the procedure.
        named = asbhub.api_pb2.ListCaseReviewsRequest.DESCRIPTOR.fields_by_name[
            "status"].enum_type.values_by_number[status].name
        assert [r.case_id for r in cs.casereview_list(on_behalf_of=OFFICER, status=named)
                if r.case_id == CASE] == [CASE]
        applied = asbhub.api_pb2.ListCaseReviewsRequest.DESCRIPTOR.fields_by_name[
            "status"].enum_type.values_by_name["CASE_REVIEW_STATUS_APPLIED"].number
        assert status != applied
        assert CASE not in [r.case_id for r in
                            cs.casereview_list(on_behalf_of=OFFICER, status="applied")]
        with pytest.raises(ValueError, match="no case review status"):
            next(cs.casereview_list(on_behalf_of=OFFICER, status="nonsense"))
        with pytest.raises(asbhub.InvalidArgument, match="on_behalf_of.officer_id"):
            list(cs.casereview_list(on_behalf_of=asbhub.OnBehalfOf(reason="no officer")))
    # The coordinator, told at the threshold: the case review without the applicant or reasons.
    with asbhub.Partner.from_config(principal="partnership") as coordinator:
        seen = [r for r in coordinator.casereview_list(
            on_behalf_of=asbhub.OnBehalfOf(officer_id="CSP-1", reason="oversight"))
            if r.case_id == CASE]
    assert len(seen) == 1
    assert seen[0].case_review.complaints == 3
    assert not seen[0].case_review.applications[0].applicant_person_id
    assert not seen[0].case_review.applications[0].decision_reason


def test_victims_repeat_finds_the_victim_of_both_cases(victims):
    with asbhub.Partner.from_config(principal="community-safety") as cs:
        found = wait_until(lambda: [v for v in cs.victims_repeat(on_behalf_of=OFFICER).victims
                                    if CASE in v.case_ids and SECOND in v.case_ids],
                           what="the repeat victim of both cases")
        assert found[0].match_key  # pseudonymous: never the name or date of birth
        assert "P-CBC-61001" in found[0].person_ids
        with pytest.raises(asbhub.InvalidArgument, match="min_cases"):
            cs.victims_repeat(on_behalf_of=OFFICER, min_cases=1)
    with asbhub.Auditor.from_config(principal="dpo") as dpo:
        wait_until(lambda: [e for e in dpo.query(case_id=SECOND, kinds=["consultation"])
                            if e.record.detail == "RepeatVictims"
                            and e.record.on_behalf_of.officer_id == OFFICER.officer_id],
                   what="the consultation in the access log")
