"""What every command handler shares: reading its argument, and the error a refusal answers with."""

from __future__ import annotations

from typing import Any

from pygls.exceptions import JsonRpcServerError

from sandgate.lsp.ledger import ApprovalRefused

APPROVAL_ERROR_CODE = -32001


def command_args(arguments: Any) -> dict[str, Any]:
    """The first argument of a command, as a dict; `{}` for anything else."""
    if isinstance(arguments, (list, tuple)) and arguments and isinstance(arguments[0], dict):
        return arguments[0]
    if isinstance(arguments, dict):
        return arguments
    return {}


def refusal_error(refused: ApprovalRefused) -> JsonRpcServerError:
    """The JSON-RPC error every approval, discard or acceptance refusal answers with."""
    return JsonRpcServerError(str(refused), APPROVAL_ERROR_CODE, data={"reason": refused.reason})
