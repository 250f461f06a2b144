// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

/// @title PriceFeed: a Chainlink-style aggregator whose answer its owner sets.
/// AaveOracle reads `latestAnswer()`; the simulator moves it with the CEX fair price.
/// `latestRoundData()` carries `updatedAt`, so a reader can tell a feed that stopped updating.
contract PriceFeed {
    address public immutable owner;
    uint8 public immutable decimals;
    string public description;

    int256 public latestAnswer;
    uint256 public latestTimestamp;
    uint256 public latestRound;

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    error NotOwner();
    error BadPrice(int256 price);

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        owner = msg.sender;
        decimals = decimals_;
        description = description_;
        _set(initialAnswer);
    }

    function setPrice(int256 answer) external {
        if (msg.sender != owner) revert NotOwner();
        _set(answer);
    }

    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        uint80 round = uint80(latestRound);
        return (round, latestAnswer, latestTimestamp, latestTimestamp, round);
    }

    function _set(int256 answer) private {
        if (answer <= 0) revert BadPrice(answer);
        latestAnswer = answer;
        latestTimestamp = block.timestamp;
        latestRound += 1;
        emit AnswerUpdated(answer, latestRound, block.timestamp);
    }
}
