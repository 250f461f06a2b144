"""The local EVM devnet: anvil from npm, official Uniswap bytecode, and a deployment manifest."""
