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
    genesis_seats: int = 3
    """How many first registrants are admitted to rounds without attestations: the
    founders, who have nobody to calibrate them (three, the attesters a newcomer
    needs). A local swarm sets it to its size."""
    inactivity_limit: int = 30 * 24 * 3600
    """Seconds a member may go without a settled round before it must be attested
    again (30 days)."""

    def constructor(self) -> list[int]:
        """The contract's constructor arguments, in order."""
        return [
            self.min_stake,
            self.unbonding_delay,
            self.initial_reputation,
            self.slash_bps,
            self.genesis_seats,
            self.inactivity_limit,
        ]
