"""Settings: the pydantic-settings model of settings.toml, with ARBDESK_* env overrides.

Precedence (highest first): explicit init values, ARBDESK_* environment variables
(``__`` separates nesting levels, e.g. ``ARBDESK_THRESHOLDS__MIN_PROFIT_BPS=7``), the TOML
file, then the defaults below. The defaults alone describe the embedded `sim` market, so
arbdesk runs offline with no file at all.

Every model forbids unknown keys so that a typo is an error, never a silently ignored line.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

CONFIG_ENV_VAR = "ARBDESK_CONFIG"
DEFAULT_CONFIG_NAME = "settings.toml"


class Mode(StrEnum):
    SIM = "sim"
    PAPER = "paper"
    LIVE = "live"


class VenueKind(StrEnum):
    SIM = "sim"
    CCXT = "ccxt"


class KeyBackend(StrEnum):
    SYSTEM = "system"
    CRYPTFILE = "cryptfile"


class _Section(BaseModel):
    """Base for every settings section: unknown keys are errors, values re-validated on set."""

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        use_attribute_docstrings=True,
        allow_inf_nan=False,  # NaN/inf thresholds are always a mistake
    )

    def __setattr__(self, name: str, value: Any) -> None:
        # pydantic's validate_assignment stores the value before running the model-level
        # validators and leaves it there when they fail; check a candidate first so a rejected
        # value never replaces the one in force.
        if name in type(self).model_fields:
            type(self).model_validate({**self.model_dump(), name: value})
        super().__setattr__(name, value)


class VenueSettings(_Section):
    """One trading venue: a simulated one, or a real exchange reached through ccxt / ccxt.pro."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    """Our name for the venue, shown in the console and used as its key everywhere."""

    kind: VenueKind = VenueKind.SIM
    """`sim` for the embedded market simulator, `ccxt` for a real exchange via ccxt.pro."""

    exchange_id: str = ""
    """The ccxt exchange id (e.g. `binance`, `kraken`); required for kind `ccxt`."""

    taker_fee_bps: float = Field(default=10.0, ge=0, le=1000)
    """Taker fee charged by the venue, in basis points of notional."""

    symbols: list[str] = Field(default_factory=list)
    """Unified ccxt symbols to watch on this venue, e.g. `BTC/USDT`."""

    options: dict[str, Any] = Field(default_factory=dict)
    """ccxt constructor options, passed through unchanged (`urls`, `options`, `timeout`, ...)."""

    @field_validator("symbols")
    @classmethod
    def _check_symbols(cls, symbols: list[str]) -> list[str]:
        for symbol in symbols:
            base, sep, quote = symbol.partition("/")
            if not sep or not base or not quote or "/" in quote:
                raise ValueError(f"symbol {symbol!r} is not of the form BASE/QUOTE")
        if len(set(symbols)) != len(symbols):
            raise ValueError("symbols are listed more than once")
        return symbols

    @field_validator("exchange_id")
    @classmethod
    def _check_exchange_id(cls, exchange_id: str, info: ValidationInfo) -> str:
        if exchange_id and info.data.get("kind") is VenueKind.CCXT:
            known = _ccxt_pro_exchanges()
            if known and exchange_id not in known:
                close = difflib.get_close_matches(exchange_id, known, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise ValueError(f"unknown ccxt.pro exchange {exchange_id!r}{hint}")
        return exchange_id

    @model_validator(mode="after")
    def _check_exchange(self) -> VenueSettings:
        if self.kind is VenueKind.CCXT and not self.exchange_id:
            raise PydanticCustomError(
                "missing_exchange_id",
                "a ccxt venue needs exchange_id (e.g. 'binance')",
                {"field": "exchange_id", "value": self.exchange_id},
            )
        return self


def _ccxt_pro_exchanges() -> list[str]:
    try:
        import ccxt.pro  # local: importing ccxt costs ~0.5 s, only needed for ccxt venues
    except ImportError:  # pragma: no cover - ccxt is a hard dependency
        return []
    return list(ccxt.pro.exchanges)


class ThresholdSettings(_Section):
    """When a price difference becomes an opportunity worth showing or trading."""

    min_profit_bps: float = Field(default=3.0, ge=0, le=10_000)
    """Minimum net profit, after every fee, in basis points of the buy notional."""

    min_profit_usd: float = Field(default=0.5, ge=0)
    """Minimum net profit, after every fee, in USD."""

    max_notional_usd: float = Field(default=25_000.0, gt=0)
    """Largest buy-leg notional for one opportunity, in USD."""

    opportunity_ttl_s: float = Field(default=5.0, gt=0, le=3600)
    """How long an opportunity stays valid after it is detected, in seconds."""

    stale_after_ms: int = Field(default=3_000, gt=0, le=600_000)
    """A book not updated for this long is stale and never traded on, in milliseconds."""

    max_slippage_bps: float = Field(default=15.0, ge=0, le=10_000)
    """Largest price move between detection and fill that a leg may take, in basis points."""


class CycleSettings(_Section):
    """Multi-hop cycles within one venue (USDT -> BTC -> ETH -> USDT)."""

    enabled: bool = True
    """Look for cycles at all."""

    max_hops: int = Field(default=3, ge=3, le=4)
    """Longest cycle searched, in hops (3 = triangles; 4 also finds four-market loops)."""

    min_profit_bps: float = Field(default=5.0, ge=0, le=10_000)
    """Minimum net profit of a cycle, after every hop's taker fee, in basis points of the
    start amount (cycles pay three or four fees, so they get their own bar)."""

    start_currencies: list[str] = Field(default_factory=lambda: ["USDT", "USDC", "BTC", "ETH"])
    """Currencies a cycle may start and end in: those held as inventory."""

    @field_validator("start_currencies")
    @classmethod
    def _currencies(cls, value: list[str]) -> list[str]:
        cleaned = [c.strip().upper() for c in value]
        if not cleaned or any(not c or "/" in c for c in cleaned):
            raise ValueError("start_currencies needs one or more currency codes, e.g. ['USDT']")
        return cleaned


class DetectorSettings(_Section):
    """How the opportunity detector runs."""

    sweep_interval_ms: int = Field(default=500, ge=10, le=60_000)
    """A full sweep of every symbol runs this often, besides the per-update checks, in ms."""

    max_levels: int = Field(default=50, ge=1, le=1000)
    """How many levels of each book the depth walk may consume."""


class FeedSettings(_Section):
    """Market-data feed supervision."""

    source: Literal["embedded", "nats"] = "embedded"
    """`embedded`: this process runs the feeds; `nats`: books come from `arbdesk collect`
    processes through the NATS server of [bus] (pools and lending stay on the chain RPC)."""

    backoff_initial_s: float = Field(default=0.5, gt=0, le=60)
    """First reconnect delay after a feed error, in seconds (doubles each retry, jittered)."""

    backoff_max_s: float = Field(default=30.0, gt=0, le=600)
    """Longest reconnect delay, in seconds."""

    watchdog_s: float = Field(default=10.0, gt=0, le=600)
    """A feed silent this long is presumed dead: marked stale and reconnected, in seconds."""

    depth_limit: int = Field(default=50, ge=5, le=5000)
    """Levels per side kept from each order-book update."""

    @model_validator(mode="after")
    def _check_backoff(self) -> FeedSettings:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be at least backoff_initial_s")
        return self


class BusSettings(_Section):
    """Market data over NATS JetStream (`arbdesk collect`, `feeds.source = "nats"`, replay)."""

    url: str = "nats://127.0.0.1:4222"
    """The NATS server the collectors publish to and the engine reads from."""

    stream: str = Field(default="ARBDESK_BOOKS", pattern=r"^[A-Za-z0-9_-]+$")
    """The JetStream stream holding books and heartbeats: the recording replay reads."""

    max_age_h: float = Field(default=24.0, gt=0, le=24 * 365)
    """Retention by age: messages older than this many hours are discarded."""

    max_mb: int = Field(default=2048, ge=1, le=10_000_000)
    """Retention by size: past this many megabytes the oldest messages go first."""

    heartbeat_s: float = Field(default=1.0, gt=0, le=60)
    """How often a collector publishes its heartbeat and feed states, in seconds."""

    heartbeat_timeout_s: float = Field(default=3.0, gt=0, le=600)
    """A collector silent this long has its feeds marked stale (trades refused on them)."""

    snapshot_every: int = Field(default=500, ge=1, le=1_000_000)
    """A full snapshot every N messages per book, so a late reader syncs without asking."""

    @model_validator(mode="after")
    def _check_timeout(self) -> BusSettings:
        if self.heartbeat_timeout_s <= self.heartbeat_s:
            raise ValueError("heartbeat_timeout_s must be longer than heartbeat_s")
        return self


class SimSettings(_Section):
    """The embedded market simulator used in `sim` mode."""

    seed: int = 11
    """Random seed: the same seed gives the same market."""

    tick_ms: int = Field(default=100, ge=1, le=10_000)
    """Simulated market time step, in milliseconds."""

    speed: float = Field(default=1.0, gt=0, le=1000)
    """Wall-clock speed-up: 1.0 runs in real time; larger values run faster."""

    dislocation_rate_per_min: float = Field(default=6.0, ge=0, le=600)
    """Mean number of venue dislocations (temporary mispricings) per simulated minute."""

    latency_ms: int = Field(default=40, ge=0, le=10_000)
    """Simulated order round-trip latency, in milliseconds."""


class RiskSettings(_Section):
    """Circuit breaker limits."""

    max_consecutive_failures: int = Field(default=3, ge=1, le=1000)
    """Trip the breaker after this many failed trades in a row."""

    max_daily_loss_usd: float = Field(default=500.0, gt=0)
    """Trip the breaker when today's realized loss reaches this, in USD."""

    cooldown_s: float = Field(default=30.0, gt=0, le=86_400)
    """Time the breaker stays OPEN before allowing one HALF-OPEN trial trade, in seconds."""

    max_concurrent_trades: int = Field(default=2, ge=1, le=100)
    """Trades allowed in flight at once."""


class ExecutionSettings(_Section):
    """How approved opportunities become orders."""

    auto_execute: bool = False
    """Execute every opportunity that passes the risk gate without asking."""

    leg_timeout_s: float = Field(default=5.0, gt=0, le=600)
    """A leg not filled within this is cancelled and the trade unwound, in seconds."""

    cancel_on_kill: bool = True
    """The kill switch also cancels open orders."""

    unknown_order_grace_s: float = Field(default=6.0, ge=0, le=600)
    """An order whose send outcome is unknown (the request timed out) is looked up for this
    long before it counts as never placed, in seconds; keep it above the venue's signed-request
    window (Binance `recvWindow`, 5 s by default), or a late-landing order is missed."""

    paper_balances: dict[str, float] = Field(
        default_factory=lambda: {
            "USDT": 100_000.0,
            "USDC": 100_000.0,
            "BTC": 1.0,
            "ETH": 25.0,
            "SOL": 400.0,
            "XRP": 30_000.0,
            "LINK": 3_000.0,
        }
    )
    """Starting balance per currency of each venue in paper mode (units of that currency)."""

    @field_validator("paper_balances")
    @classmethod
    def _non_negative_balances(cls, balances: dict[str, float]) -> dict[str, float]:
        bad = [c for c, amount in balances.items() if amount < 0]
        if bad:
            raise ValueError(f"balances must not be negative: {', '.join(bad)}")
        return balances


class JournalSettings(_Section):
    """The SQLite journal."""

    path: Path = Path("arbdesk-journal.sqlite3")
    """Journal database file (relative paths are relative to the settings file)."""


class ServiceSettings(_Section):
    """The engine's HTTP endpoints for monitoring: GET /health and GET /metrics."""

    http_port: int = Field(default=0, ge=0, le=65_535)
    """Port of the health / metrics server; 0 = off (the default for the console)."""

    serve_http_port: int = Field(default=9477, ge=0, le=65_535)
    """The port `arbdesk serve` uses when http_port is 0 (serve is watched from outside, so
    it serves health and metrics unless this is 0 too)."""

    socket_path: str = ""
    """Unix socket of `arbdesk serve` / `attach`; "" = $XDG_RUNTIME_DIR/arbdesk/engine.sock."""

    http_host: str = "127.0.0.1"
    """Address it listens on: loopback unless you put a proxy in front of it."""

    stale_feed_health_s: float = Field(default=10.0, gt=0, le=3_600)
    """A feed quiet (stale, down) for longer than this makes /health answer 503."""


class AlertSettings(_Section):
    """Alerts: the console's terminal bell on a breaker trip, and a webhook for breaker trips
    and big fills."""

    bell_on_breaker_trip: bool = True
    """Ring the terminal bell when a breaker scope (global or a venue) opens."""

    webhook_url: SecretStr = SecretStr("")
    """POST each alert as JSON to this http(s) URL; empty = off. Secret (webhook URLs carry
    their token): masked in check-config, logs and errors."""

    webhook_min_fill_usd: float = Field(default=10_000.0, ge=0)
    """A finished trade is sent when its fills total at least this notional, in USD (every
    leg's notional, the journal's `volume`, at the rate its PnL is valued in USD)."""

    webhook_retries: int = Field(default=3, ge=0, le=20)
    """Retries after a failed POST (connection error, timeout, 5xx or 429; never other 4xx)."""

    webhook_backoff_s: float = Field(default=1.0, gt=0, le=300)
    """Delay before the first retry, in seconds; doubled for each further one."""

    webhook_timeout_s: float = Field(default=5.0, gt=0, le=120)
    """Time one POST may take, in seconds."""

    @field_validator("webhook_url")
    @classmethod
    def _check_webhook_url(cls, url: SecretStr) -> SecretStr:
        text = url.get_secret_value()
        parts = urlsplit(text)
        if text and (parts.scheme not in ("http", "https") or not parts.hostname):
            # The error shows the scheme only: the rest of a webhook URL is its token.
            shown = f"{parts.scheme}://…" if parts.scheme else "…"
            raise PydanticCustomError(
                "webhook_url",
                "webhook_url must be empty (off) or an http(s):// URL with a host",
                {"value": shown},
            )
        return url


class UiSettings(_Section):
    """Console preferences."""

    theme: str = "arbdesk-dark"
    """Theme name; `T` in the console cycles through the themes in themes/."""

    refresh_hz: float = Field(default=10.0, ge=1, le=60)
    """How often panes redraw, in frames per second."""


class LoggingSettings(_Section):
    """Logging (to a rotating file, never to the terminal the console draws on)."""

    path: Path = Path("arbdesk.log")
    """Log file (relative paths are relative to the settings file)."""

    level: str = Field(default="INFO", pattern=r"^(TRACE|DEBUG|INFO|SUCCESS|WARNING|ERROR)$")
    """Minimum level written."""

    rotation_mb: int = Field(default=10, ge=1, le=10_000)
    """The log file is rotated when it reaches this size, in megabytes."""

    retention_files: int = Field(default=5, ge=1, le=1000)
    """How many rotated log files are kept."""


class KeySettings(_Section):
    """Where API keys and wallet keys are kept (only ever read in `live` mode)."""

    backend: KeyBackend = KeyBackend.SYSTEM
    """`system`: the OS keyring (Secret Service, macOS Keychain, Windows, KWallet) and nothing
    else; `cryptfile`: an encrypted file (keyrings.cryptfile), used only when chosen here."""

    cryptfile_path: Path = Path("~/.local/share/arbdesk/keyring.cfg")
    """The encrypted key file for backend `cryptfile` (`~` is expanded; relative paths are
    relative to the settings file)."""

    passphrase_env: str = Field(default="ARBDESK_KEYRING_PASSPHRASE", pattern=r"^[A-Za-z_]\w*$")
    """Environment variable read for the cryptfile passphrase when no one can be asked."""


class ChainSettings(_Section):
    """The EVM chain: in `sim` mode a local anvil devnet with the official Uniswap contracts."""

    enabled: bool = True
    """Trade on-chain venues too (sim: start the devnet; paper/live: needs rpc_url)."""

    rpc_url: str = ""
    """JSON-RPC endpoint (http/https). Empty: start a local anvil on 127.0.0.1 (sim mode)."""

    manifest_path: Path = Path(".devnet/manifest.json")
    """Where `arbdesk devnet up` writes the deployment manifest that sim mode reads (relative
    paths are relative to the settings file)."""

    anvil_block_time_s: float = Field(default=0.0, ge=0, le=60)
    """anvil block interval in seconds; 0 mines a block as soon as a transaction arrives."""

    slippage_bps: float = Field(default=30.0, ge=0, le=5_000)
    """DEX legs: amountOutMin is the quoted output less this, in basis points."""

    deadline_s: int = Field(default=60, ge=1, le=3_600)
    """DEX legs: the router deadline, in seconds after sending."""

    priority_fee_gwei: float = Field(default=0.01, ge=0, le=1_000)
    """EIP-1559 priority fee (tip) offered per gas, in gwei."""

    max_fee_gwei: float = Field(default=200.0, gt=0, le=100_000)
    """Highest total fee per gas (base + priority) a transaction may pay, in gwei."""

    submission: Literal["relay", "public", "relay-then-public"] = "relay"
    """How on-chain trades go out: "relay" sends each as a private bundle (simulated first, a
    reverting one is never sent, a bundle that misses its blocks costs nothing); "public" to
    the mempool, where it can be copied or front-run and a revert still pays gas;
    "relay-then-public" uses the mempool only when no relay can be reached."""

    relay_urls: list[str] = Field(default_factory=list)
    """Private relays (Flashbots-style JSON-RPC) each bundle is sent to, all of them at once.
    Empty in sim mode: an embedded relay on 127.0.0.1 in front of the devnet."""

    relay_timeout_s: float = Field(default=3.0, gt=0, le=60)
    """Timeout of one request to a relay, in seconds."""

    sim_relay_build_delay_s: float = Field(default=0.25, ge=0, le=30)
    """Sim mode: how long the embedded relay waits before building a bundle's block (the time
    to the next slot); the noise trader may take the pool meanwhile, and the bundle loses."""

    @field_validator("relay_urls")
    @classmethod
    def _check_relay_urls(cls, urls: list[str]) -> list[str]:
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise ValueError(f"relay_urls: {url!r} is not an http(s):// URL")
        return urls

    @field_validator("rpc_url")
    @classmethod
    def _check_rpc_url(cls, url: str) -> str:
        if url and not url.startswith(("http://", "https://")):
            raise ValueError("rpc_url must be empty (local anvil) or an http(s):// URL")
        return url

    @model_validator(mode="after")
    def _check_fees(self) -> ChainSettings:
        if self.priority_fee_gwei > self.max_fee_gwei:
            raise ValueError("priority_fee_gwei must not exceed max_fee_gwei")
        return self


class LendingSettings(_Section):
    """Aave v3 liquidations: the lending feed, the watchlist and the liquidation gate."""

    enabled: bool = True
    """Track borrowers and offer liquidations (needs an Aave market in the manifest)."""

    poll_interval_s: float = Field(default=1.0, gt=0, le=60)
    """How often the lending feed checks for a new block, in seconds."""

    log_range_blocks: int = Field(default=2_000, ge=1, le=100_000)
    """Borrower discovery reads Supply/Borrow/Repay/LiquidationCall logs in ranges this long."""

    watch_hf_below: float = Field(default=1.5, gt=1, le=100)
    """Watchlist: positions whose health factor is below this."""

    min_profit_usd: float = Field(default=5.0, ge=0)
    """A liquidation is offered only if its net profit (after bonus, premium, swap, gas) is at
    least this, in USD; the contract reverts below it (minProfit)."""

    oracle_stale_after_s: float = Field(default=3_600.0, gt=0)
    """An oracle price not updated for this long gates execution (shown, not executed)."""

    opportunity_ttl_s: float = Field(default=15.0, gt=0, le=600)
    """How long an offered liquidation stays valid without re-detection, in seconds."""

    revert_cooldown_blocks: int = Field(default=5, ge=0, le=10_000)
    """After a refused or reverted liquidation, the position is not retried for this many
    blocks (no retry storm)."""

    gas_price_gwei: float = Field(default=0.0, ge=0, le=100_000)
    """Gas price the profit forecast assumes, in gwei; 0 reads the node's gas price."""

    sim_borrowers: int = Field(default=40, ge=0, le=5_000)
    """Sim mode: borrower positions opened on the devnet at start."""

    sim_new_borrower_every_s: float = Field(default=30.0, ge=0)
    """Sim mode: open one more borrower near the edge this often, in seconds (0: never)."""


SIM_SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "XRP/USDT", "LINK/USDT", "ETH/BTC"]


def _default_venues() -> list[VenueSettings]:
    return [
        VenueSettings(name="simex", kind=VenueKind.SIM, taker_fee_bps=10.0, symbols=SIM_SYMBOLS),
        VenueSettings(name="simbit", kind=VenueKind.SIM, taker_fee_bps=7.5, symbols=SIM_SYMBOLS),
        VenueSettings(name="simkra", kind=VenueKind.SIM, taker_fee_bps=16.0, symbols=SIM_SYMBOLS),
    ]


class Settings(BaseSettings):
    """All of arbdesk's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="ARBDESK_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
        use_attribute_docstrings=True,
    )
    toml_path: ClassVar[Path | None] = None

    mode: Mode = Mode.SIM
    """`sim` (embedded market, offline), `paper` (live data, simulated fills) or `live`."""

    venues: list[VenueSettings] = Field(default_factory=_default_venues)
    """The venues to watch and trade."""

    thresholds: ThresholdSettings = Field(default_factory=ThresholdSettings)
    detector: DetectorSettings = Field(default_factory=DetectorSettings)
    cycles: CycleSettings = Field(default_factory=CycleSettings)
    feeds: FeedSettings = Field(default_factory=FeedSettings)
    bus: BusSettings = Field(default_factory=BusSettings)
    sim: SimSettings = Field(default_factory=SimSettings)
    risk: RiskSettings = Field(default_factory=RiskSettings)
    execution: ExecutionSettings = Field(default_factory=ExecutionSettings)
    journal: JournalSettings = Field(default_factory=JournalSettings)
    ui: UiSettings = Field(default_factory=UiSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    keys: KeySettings = Field(default_factory=KeySettings)
    chain: ChainSettings = Field(default_factory=ChainSettings)
    lending: LendingSettings = Field(default_factory=LendingSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    alerts: AlertSettings = Field(default_factory=AlertSettings)

    @field_validator("venues")
    @classmethod
    def _unique_venue_names(cls, venues: list[VenueSettings]) -> list[VenueSettings]:
        names = [v.name for v in venues]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"venue names must be unique; repeated: {', '.join(dupes)}")
        if not venues:
            raise ValueError("at least one venue is needed")
        return venues

    @model_validator(mode="after")
    def _check_mode_venues(self) -> Settings:
        # The error names the first offending venue's `kind` (a model-level error has no key of
        # its own; format_validation_error reads `key`/`value` from the context).
        for i, venue in enumerate(self.venues):
            if self.mode is Mode.SIM and venue.kind is VenueKind.CCXT:
                why = "mode 'sim' runs only sim venues; use mode 'paper' for kind 'ccxt' venues"
            elif self.mode is not Mode.SIM and venue.kind is VenueKind.SIM:
                why = f"mode {self.mode.value!r} needs kind 'ccxt' venues, not 'sim' ones"
            else:
                continue
            raise PydanticCustomError(
                "mode_venue_kind", why, {"key": f"venues[{i}].kind", "value": venue.kind.value}
            )
        chain = self.chain
        trades_on_chain = self.mode is not Mode.SIM and chain.enabled and chain.rpc_url
        if trades_on_chain and chain.submission != "public" and not chain.relay_urls:
            why = (
                f"submission {chain.submission!r} needs chain.relay_urls in {self.mode.value} mode "
                "(the embedded relay fronts only the sim devnet); list your relays, or set "
                "submission = 'public' to send on-chain trades to the mempool"
            )
            raise PydanticCustomError(
                "relay_urls_missing", why, {"key": "chain.relay_urls", "value": []}
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls.toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_path))
        return tuple(sources)

    # -- helpers ---------------------------------------------------------------------------

    def venue(self, name: str) -> VenueSettings:
        for v in self.venues:
            if v.name == name:
                return v
        raise KeyError(name)

    def resolve_path(self, path: Path) -> Path:
        """Relative paths in settings are relative to the settings file's folder."""
        if path.is_absolute() or self.toml_path is None:
            return path
        return self.toml_path.parent / path


class SettingsError(Exception):
    """Settings could not be loaded; `problems` holds one `key = value: reason` line each."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def resolve_config_path(cli_path: str | os.PathLike[str] | None = None) -> Path | None:
    """`--config` wins, then $ARBDESK_CONFIG, then ./settings.toml if present, else None."""
    if cli_path:
        return Path(cli_path)
    env = os.environ.get(CONFIG_ENV_VAR)
    if env:
        return Path(env)
    local = Path.cwd() / DEFAULT_CONFIG_NAME
    return local if local.is_file() else None


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Load settings from `path` (or the resolved default), raising SettingsError on any problem."""
    path = resolve_config_path(path) if path is None else path
    source = str(path) if path else "built-in defaults"
    if path is not None and not path.is_file():
        why = "is a directory, not a settings file" if path.is_dir() else "no such file"
        raise SettingsError(source, [f"config = {str(path)!r}: {why}"])

    settings_cls = type("LoadedSettings", (Settings,), {"toml_path": path})
    try:
        loaded: Settings = settings_cls(**overrides)
    except ValidationError as exc:
        raise SettingsError(source, format_validation_error(exc, _known_keys())) from exc
    except ValueError as exc:  # TOML syntax errors: the file is not TOML at all
        raise SettingsError(source, [f"config = {str(path)!r}: not valid TOML: {exc}"]) from exc
    return loaded


def _known_keys() -> dict[str, list[str]]:
    """For 'did you mean' hints: section name -> its field names."""
    out: dict[str, list[str]] = {"": list(Settings.model_fields)}
    for name, field in Settings.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            out[name] = list(ann.model_fields)
    out["venues"] = list(VenueSettings.model_fields)
    return out


def format_validation_error(
    exc: ValidationError, known: dict[str, list[str]] | None = None
) -> list[str]:
    """One `key = value: reason` line per problem, with a hint for misspelt keys."""
    lines = []
    for err in exc.errors():
        ctx = err.get("ctx") or {}
        # A model-level rule names its key in the context: `key` (whole) or `field` (appended).
        loc = str(ctx["key"]) if "key" in ctx else _format_loc(err["loc"])
        if "field" in ctx:
            loc = f"{loc}.{ctx['field']}" if err["loc"] else str(ctx["field"])
        value = ctx["value"] if "value" in ctx else err.get("input")
        reason = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            reason = "unknown key"
            if known is not None:
                section = next((str(p) for p in err["loc"][:-1] if isinstance(p, str)), "")
                close = difflib.get_close_matches(str(err["loc"][-1]), known.get(section, []), n=1)
                if close:
                    reason += f" (did you mean {close[0]!r}?)"
        lines.append(f"{loc} = {_format_value(value)}: {reason}")
    return lines


def _format_loc(loc: Iterable[int | str]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "<settings>"


def _format_value(value: object) -> str:
    text = repr(value)
    if isinstance(value, dict | list) and len(text) > 60:  # a whole venue list says nothing
        return "{...}" if isinstance(value, dict) else f"[...{len(value)} items]"
    return text
