"""The contract's deployment parameters (its constructor), with the defaults every
launcher uses."""

from dataclasses import dataclass

from contracts.settlement import SCALE

__all__ = ["ChainParams"]


@dataclass(frozen=True)
class ChainParams:
    min_stake: int = 10**18
    """Wei a node must lock to register (1 ether)."""
    unbonding_delay: int = 7 * 24 * 3600
    """Seconds between asking to unstake and withdrawing (a week), during which the
    stake can still be slashed."""
    initial_reputation: int = SCALE
    """A new member's reputation (1.0 in fixed point)."""
    slash_bps: int = 1000
    """Share of the stake one slash takes, in basis points (10%)."""
