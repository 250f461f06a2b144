// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

interface IMockERC20 {
    function transfer(address to, uint256 amount) external returns (bool);
    function balanceOf(address owner) external view returns (uint256);
}

interface IMockCallee {
    function uniswapV3SwapCallback(int256 amount0, int256 amount1, bytes calldata data) external;
    function uniswapV3FlashCallback(uint256 fee0, uint256 fee1, bytes calldata data) external;
    function uniswapV2Call(address sender, uint256 a0, uint256 a1, bytes calldata data) external;
}

/// @title TestMockV3Pool: a misbehaving Uniswap V3 pool for tests only. Its `swap` pays
/// `payOut` of the output token (from its own balance) and then, by `mode`:
///  0 takes only half the input (a partial fill), 1 asks for one unit more than the input,
///  2 rewrites `data` to ask to be paid in `otherToken`, 3 calls the flash callback instead,
///  4 calls the V2 callback instead; any other mode is an honest exact-input swap.
contract TestMockV3Pool {
    address public immutable token0;
    address public immutable token1;
    uint8 public mode;
    uint256 public payOut;
    address public otherToken;

    constructor(address token0_, address token1_) {
        token0 = token0_;
        token1 = token1_;
    }

    function configure(uint8 mode_, uint256 payOut_, address otherToken_) external {
        mode = mode_;
        payOut = payOut_;
        otherToken = otherToken_;
    }

    function swap(
        address recipient,
        bool zeroForOne,
        int256 amountSpecified,
        uint160,
        bytes calldata data
    ) external returns (int256 amount0, int256 amount1) {
        address tokenOut = zeroForOne ? token1 : token0;
        IMockERC20(tokenOut).transfer(recipient, payOut);
        int256 owed = amountSpecified;
        bytes memory echoed = data;
        if (mode == 0) owed = amountSpecified / 2;
        else if (mode == 1) owed = amountSpecified + 1;
        else if (mode == 2) echoed = abi.encode(otherToken);
        (amount0, amount1) = zeroForOne ? (owed, -int256(payOut)) : (-int256(payOut), owed);
        if (mode == 3) {
            IMockCallee(msg.sender).uniswapV3FlashCallback(0, 0, echoed);
        } else if (mode == 4) {
            IMockCallee(msg.sender).uniswapV2Call(msg.sender, 0, uint256(owed), echoed);
        } else {
            IMockCallee(msg.sender).uniswapV3SwapCallback(amount0, amount1, echoed);
        }
    }
}
