"""Inference backends: `vllm` (in process) and `openai` (over HTTP), one interface;
the model store, the device-specific choices, and the engine's measured speed."""

import os
from typing import TYPE_CHECKING

from node.inference.base import Backend, Generation, SamplingSpec

if TYPE_CHECKING:  # node.config imports node.inference.device
    from node.config import InferenceConfig

__all__ = ["Backend", "Generation", "SamplingSpec", "create_backend"]


async def create_backend(config: "InferenceConfig") -> Backend:
    """The backend a node's config asks for (for `vllm`, the model must be pulled)."""
    if config.backend == "openai":
        from node.inference.openai_backend import OpenAIBackend

        return await OpenAIBackend.create(
            config.base_url,
            config.served_name,
            os.environ.get(config.api_key_env, ""),
            config.request_timeout,
        )
    from node.inference.store import model_id_for, resolve_model
    from node.inference.vllm_backend import VLLMBackend

    model_dir = resolve_model(config.model)
    return await VLLMBackend.create(
        model_dir,
        config.served_name or model_id_for(config.model),
        config.max_model_len,
        dtype=config.dtype,
    )
