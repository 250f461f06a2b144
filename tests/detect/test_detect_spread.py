"""SpreadDetector: hand-computed sizing, fees, caps, unusable books, USD conversion, live edits."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.book import OrderBook
from core.detect.opportunity import Opportunity, build_opportunity, iso_utc
from core.detect.spread import SpreadDetector
from core.detect.usd import UsdRates, quote_currency
from core.settings import ThresholdSettings

NOW = 1_700_000_000.0


def book(venue: str, symbol: str, bids: list[list[float]], asks: list[list[float]]) -> OrderBook:
    b = OrderBook(venue, symbol)
    b.apply_snapshot(bids, asks, sequence=1, received_at=NOW - 0.1)
    return b


def open_thresholds(**kw: float) -> ThresholdSettings:
    """Thresholds that let everything through unless a test tightens one."""
    base = {
        "min_profit_bps": 0.0,
        "min_profit_usd": 0.0,
        "max_notional_usd": 1e9,
        "stale_after_ms": 3000,
    }
    base.update(kw)
    return ThresholdSettings(**base)  # type: ignore[arg-type]


def example_books() -> dict[str, dict[str, OrderBook]]:
    # A is cheap, B is rich. Worked through in test_hand_computed_example.
    return {
        "BTC/USDT": {
            "A": book("A", "BTC/USDT", [[99.0, 1.0]], [[100.0, 1.0], [101.0, 1.0], [103.0, 5.0]]),
            "B": book("B", "BTC/USDT", [[104.0, 0.5], [102.0, 2.0], [100.0, 5.0]], [[105.0, 1.0]]),
        }
    }


def detector(
    books: dict[str, dict[str, OrderBook]],
    thresholds: ThresholdSettings | None = None,
    fees: dict[str, float] | None = None,
    max_levels: int = 50,
) -> SpreadDetector:
    venues = {v for per_symbol in books.values() for v in per_symbol}
    return SpreadDetector(
        books,
        fees if fees is not None else dict.fromkeys(venues, 10.0),
        thresholds or open_thresholds(),
        max_levels,
        clock=lambda: NOW,
    )


def test_hand_computed_example() -> None:
    # Slices (fees 10 bps both legs; margin = bid * 0.999 - ask * 1.001):
    #   0.5 @ ask 100 / bid 104: margin 3.796
    #   0.5 @ ask 100 / bid 102: margin 1.798
    #   1.0 @ ask 101 / bid 102: margin 0.797
    #   next: ask 103 / bid 102: margin < 0 -> stop.
    # size 2, cost 201, proceeds 205, gross 4, fees 0.201 + 0.205 = 0.406, net 3.594.
    [opp] = detector(example_books()).check_symbol("BTC/USDT")
    assert (opp.buy_venue, opp.sell_venue, opp.symbol) == ("A", "B", "BTC/USDT")
    assert opp.size == pytest.approx(2.0)
    assert opp.buy_vwap == pytest.approx(100.5)
    assert opp.sell_vwap == pytest.approx(102.5)
    assert opp.gross_profit == pytest.approx(4.0)
    assert opp.fees == pytest.approx(0.406)
    assert opp.net_profit == pytest.approx(3.594)
    assert opp.net_bps == pytest.approx(3.594 / 201 * 1e4)
    assert opp.net_profit_usd == pytest.approx(3.594)
    assert opp.detected_at == NOW
    assert opp.expires_at == NOW + 5.0
    assert opp.key == ("BTC/USDT", "A", "B")


def test_fees_make_gross_spread_unprofitable() -> None:
    books = {
        "X/USDT": {
            "A": book("A", "X/USDT", [[99.0, 1.0]], [[100.0, 1.0]]),
            "B": book("B", "X/USDT", [[100.15, 1.0]], [[101.0, 1.0]]),
        }
    }
    # 15 bps gross; 10 + 10 bps of fees eat it (100.15 * 0.999 < 100 * 1.001).
    assert detector(books).check_symbol("X/USDT") == []
    # 5 + 5 bps leave 5 bps: size 1, net = 100.15 * 0.9995 - 100 * 1.0005.
    [opp] = detector(books, fees={"A": 5.0, "B": 5.0}).check_symbol("X/USDT")
    assert opp.size == pytest.approx(1.0)
    assert opp.net_profit == pytest.approx(100.15 * 0.9995 - 100.05)
    assert opp.fees == pytest.approx(0.05 + 0.050075)


def test_notional_cap() -> None:
    th = open_thresholds(max_notional_usd=150.0)
    [opp] = detector(example_books(), th).check_symbol("BTC/USDT")
    # 0.5 @ 100, 0.5 @ 100, then 50 USDT left of the cap buys 50/101 @ 101.
    assert opp.size == pytest.approx(1.0 + 50 / 101)
    assert opp.size * opp.buy_vwap == pytest.approx(150.0)
    assert opp.sell_vwap == pytest.approx((52.0 + 51.0 + 102.0 * 50 / 101) / opp.size)


def test_max_levels_caps_the_walk() -> None:
    [opp] = detector(example_books(), max_levels=1).check_symbol("BTC/USDT")
    assert opp.size == pytest.approx(0.5)  # B's first bid level is all one level allows
    assert opp.sell_vwap == pytest.approx(104.0)


def test_thresholds_and_live_edits() -> None:
    th = open_thresholds()
    det = detector(example_books(), th)
    assert len(det.check_symbol("BTC/USDT")) == 1
    th.min_profit_usd = 3.6  # net is 3.594
    assert det.check_symbol("BTC/USDT") == []
    th.min_profit_usd = 3.5
    assert len(det.check_symbol("BTC/USDT")) == 1
    th.max_notional_usd = 50.0  # 0.5 @ 100 nets 1.898 < 3.5 USD
    assert det.check_symbol("BTC/USDT") == []
    th.min_profit_usd = 1.0
    [opp] = det.check_symbol("BTC/USDT")
    assert opp.size == pytest.approx(0.5)
    assert opp.net_profit == pytest.approx(1.898)
    th.max_notional_usd = 1e9
    th.opportunity_ttl_s = 2.0
    assert det.check_symbol("BTC/USDT")[0].expires_at == NOW + 2.0


def test_min_bps_takes_largest_size_meeting_threshold() -> None:
    # Max-profit size averages 178.8 bps; at 200 bps the walk stops inside the third slice
    # where the average hits 200: net so far 2.797 on cost 100, third slice margin 0.797.
    th = open_thresholds(min_profit_bps=200.0)
    [opp] = detector(example_books(), th).check_symbol("BTC/USDT")
    assert opp.size == pytest.approx(1.0 + (2.797 - 2.0) / (2.02 - 0.797))
    assert opp.net_bps == pytest.approx(200.0)
    th.min_profit_bps = 380.0  # above even the first slice (379.6 bps): nothing
    assert detector(example_books(), th).check_symbol("BTC/USDT") == []


def test_stale_invalid_crossed_and_empty_books_are_ignored() -> None:
    det = detector(example_books())
    a = det.books["BTC/USDT"]["A"]
    a.received_at = NOW - 3.5  # older than stale_after_ms = 3000
    assert det.check_symbol("BTC/USDT") == []
    assert det.sweep() == []
    a.received_at = NOW - 0.1
    assert len(det.check_symbol("BTC/USDT")) == 1

    a.invalidate("sequence gap: expected 2, got 5")
    assert det.check_symbol("BTC/USDT") == []

    books = example_books()
    det = detector(books)
    b = books["BTC/USDT"]["B"]
    b.apply_delta(False, 101.0, 1.0, sequence=2, received_at=NOW - 0.1)  # B ask under its bid
    assert b.is_crossed()
    assert det.check_symbol("BTC/USDT") == []

    books = example_books()
    det = detector(books)
    books["BTC/USDT"]["B"].apply_delta(False, 105.0, 0.0, sequence=2, received_at=NOW - 0.1)
    assert det.check_symbol("BTC/USDT") == []  # B has no asks: not usable at all


def test_no_self_pairs_and_single_venue() -> None:
    only = {"X/USDT": {"A": book("A", "X/USDT", [[99.99, 5.0]], [[100.0, 5.0]])}}
    assert detector(only, fees={"A": 0.0}).check_symbol("X/USDT") == []
    assert detector(only, fees={"A": 0.0}).sweep() == []


def test_changed_venue_limits_pairs() -> None:
    books = example_books()
    books["BTC/USDT"]["C"] = book("C", "BTC/USDT", [[98.0, 1.0]], [[110.0, 1.0]])
    det = detector(books)
    assert det.check_symbol("BTC/USDT", changed_venue="C") == []
    assert [o.key for o in det.check_symbol("BTC/USDT", changed_venue="A")] == [
        ("BTC/USDT", "A", "B")
    ]
    assert len(det.check_symbol("BTC/USDT", changed_venue="B")) == 1
    assert det.check_symbol("NOPE/USDT") == []


def test_usd_conversion_for_cross_pair() -> None:
    books = {
        "ETH/BTC": {
            "A": book("A", "ETH/BTC", [[0.0499, 10.0]], [[0.05, 10.0]]),
            "B": book("B", "ETH/BTC", [[0.0502, 10.0]], [[0.0503, 10.0]]),
        },
        "BTC/USDT": {
            "A": book("A", "BTC/USDT", [[59_990.0, 1.0]], [[60_010.0, 1.0]]),  # mid 60000
            "B": book("B", "BTC/USDT", [[60_000.0, 1.0]], [[60_020.0, 1.0]]),  # mid 60010
        },
        "BTC/USDC": {"C": book("C", "BTC/USDC", [[60_090.0, 1.0]], [[60_110.0, 1.0]])},  # 60100
    }
    fees = {"A": 10.0, "B": 10.0, "C": 10.0}
    th = open_thresholds()
    det = detector(books, th, fees=fees)
    [opp] = det.check_symbol("ETH/BTC")
    net = 10 * (0.0502 * 0.999 - 0.05 * 1.001)
    assert opp.size == pytest.approx(10.0)
    assert opp.net_profit == pytest.approx(net)
    assert opp.net_profit_usd == pytest.approx(net * 60_010.0)  # median of the three mids

    th.max_notional_usd = 6001.0  # = 0.1 BTC at 60010
    [opp] = det.check_symbol("ETH/BTC")
    assert opp.size * opp.buy_vwap == pytest.approx(0.1)

    # No usable BTC/USD* book: the rate is unknown and nothing is emitted.
    for b in (*books["BTC/USDT"].values(), *books["BTC/USDC"].values()):
        b.invalidate("test")
    assert det.check_symbol("ETH/BTC") == []
    assert UsdRates(books).rate("BTC", NOW, 3.0) is None
    assert UsdRates(books).rate("USDC", NOW, 3.0) == 1.0
    assert quote_currency("BTC/USDT:USDT") == "USDT"


def test_sweep_covers_every_symbol_and_both_directions() -> None:
    books = example_books()
    books["ETH/USDT"] = {
        "A": book("A", "ETH/USDT", [[2010.0, 1.0]], [[2011.0, 1.0]]),  # A rich here
        "B": book("B", "ETH/USDT", [[1999.0, 1.0]], [[2000.0, 1.0]]),
    }
    found = detector(books).sweep()
    assert sorted(o.key for o in found) == [("BTC/USDT", "A", "B"), ("ETH/USDT", "B", "A")]
    assert len({o.id for o in found}) == 2


def test_missing_fee_and_bad_fee_are_errors() -> None:
    det = detector(example_books(), fees={"A": 10.0})
    with pytest.raises(ValueError, match="no taker fee configured for venue 'B'"):
        det.check_symbol("BTC/USDT")
    with pytest.raises(ValueError):
        det.set_fees({"A": -1.0})
    det.set_fees({"A": 10.0, "B": 10.0})
    assert len(det.check_symbol("BTC/USDT")) == 1


def test_json_dict() -> None:
    [opp] = detector(example_books()).check_symbol("BTC/USDT")
    d = opp.to_json_dict()
    assert list(d) == [
        "kind", "id", "symbol", "buy_venue", "sell_venue", "size", "buy_vwap", "sell_vwap",
        "gross_profit", "fees", "net_profit", "net_bps", "net_profit_usd",
        "detected_at", "expires_at",
    ]  # fmt: skip
    assert d["kind"] == "spread"
    assert d["detected_at"] == "2023-11-14T22:13:20.000Z"
    assert d["expires_at"] == iso_utc(NOW + 5.0) == "2023-11-14T22:13:25.000Z"
    assert isinstance(d["size"], float) and isinstance(d["net_bps"], float)
    assert json.loads(json.dumps(d)) == d
    with pytest.raises(AttributeError):
        opp.size = 3.0  # type: ignore[misc]
    assert isinstance(opp, Opportunity)


def side(sign: float) -> st.SearchStrategy[list[tuple[float, float]]]:
    """Levels 1..20 ticks away from a mid on one side (sign -1: bids, +1: asks), with sizes."""
    return st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=20).map(lambda t: sign * t * 0.05),
            st.integers(min_value=1, max_value=20).map(lambda t: t * 0.25),
        ),
        min_size=1,
        max_size=8,
    )


Side = list[list[float]]

# One uncrossed book: a mid within +-1.5 % of 100, bids under it, asks over it.
one_book = st.tuples(st.integers(min_value=-30, max_value=30), side(-1.0), side(1.0)).map(
    lambda m: (
        [[100.0 + m[0] * 0.05 + off, size] for off, size in m[1]],
        [[100.0 + m[0] * 0.05 + off, size] for off, size in m[2]],
    )
)


@settings(max_examples=120, deadline=None)
@given(
    a=one_book,
    b=one_book,
    fee_a=st.sampled_from([0.0, 2.0, 10.0]),
    fee_b=st.sampled_from([0.0, 7.5]),
    cap=st.sampled_from([50.0, 300.0, 1e9]),
    min_bps=st.sampled_from([0.0, 5.0, 30.0]),
)
def test_emitted_numbers_agree_with_book_walks(
    a: tuple[Side, Side],
    b: tuple[Side, Side],
    fee_a: float,
    fee_b: float,
    cap: float,
    min_bps: float,
) -> None:
    books = {"X/USDT": {"A": book("A", "X/USDT", *a), "B": book("B", "X/USDT", *b)}}
    fees = {"A": fee_a, "B": fee_b}
    th = open_thresholds(max_notional_usd=cap, min_profit_bps=min_bps)
    for opp in detector(books, th, fees=fees).check_symbol("X/USDT"):
        buy_book = books["X/USDT"][opp.buy_venue]
        sell_book = books["X/USDT"][opp.sell_venue]
        buy_vwap, bought = buy_book.vwap_for_quantity(True, opp.size)
        sell_vwap, sold = sell_book.vwap_for_quantity(False, opp.size)
        assert bought == pytest.approx(opp.size) and sold == pytest.approx(opp.size)
        assert opp.buy_vwap == pytest.approx(buy_vwap)
        assert opp.sell_vwap == pytest.approx(sell_vwap)
        notional = opp.size * opp.buy_vwap
        assert notional <= cap * (1 + 1e-9)
        fee_cost = (
            notional * fees[opp.buy_venue] * 1e-4
            + opp.size * opp.sell_vwap * fees[opp.sell_venue] * 1e-4
        )
        assert opp.fees == pytest.approx(fee_cost)
        assert opp.net_profit == pytest.approx(opp.gross_profit - fee_cost)
        assert opp.net_profit > 0
        assert opp.net_bps >= min_bps - 1e-6
        # A slightly larger trade would not be better: its marginal slice loses money or
        # breaks a limit (cap, threshold, depth).
        bigger = opp.size * 1.001 + 1e-9
        bvw, bq = buy_book.vwap_for_quantity(True, bigger)
        svw, sq = sell_book.vwap_for_quantity(False, bigger)
        if bq >= bigger and sq >= bigger and bigger * bvw <= cap and min_bps == 0.0:
            net_bigger = bigger * (svw * (1 - fees[opp.sell_venue] * 1e-4)) - bigger * bvw * (
                1 + fees[opp.buy_venue] * 1e-4
            )
            assert net_bigger <= opp.net_profit + 1e-9


def reference_size(
    buy_book: OrderBook,
    sell_book: OrderBook,
    fee_buy: float,
    fee_sell: float,
    cap_quote: float,
    min_bps: float,
    max_levels: int,
) -> tuple[float, float, float]:
    """The sizing rule written plainly, one slice at a time: (size, cost, proceeds)."""
    asks = buy_book.top(max_levels)[1]
    bids = sell_book.top(max_levels)[0]
    buy_mult, sell_mult, t = 1 + fee_buy * 1e-4, 1 - fee_sell * 1e-4, min_bps * 1e-4
    i = j = 0
    a_left, b_left = asks[0][1], bids[0][1]
    size = cost = proceeds = 0.0
    while i < len(asks) and j < len(bids):
        ask, bid = asks[i][0], bids[j][0]
        margin = bid * sell_mult - ask * buy_mult
        if margin <= 0:
            break
        slice_qty = min(a_left, b_left)
        qty = min(slice_qty, (cap_quote - cost) / ask)
        if margin < t * ask:
            net = proceeds * sell_mult - cost * buy_mult
            qty = min(qty, (net - t * cost) / (t * ask - margin))
        if qty > 0:
            size += qty
            cost += qty * ask
            proceeds += qty * bid
        if qty < slice_qty:
            break
        a_left -= qty
        b_left -= qty
        if a_left == 0:
            i += 1
            a_left = asks[i][1] if i < len(asks) else 0.0
        if b_left == 0:
            j += 1
            b_left = bids[j][1] if j < len(bids) else 0.0
    return size, cost, proceeds


@settings(max_examples=200, deadline=None)
@given(
    a=one_book,
    b=one_book,
    c=one_book,
    fees=st.tuples(*[st.sampled_from([0.0, 2.0, 7.5, 10.0])] * 3),
    cap=st.sampled_from([40.0, 170.0, 555.5, 1e9]),
    min_bps=st.sampled_from([0.0, 3.0, 25.0]),
    min_usd=st.sampled_from([0.0, 0.0137, 0.4321]),
    max_levels=st.sampled_from([1, 2, 3, 50]),
)
def test_sizing_equals_plain_reference(
    a: tuple[Side, Side],
    b: tuple[Side, Side],
    c: tuple[Side, Side],
    fees: tuple[float, float, float],
    cap: float,
    min_bps: float,
    min_usd: float,
    max_levels: int,
) -> None:
    # The detector's walk is optimised (per-level sums, the cap folded into the ask level):
    # every pair must give the plain slice walk's numbers, and the same pairs must pass.
    books = {"X/USDT": {v: book(v, "X/USDT", *s) for v, s in zip("ABC", (a, b, c), strict=True)}}
    fee = dict(zip("ABC", fees, strict=True))
    th = open_thresholds(max_notional_usd=cap, min_profit_bps=min_bps, min_profit_usd=min_usd)
    found = {o.key: o for o in detector(books, th, fees=fee, max_levels=max_levels).sweep()}
    for buy_v in "ABC":
        for sell_v in "ABC":
            if buy_v == sell_v:
                continue
            buy_book, sell_book = books["X/USDT"][buy_v], books["X/USDT"][sell_v]
            if buy_book.is_crossed() or sell_book.is_crossed():
                assert ("X/USDT", buy_v, sell_v) not in found
                continue
            size, cost, proceeds = reference_size(
                buy_book, sell_book, fee[buy_v], fee[sell_v], cap, min_bps, max_levels
            )
            net = proceeds - cost - cost * fee[buy_v] * 1e-4 - proceeds * fee[sell_v] * 1e-4
            if size > 0 and (abs(net / cost * 1e4 - min_bps) < 1e-6 or abs(net - min_usd) < 1e-9):
                continue  # on a threshold's edge: rounding may tip either way
            expected = size > 0 and net / cost * 1e4 >= min_bps and net >= min_usd
            opp = found.get(("X/USDT", buy_v, sell_v))
            assert (opp is not None) == expected, (buy_v, sell_v, size, cost, proceeds)
            if opp is None:
                continue
            assert opp.size == pytest.approx(size, rel=1e-9)
            assert opp.buy_vwap == pytest.approx(cost / size, rel=1e-9)
            assert opp.sell_vwap == pytest.approx(proceeds / size, rel=1e-9)
            assert opp.gross_profit == pytest.approx(proceeds - cost, rel=1e-7, abs=1e-9)
            assert opp.net_profit == pytest.approx(net, rel=1e-7, abs=1e-9)
            assert opp.net_profit_usd == opp.net_profit  # USDT quote: rate 1


def test_build_opportunity_equals_the_constructor() -> None:
    args = ("x-1", "BTC/USDT", "A", "B", 2.0, 100.5, 102.5, 4.0, 0.406, 3.594, 178.8, 3.594,
            NOW, NOW + 5.0)  # fmt: skip
    fast = build_opportunity(*args)
    slow = Opportunity(*args)
    assert fast == slow and type(fast) is Opportunity
    assert fast.to_json_dict() == slow.to_json_dict()
    assert dataclasses.replace(fast, id="x-2") == dataclasses.replace(slow, id="x-2")
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.size = 1.0  # type: ignore[misc]


def test_prices_one_ulp_apart_are_not_an_opportunity() -> None:
    # Found by hypothesis in CI: a bid one ulp above the ask passed the level walk, and the
    # opportunity netted exactly zero.
    books = {
        "X/USDT": {
            "A": book("A", "X/USDT", [[99.30000000000001, 0.25]], [[99.45, 0.25]]),
            "B": book("B", "X/USDT", [[99.05, 0.25]], [[99.3, 0.75]]),
        }
    }
    th = open_thresholds(max_notional_usd=50.0, min_profit_bps=0.0)
    assert detector(books, th, fees={"A": 0.0, "B": 0.0}).check_symbol("X/USDT") == []


def test_a_rounding_residue_of_the_walk_is_not_an_opportunity() -> None:
    # Found by hypothesis in CI: the cap and the threshold left a size of ~1e-16, whose cost
    # (a difference of nearly equal totals) gave a VWAP of 99.36 on a book with one ask at 99.45.
    books = {
        "X/USDT": {
            "A": book("A", "X/USDT", [[99.65, 0.25]], [[100.05, 0.25]]),
            "B": book("B", "X/USDT", [[99.3, 0.25]], [[99.44999999999999, 0.75]]),
        }
    }
    th = open_thresholds(max_notional_usd=50.0, min_profit_bps=30.0)
    for opp in detector(books, th, fees={"A": 0.0, "B": 7.5}).check_symbol("X/USDT"):
        assert opp.buy_vwap == pytest.approx(99.45) and opp.size > 1e-9
