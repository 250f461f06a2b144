"""The engine layer: the Engine that wires feeds, detectors, the risk gate and the order path,
and its helpers for the on-chain venues (onchain) and liquidations (lending)."""
