"""The model provider: a client for chat and fill-in-the-middle endpoints, its configuration and prompts."""

from sandgate.provider.client import ChatClient
from sandgate.provider.config import HOW_TO_CONFIGURE, ProviderConfig, provider_config
from sandgate.provider.errors import ErrorKind, ProviderError
from sandgate.provider.guard import (
    GuardedContext,
    GuardedText,
    endpoint_allowed,
    guard_completion,
    guard_document,
    guard_messages,
    is_excluded,
)
from sandgate.provider.prompt import CompletionContext, clean_candidate, completion_messages, fix_messages, strip_fences
from sandgate.provider.wire import ChatResponse, ModelRequest

__all__ = [
    "ChatClient",
    "ChatResponse",
    "GuardedContext",
    "GuardedText",
    "CompletionContext",
    "ErrorKind",
    "HOW_TO_CONFIGURE",
    "ModelRequest",
    "ProviderConfig",
    "ProviderError",
    "clean_candidate",
    "endpoint_allowed",
    "completion_messages",
    "fix_messages",
    "guard_completion",
    "guard_document",
    "guard_messages",
    "is_excluded",
    "provider_config",
    "strip_fences",
]
