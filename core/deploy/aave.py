"""Deploy Aave v3 core from the @aave/core-v3 npm artifacts (bytecode unchanged, libraries
linked at their placeholders), our settable PriceFeeds, Multicall3 and Liquidator.

Like core.deploy.uniswap, every address is known before sending: contracts from the deployer's
nonce, the Pool / PoolConfigurator proxies from the PoolAddressesProvider's nonce (1, 2), and
each reserve's aToken / stable / variable debt proxies from the PoolConfigurator proxy's nonce
(three per reserve, in that order). So the ~60 transactions go out in one flush; the data
provider is asked afterwards and must agree with every precomputed address.

Pitfalls handled: FlashLoanLogic links BorrowLogic (deployed first); `setPoolImpl` comes before
`setPoolConfiguratorImpl` (proxy nonces 1 and 2); flash loans are off until
`setReserveFlashLoaning` and the premium is 0 until `updateFlashloanPremiumTotal`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi import decode, encode
from web3 import Web3

from core.chain.aave_artifacts import PRICE_DECIMALS, aave_abi, load_aave
from core.chain.manifest import AaveDeployment, AaveReserveInfo
from core.chain.rpc import RpcError, eth_calls
from core.deploy.common import DevnetError

# Deploy order: BorrowLogic before FlashLoanLogic, which links it.
_LIBRARIES = (
    "SupplyLogic",
    "BorrowLogic",
    "LiquidationLogic",
    "EModeLogic",
    "BridgeLogic",
    "PoolLogic",
    "FlashLoanLogic",
    "ConfiguratorLogic",
)

FLASH_LOAN_PREMIUM_BPS = 5  # Aave v3 Ethereum: 0.05%
SUPPLY_USD = 200_000_000  # liquidity the deployer supplies to each reserve so borrowers can borrow
RAY = 10**27


@dataclass(frozen=True, slots=True)
class ReserveParams:
    """Real-world Aave v3 Ethereum parameters (bps; rates in percent of a year)."""

    symbol: str
    ltv_bps: int
    liquidation_threshold_bps: int
    liquidation_bonus_bps: int
    reserve_factor_bps: int
    liquidation_protocol_fee_bps: int
    optimal_usage_pct: int
    slope1_pct: float
    slope2_pct: float


RESERVES: tuple[ReserveParams, ...] = (
    ReserveParams("WETH", 8_000, 8_250, 10_500, 1_500, 1_000, 80, 3.8, 80),
    ReserveParams("WBTC", 7_300, 7_800, 10_500, 2_000, 1_000, 45, 4, 300),
    ReserveParams("USDC", 7_700, 8_000, 10_450, 1_000, 1_000, 90, 4, 60),
)


def _rate(pct: float) -> int:
    return int(round(pct * 100)) * RAY // 10_000


def deploy_aave(w3: Web3, tx: Any, tokens: dict[str, Any], owner: str) -> AaveDeployment:
    """Queue the Aave market on `tx` (a core.deploy.uniswap.Sender) and flush it.

    `tokens` maps symbol -> deploy._Token (address, decimals, USD price); `owner` gets the
    Liquidator. The deployer (tx.sender) is ACL admin, pool admin and the market's treasury.
    """
    from core.chain.addresses import create_address

    me = tx.sender

    def abi(name: str) -> Any:
        return w3.eth.contract(abi=aave_abi(name))

    provider = tx.deploy(
        load_aave("PoolAddressesProvider"), ["string", "address"], ["arbdesk devnet", me]
    )
    provider_c = abi("PoolAddressesProvider")
    tx.call("setACLAdmin", provider, provider_c.encode_abi("setACLAdmin", [me]))
    acl = tx.deploy(load_aave("ACLManager"), ["address"], [provider])
    tx.call("setACLManager", provider, provider_c.encode_abi("setACLManager", [acl]))
    tx.call("addPoolAdmin", acl, abi("ACLManager").encode_abi("addPoolAdmin", [me]))

    libs: dict[str, str] = {}
    for lib in _LIBRARIES:
        links = (("BorrowLogic", libs["BorrowLogic"]),) if lib == "FlashLoanLogic" else ()
        libs[lib] = tx.deploy(load_aave(lib, links))
    pool_links = tuple(sorted((k, v) for k, v in libs.items() if k != "ConfiguratorLogic"))
    pool_impl = tx.deploy(load_aave("Pool", pool_links), ["address"], [provider])
    cfg_links = (("ConfiguratorLogic", libs["ConfiguratorLogic"]),)
    cfg_impl = tx.deploy(load_aave("PoolConfigurator", cfg_links))
    # The provider creates each proxy with CREATE: its nonce starts at 1 (EIP-161).
    tx.call("setPoolImpl", provider, provider_c.encode_abi("setPoolImpl", [pool_impl]))
    pool = create_address(provider, 1)
    tx.call(
        "setPoolConfiguratorImpl",
        provider,
        provider_c.encode_abi("setPoolConfiguratorImpl", [cfg_impl]),
    )
    configurator = create_address(provider, 2)
    data_provider = tx.deploy(load_aave("AaveProtocolDataProvider"), ["address"], [provider])
    tx.call(
        "setPoolDataProvider",
        provider,
        provider_c.encode_abi("setPoolDataProvider", [data_provider]),
    )

    feeds: dict[str, str] = {}
    for r in RESERVES:
        t = tokens[r.symbol]
        answer = int(t.usd * 10**PRICE_DECIMALS)
        feeds[r.symbol] = tx.deploy(
            load_aave("PriceFeed"),
            ["uint8", "string", "int256"],
            [PRICE_DECIMALS, f"{r.symbol} / USD", answer],
        )
    assets = [tokens[r.symbol].address for r in RESERVES]
    oracle = tx.deploy(
        load_aave("AaveOracle"),
        ["address", "address[]", "address[]", "address", "address", "uint256"],
        [
            provider,
            assets,
            [feeds[r.symbol] for r in RESERVES],
            "0x" + "00" * 20,
            "0x" + "00" * 20,
            10**PRICE_DECIMALS,
        ],
    )
    tx.call("setPriceOracle", provider, provider_c.encode_abi("setPriceOracle", [oracle]))

    a_impl = tx.deploy(load_aave("AToken"), ["address"], [pool])
    s_impl = tx.deploy(load_aave("StableDebtToken"), ["address"], [pool])
    v_impl = tx.deploy(load_aave("VariableDebtToken"), ["address"], [pool])
    strategies = {
        r.symbol: tx.deploy(
            load_aave("DefaultReserveInterestRateStrategy"),
            ["address"] + ["uint256"] * 9,
            [
                provider,
                r.optimal_usage_pct * RAY // 100,
                0,
                _rate(r.slope1_pct),
                _rate(r.slope2_pct),
                0,
                0,
                0,
                0,
                RAY // 5,
            ],
        )
        for r in RESERVES
    }

    cfg = abi("PoolConfigurator")
    inputs = [
        (
            a_impl,
            s_impl,
            v_impl,
            tokens[r.symbol].decimals,
            strategies[r.symbol],
            tokens[r.symbol].address,
            me,  # treasury
            "0x" + "00" * 20,  # no incentives controller
            f"Aave devnet {r.symbol}",
            f"a{r.symbol}",
            f"Aave devnet variable debt {r.symbol}",
            f"variableDebt{r.symbol}",
            f"Aave devnet stable debt {r.symbol}",
            f"stableDebt{r.symbol}",
            b"",
        )
        for r in RESERVES
    ]
    tx.call("initReserves", configurator, cfg.encode_abi("initReserves", [inputs]))
    for r in RESERVES:
        asset = tokens[r.symbol].address
        for label, fn, args in (
            (
                "configureReserveAsCollateral",
                "configureReserveAsCollateral",
                [asset, r.ltv_bps, r.liquidation_threshold_bps, r.liquidation_bonus_bps],
            ),
            ("setReserveBorrowing", "setReserveBorrowing", [asset, True]),
            ("setReserveFactor", "setReserveFactor", [asset, r.reserve_factor_bps]),
            (
                "setLiquidationProtocolFee",
                "setLiquidationProtocolFee",
                [asset, r.liquidation_protocol_fee_bps],
            ),
            ("setReserveFlashLoaning", "setReserveFlashLoaning", [asset, True]),
        ):
            tx.call(f"{label} {r.symbol}", configurator, cfg.encode_abi(fn, args))
    tx.call(
        "updateFlashloanPremiumTotal",
        configurator,
        cfg.encode_abi("updateFlashloanPremiumTotal", [FLASH_LOAN_PREMIUM_BPS]),
    )

    # Liquidity: the deployer supplies every reserve so borrowers have something to borrow.
    pool_c = abi("Pool")
    erc20 = w3.eth.contract(abi=_ERC20_ABI)
    for r in RESERVES:
        t = tokens[r.symbol]
        tx.call(
            f"approve Aave {r.symbol}", t.address, erc20.encode_abi("approve", [pool, 2**256 - 1])
        )
        tx.call(
            f"supply {r.symbol}",
            pool,
            pool_c.encode_abi("supply", [t.address, t.raw(SUPPLY_USD), me, 0]),
        )

    multicall = tx.deploy(load_aave("Multicall3"))
    tx.flush()
    # Liquidator: deployed by its owner, who is the only one allowed to call it.
    code = load_aave("Liquidator").bytecode + encode(["address"], [pool])
    liq_hash = w3.eth.send_transaction(
        {"from": Web3.to_checksum_address(owner), "data": "0x" + code.hex()}  # type: ignore[typeddict-item]
    )
    receipt = w3.eth.wait_for_transaction_receipt(liq_hash, timeout=30)
    if receipt["status"] != 1:
        raise DevnetError(f"Liquidator deployment reverted: {receipt}")
    liquidator = str(receipt["contractAddress"])

    reserves = _read_reserves(w3, data_provider, tokens, feeds, configurator)
    return AaveDeployment(
        addresses_provider=provider,
        acl_manager=acl,
        pool=pool,
        pool_configurator=configurator,
        oracle=oracle,
        data_provider=data_provider,
        multicall3=multicall,
        liquidator=liquidator,
        liquidator_owner=owner,
        flash_loan_premium_bps=FLASH_LOAN_PREMIUM_BPS,
        reserves=reserves,
    )


def _read_reserves(
    w3: Web3, data_provider: str, tokens: dict[str, Any], feeds: dict[str, str], configurator: str
) -> dict[str, AaveReserveInfo]:
    """Token proxies as the data provider reports them; checked against the precomputed ones."""
    from core.chain.addresses import create_address

    dp = w3.eth.contract(abi=aave_abi("AaveProtocolDataProvider"))
    calls = [
        (
            data_provider,
            bytes.fromhex(
                dp.encode_abi("getReserveTokensAddresses", [tokens[r.symbol].address])[2:]
            ),
        )
        for r in RESERVES
    ]
    out: dict[str, AaveReserveInfo] = {}
    for i, (r, result) in enumerate(zip(RESERVES, eth_calls(w3, calls), strict=True)):
        if isinstance(result, RpcError):
            raise DevnetError(f"Aave reserve {r.symbol} not listed: {result}")
        a, s, v = (Web3.to_checksum_address(x) for x in decode(["address"] * 3, result))
        expected = tuple(create_address(configurator, 1 + 3 * i + k) for k in range(3))
        if (a, s, v) != expected:
            raise DevnetError(f"Aave {r.symbol} tokens at {(a, s, v)}, expected {expected}")
        t = tokens[r.symbol]
        out[r.symbol] = AaveReserveInfo(
            symbol=r.symbol,
            asset=t.address,
            decimals=t.decimals,
            a_token=a,
            stable_debt_token=s,
            variable_debt_token=v,
            price_feed=feeds[r.symbol],
            ltv_bps=r.ltv_bps,
            liquidation_threshold_bps=r.liquidation_threshold_bps,
            liquidation_bonus_bps=r.liquidation_bonus_bps,
            liquidation_protocol_fee_bps=r.liquidation_protocol_fee_bps,
            reserve_factor_bps=r.reserve_factor_bps,
        )
    return out


_ERC20_ABI: list[dict[str, Any]] = [
    {
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [{"name": "", "type": "bool"}],
    }
]
