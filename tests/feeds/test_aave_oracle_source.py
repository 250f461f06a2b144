"""The lending feed's oracle age follows the source AaveOracle uses now: after setAssetSources
moves WETH to a new feed, the stale gate reads the new feed, not the manifest's."""

from __future__ import annotations

from typing import Any

from web3 import Web3

from core.chain.aave_artifacts import PRICE_DECIMALS, aave_abi, load_aave
from core.deploy.devnet import Devnet
from core.feeds.lending import LendingFeed
from tests.support.chain import send

DAY_S = 86_400


def _advance(devnet: Devnet, seconds: int) -> None:
    devnet.w3.provider.make_request("evm_increaseTime", [seconds])  # type: ignore[arg-type]
    devnet.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]


def _at(devnet: Devnet, name: str, address: str) -> Any:
    return devnet.w3.eth.contract(address=Web3.to_checksum_address(address), abi=aave_abi(name))


def test_the_oracle_age_follows_a_replaced_source(clean_chain: Devnet) -> None:
    devnet = clean_chain
    aave = devnet.manifest.aave
    assert aave is not None
    weth = aave.reserves["WETH"]
    old_feed = _at(devnet, "PriceFeed", weth.price_feed)
    art = load_aave("PriceFeed")
    factory = devnet.w3.eth.contract(abi=art.abi, bytecode=art.bytecode)
    receipt = send(devnet, factory.constructor(PRICE_DECIMALS, "WETH / USD", 3_000 * 10**8))
    new_feed = _at(devnet, "PriceFeed", receipt["contractAddress"])
    oracle = _at(devnet, "AaveOracle", aave.oracle)
    send(devnet, oracle.functions.setAssetSources([weth.asset], [new_feed.address]))
    # A day on, only the manifest's (now unused) feed is refreshed.
    _advance(devnet, DAY_S)
    send(devnet, old_feed.functions.setPrice(3_100 * 10**8))
    feed = LendingFeed(devnet.w3, aave)
    feed.refresh()
    new_time = new_feed.functions.latestTimestamp().call()
    assert feed.oracle_updated_at["WETH"] == new_time
    assert old_feed.functions.latestTimestamp().call() >= new_time + DAY_S
    assert feed.market is not None and feed.market.timestamp - new_time >= DAY_S  # stale
    # The source's own update is what makes it fresh again.
    send(devnet, new_feed.functions.setPrice(3_050 * 10**8))
    feed.refresh()
    assert feed.oracle_updated_at["WETH"] == new_feed.functions.latestTimestamp().call()
    assert feed.market is not None and feed.market.timestamp - feed.oracle_updated_at["WETH"] < 60
    # Another reserve keeps its own (manifest) feed.
    usdc = _at(devnet, "PriceFeed", aave.reserves["USDC"].price_feed)
    assert feed.oracle_updated_at["USDC"] == usdc.functions.latestTimestamp().call()
