"""Funding choice for an atomic DEX-DEX arbitrage: the wallet's own tokens (gas only) or a
flash loan (premium + the callback's extra gas), per opportunity; a flash is forced when the
wallet holds less than the input (SEEDS item 1).

Flash sources: a V2 flash swap on the buy pair itself costs no premium (the pair is repaid
what getAmountIn asks, the same as buying), a V3 `flash` from a third pool holding the token
costs its fee on the amount (rounded up, as UniswapV3Pool.flash does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from core.amm.pools import DexPool
from core.gas import GAS_ARB_FLASH_EXTRA, GAS_ARB_WALLET

Mode = Literal["wallet", "flash_v2", "flash_v3"]


@dataclass(frozen=True, slots=True)
class FundingChoice:
    mode: Mode
    gas_units: int
    premium: int
    """Flash premium in raw units of the borrowed token (0 for the wallet and V2 flash)."""
    cost: float
    """Premium + gas, in raw units of the borrowed token."""
    lender: str | None
    reason: str


def v3_lenders_by_token(pools: list[DexPool]) -> dict[str, list[DexPool]]:
    """Token address -> the V3 pools holding it (the flash-loan sources for that token)."""
    out: dict[str, list[DexPool]] = {}
    for pool in pools:
        if pool.kind == "v3":
            for token in (pool.token0, pool.token1):
                out.setdefault(token, []).append(pool)
    return out


def v3_flash_fee(amount: int, fee_pips: int) -> int:
    return -(-amount * fee_pips // 1_000_000)


def choose_funding(
    amount_in: int,
    wallet_balance: int,
    buy_pool: DexPool,
    lenders: list[DexPool],
    gas_price_in_token: float,
    *,
    wallet_gas: int = GAS_ARB_WALLET,
    flash_v2_gas: int = GAS_ARB_WALLET + GAS_ARB_FLASH_EXTRA,
    flash_v3_gas: int = GAS_ARB_WALLET + GAS_ARB_FLASH_EXTRA,
) -> FundingChoice | None:
    """Cheapest way to fund `amount_in`; `gas_price_in_token` is one gas unit's cost in raw
    units of the input token. None when the wallet is short and no flash source exists.
    `wallet_gas` / `flash_v2_gas` / `flash_v3_gas`: gas of each route (measured from receipts
    once known; the constants are the fallback)."""
    options: list[FundingChoice] = []
    short = wallet_balance < amount_in
    if not short:
        options.append(
            FundingChoice("wallet", wallet_gas, 0, wallet_gas * gas_price_in_token, None, "wallet")
        )
    if buy_pool.kind == "v2":
        options.append(
            FundingChoice(
                "flash_v2",
                flash_v2_gas,
                0,
                flash_v2_gas * gas_price_in_token,
                buy_pool.address,
                "V2 flash swap",
            )
        )
    for lender in lenders:
        premium = v3_flash_fee(amount_in, lender.fee)
        options.append(
            FundingChoice(
                "flash_v3",
                flash_v3_gas,
                premium,
                premium + flash_v3_gas * gas_price_in_token,
                lender.address,
                f"V3 flash from {lender.venue}",
            )
        )
    if not options:
        return None
    best = min(options, key=lambda o: o.cost)
    if short and best.mode != "wallet":
        reason = f"{best.reason} (forced: wallet holds {wallet_balance} < {amount_in})"
        return FundingChoice(
            best.mode, best.gas_units, best.premium, best.cost, best.lender, reason
        )
    return best
