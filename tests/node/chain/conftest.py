"""The scripted swarm fixture, shared with the round tests."""

from tests.node.round.conftest import model, scripted_swarm

__all__ = ["model", "scripted_swarm"]
