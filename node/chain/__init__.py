"""The node on chain: the outbox of chain writes (`outbox`), registration and peer
discovery from the registry (`membership`), batched Merkle commitments and
quorum-signed settlements (`batches`), and how it all starts (`link`)."""
