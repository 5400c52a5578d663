"""The wire table and its reverse lookups agree, for every error there is."""

from __future__ import annotations

import pytest

from trace_sync.contract import errors
from trace_sync.contract.errors import (
    CLOSE_CODE,
    ERROR_BY_CLOSE_CODE,
    ERROR_BY_CODE,
    ERROR_BY_STATUS,
    HTTP_STATUS,
    InvalidInput,
    TraceError,
)

KINDS = [
    value
    for value in vars(errors).values()
    if isinstance(value, type) and issubclass(value, TraceError) and value is not TraceError
]


def test_there_are_errors_to_check() -> None:
    assert len(KINDS) >= 8


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_every_error_round_trips_through_each_mapping(kind: type[TraceError]) -> None:
    assert ERROR_BY_CODE[kind.code] is kind
    assert ERROR_BY_STATUS[HTTP_STATUS[kind]] is kind
    assert ERROR_BY_CLOSE_CODE[CLOSE_CODE[kind]] is kind


def test_a_body_the_server_could_not_parse_reads_as_invalid_input() -> None:
    assert ERROR_BY_STATUS[400] is InvalidInput
