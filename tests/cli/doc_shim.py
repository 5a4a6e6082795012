"""`construct` as the examples of docs/cli.md run it: the real CLI, with respx answering
the providers' URLs. Nothing reaches the network: a URL the example does not answer is
refused, as a server that is down would be.

`DOC_REPLIES` (JSON) maps a chat-completions URL to answers by model (`"*"`: any other
model): `{"text": ...}` answers, `{"status": ..., "body": {...}}` fails.

`DOC_ROUTES` (JSON) maps `"METHOD URL"` to the answers `{"status": ..., "body": {...}}`
of its successive requests, the last one repeated: other endpoints a command calls, such
as a sign-in's.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

import httpx
import respx

from construct.cli.main import main


def _answer(model: str, text: str, stream: bool) -> httpx.Response:
    if not stream:
        return httpx.Response(
            200,
            json={
                "id": "doc",
                "object": "chat.completion",
                "created": 1,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
            },
        )
    chunks = [{"role": "assistant", "content": word} for word in text.split(" ")]
    events = []
    for i, delta in enumerate(chunks):
        delta["content"] = delta["content"] + (" " if i < len(chunks) - 1 else "")
        events.append({"index": 0, "delta": delta, "finish_reason": None})
    events.append({"index": 0, "delta": {}, "finish_reason": "stop"})
    body = "".join(
        "data: "
        + json.dumps(
            {"id": "doc", "object": "chat.completion.chunk", "model": model, "choices": [e]}
        )
        + "\n\n"
        for e in events
    )
    return httpx.Response(
        200,
        content=(body + "data: [DONE]\n\n").encode(),
        headers={"content-type": "text/event-stream"},
    )


def _handler(answers: dict[str, Any]):
    def reply(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content or b"{}")
        model = body.get("model", "")
        answer = answers.get(model, answers.get("*"))
        if answer is None:
            return httpx.Response(
                404, json={"error": {"message": f"The model `{model}` does not exist"}}
            )
        if "status" in answer:
            return httpx.Response(answer["status"], json=answer["body"])
        return _answer(model, answer["text"], bool(body.get("stream")))

    return reply


def _in_turn(answers: list[dict[str, Any]]):
    calls = iter(range(len(answers)))

    def reply(request: httpx.Request) -> httpx.Response:
        answer = answers[next(calls, len(answers) - 1)]
        return httpx.Response(answer.get("status", 200), json=answer["body"])

    return reply


def run(argv: list[str]) -> int:
    replies = json.loads(os.environ.get("DOC_REPLIES", "{}"))
    routes = json.loads(os.environ.get("DOC_ROUTES", "{}"))
    with respx.mock(assert_all_called=False) as mock:
        for url, answers in replies.items():
            mock.post(url).mock(side_effect=_handler(answers))
        for route, answers in routes.items():
            method, url = route.split(" ", 1)
            mock.route(method=method, url=url).mock(side_effect=_in_turn(answers))
        mock.route().mock(side_effect=httpx.ConnectError("connection refused"))
        return main(argv)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
