"""AI plugin platform (issue 4): contract, discovery, runner. Only torch_backend imports torch.

Start with :mod:`medview.ai.api` (the contract), :mod:`medview.ai.registry` (which plugins
exist and whether they can run) and :mod:`medview.ai.runner` (background jobs). Importing
this package imports no plugin code and neither torch, Qt nor VTK.
"""

from medview.ai.api import (
    API_VERSION,
    ExplainHook,
    Finding,
    Overlay,
    ParamSpec,
    Plugin,
    Provenance,
    Result,
    RunContext,
)

__all__ = [
    "API_VERSION",
    "ExplainHook",
    "Finding",
    "Overlay",
    "ParamSpec",
    "Plugin",
    "Provenance",
    "Result",
    "RunContext",
]
