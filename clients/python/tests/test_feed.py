"""Feed.submit against the real asb-intake: accepted, duplicate, conflict, refused."""

import pytest

import asbhub
from asbhub import SubmitResult
from conftest import demo_events


@pytest.fixture
def feed(hub):
    with asbhub.Feed.from_config(principal="council") as f:
        yield f


def test_hello_names_the_principal(feed):
    assert feed.identity.principal == "council-feed"
    assert feed.identity.component == "intake"
    assert feed.identity.role == asbhub.types_pb2.ROLE_FEED


def test_accepted_then_duplicates_stored_once(feed, tag):
    _, events = demo_events(tag)
    first = feed.submit(events, batch=3)  # three requests; index counts across them
    assert [r.index for r in first] == list(range(len(events)))
    assert all(r.outcome == SubmitResult.OUTCOME_ACCEPTED for r in first)
    assert [r.source_event_id for r in first] == [e["sourceEventId"] for e in events]
    again = feed.submit(events)
    assert all(r.outcome == SubmitResult.OUTCOME_DUPLICATE for r in again)
    assert [r.hub_seq for r in again] == [r.hub_seq for r in first]


def test_changed_resubmission_is_a_conflict_and_a_correction_is_a_new_event(feed, tag):
    case_id, events = demo_events(tag)
    opened = feed.submit(events[:1])[0]
    assert opened.outcome == SubmitResult.OUTCOME_ACCEPTED

    changed = dict(events[0], caseOpened=dict(events[0]["caseOpened"], title="Corrected"))
    conflict = feed.submit([changed])[0]
    assert conflict.outcome == SubmitResult.OUTCOME_REFUSED
    assert conflict.status.code == asbhub.api_pb2.STATUS_CODE_ALREADY_EXISTS
    assert "different content" in conflict.status.message
    assert conflict.hub_seq == opened.hub_seq  # the copy that stays

    correction = {"sourceEventId": f"cms-fix-{tag}", "caseId": case_id,
                  "occurredAt": "2026-09-01T09:30:00Z", "caseUpdated": {"title": "Corrected"}}
    assert feed.submit([correction])[0].outcome == SubmitResult.OUTCOME_ACCEPTED


def test_invalid_event_is_refused_with_the_field(feed, tag):
    _, events = demo_events(tag)
    bad = dict(events[0])
    del bad["caseId"]
    [r] = feed.submit([bad])
    assert r.outcome == SubmitResult.OUTCOME_REFUSED
    assert r.status.code == asbhub.api_pb2.STATUS_CODE_INVALID_ARGUMENT
    assert "case_id" in r.status.message


def test_a_request_over_the_limit_raises_with_its_request_id(feed, tag):
    request = asbhub.api_pb2.Request()
    _, events = demo_events(tag)
    for i in range(1001):
        e = request.submit.events.add()
        e.source_event_id = f"x-{tag}-{i}"
    connection = feed._connections["intake"]
    with pytest.raises(asbhub.InvalidArgument) as raised:
        connection.call(request, 10)
    assert "at most 1000" in raised.value.message
    assert raised.value.request_id == request.request_id != 0


def test_a_request_over_the_size_limit_is_a_lost_connection_not_a_hang(feed, tag):
    """The hub drops a connection whose message exceeds its max_message_bytes (it cannot
    answer it); the client says so at once. Feed.submit splits its requests below the limit."""
    request = asbhub.api_pb2.Request()
    e = request.submit.events.add()
    e.source_event_id = f"big-{tag}"
    e.case_opened.summary = "x" * (5 << 20)
    with pytest.raises(asbhub.ConnectionLost, match="max_message_bytes"):
        feed._connections["intake"].call(request, 10)
    assert feed.hello().principal == "council-feed"  # and the client carries on


def test_local_mistakes_are_python_errors(feed):
    with pytest.raises(ValueError, match=r"events\[0\]"):
        feed.submit(['{"sourceEventId": 1, "nope": true}'])
    with pytest.raises(TypeError):
        feed.submit([42])
