// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IERC20Min {
    function balanceOf(address owner) external view returns (uint256);
}

interface IUniswapV2PairMin {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function getReserves() external view returns (uint112, uint112, uint32);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

interface IUniswapV3PoolMin {
    function token0() external view returns (address);
    function token1() external view returns (address);
    function swap(
        address recipient,
        bool zeroForOne,
        int256 amountSpecified,
        uint160 sqrtPriceLimitX96,
        bytes calldata data
    ) external returns (int256 amount0, int256 amount1);
    function flash(address recipient, uint256 amount0, uint256 amount1, bytes calldata data) external;
}

/// @title FlashArbitrage: atomic arbitrage through Uniswap V2-style pairs and V3 pools.
/// @notice Token X is the profit token. Two-pool routes: X -> Y on the `buy` pool, Y -> X on
/// the `sell` pool. Cycles (`cycle*`): X through two to four hops, each hop's output the next
/// one's input, back to X (the route must close on X or the call reverts).
/// Three ways to fund the X leg, each in one transaction that reverts unless the owner ends up
/// with at least `minProfit` more X:
///  - `flashV2` / `cycleFlashV2`: a V2 flash swap takes Y out of the first pair; Y goes
///    through the remaining hops back to X and the pair is repaid in X (what `getAmountIn` asks at the pair's fee), so no X is
///    needed up front;
///  - `flashV3` / `cycleFlashV3`: X is borrowed from a third V3 pool's `flash` and repaid with its fee;
///  - `fromWallet` / `cycleFromWallet`: the owner's own X (approved to this contract), gas only.
/// Only the owner may call; a callback is accepted only from the pool this call is expecting,
/// only of the kind expected (V2 call, V3 flash, V3 swap) and, for a V3 swap, only for the
/// input token and at most the input amount (all kept in transient storage and cleared by the
/// callback itself); a transient lock refuses reentry. A V3 hop must take its whole input.
/// A V2 hop carries its pair's fee: forks charge other fees than Uniswap's 0.3 %, and a quote at
/// the wrong fee either fails the pair's K check or leaves output unclaimed.
contract FlashArbitrage {
    /// A pool of one hop: `kind` 0 = Uniswap V2-style pair, 1 = Uniswap V3 pool; `feeBps` is the
    /// V2 pair's swap fee in basis points (30 for Uniswap V2), ignored for V3 (the pool knows).
    struct Hop {
        address pool;
        uint8 kind;
        uint16 feeBps;
    }

    error NotOwner();
    error Reentrancy();
    error UnexpectedCallback();
    error BadToken();
    error ProfitTooLow(uint256 profit, uint256 minProfit);
    error TransferFailed();
    error NoOutput();
    error PartialFill(uint256 taken, uint256 amountIn);
    error BadFee(uint16 feeBps);
    error BadHop();

    event Arbitrage(address indexed token, uint256 amountIn, uint256 profit, uint8 funding);

    uint8 internal constant KIND_V2 = 0;
    uint8 internal constant KIND_V3 = 1;
    uint256 internal constant BPS = 10_000;
    uint256 internal constant MAX_HOPS = 4;
    uint160 internal constant MIN_SQRT_RATIO_PLUS_ONE = 4295128740;
    uint160 internal constant MAX_SQRT_RATIO_MINUS_ONE =
        1461446703485210103287273052203988822378723970341;

    address public immutable owner;

    uint8 internal constant CB_V2_CALL = 1;
    uint8 internal constant CB_V3_FLASH = 2;
    uint8 internal constant CB_V3_SWAP = 3;

    uint256 private transient _locked;
    address private transient _expected;
    uint8 private transient _expectedKind;
    address private transient _expectedToken;
    uint256 private transient _expectedAmount;

    constructor() {
        owner = msg.sender;
    }

    modifier onlyOwner() {
        if (msg.sender != owner) revert NotOwner();
        _;
    }

    modifier nonReentrant() {
        if (_locked != 0) revert Reentrancy();
        _locked = 1;
        _;
        _locked = 0;
    }

    // -- entry points ----------------------------------------------------------------------

    /// Flash-swap `amountBorrow` of Y out of V2 pair `buy` (Y is the pair's other token than
    /// `tokenX`), sell it on `sell`, repay the pair in X at `buy.feeBps`; profit in X goes to
    /// the owner.
    function flashV2(
        address tokenX,
        Hop calldata buy,
        uint256 amountBorrow,
        Hop calldata sell,
        uint256 minProfit
    ) external onlyOwner nonReentrant returns (uint256 profit) {
        profit = _flashV2(tokenX, _pair(buy, sell), amountBorrow, minProfit);
    }

    /// Borrow `amount` of X from V3 pool `lender` (not one of the hops), swap X -> Y on `buy`
    /// and Y -> X on `sell`, repay `amount` plus the pool's flash fee.
    function flashV3(
        address tokenX,
        address lender,
        uint256 amount,
        Hop calldata buy,
        Hop calldata sell,
        uint256 minProfit
    ) external onlyOwner nonReentrant returns (uint256 profit) {
        profit = _flashV3(tokenX, lender, amount, _pair(buy, sell), minProfit);
    }

    /// The owner's own `amountIn` of X (approved to this contract) through both hops.
    function fromWallet(
        address tokenX,
        uint256 amountIn,
        Hop calldata buy,
        Hop calldata sell,
        uint256 minProfit
    ) external onlyOwner nonReentrant returns (uint256 profit) {
        profit = _fromWallet(tokenX, amountIn, _pair(buy, sell), minProfit);
    }

    /// A cycle funded by a V2 flash swap: `amountBorrow` of the first pair's other token is
    /// taken out of `hops[0]` (a V2 pair), routed through `hops[1:]` back to X, and the pair
    /// is repaid in X at its fee.
    function cycleFlashV2(
        address tokenX,
        Hop[] calldata hops,
        uint256 amountBorrow,
        uint256 minProfit
    ) external onlyOwner nonReentrant returns (uint256 profit) {
        profit = _flashV2(tokenX, hops, amountBorrow, minProfit);
    }

    /// A cycle on `amount` of X borrowed from V3 pool `lender` (not one of the hops).
    function cycleFlashV3(
        address tokenX,
        address lender,
        uint256 amount,
        Hop[] calldata hops,
        uint256 minProfit
    ) external onlyOwner nonReentrant returns (uint256 profit) {
        profit = _flashV3(tokenX, lender, amount, hops, minProfit);
    }

    /// A cycle on the owner's own `amountIn` of X (approved to this contract).
    function cycleFromWallet(
        address tokenX,
        uint256 amountIn,
        Hop[] calldata hops,
        uint256 minProfit
    ) external onlyOwner nonReentrant returns (uint256 profit) {
        profit = _fromWallet(tokenX, amountIn, hops, minProfit);
    }

    /// Anything left here (a token sent by mistake) goes back to the owner.
    function sweep(address token) external onlyOwner nonReentrant {
        _transfer(token, owner, IERC20Min(token).balanceOf(address(this)));
    }

    // -- callbacks -------------------------------------------------------------------------

    function uniswapV2Call(
        address sender,
        uint256 amount0,
        uint256 amount1,
        bytes calldata data
    ) external {
        if (sender != address(this)) revert UnexpectedCallback();
        _accept(CB_V2_CALL);
        (address tokenX, address tokenY, uint256 repay, Hop[] memory rest) = abi.decode(
            data,
            (address, address, uint256, Hop[])
        );
        _routeTo(tokenX, rest, tokenY, amount0 + amount1); // one of them is zero
        _transfer(tokenX, msg.sender, repay);
    }

    function uniswapV3FlashCallback(uint256 fee0, uint256 fee1, bytes calldata data) external {
        _accept(CB_V3_FLASH);
        (address tokenX, uint256 amount, Hop[] memory hops) = abi.decode(
            data,
            (address, uint256, Hop[])
        );
        _routeTo(tokenX, hops, tokenX, amount);
        uint256 fee = IUniswapV3PoolMin(msg.sender).token0() == tokenX ? fee0 : fee1;
        _transfer(tokenX, msg.sender, amount + fee);
    }

    function uniswapV3SwapCallback(int256 amount0, int256 amount1, bytes calldata data) external {
        address tokenIn = _expectedToken;
        uint256 amountIn = _expectedAmount;
        _accept(CB_V3_SWAP);
        // The pool echoes `data`; a pool that rewrites it must not pick the token we pay in.
        if (abi.decode(data, (address)) != tokenIn) revert UnexpectedCallback();
        uint256 owed = uint256(amount0 > 0 ? amount0 : amount1);
        if (owed > amountIn) revert UnexpectedCallback();
        _transfer(tokenIn, msg.sender, owed);
    }

    // -- internals -------------------------------------------------------------------------

    function _flashV2(
        address tokenX,
        Hop[] memory hops,
        uint256 amountBorrow,
        uint256 minProfit
    ) internal returns (uint256 profit) {
        _checkLength(hops.length);
        Hop memory first = hops[0];
        if (first.kind != KIND_V2) revert BadHop();
        Hop[] memory rest = new Hop[](hops.length - 1);
        for (uint256 i = 1; i < hops.length; i++) rest[i - 1] = hops[i];
        uint256 before = IERC20Min(tokenX).balanceOf(address(this));
        (address tokenY, bool yIs0, uint256 repay) = _v2Borrow(first, tokenX, amountBorrow);
        _expect(first.pool, CB_V2_CALL, address(0), 0);
        IUniswapV2PairMin(first.pool).swap(
            yIs0 ? amountBorrow : 0,
            yIs0 ? 0 : amountBorrow,
            address(this),
            abi.encode(tokenX, tokenY, repay, rest)
        );
        _expected = address(0);
        profit = _payOwner(tokenX, before, minProfit);
        emit Arbitrage(tokenX, repay, profit, 1);
    }

    function _flashV3(
        address tokenX,
        address lender,
        uint256 amount,
        Hop[] memory hops,
        uint256 minProfit
    ) internal returns (uint256 profit) {
        _checkLength(hops.length);
        uint256 before = IERC20Min(tokenX).balanceOf(address(this));
        IUniswapV3PoolMin pool = IUniswapV3PoolMin(lender);
        bool xIs0 = pool.token0() == tokenX;
        if (!xIs0 && pool.token1() != tokenX) revert BadToken();
        _expect(lender, CB_V3_FLASH, address(0), 0);
        pool.flash(address(this), xIs0 ? amount : 0, xIs0 ? 0 : amount, abi.encode(tokenX, amount, hops));
        _expected = address(0);
        profit = _payOwner(tokenX, before, minProfit);
        emit Arbitrage(tokenX, amount, profit, 2);
    }

    function _fromWallet(
        address tokenX,
        uint256 amountIn,
        Hop[] memory hops,
        uint256 minProfit
    ) internal returns (uint256 profit) {
        _checkLength(hops.length);
        uint256 before = IERC20Min(tokenX).balanceOf(address(this));
        _transferFrom(tokenX, owner, address(this), amountIn);
        _routeTo(tokenX, hops, tokenX, amountIn);
        // The owner's stake comes back with the profit; only the profit is held to minProfit.
        uint256 held = IERC20Min(tokenX).balanceOf(address(this)) - before;
        if (held < amountIn) revert ProfitTooLow(0, minProfit);
        profit = held - amountIn;
        if (profit < minProfit) revert ProfitTooLow(profit, minProfit);
        _transfer(tokenX, owner, held);
        emit Arbitrage(tokenX, amountIn, profit, 0);
    }

    function _pair(Hop calldata buy, Hop calldata sell) internal pure returns (Hop[] memory hops) {
        hops = new Hop[](2);
        hops[0] = buy;
        hops[1] = sell;
    }

    function _checkLength(uint256 length) internal pure {
        if (length < 2 || length > MAX_HOPS) revert BadHop();
    }

    /// Swap `amountIn` of `tokenIn` through `hops` in order; the route must end in `tokenOut`
    /// (a cycle that does not close on X is refused, not left holding another token).
    function _routeTo(address tokenOut, Hop[] memory hops, address tokenIn, uint256 amountIn) internal {
        address token = tokenIn;
        uint256 amount = amountIn;
        for (uint256 i = 0; i < hops.length; i++) {
            (token, amount) = _swap(hops[i], token, amount);
        }
        if (token != tokenOut) revert BadHop();
    }

    /// Swap exactly `amountIn` of `tokenIn` on `hop`; the output (`tokenOut`, `out`) stays here.
    function _swap(
        Hop memory hop,
        address tokenIn,
        uint256 amountIn
    ) internal returns (address tokenOut, uint256 out) {
        bool inIs0;
        (inIs0, tokenOut) = _sides(hop.pool, tokenIn);
        if (hop.kind == KIND_V2) {
            IUniswapV2PairMin pair = IUniswapV2PairMin(hop.pool);
            (uint112 r0, uint112 r1, ) = pair.getReserves();
            (uint256 rIn, uint256 rOut) = inIs0 ? (uint256(r0), uint256(r1)) : (r1, r0);
            out = v2AmountOut(amountIn, rIn, rOut, hop.feeBps);
            _transfer(tokenIn, hop.pool, amountIn);
            pair.swap(inIs0 ? 0 : out, inIs0 ? out : 0, address(this), "");
        } else if (hop.kind == KIND_V3) {
            IUniswapV3PoolMin pool = IUniswapV3PoolMin(hop.pool);
            _expect(hop.pool, CB_V3_SWAP, tokenIn, amountIn);
            (int256 a0, int256 a1) = pool.swap(
                address(this),
                inIs0,
                int256(amountIn),
                inIs0 ? MIN_SQRT_RATIO_PLUS_ONE : MAX_SQRT_RATIO_MINUS_ONE,
                abi.encode(tokenIn)
            );
            _expected = address(0);
            // A pool that stops at the price limit leaves the rest of the input here, unsold.
            int256 taken = inIs0 ? a0 : a1;
            if (taken != int256(amountIn)) revert PartialFill(uint256(taken), amountIn);
            out = uint256(-(inIs0 ? a1 : a0));
        } else {
            revert BadHop();
        }
        if (out == 0) revert NoOutput();
    }

    /// Whether `token` is the pool's token0, and the pool's other token; reverts for a token
    /// the pool does not hold.
    function _sides(address pool, address token) internal view returns (bool isToken0, address other) {
        address t0 = IUniswapV2PairMin(pool).token0();
        address t1 = IUniswapV2PairMin(pool).token1();
        if (token == t0) return (true, t1);
        if (token == t1) return (false, t0);
        revert BadToken();
    }

    /// Y (the pair's other token), whether Y is token0, and the X the pair wants for `amountY`.
    function _v2Borrow(
        Hop memory hop,
        address tokenX,
        uint256 amountY
    ) internal view returns (address tokenY, bool yIs0, uint256 repay) {
        IUniswapV2PairMin pair = IUniswapV2PairMin(hop.pool);
        {
            address t0 = pair.token0();
            address t1 = pair.token1();
            if (tokenX != t0 && tokenX != t1) revert BadToken();
            yIs0 = tokenX == t1;
            tokenY = yIs0 ? t0 : t1;
        }
        (uint112 r0, uint112 r1, ) = pair.getReserves();
        // Reserves in (X, Y) order: the pair is repaid in X for the Y it lends.
        repay = yIs0
            ? v2AmountIn(amountY, r1, r0, hop.feeBps)
            : v2AmountIn(amountY, r0, r1, hop.feeBps);
    }

    function _expect(address pool, uint8 kind, address token, uint256 amount) internal {
        _expected = pool;
        _expectedKind = kind;
        _expectedToken = token;
        _expectedAmount = amount;
    }

    /// The callback of `kind` from the pool this call expects, once: the slot is cleared here.
    function _accept(uint8 kind) internal {
        if (msg.sender != _expected || _expectedKind != kind) revert UnexpectedCallback();
        _expect(address(0), 0, address(0), 0);
    }

    function _payOwner(address tokenX, uint256 before, uint256 minProfit) internal returns (uint256 profit) {
        profit = IERC20Min(tokenX).balanceOf(address(this)) - before;
        if (profit < minProfit) revert ProfitTooLow(profit, minProfit);
        _transfer(tokenX, owner, profit);
    }

    // UniswapV2Library.getAmountOut / getAmountIn with the fee in basis points: at 30 bps the
    // same quotient as its 997/1000 form (numerator and denominator both scaled by 10). Public so
    // the owner's tools can check a quote against the very code that trades on it.

    /// Output of `amountIn` into a V2 pair with reserves `rIn` / `rOut` at `feeBps`, rounded down.
    function v2AmountOut(
        uint256 amountIn,
        uint256 rIn,
        uint256 rOut,
        uint16 feeBps
    ) public pure returns (uint256) {
        uint256 withFee = amountIn * _feeFactor(feeBps);
        return (withFee * rOut) / (rIn * BPS + withFee);
    }

    /// Input a V2 pair with reserves `rIn` / `rOut` at `feeBps` asks for `amountOut`, rounded up.
    function v2AmountIn(
        uint256 amountOut,
        uint256 rIn,
        uint256 rOut,
        uint16 feeBps
    ) public pure returns (uint256) {
        return (rIn * amountOut * BPS) / ((rOut - amountOut) * _feeFactor(feeBps)) + 1;
    }

    function _feeFactor(uint16 feeBps) internal pure returns (uint256) {
        if (feeBps >= BPS) revert BadFee(feeBps);
        return BPS - feeBps;
    }

    function _transfer(address token, address to, uint256 amount) internal {
        (bool ok, bytes memory ret) = token.call(abi.encodeWithSelector(0xa9059cbb, to, amount));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed();
    }

    function _transferFrom(address token, address from, address to, uint256 amount) internal {
        (bool ok, bytes memory ret) = token.call(
            abi.encodeWithSelector(0x23b872dd, from, to, amount)
        );
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed();
    }
}
