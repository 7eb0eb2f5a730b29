"""How long a round waits for a peer, scaled from this node's measured speed.

A configured timeout (> 0) is used as it is. Left at 0 (the default), each
timeout is `floor + margin × expected work`, where the expected work is priced
with the engine's speed measured at start (`node.inference.speed`):

- answering: the prompt's prefill plus `max_tokens` tokens of generation, for
  each participant at once (in a local swarm they share one engine);
- judging: the prefill of every verdict prompt of the round (all judges' tasks
  may share one engine);
- verifying: the prefill of the prompt and the claimed tokens, plus one
  generation when the answer is re-executed, for each verifier at once.

The margin (8×) and the floor (30 s) absorb a busy machine and a slower peer:
timeouts exist to leave out a node that is down or stuck, never one that is
working normally.
"""

from node.config import NodeConfig
from node.inference.speed import Speed

__all__ = ["answer_timeout", "judge_timeout", "verify_timeout"]

CHARS_PER_TOKEN = 4.0
"""A claimed token's share of a prefill, in prompt characters (English text)."""


def _scaled(config: NodeConfig, seconds: float) -> float:
    return config.round.timeout_floor + config.round.timeout_margin * seconds


def answer_timeout(
    config: NodeConfig, speed: Speed, prompt_chars: int, max_tokens: int, participants: int
) -> float:
    if config.round.answer_timeout > 0:
        return config.round.answer_timeout
    one = prompt_chars * speed.seconds_per_char + max_tokens * speed.seconds_per_token
    return _scaled(config, one * max(1, participants))


def judge_timeout(config: NodeConfig, speed: Speed, round_prompt_chars: int) -> float:
    if config.round.judge_timeout > 0:
        return config.round.judge_timeout
    return _scaled(config, round_prompt_chars * speed.seconds_per_char)


def verify_timeout(
    config: NodeConfig,
    speed: Speed,
    prompt_chars: int,
    tokens: int,
    reexecute: bool,
    verifiers: int,
) -> float:
    if config.verification.timeout > 0:
        return config.verification.timeout
    prefill = (prompt_chars + CHARS_PER_TOKEN * tokens) * speed.seconds_per_char
    generation = tokens * speed.seconds_per_token if reexecute else 0.0
    return _scaled(config, (prefill + generation) * max(1, verifiers))
