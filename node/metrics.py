"""Prometheus metrics, one registry per node identity (a local swarm runs several)."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["NodeMetrics"]

_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 40, 80, 160, 320)


class NodeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.rounds = Counter(
            "swarm_rounds", "Rounds coordinated, by outcome", ["outcome"], registry=r
        )
        self.round_seconds = Histogram(
            "swarm_round_seconds", "Wall time of coordinated rounds", buckets=_BUCKETS, registry=r
        )
        self.phase_seconds = Histogram(
            "swarm_phase_seconds",
            "Wall time of round phases",
            ["phase"],
            buckets=_BUCKETS,
            registry=r,
        )
        self.peer_failures = Counter(
            "swarm_peer_failures", "Peers left out of a round phase", ["phase"], registry=r
        )
        self.served = Counter(
            "swarm_peer_requests_served", "Peer requests served, by kind", ["kind"], registry=r
        )
        self.rejected = Counter(
            "swarm_messages_rejected", "Peer messages refused, by reason", ["code"], registry=r
        )
        self.equivocations = Counter(
            "swarm_equivocations",
            "Pairs of different signed messages of one kind, round and sender, kept as evidence",
            ["type"],
            registry=r,
        )
        self.http = Counter(
            "swarm_http_requests",
            "HTTP requests, by route and status",
            ["route", "status"],
            registry=r,
        )

        self.in_flight = Gauge(
            "swarm_in_flight",
            "Client work in flight: rounds coordinated and plain generations",
            ["kind"],
            registry=r,
        )
        self.in_flight_limit = Gauge(
            "swarm_in_flight_limit",
            "Admission limits: work in flight beyond which a client gets 429",
            ["kind"],
            registry=r,
        )
        self.refused_busy = Counter(
            "swarm_admission_refused",
            "Requests refused with 429 by an admission limit, by route",
            ["route"],
            registry=r,
        )

    def render(self) -> bytes:
        out: bytes = generate_latest(self.registry)
        return out
