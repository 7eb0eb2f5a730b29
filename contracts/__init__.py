"""EVM contracts and the chain client.

Empty for now: peers are static in this version of the node. The registry,
stakes and commitments arrive with the chain work (DESIGN.md, "Chain").
"""
