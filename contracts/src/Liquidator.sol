// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface ILiqERC20 {
    function balanceOf(address owner) external view returns (uint256);
}

interface ILiqAavePool {
    function flashLoanSimple(
        address receiverAddress,
        address asset,
        uint256 amount,
        bytes calldata params,
        uint16 referralCode
    ) external;

    function liquidationCall(
        address collateralAsset,
        address debtAsset,
        address user,
        uint256 debtToCover,
        bool receiveAToken
    ) external;
}

interface ILiqV2Pair {
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 ts);
    function token0() external view returns (address);
    function swap(uint256 amount0Out, uint256 amount1Out, address to, bytes calldata data) external;
}

interface ILiqV3Pool {
    function token0() external view returns (address);
    function swap(
        address recipient,
        bool zeroForOne,
        int256 amountSpecified,
        uint160 sqrtPriceLimitX96,
        bytes calldata data
    ) external returns (int256 amount0, int256 amount1);
}

/// @title Liquidator: liquidates an Aave v3 borrower with a flash loan of the debt asset.
/// flashLoanSimple(debt) -> liquidationCall -> swap the seized collateral back to the debt asset
/// through one Uniswap V2 pair or V3 pool -> the Pool pulls loan + premium -> profit to the owner.
/// Reverts unless the profit, in debt-asset units, is at least `minProfit`.
/// Tokens are moved with low-level calls that accept no return value (USDT-like tokens) and
/// approvals go through zero first (USDT refuses non-zero to non-zero).
contract Liquidator {
    uint8 public constant ROUTE_V2 = 0;
    uint8 public constant ROUTE_V3 = 1;
    // TickMath.MIN_SQRT_RATIO / MAX_SQRT_RATIO (public so a test can hold them to TickMath's).
    uint160 public constant MIN_SQRT_RATIO = 4295128739;
    uint160 public constant MAX_SQRT_RATIO = 1461446703485210103287273052203988822378723970342;

    struct Params {
        address collateralAsset;
        address debtAsset;
        address user;
        uint256 debtToCover;
        uint8 routeKind;
        address routePool;
        uint256 v2FeeBps;
        uint256 minProfit;
    }

    address public immutable owner;
    ILiqAavePool public immutable pool;

    // 1 = idle, 2 = inside liquidate(): the flash-loan and swap callbacks are accepted only then.
    uint256 private _state = 1;
    // The V3 swap callback this call expects: pool, input token, input amount (cleared by it).
    address private transient _expectedSwapPool;
    address private transient _expectedToken;
    uint256 private transient _expectedAmount;

    event Liquidated(
        address indexed user,
        address indexed collateralAsset,
        address indexed debtAsset,
        uint256 debtRepaid,
        uint256 collateralSeized,
        uint256 profit
    );

    error NotOwner();
    error Reentrancy();
    error BadCallback();
    error BadRoute();
    error ProfitTooLow(int256 profit, uint256 minProfit);
    error TransferFailed();
    error ApproveFailed();

    constructor(address pool_) {
        owner = msg.sender;
        pool = ILiqAavePool(pool_);
    }

    /// @notice Liquidate `p.user`; the profit goes to the owner. Returns the profit.
    function liquidate(Params calldata p) external returns (uint256 profit) {
        if (msg.sender != owner) revert NotOwner();
        if (_state != 1) revert Reentrancy();
        if (p.routeKind > ROUTE_V3 || p.routePool == address(0)) revert BadRoute();
        _state = 2;
        ILiqERC20 debt = ILiqERC20(p.debtAsset);
        uint256 before = debt.balanceOf(address(this));
        pool.flashLoanSimple(address(this), p.debtAsset, p.debtToCover, abi.encode(p), 0);
        profit = debt.balanceOf(address(this)) - before;
        _state = 1;
        if (profit > 0) _transfer(p.debtAsset, owner, profit);
        // Collateral a price-limited V3 swap could not sell stays with the owner, not here.
        uint256 leftover = ILiqERC20(p.collateralAsset).balanceOf(address(this));
        if (leftover > 0) _transfer(p.collateralAsset, owner, leftover);
    }

    /// @notice Aave flash-loan callback.
    function executeOperation(
        address asset,
        uint256 amount,
        uint256 premium,
        address initiator,
        bytes calldata params
    ) external returns (bool) {
        if (msg.sender != address(pool) || initiator != address(this) || _state != 2) {
            revert BadCallback();
        }
        Params memory p = abi.decode(params, (Params));
        (uint256 debtBefore, uint256 debtRepaid, uint256 seized) = _liquidateAndSell(p, asset, amount);
        int256 profit = int256(ILiqERC20(asset).balanceOf(address(this))) - int256(debtBefore) -
            int256(amount + premium);
        if (profit < int256(p.minProfit)) revert ProfitTooLow(profit, p.minProfit);
        _approve(asset, address(pool), amount + premium);
        emit Liquidated(p.user, p.collateralAsset, asset, debtRepaid, seized, uint256(profit));
        return true;
    }

    /// liquidationCall with the loaned `amount`, then the seized collateral sold for `asset`.
    function _liquidateAndSell(
        Params memory p,
        address asset,
        uint256 amount
    ) private returns (uint256 debtBefore, uint256 debtRepaid, uint256 seized) {
        ILiqERC20 debt = ILiqERC20(asset);
        ILiqERC20 collateral = ILiqERC20(p.collateralAsset);
        debtBefore = debt.balanceOf(address(this)) - amount;
        uint256 collateralBefore = collateral.balanceOf(address(this));
        _approve(asset, address(pool), amount);
        pool.liquidationCall(p.collateralAsset, asset, p.user, amount, false);
        seized = collateral.balanceOf(address(this)) - collateralBefore;
        debtRepaid = amount + debtBefore - debt.balanceOf(address(this));
        if (p.routeKind == ROUTE_V2) _swapV2(p, seized);
        else _swapV3(p, seized);
    }

    function _swapV2(Params memory p, uint256 amountIn) private {
        ILiqV2Pair pair = ILiqV2Pair(p.routePool);
        (uint112 r0, uint112 r1, ) = pair.getReserves();
        bool zeroForOne = pair.token0() == p.collateralAsset;
        (uint256 reserveIn, uint256 reserveOut) = zeroForOne ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        // UniswapV2Library.getAmountOut with the pair's fee.
        uint256 inWithFee = amountIn * (10_000 - p.v2FeeBps);
        uint256 out = (inWithFee * reserveOut) / (reserveIn * 10_000 + inWithFee);
        _transfer(p.collateralAsset, address(pair), amountIn);
        (uint256 out0, uint256 out1) = zeroForOne ? (uint256(0), out) : (out, uint256(0));
        pair.swap(out0, out1, address(this), "");
    }

    function _swapV3(Params memory p, uint256 amountIn) private {
        ILiqV3Pool v3 = ILiqV3Pool(p.routePool);
        bool zeroForOne = v3.token0() == p.collateralAsset;
        _expectedSwapPool = address(v3);
        _expectedToken = p.collateralAsset;
        _expectedAmount = amountIn;
        v3.swap(
            address(this),
            zeroForOne,
            int256(amountIn),
            zeroForOne ? MIN_SQRT_RATIO + 1 : MAX_SQRT_RATIO - 1,
            abi.encode(p.collateralAsset)
        );
        _expectedSwapPool = address(0);
    }

    /// @notice Uniswap V3 swap callback: pay the pool what it is owed in the collateral asset.
    function uniswapV3SwapCallback(int256 amount0Delta, int256 amount1Delta, bytes calldata data) external {
        if (msg.sender != _expectedSwapPool || _state != 2) revert BadCallback();
        address tokenIn = _expectedToken;
        uint256 amountIn = _expectedAmount;
        _expectedSwapPool = address(0);
        _expectedToken = address(0);
        _expectedAmount = 0;
        // The pool echoes `data`; a pool that rewrites it must not pick the token we pay in.
        if (abi.decode(data, (address)) != tokenIn) revert BadCallback();
        uint256 owed = uint256(amount0Delta > 0 ? amount0Delta : amount1Delta);
        if (owed > amountIn) revert BadCallback();
        _transfer(tokenIn, msg.sender, owed);
    }

    function _transfer(address token, address to, uint256 amount) private {
        (bool ok, bytes memory ret) = token.call(abi.encodeWithSelector(0xa9059cbb, to, amount));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert TransferFailed();
    }

    /// approve(0) then approve(amount): USDT refuses to change a non-zero allowance.
    function _approve(address token, address spender, uint256 amount) private {
        _approveRaw(token, spender, 0);
        _approveRaw(token, spender, amount);
    }

    function _approveRaw(address token, address spender, uint256 amount) private {
        (bool ok, bytes memory ret) = token.call(abi.encodeWithSelector(0x095ea7b3, spender, amount));
        if (!ok || (ret.length != 0 && !abi.decode(ret, (bool)))) revert ApproveFailed();
    }
}
