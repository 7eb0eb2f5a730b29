"""EVM contracts and the chain client (DESIGN.md, "Chain").

- `Swarm.vy` with its modules `registry.vy` and `commitments.vy`: the Vyper sources;
  `Swarm.json` the committed artifact (`artifacts`, with its drift check);
- `merkle` and `settlement`: the pure encodings the contract checks (Merkle
  proofs of round results; EIP-712 settlements signed by a quorum);
- `client`: the async web3 layer; `params`: deployment parameters;
- `embedded` (web3's in-process py-evm chain) and `anvil` (the npm package, for
  swarms of separate processes): the local chains.

Imports nothing from the rest of the project but `swarm_errors`.
"""
