"""EIP-1559 fees from eth_feeHistory, and gas priced in a quote currency.

The next block's base fee is the last entry of `baseFeePerGas` (the node computes it from the
latest block's usage). The tip is the median of recent blocks' 50th-percentile rewards, never
below the configured `priority_fee_gwei`; `maxFeePerGas` is 2 x base + tip (room for six full
blocks of base-fee rise), capped at `max_fee_gwei`.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

GWEI = 10**9

# Fallback gas of the transactions the detectors price, used only until a figure is measured
# (see GasTable): router swaps are measured at start-up (OnChain._measure_gas: a real swap's
# receipt on the devnet, eth_estimateGas elsewhere), and every mined swap or FlashArbitrage
# call then updates its kind from its receipt. The swap values are devnet figures rounded up:
# eth_estimateGas said V2 Router02 138,266 and V3 SwapRouter 127,591, but receipts show V2
# gasUsed about 88,000 (an estimate includes gas that refunds give back). Nothing reads them
# once a measurement exists.
GAS_V2_ROUTER_SWAP = 140_000
GAS_V3_ROUTER_SWAP = 130_000
GAS_ARB_WALLET = 205_000
"""FlashArbitrage.fromWallet over two V2 hops (devnet receipt: 202,394)."""
GAS_ARB_FLASH_EXTRA = 55_000
"""Extra gas of a flash over the wallet route, the dearer of the two (devnet receipts:
flashV2 181,846 - cheaper than the wallet route, no transferFrom; flashV3 258,657)."""
GAS_CYCLE_EXTRA_HOP = 110_000
"""A FlashArbitrage cycle's gas per hop beyond two, until a cycle of that length has a receipt
(a pool swap inside the contract, V3 the dearer: tick crossings and the callback)."""


class GasTable:
    """Gas per transaction kind ('v2' / 'v3' router swaps; 'wallet' / 'flash_v2' / 'flash_v3'
    arbitrage routes): the last measurement, or the fallback constant above until then."""

    def __init__(self) -> None:
        self.units: dict[str, int] = {
            "v2": GAS_V2_ROUTER_SWAP,
            "v3": GAS_V3_ROUTER_SWAP,
            "wallet": GAS_ARB_WALLET,
            "flash_v2": GAS_ARB_WALLET + GAS_ARB_FLASH_EXTRA,
            "flash_v3": GAS_ARB_WALLET + GAS_ARB_FLASH_EXTRA,
        }
        self.source: dict[str, str] = dict.fromkeys(self.units, "fallback")
        """kind -> 'fallback', 'estimate' (eth_estimateGas) or 'receipt' (gasUsed)."""

    def record(self, kind: str, gas_units: int, source: str) -> None:
        if gas_units > 0:
            self.units[kind] = gas_units
            self.source[kind] = source

    def swap(self, kind: str) -> int:
        return self.units[kind]

    def cycle(self, mode: str, hops: int) -> int:
        """A FlashArbitrage cycle of `hops` hops funded by `mode`: its last receipt, else the
        two-hop route of that funding plus a fallback per extra hop."""
        measured = self.units.get(cycle_kind(mode, hops))
        if measured is not None:
            return measured
        return self.units[mode] + max(0, hops - 2) * GAS_CYCLE_EXTRA_HOP

    def routes(self) -> dict[str, int]:
        """Gas per funding route, for core.detect.capital_source.choose_funding."""
        return {mode: self.units[mode] for mode in ("wallet", "flash_v2", "flash_v3")}


def cycle_kind(mode: str, hops: int) -> str:
    """The GasTable kind of a cycle's receipts: 'wallet:3', 'flash_v3:4'..."""
    return f"{mode}:{hops}"


@dataclass(frozen=True, slots=True)
class Fees:
    base_fee_wei: int
    """The next block's base fee per gas."""
    priority_fee_wei: int
    max_fee_wei: int

    @property
    def expected_wei(self) -> int:
        """What one unit of gas is expected to cost: base fee + tip, within the cap."""
        return min(self.base_fee_wei + self.priority_fee_wei, self.max_fee_wei)


def fees_from_history(
    history: dict[str, Any], priority_fee_gwei: float, max_fee_gwei: float
) -> Fees:
    """Fees from an eth_feeHistory answer (hex quantities, reward percentiles [50])."""
    base_fees = [_int(b) for b in history.get("baseFeePerGas", [])]
    base = base_fees[-1] if base_fees else 0
    rewards = [_int(r[0]) for r in history.get("reward") or [] if r]
    floor = int(Decimal(str(priority_fee_gwei)) * GWEI)
    tip = max(floor, int(statistics.median(rewards)) if rewards else 0)
    cap = int(Decimal(str(max_fee_gwei)) * GWEI)
    return Fees(base, min(tip, cap), min(2 * base + tip, cap))


def _int(value: Any) -> int:
    return int(value, 16) if isinstance(value, str) else int(value)


def gas_cost_quote(gas_units: int, fees: Fees, eth_price_quote: float) -> float:
    """`gas_units` at the expected fee, in quote currency (ETH price in that currency)."""
    return gas_units * fees.expected_wei / 1e18 * eth_price_quote
