"""The devnet's lending simulator: borrowers of varied health on Aave, and oracle prices that
follow the CEX fair price, so liquidations become possible during a session.

A position can be opened closer to liquidation than Aave's borrow limit allows (HF at the LTV
limit is LT / LTV, about 1.03 for WETH): the borrower borrows at the limit, then withdraws
collateral down to the target health factor (a withdrawal only needs HF >= 1). A session opens
a share of its borrowers at HF 1.002-1.03 and then one new one there now and then, so oracle
moves of a fraction of a percent push some under 1 within minutes.

Borrowers are deterministic addresses (from the seed) that anvil impersonates: no keys exist.
TestERC20 collateral is minted to them by the deployer (the tokens' owner); WETH is wrapped
from ETH that anvil_setBalance gives them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from eth_utils import keccak, to_checksum_address
from web3 import Web3

from core.chain.aave_artifacts import PRICE_DECIMALS, aave_abi
from core.chain.manifest import AaveDeployment, Manifest
from core.chain.rpc import batch
from core.deploy.common import Sender
from core.feeds.aave_reader import AaveReader, read_market
from core.lending.health_factor import Market

VARIABLE_RATE = 2
GAS_ETH = 10**21  # 1000 ETH per borrower: gas plus WETH to wrap
MIN_ORACLE_MOVE_BPS = 1  # smaller moves are not worth a transaction
EDGE_HF = (1.002, 1.03)
"""Health factor range of a session's initial positions opened at the edge of liquidation
(half of them in the lowest fifth of it)."""
NEW_BORROWER_HF = (1.0005, 1.003)
"""A session's later borrowers open right at the edge: the sim's fair price moves about 0.1-0.3%
a minute, so a few of them cross HF 1 within minutes (interest accrual helps)."""
EDGE_SHARE = 0.3
"""Share of a session's initial borrowers opened at the edge."""
LTV_MARGIN = 0.999  # borrow at most this share of the LTV limit (Aave refuses beyond it)


@dataclass(frozen=True, slots=True)
class BorrowerSpec:
    """One simulated position: collateral USD by symbol, borrowed by symbol, target HF."""

    collateral_usd: dict[str, int]
    debt_symbol: str
    target_hf: float


def borrower_address(seed: int, index: int) -> str:
    return to_checksum_address(keccak(text=f"arbdesk-borrower-{seed}-{index}")[12:])


class BorrowerSim:
    def __init__(self, w3: Web3, manifest: Manifest, seed: int = 7) -> None:
        if manifest.aave is None:
            raise ValueError("the manifest has no Aave deployment")
        self.w3 = w3
        self.manifest = manifest
        self.aave: AaveDeployment = manifest.aave
        self.reader = AaveReader(self.aave)
        self.rng = random.Random(seed)
        self.seed = seed
        self.borrowers: list[str] = []
        self._pool = w3.eth.contract(abi=aave_abi("Pool"))
        self._feed = w3.eth.contract(abi=aave_abi("PriceFeed"))
        self._erc20 = w3.eth.contract(
            abi=[
                {
                    "type": "function",
                    "name": n,
                    "stateMutability": "nonpayable",
                    "inputs": [{"name": "a", "type": "address"}, {"name": "v", "type": "uint256"}],
                    "outputs": [{"name": "", "type": "bool"}],
                }
                for n in ("approve", "mint")
            ]
            + [
                {
                    "type": "function",
                    "name": "deposit",
                    "stateMutability": "payable",
                    "inputs": [],
                    "outputs": [],
                }
            ]
        )

    # -- prices ------------------------------------------------------------------------
    def oracle_answer(self, usd: Decimal | float) -> int:
        return int(Decimal(str(usd)) * 10**PRICE_DECIMALS)

    def set_prices(self, usd_by_symbol: Mapping[str, Decimal | float]) -> list[str]:
        """Set each feed (8 decimals); returns the symbols whose feed actually moved."""
        market, _ = read_market(self.w3, self.reader)
        tx = Sender(self.w3, self.manifest.deployer)
        moved: list[str] = []
        for symbol, usd in usd_by_symbol.items():
            if symbol not in self.aave.reserves:
                continue
            answer = self.oracle_answer(usd)
            current = market.prices[market.by_symbol(symbol).id]
            if abs(answer - current) * 10_000 < current * MIN_ORACLE_MOVE_BPS:
                continue
            feed = self.aave.reserves[symbol].price_feed
            tx.call(f"setPrice {symbol}", feed, self._feed.encode_abi("setPrice", [answer]))
            moved.append(symbol)
        tx.flush()
        return moved

    # -- borrowers ---------------------------------------------------------------------
    def random_spec(self, hf_low: float = 1.04, hf_high: float = 1.8) -> BorrowerSpec:
        symbols = list(self.aave.reserves)
        n_coll = 1 if self.rng.random() < 0.7 else 2
        coll = self.rng.sample(symbols, n_coll)
        debt = self.rng.choice([s for s in symbols if s not in coll] or symbols)
        return BorrowerSpec(
            {s: self.rng.randrange(2_000, 400_000) for s in coll},
            debt,
            self.rng.uniform(hf_low, hf_high),
        )

    def edge_spec(self, hf_range: tuple[float, float] = EDGE_HF) -> BorrowerSpec:
        return self.random_spec(*hf_range)

    def session_specs(self, count: int) -> list[BorrowerSpec]:
        """A session's opening borrowers: EDGE_SHARE of them at the edge, the rest healthier."""
        edge = round(count * EDGE_SHARE)
        low, high = EDGE_HF
        nearest = (low, low + (high - low) / 5)
        return (
            [self.edge_spec(nearest) for _ in range(edge // 2)]
            + [self.edge_spec() for _ in range(edge - edge // 2)]
            + [self.random_spec() for _ in range(count - edge)]
        )

    def open_positions(self, specs: list[BorrowerSpec]) -> list[str]:
        """Open one borrower per spec; returns their addresses (added to `borrowers`)."""
        market, _ = read_market(self.w3, self.reader)
        start = len(self.borrowers)
        users = [borrower_address(self.seed, start + i) for i in range(len(specs))]
        requests: list[tuple[str, list[Any]]] = []
        for user in users:
            requests.append(("anvil_impersonateAccount", [user]))
            requests.append(("anvil_setBalance", [user, hex(GAS_ETH)]))
        batch(self.w3, requests)
        minter = Sender(self.w3, self.manifest.deployer)
        plans: list[tuple[str, dict[str, int], str, int, tuple[str, int] | None]] = []
        for user, spec in zip(users, specs, strict=True):
            amounts: dict[str, int] = {}
            weighted_usd = 0.0
            for symbol, usd in spec.collateral_usd.items():
                r = market.by_symbol(symbol)
                price = market.prices[r.id]
                amount = usd * 10**PRICE_DECIMALS * 10**r.decimals // price
                amounts[symbol] = amount
                weighted_usd += usd * min(r.ltv_bps, r.liquidation_threshold_bps) / 10_000
                if symbol != "WETH":
                    token = self.aave.reserves[symbol].asset
                    data = self._erc20.encode_abi("mint", [user, amount])
                    minter.call(f"mint {symbol}", token, data)
            # Borrow for the target HF, but never past the LTV limit (Aave would refuse); a
            # target below what the limit allows is reached by withdrawing collateral after.
            lt_usd = sum(
                usd * market.by_symbol(s).liquidation_threshold_bps / 10_000
                for s, usd in spec.collateral_usd.items()
            )
            debt_usd = min(lt_usd / spec.target_hf, weighted_usd * LTV_MARGIN)
            d = market.by_symbol(spec.debt_symbol)
            borrow = int(debt_usd * 10**PRICE_DECIMALS) * 10**d.decimals // market.prices[d.id]
            plans.append(
                (user, amounts, spec.debt_symbol, borrow, _withdrawal(spec, market, debt_usd))
            )
        minter.flush()
        for user, amounts, debt_symbol, borrow, withdraw in plans:
            self._open(user, amounts, debt_symbol, borrow, withdraw)
        self.borrowers.extend(users)
        return users

    def _open(
        self,
        user: str,
        amounts: dict[str, int],
        debt_symbol: str,
        borrow: int,
        withdraw: tuple[str, int] | None = None,
    ) -> None:
        tx = Sender(self.w3, user)
        pool = self.aave.pool
        for symbol, amount in amounts.items():
            token = self.aave.reserves[symbol].asset
            if symbol == "WETH":
                data = self._erc20.encode_abi("deposit", [])
                tx.call("wrap", token, data, value=amount)
            tx.call("approve", token, self._erc20.encode_abi("approve", [pool, 2**256 - 1]))
            data = self._pool.encode_abi("supply", [token, amount, user, 0])
            tx.call(f"supply {symbol}", pool, data)
        debt = self.aave.reserves[debt_symbol].asset
        data = self._pool.encode_abi("borrow", [debt, borrow, VARIABLE_RATE, 0, user])
        tx.call(f"borrow {debt_symbol}", pool, data)
        if withdraw is not None:
            symbol, amount = withdraw
            asset = self.aave.reserves[symbol].asset
            data = self._pool.encode_abi("withdraw", [asset, amount, user])
            tx.call(f"withdraw {symbol}", pool, data)
        tx.flush()

    # -- session hook --------------------------------------------------------------------
    def tick(self, fair_usd: Mapping[str, Decimal | float], new_borrowers: int = 0) -> list[str]:
        """Follow the CEX fair prices; optionally open a few new borrowers near the edge."""
        moved = self.set_prices(fair_usd)
        if new_borrowers:
            self.open_positions([self.edge_spec(NEW_BORROWER_HF) for _ in range(new_borrowers)])
        return moved


def _withdrawal(spec: BorrowerSpec, market: Market, debt_usd: float) -> tuple[str, int] | None:
    """Collateral to withdraw after borrowing `debt_usd` so HF lands on the target: from the
    largest collateral, (symbol, raw amount); None when the borrow alone reaches the target."""
    lt_usd = sum(
        usd * market.by_symbol(s).liquidation_threshold_bps / 10_000
        for s, usd in spec.collateral_usd.items()
    )
    excess_usd = lt_usd - spec.target_hf * debt_usd
    symbol = max(spec.collateral_usd, key=lambda s: spec.collateral_usd[s])
    r = market.by_symbol(symbol)
    usd = excess_usd / (r.liquidation_threshold_bps / 10_000)
    if usd <= 1 or usd >= spec.collateral_usd[symbol]:
        return None
    return symbol, int(usd * 10**PRICE_DECIMALS) * 10**r.decimals // market.prices[r.id]


def market_prices_usd(market: Market) -> dict[str, Decimal]:
    return {
        r.symbol: Decimal(p) / 10**PRICE_DECIMALS
        for r, p in zip(market.reserves, market.prices, strict=True)
    }
