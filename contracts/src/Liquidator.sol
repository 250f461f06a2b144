// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface ILiqERC20 {
    function balanceOf(address owner) external view returns (uint256);
    function transfer(address to, uint256 amount) external returns (bool);
    function approve(address spender, uint256 amount) external returns (bool);
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
contract Liquidator {
    uint8 public constant ROUTE_V2 = 0;
    uint8 public constant ROUTE_V3 = 1;
    uint160 private constant MIN_SQRT_RATIO = 4295128739;
    uint160 private constant MAX_SQRT_RATIO = 1461446703485210103287273853484520262715;

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
    address private _expectedSwapPool;

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
        if (profit > 0) require(debt.transfer(owner, profit), "profit transfer");
        // Collateral a price-limited V3 swap could not sell stays with the owner, not here.
        uint256 leftover = ILiqERC20(p.collateralAsset).balanceOf(address(this));
        if (leftover > 0) require(ILiqERC20(p.collateralAsset).transfer(owner, leftover), "leftover");
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
        ILiqERC20 debt = ILiqERC20(asset);
        ILiqERC20 collateral = ILiqERC20(p.collateralAsset);
        uint256 debtBefore = debt.balanceOf(address(this)) - amount;
        uint256 collateralBefore = collateral.balanceOf(address(this));

        require(debt.approve(address(pool), amount), "approve");
        pool.liquidationCall(p.collateralAsset, asset, p.user, amount, false);
        uint256 seized = collateral.balanceOf(address(this)) - collateralBefore;
        uint256 debtRepaid = amount + debtBefore - debt.balanceOf(address(this));

        if (p.routeKind == ROUTE_V2) _swapV2(p, seized);
        else _swapV3(p, seized);

        uint256 owed = amount + premium;
        int256 profit = int256(debt.balanceOf(address(this))) - int256(debtBefore) - int256(owed);
        if (profit < int256(p.minProfit)) revert ProfitTooLow(profit, p.minProfit);
        require(debt.approve(address(pool), owed), "approve");
        emit Liquidated(p.user, p.collateralAsset, asset, debtRepaid, seized, uint256(profit));
        return true;
    }

    function _swapV2(Params memory p, uint256 amountIn) private {
        ILiqV2Pair pair = ILiqV2Pair(p.routePool);
        (uint112 r0, uint112 r1, ) = pair.getReserves();
        bool zeroForOne = pair.token0() == p.collateralAsset;
        (uint256 reserveIn, uint256 reserveOut) = zeroForOne ? (uint256(r0), uint256(r1)) : (uint256(r1), uint256(r0));
        // UniswapV2Library.getAmountOut with the pair's fee.
        uint256 inWithFee = amountIn * (10_000 - p.v2FeeBps);
        uint256 out = (inWithFee * reserveOut) / (reserveIn * 10_000 + inWithFee);
        require(ILiqERC20(p.collateralAsset).transfer(address(pair), amountIn), "pay pair");
        (uint256 out0, uint256 out1) = zeroForOne ? (uint256(0), out) : (out, uint256(0));
        pair.swap(out0, out1, address(this), "");
    }

    function _swapV3(Params memory p, uint256 amountIn) private {
        ILiqV3Pool v3 = ILiqV3Pool(p.routePool);
        bool zeroForOne = v3.token0() == p.collateralAsset;
        _expectedSwapPool = address(v3);
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
        address tokenIn = abi.decode(data, (address));
        uint256 owed = uint256(amount0Delta > 0 ? amount0Delta : amount1Delta);
        require(ILiqERC20(tokenIn).transfer(msg.sender, owed), "pay pool");
    }
}
