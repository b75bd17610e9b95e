"""HTTP service around the Recommender (FastAPI + uvicorn: `pip install ".[serve]"`; docs/recommend.md).

    python -m recbole_semsr.serve --checkpoint=saved/SemNISER_F-....pth --port=8000

`POST /recommend` `{"items": ["B0009RF9DW", ...], "k": 20, "exclude_session_items": true}` answers one
Recommendation (`items`, `scores`, `titles`, `unknown`, `fallback`); `POST /recommend_batch` `{"sessions": [[...],
...], "k": 20}` answers `{"results": [...]}`; `GET /health` names the model, the dataset and the catalogue size.
A malformed request (bad JSON, ids that are not strings, k outside 1..n_items, a session longer than
`recommend_max_session_ids`, a batch larger than `recommend_max_batch_sessions`) gets 422 with a message; the
service goes on serving. Requests are scored one at a time (torch uses its own threads inside each).
No `from __future__ import annotations` here: FastAPI reads the request models from the handlers' annotations,
which must be the classes themselves.
"""
import argparse
import sys
import threading
from typing import Any

from recbole_semsr import defaults
from recbole_semsr.recommend import INPUT_ERRORS
from recbole_semsr.recommender import RecommendError, Recommender

SERVE_EXTRA_HINT = "the HTTP service needs FastAPI and uvicorn: pip install \"recbole-semsr[serve]\" (or \".[serve]\")"


def create_app(recommender: Recommender, max_session_ids: int | None = None,
               max_batch_sessions: int | None = None) -> Any:
    """The FastAPI application serving `recommender` (limits default to `properties/overall.yaml`)."""
    try:
        from fastapi import FastAPI, Request
        from fastapi.responses import JSONResponse
        from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
    except ImportError as error:
        raise SystemExit(f"error: {SERVE_EXTRA_HINT}") from error
    settings = defaults.overall_defaults()
    max_ids = int(max_session_ids or settings["recommend_max_session_ids"])
    max_sessions = int(max_batch_sessions or settings["recommend_max_batch_sessions"])
    session_ids = list[StrictStr]

    class Options(BaseModel):
        model_config = ConfigDict(extra="forbid")
        k: StrictInt = 20
        exclude_session_items: StrictBool = True

    class SessionRequest(Options):
        items: session_ids = Field(max_length=max_ids)

    class BatchRequest(Options):
        sessions: list[session_ids] = Field(max_length=max_sessions)

    app = FastAPI(title="recbole-semsr", summary=f"top-k recommendations of {recommender.model_name}")
    lock = threading.Lock()

    @app.exception_handler(RecommendError)
    def refused(request: Request, error: RecommendError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(error)})

    @app.get("/health")
    def health() -> dict[str, Any]:
        return recommender.describe()

    @app.post("/recommend")
    def recommend(request: SessionRequest) -> dict[str, Any]:
        with lock:
            return recommender.recommend(request.items, request.k, request.exclude_session_items).to_dict()

    @app.post("/recommend_batch")
    def recommend_batch(request: BatchRequest) -> dict[str, Any]:
        too_long = [row for row, items in enumerate(request.sessions) if len(items) > max_ids]
        if too_long:
            raise RecommendError(f"session {too_long[0]} has {len(request.sessions[too_long[0]])} ids, at most "
                                 f"{max_ids} are served (recommend_max_session_ids)")
        with lock:
            found = recommender.recommend_batch(request.sessions, request.k, request.exclude_session_items)
        return {"results": [result.to_dict() for result in found]}

    return app


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Serve a trained checkpoint's recommendations over HTTP.")
    parser.add_argument("--checkpoint", required=True, help="a .pth file written by the runner")
    parser.add_argument("--rerank_with", default=None, help="a second checkpoint that reorders each list ('+')")
    parser.add_argument("--new_items", default=None, help="item table of items added after training (SemSR-F)")
    parser.add_argument("--data_path", default=None, help="folder holding <dataset>/ when the data moved")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: as the checkpoint was trained)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        import uvicorn
    except ImportError as error:
        raise SystemExit(f"error: {SERVE_EXTRA_HINT}") from error
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    try:
        recommender = Recommender.load(args.checkpoint, args.rerank_with, args.data_path, args.device)
        if args.new_items:
            print(f"new items from {args.new_items}: {recommender.add_items(args.new_items)}", flush=True)
    except INPUT_ERRORS as error:
        raise SystemExit(f"error: {error}") from error
    print(f"serving {recommender.describe()} on http://{args.host}:{args.port}", flush=True)
    uvicorn.run(create_app(recommender), host=args.host, port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
