"""Token prices for tools that report no cost: estimates, always labelled as such.

Prices are list prices in US dollars per million tokens. Override or extend them
with ``TRACE_PRICES`` (JSON: ``{"model": [input, output], ...}``) or by passing
a table to :class:`PriceTable`. A model that matches no entry is priced with the
``default`` row, so an estimate is never silently zero.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

from trace_sync.bridge.tools.run import entry_id, now
from trace_sync.contract.errors import InvalidInput
from trace_sync.docs.entries import UsageNote


@dataclass(frozen=True)
class Price:
    input_per_mtok: float
    output_per_mtok: float


#: Checked 2026-11 against the vendors' public price pages. Longest prefix wins.
DEFAULT_PRICES: Mapping[str, Price] = {
    "default": Price(3.0, 15.0),
    "gpt-5": Price(1.25, 10.0),
    "gpt-5-mini": Price(0.25, 2.0),
    "gpt-5-codex": Price(1.25, 10.0),
    "o3": Price(2.0, 8.0),
    "o4-mini": Price(1.1, 4.4),
    "claude-opus": Price(15.0, 75.0),
    "claude-sonnet": Price(3.0, 15.0),
    "claude-haiku": Price(1.0, 5.0),
    "gemini-2.5-pro": Price(1.25, 10.0),
    "gemini-2.5-flash": Price(0.3, 2.5),
}


class PriceTable:
    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self._prices = dict(DEFAULT_PRICES if prices is None else prices)
        self._prices.setdefault("default", DEFAULT_PRICES["default"])

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> PriceTable:
        """The default table with the overrides of ``TRACE_PRICES`` applied."""
        table = dict(DEFAULT_PRICES)
        raw = environ.get("TRACE_PRICES")
        if raw:
            table.update(parse_prices(raw))
        return cls(table)

    def price(self, model: str | None) -> Price:
        name = (model or "").lower()
        matches = [key for key in self._prices if key != "default" and name.startswith(key)]
        return self._prices[max(matches, key=len)] if matches else self._prices["default"]

    def estimate(self, model: str | None, input_tokens: int, output_tokens: int) -> UsageNote:
        """A usage entry for these tokens, its cost estimated from the table."""
        price = self.price(model)
        cost = (input_tokens * price.input_per_mtok + output_tokens * price.output_per_mtok) / 1e6
        return usage_note(input_tokens, output_tokens, round(cost, 6), estimated=True)


def usage_note(input_tokens: int, output_tokens: int, cost: float, *, estimated: bool) -> UsageNote:
    return UsageNote(
        id=entry_id(),
        at=now(),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cost_usd=cost,
        estimated=estimated,
    )


def parse_prices(raw: str) -> dict[str, Price]:
    try:
        data = json.loads(raw)
        return {str(k): Price(float(v[0]), float(v[1])) for k, v in data.items()}
    except (ValueError, TypeError, IndexError, KeyError, AttributeError) as exc:
        raise InvalidInput('TRACE_PRICES must be JSON like {"model": [input, output]}') from exc
