"""docs/protocol.md shows what works: each ```json asb.v1.X block is a valid asb.v1.X in
protobuf's JSON mapping, and the ```python blocks, run in order in one namespace against the
real hub, run through."""

import re

import pytest
from google.protobuf import json_format

from asbhub import api_pb2
from conftest import SOURCE

DOC = (SOURCE / "docs/protocol.md").read_text()
BLOCK = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```", re.S | re.M)
MESSAGES = {"asb.v1.Request": api_pb2.Request, "asb.v1.Response": api_pb2.Response}


def blocks(language):
    return [(info.strip(), body) for lang, info, body in BLOCK.findall(DOC) if lang == language]


JSON = blocks("json")


@pytest.mark.parametrize("info,body", JSON, ids=[f"json{i + 1}" for i in range(len(JSON))])
def test_json_examples_are_messages(info, body):
    assert info in MESSAGES, f"a json block names its message type (```json asb.v1.X): {info!r}"
    json_format.Parse(body, MESSAGES[info]())  # raises ParseError naming the bad field


def test_python_examples_run(hub, capsys):
    code = blocks("python")
    assert len(code) >= 5
    namespace = {"__name__": "protocol_doc"}
    for i, (_, body) in enumerate(code):
        try:
            exec(compile(body, f"docs/protocol.md python block {i + 1}", "exec"), namespace)
        except Exception as e:
            pytest.fail(f"python block {i + 1} of docs/protocol.md failed: {e!r}\n{body}")
    printed = capsys.readouterr().out
    assert "council-feed community-safety" in printed
    assert "not authorised by this hub" in printed
    assert "the server closed the connection" in printed
