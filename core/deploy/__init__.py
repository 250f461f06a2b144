"""Deployment: starting anvil (devnet) and deploying the official Uniswap (uniswap) and Aave
(aave) bytecode onto it."""
