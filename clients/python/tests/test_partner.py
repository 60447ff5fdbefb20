"""Partner.alerts() and get_case() against the real asb-notify and asb-sharing."""

import pytest

import asbhub
from conftest import demo_events, wait_until

# The demo case alerts the police four times (case opened, risk assessed, the order issued and
# breached) under the shipped ISP.
POLICE_ALERTS = 4
OFFICER = asbhub.OnBehalfOf(officer_id="PC-4471", officer_name="PC A. Example",
                            purpose="policing",
                            reason="preparing the CBO breach file")


@pytest.fixture
def case(hub, tag):
    case_id, events = demo_events(tag)
    with asbhub.Feed.from_config(principal="council") as feed:
        assert all(r.outcome == asbhub.SubmitResult.OUTCOME_ACCEPTED for r in feed.submit(events))
    return case_id


def test_alerts_are_acknowledged_and_resume_after_a_stop(case):
    with asbhub.Partner.from_config(principal="police") as police:
        assert police.identity.agency == "police"
        ours = []
        for alert in police.alerts(wait_ms=2000):  # follow: long polls until we stop
            if alert.disclosure.case_id == case:
                ours.append(alert)
                if len(ours) == POLICE_ALERTS:
                    break  # the alert we stop at is not yet handled
        assert [a.agency for a in ours] == ["police"] * POLICE_ALERTS
        assert [a.disclosure.agency for a in ours] == ["police"] * POLICE_ALERTS
        seqs = [a.agency_seq for a in ours]
        assert seqs == sorted(seqs)
        acked, head = police.cursor()
        assert acked == seqs[-1] - 1  # everything before the one we stopped at

    # A new client resumes from the cursor: the unhandled alert comes back at once (a replay,
    # though it is still in flight), then everything is acknowledged.
    with asbhub.Partner.from_config(principal="police") as again:
        alerts = again.alerts(follow=False)
        replayed = next(alerts)
        assert replayed.agency_seq == seqs[-1]
        assert replayed.delivery_count == 2
        rest = list(alerts)
        acked, head = again.cursor()
        assert acked == head
        assert seqs[-1] not in [a.agency_seq for a in rest]


def test_get_case_on_behalf_of_an_officer_is_recorded(case):
    with asbhub.Partner.from_config(principal="police") as police:
        view = police.get_case(case, on_behalf_of=OFFICER)
    assert view.case_id == case
    assert view.agency == "police"
    assert view.view.people  # the police may see the people of the case
    assert view.justifications
    with asbhub.Auditor.from_config(principal="dpo") as dpo:
        consultations = wait_until(lambda: [
            e for e in dpo.query(case_id=case, kinds=["consultation"])
            if e.record.actor == "police-partner"], what="the consultation in the access log")
    if asbhub.CARRIES_ON_BEHALF_OF:
        assert consultations[0].record.on_behalf_of.officer_id == OFFICER.officer_id


def test_a_case_not_shared_is_not_found_like_no_case(case):
    with asbhub.Partner.from_config(principal="fire") as fire:
        with pytest.raises(asbhub.NotFound) as not_shared:
            fire.get_case(case, on_behalf_of=OFFICER)
        with pytest.raises(asbhub.NotFound) as no_case:
            fire.get_case(case + "-none", on_behalf_of=OFFICER)
    assert not_shared.value.code == asbhub.api_pb2.STATUS_CODE_NOT_FOUND
    assert not_shared.value.request_id != 0
    assert "not found or not shared" in str(no_case.value)


def test_an_ack_beyond_the_newest_alert_is_out_of_range(hub):
    with asbhub.Partner.from_config(principal="nhs") as nhs:
        _, head = nhs.cursor()
        with pytest.raises(asbhub.OutOfRange):
            nhs.ack(head + 100)
