"""Turn an OpenAI chat-completions body into the text the classifier scores.

The model's job *now* is the last user turn, but what makes it hard can sit
elsewhere: a long history, code pasted earlier, tool definitions, JSON mode.
So the view keeps the last user turn as the main text and summarises the
rest as context signals instead of concatenating everything (a long
conversation of small talk is not a hard request).
"""

from __future__ import annotations

from typing import Any, NamedTuple


class RequestView(NamedTuple):
    """What the stages look at (a named tuple: one is built per request, at a third of a dataclass's cost)."""

    text: str
    """The last user turn (or the whole text for a bare string)."""
    system: str = ""
    """All system/developer messages joined."""
    context: str = ""
    """Earlier turns (user and assistant), joined; used for markers only."""
    turns: int = 1
    """Number of user turns in the conversation."""
    tools: int = 0
    """Number of tool/function definitions offered to the model."""
    json_mode: bool = False
    """`response_format` asks for JSON (object or schema)."""
    has_image: bool = False
    """Some message carries an image or audio part."""


def _content_text(content: Any) -> tuple[str, bool]:
    """Text of a message's content (string or list of parts) and whether it has media."""
    if content is None:
        return "", False
    if isinstance(content, str):
        return content, False
    media = False
    parts: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict):
                kind = part.get("type")
                if kind in ("text", "input_text") and isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif kind in ("image_url", "input_image", "input_audio", "file", "image"):
                    media = True
    return "\n".join(parts), media


def view_of_text(text: str) -> RequestView:
    return RequestView(text=text)


def _request_signals(request: dict[str, Any]) -> tuple[int, bool]:
    tools = request.get("tools") or request.get("functions") or []
    fmt = request.get("response_format")
    json_mode = isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")
    return (len(tools) if isinstance(tools, list) else 0), json_mode


def view_of_request(request: dict[str, Any]) -> RequestView:
    """Build the view of a chat-completions request body (tolerant of odd shapes)."""
    messages = request.get("messages")
    if type(messages) is list and len(messages) == 1:
        # The common shape, one user message with string content: the general
        # path below gives the same view, at several times the cost.
        message = messages[0]
        if type(message) is dict and message.get("role") == "user":
            content = message.get("content")
            if isinstance(content, str):
                tools, json_mode = _request_signals(request)
                return RequestView(content, "", "", 1, tools, json_mode, False)
    if not isinstance(messages, list):
        prompt = request.get("prompt") or request.get("input") or ""
        return RequestView(text=prompt if isinstance(prompt, str) else str(prompt))
    system: list[str] = []
    convo: list[tuple[str, str]] = []
    media = False
    for message in messages:
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        text, has_media = _content_text(message.get("content"))
        media = media or has_media
        if role in ("system", "developer"):
            system.append(text)
        elif role in ("user", "assistant", "tool", "function"):
            if role == "assistant" and message.get("tool_calls"):
                text = (text + "\n[tool call]").strip()
            convo.append((role, text))
    last_user = max((i for i, (role, _) in enumerate(convo) if role == "user"), default=-1)
    if last_user >= 0:
        text = convo[last_user][1]
        earlier = [t for _, t in convo[:last_user]] + [t for _, t in convo[last_user + 1 :]]
    else:
        text = convo[-1][1] if convo else ""
        earlier = [t for _, t in convo[:-1]]
    tools, json_mode = _request_signals(request)
    return RequestView(
        text=text,
        system="\n".join(system),
        context="\n".join(earlier),
        turns=max(1, sum(1 for role, _ in convo if role == "user")),
        tools=tools,
        json_mode=json_mode,
        has_image=media,
    )


def view_of_row(row: dict[str, Any]) -> RequestView:
    """A labeled/batch JSONL row: `text`, or `messages` (plus optional request fields)."""
    if isinstance(row.get("messages"), list):
        return view_of_request(row)
    return view_of_text(row["text"])
