"""A real `stitch serve` for the tests: loopback, OS-chosen ports, a temporary
store. The binary is $TEST_STITCH_BINARY (not STITCH_…: the server reads those as settings) or the repository's debug build."""
import json
import os
import pathlib

import pytest

from stitch_client.testing import ServeProcess

REPO = pathlib.Path(__file__).resolve().parents[3]
BINARY = os.environ.get("TEST_STITCH_BINARY", str(REPO / ".build" / "debug" / "stitch"))
POOLS = {"7": {"dynamic_numbers": ["+7 495 100-00-01", "+7 495 100-00-02"], "hold_seconds": 900}}


def serve(data_dir, *settings):
    """The repository's `stitch serve` on `data_dir`, with one number pool."""
    return ServeProcess(BINARY, data_dir, ("number_pools=" + json.dumps(POOLS),) + settings)


@pytest.fixture
def server(tmp_path):
    s = serve(tmp_path / "data")
    yield s
    s.stop()


@pytest.fixture
def token_server(tmp_path):
    s = serve(tmp_path / "data", "tokens=site-one=1;boss=*")
    yield s
    s.stop()
