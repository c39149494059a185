"""Every package's public surface: exported once, and every exported class and function
documented (STYLE.md: a curated, tested front)."""

from __future__ import annotations

import importlib
import inspect

import pytest

PACKAGES = ["proto", "server", "workers", "workers.runtime", "supervisor"]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_names_exist_once_and_are_documented(package: str) -> None:
    module = importlib.import_module(package)
    names = module.__all__
    assert len(names) == len(set(names))
    undocumented = []
    for name in names:
        obj = getattr(module, name)
        if (inspect.isclass(obj) or inspect.isfunction(obj)) and not (obj.__doc__ or "").strip():
            undocumented.append(name)
    assert undocumented == []


def test_the_tool_author_api_is_exactly_this() -> None:
    import workers

    assert sorted(workers.__all__) == [
        "Annotations",
        "AssistantMessage",
        "Audio",
        "AudioContent",
        "BlobResource",
        "CancelledByClientError",
        "ClientRequest",
        "ClientRequestError",
        "ClientRoot",
        "Completion",
        "Elicitation",
        "Header",
        "Icon",
        "Image",
        "ImageContent",
        "MissingClientCapabilityError",
        "Principal",
        "ResourceLink",
        "SamplingResult",
        "Text",
        "TextContent",
        "TextResource",
        "ToolContext",
        "ToolDefinitionError",
        "ToolError",
        "Toolset",
        "UserMessage",
        "elicitation_request",
        "roots_request",
        "sampling_request",
        "url_elicitation_request",
    ]
