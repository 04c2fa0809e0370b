"""The studio's web application: the page, its files and the HTTP API it (and any script) calls.

=====================  =============================================================================
``GET /``              the page (it lists the folder, or opens ``?name=MAP``)
``GET /api/maps``      the maps and hypotheses of the folder
``GET /api/map``       ``?name=MAP``: the map as JSON (its revision in the ``ETag`` header)
``POST /api/evaluate`` a map as JSON (``?name=`` names it in messages) -> ``simulate --json`` (exact)
``POST /api/flows``    a map as JSON -> expected traversals of each edge, and the map's warnings
``POST /api/hypothesis`` edits -> the hypothesis that makes them (nothing written)
``POST /api/predict``  a hypothesis (by name, or as JSON with its map) -> ``predict --json``;
                       ``"background": true`` answers 202 with a job polled at ``GET /api/predict/JOB``
``POST /api/design``   a prediction's job (or ``baseline`` and ``lift``) and a traffic -> ``design --json``
``POST /api/save``     writes a map (``map``) or a hypothesis (``hypothesis``); needs the session token
=====================  =============================================================================

Bad input answers 422 with ``{"errors": [...]}``, the messages ``validate`` and
``predict`` print; a body that is not JSON, or lacks a key, 400; a name outside the
folder or a missing token 403; a file changed on disk since it was read 409; a body or
a map too large 413; a prediction while 8 are queued or running 429. Maps are solved in a worker thread: a slow one does not stop the
server answering the page.
"""

from __future__ import annotations

import base64
import hmac
import json
import threading
from collections.abc import Mapping
from importlib import resources
from typing import Any

import numpy as np
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from journeysim.errors import JourneySimError, ScenarioError, UsageError, excerpt
from journeysim.maps.read import read_journey
from journeysim.studio.edits import draft_hypothesis
from journeysim.studio.evaluate import evaluate_map, json_ready, map_flows
from journeysim.studio.guard import WILDCARDS, Guard, allowed_hosts
from journeysim.studio.jobs import KEEP, Busy, Jobs
from journeysim.studio.saving import ChangedOnDisk, baseline_ref, hypothesis_text, save_hypothesis, save_map
from journeysim.studio.workspace import NoSuchFile, OutsideFolder, Workspace, revision
from journeysim.whatif.hypothesis import read_hypothesis

__all__ = ["create_app", "TOKEN_HEADER", "MAX_BODY", "MAX_TOUCHPOINTS"]

TOKEN_HEADER = "x-studio-token"
#: Larger request bodies are refused: a hand-edited map is far smaller.
MAX_BODY = 20_000_000
#: Draws a prediction may ask for (the CLI's default is 2000).
MAX_DRAWS = 100_000
#: The studio recomputes a map on every edit; larger maps take minutes a time (``simulate`` still solves them).
MAX_TOUCHPOINTS = 5000
#: Maps solved at once: each large one holds dense matrices of hundreds of MB, and the page asks for one at a time.
SOLVING_AT_ONCE = 2


class _Refused(Exception):
    def __init__(self, status: int, messages):
        self.status = status
        self.messages = [messages] if isinstance(messages, str) else list(messages)


def _errors(status: int, messages) -> JSONResponse:
    return JSONResponse({"errors": [messages] if isinstance(messages, str) else list(messages)}, status_code=status,
                        headers={"cache-control": "no-store"})


def _ok(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    text = json.dumps(json_ready(body), ensure_ascii=False, allow_nan=False)
    return Response(text, status_code=status, media_type="application/json",
                    headers={"cache-control": "no-store", **(headers or {})})


def _api(handler):
    """Turn the errors of a handler into answers: 422 bad input, 403 refused names, 409 stale files."""
    async def endpoint(request: Request) -> Response:
        try:
            return await handler(request)
        except _Refused as exc:
            return _errors(exc.status, exc.messages)
        except OutsideFolder as exc:
            return _errors(403, exc.messages)
        except NoSuchFile as exc:
            return _errors(404, exc.messages)
        except ChangedOnDisk as exc:
            return _errors(409, exc.messages)
        except Busy as exc:
            return _errors(429, exc.messages)
        except JourneySimError as exc:
            return _errors(422, exc.messages)
    return endpoint


async def _body(request: Request) -> Any:
    too_large = _Refused(413, f"request body larger than {MAX_BODY:_} bytes")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise too_large
    # Read in chunks: a body sent without a length is refused at the limit, not held whole in memory first.
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
    try:
        return json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as exc:
        raise _Refused(400, f"the request body is not JSON ({exc})") from None
    except RecursionError:
        raise _Refused(400, "the request body is JSON nested too deeply to be a map or a hypothesis") from None


def _sized(data: Any, source: str) -> Any:
    """``data``, unless it is a map with more touchpoints than the studio recomputes on every edit."""
    touchpoints = data.get("touchpoints") if isinstance(data, Mapping) else None
    if isinstance(touchpoints, Mapping) and len(touchpoints) > MAX_TOUCHPOINTS:
        raise _Refused(413, f"{source}: {len(touchpoints)} touchpoints: the studio recomputes a map on every edit "
                            f"and takes at most {MAX_TOUCHPOINTS} (journeysim simulate solves larger maps)")
    return data


def _real(body: Mapping, key: str) -> None:
    value = body.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UsageError(f"{key}={excerpt(value)} must be a number")


def _object(body: Any, *keys: str) -> Mapping:
    if not isinstance(body, Mapping):
        raise _Refused(400, "the request body must be a JSON object")
    missing = [k for k in keys if k not in body]
    if missing:
        raise _Refused(400, f"the request body needs {', '.join(repr(k) for k in missing)}")
    return body


def _name(value: Any, default: str = "<map>") -> str:
    return value if isinstance(value, str) and value.strip() else default


def create_app(workspace: Workspace, *, host: str = "127.0.0.1", port: int = 8765, token: str) -> Starlette:
    """The studio's ASGI application for ``workspace``, answering only as ``host:port``.

    ``token`` is the session's secret: the page receives it, and every write must send
    it in the ``X-Studio-Token`` header.

    Examples
    --------
    >>> from starlette.testclient import TestClient
    >>> client = TestClient(create_app(Workspace("scenarios"), token="secret"), base_url="http://127.0.0.1:8765")
    >>> shop = {"entry": {"ad": 1}, "touchpoints": {"ad": {}, "buy": {"goal": True}},
    ...         "transitions": {"ad": {"buy": 0.3}}}
    >>> client.post("/api/evaluate", json=shop).json()["conversion_rate"]
    0.3
    >>> client.get("/api/map", params={"name": "../README.md"}).status_code
    403
    >>> client.get("/api/maps", headers={"origin": "http://elsewhere.example"}).status_code
    403
    """
    jobs = Jobs()
    solving = threading.BoundedSemaphore(SOLVING_AT_ONCE)

    async def solve(work, *args):
        """``work(*args)`` in a worker thread, at most SOLVING_AT_ONCE at a time; the server answers meanwhile."""
        def limited():
            with solving:
                return work(*args)
        return await run_in_threadpool(limited)
    page = resources.files("journeysim.studio").joinpath("static/index.html").read_text(encoding="utf-8")
    page = page.replace("__STUDIO_TOKEN__", token)

    def require_token(request: Request) -> None:
        given = request.headers.get(TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise _Refused(403, "writes need the session's token (the X-Studio-Token header the studio's page sends)")

    async def index(request: Request) -> Response:
        return HTMLResponse(page, headers={"cache-control": "no-store"})

    async def maps(request: Request) -> Response:
        entries = await run_in_threadpool(workspace.entries)     # reads every document: seconds in a large folder
        return _ok({"folder": workspace.root.name, "single": workspace.single,
                    "entries": [e.to_dict() for e in entries]})

    async def get_map(request: Request) -> Response:
        name = request.query_params.get("name") or workspace.single
        if name is None:
            raise _Refused(400, "give the map's name: /api/map?name=FILE")
        text, data, problems = await run_in_threadpool(workspace.read, name)
        if problems:
            raise ScenarioError(problems)
        if not isinstance(data, Mapping) or "touchpoints" not in data:
            kind = "a hypothesis" if isinstance(data, Mapping) and "changes" in data else "not a map"
            raise ScenarioError(f"{name}: {kind}, not a map file (it has no 'touchpoints')")
        return _ok(data, headers={"etag": f'"{revision(text)}"'})

    async def evaluate(request: Request) -> Response:
        name = _name(request.query_params.get("name"))
        return _ok(await solve(evaluate_map, _sized(await _body(request), name), name))

    async def flows(request: Request) -> Response:
        name = _name(request.query_params.get("name"))
        return _ok(await solve(map_flows, _sized(await _body(request), name), name))

    def baseline_of(body: Mapping) -> tuple[str, Any]:
        name = _name(body.get("name"), "")
        text, data, problems = workspace.read(name)
        if problems:
            raise ScenarioError(problems)
        if body.get("revision") is not None and body["revision"] != revision(text):
            raise ChangedOnDisk(f"{name}: changed on disk since the studio read it; reload it to draft a hypothesis")
        return name, data

    async def hypothesis(request: Request) -> Response:
        body = _object(await _body(request), "name", "map")
        name, base = baseline_of(body)
        save_as = _name(body.get("save_as"), "hypothesis.yaml")
        workspace.resolve(save_as, exists=False)
        uncertain = {}
        items = body.get("uncertain") or []
        if not isinstance(items, list):
            raise _Refused(400, "'uncertain' must be a list of {\"path\": [...], \"spec\": range or distribution}")
        for item in items:
            if not isinstance(item, Mapping) or not isinstance(item.get("path"), list) or "spec" not in item \
                    or not all(isinstance(part, str) for part in item["path"]):
                raise _Refused(400, "each of 'uncertain' must be {\"path\": [keys...], \"spec\": range or distribution}")
            uncertain[tuple(item["path"])] = _spec(item["spec"], save_as)
        edited = _sized(body["map"], save_as)

        def draft():
            read_journey(edited, name)          # the edited map's problems are the map's, not the hypothesis's
            made = draft_hypothesis(base, edited, source=save_as, baseline_ref=baseline_ref(workspace, save_as, name),
                                    title=body.get("title") or "Edits made in the studio",
                                    metric=body.get("metric") or "conversion_rate", uncertain=uncertain)
            return {**made.to_dict(), "yaml": hypothesis_text(made.data)}
        return _ok(await solve(draft))

    def prediction_work(body: Mapping):
        draws = body.get("draws", 2000)
        level = body.get("level", 0.9)
        seed = body.get("seed")
        if isinstance(draws, bool) or not isinstance(draws, int) or not 1 <= draws <= MAX_DRAWS:
            raise UsageError(f"draws={excerpt(draws)} must be a whole number from 1 to {MAX_DRAWS}")
        if isinstance(level, bool) or not isinstance(level, (int, float)) or not 0 < level < 1:
            raise UsageError(f"level={excerpt(level)} must be between 0 and 1 (e.g. 0.9)")
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(1)[0])
        elif isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise UsageError(f"seed={excerpt(seed)} must be a whole number >= 0")
        if "map" in body:
            _sized(body["map"], _name(body.get("map_name")))
        hyp = _hypothesis(workspace, body)

        def work(progress):
            from journeysim.whatif.prediction import predict

            prediction = predict(hyp, draws=draws, level=float(level), rng=np.random.default_rng(seed), seed=seed,
                                 progress=progress)
            return prediction.to_dict(), prediction
        return work

    async def predict(request: Request) -> Response:
        body = _object(await _body(request))
        work = prediction_work(body)
        if body.get("background"):
            job = jobs.start(lambda progress: _with_plot(*work(progress)))
            return _ok({"job": job.id, "status": f"/api/predict/{job.id}"}, status=202)
        # Through the queue too: predictions run one at a time, and a script cannot start them without bound.
        job = jobs.start(work)
        done = await run_in_threadpool(jobs.wait, job.id)
        if done.exception is not None:
            raise done.exception
        return _ok(done.result)

    async def job_status(request: Request) -> Response:
        job = jobs.get(request.path_params["job"])
        if job is None:
            raise _Refused(404, f"no prediction {excerpt(request.path_params['job'])} (the studio keeps the last {KEEP})")
        return _ok(job.to_dict())

    async def design(request: Request) -> Response:
        from journeysim.experiments.design import design_experiment, design_from_prediction, parse_traffic

        body = _object(await _body(request))
        traffic = body.get("traffic")
        options = {"traffic_per_day": None if traffic in (None, "") else parse_traffic(str(traffic))}
        for key in ("alpha", "power"):
            if body.get(key) is not None:
                _real(body, key)
                options[key] = body[key]
        if body.get("job") is not None:
            job = jobs.get(str(body["job"]))
            if job is None or job.value is None:
                raise _Refused(404, f"no finished prediction {excerpt(body['job'])}")
            return _ok(design_from_prediction(job.value, **options).to_dict())
        _object(body, "baseline", "lift")
        _real(body, "baseline")
        _real(body, "lift")
        relative = body.get("relative") or False
        if not isinstance(relative, bool):
            raise UsageError(f"relative={excerpt(body['relative'])} must be true or false")
        return _ok(design_experiment(body["baseline"], body["lift"], relative=relative,
                                     **options).to_dict())

    async def save(request: Request) -> Response:
        require_token(request)
        body = _object(await _body(request), "name")
        if "map" in body:
            workspace.resolve(body["name"])
            if not isinstance(body.get("revision"), str):
                # Without it a file changed on disk since it was read would be overwritten unseen.
                raise _Refused(400, f"{excerpt(body['name'])}: give the 'revision' the map was read at (the ETag of "
                                    "GET /api/map): a save never overwrites a file changed on disk since")
            return _ok(save_map(workspace, body["name"], body["map"], body["revision"]))
        if "hypothesis" in body:
            if not isinstance(body.get("overwrite", False), bool):
                raise _Refused(400, f"overwrite={excerpt(body['overwrite'])} must be true or false")
            note = f"Written by journeysim studio from edits to {body['hypothesis'].get('baseline', '?')}" \
                if isinstance(body["hypothesis"], Mapping) else ""
            return _ok(save_hypothesis(workspace, body["name"], body["hypothesis"],
                                       overwrite=bool(body.get("overwrite")), note=note))
        raise _Refused(400, "give 'map' (a map to save) or 'hypothesis' (a hypothesis to write)")

    static = resources.files("journeysim.studio").joinpath("static")
    routes = [
        Route("/", index),
        Route("/api/maps", _api(maps)),
        Route("/api/map", _api(get_map)),
        Route("/api/evaluate", _api(evaluate), methods=["POST"]),
        Route("/api/flows", _api(flows), methods=["POST"]),
        Route("/api/hypothesis", _api(hypothesis), methods=["POST"]),
        Route("/api/predict", _api(predict), methods=["POST"]),
        Route("/api/predict/{job}", _api(job_status)),
        Route("/api/design", _api(design), methods=["POST"]),
        Route("/api/save", _api(save), methods=["POST"]),
        Mount("/static", StaticFiles(directory=str(static)), name="static"),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, hosts=allowed_hosts(host, port),
                                                          any_address_on=port if host in WILDCARDS else None)])
    app.state.jobs = jobs
    return app


def _spec(spec: Any, source: str) -> Any:
    """A range or distribution from the page: JSON already, or YAML text as the user typed it."""
    if isinstance(spec, str):
        from journeysim._files import parse_document

        data, problems = parse_document(spec, source)
        if problems:
            raise ScenarioError(f"{source}: {excerpt(spec)} is not a range [low, high] or a distribution {{dist: ...}}")
        return data
    return spec


def _hypothesis(workspace: Workspace, body: Mapping):
    """A hypothesis from a request: a file of the folder (``name``), or JSON (``hypothesis``) with its ``map``."""
    if "hypothesis" not in body:
        if not isinstance(body.get("name"), str):
            raise _Refused(400, "give 'name' (a hypothesis file of the folder), or 'hypothesis' with its 'map'")
        name = body["name"]
        _, data, problems = workspace.read(name)
        if problems:
            raise ScenarioError(problems)
        source = name
    else:
        data, source = body["hypothesis"], _name(body.get("name"), "<hypothesis>")
    if "map" in body:
        baseline = read_journey(body["map"], _name(body.get("map_name")))
    else:
        base = workspace.baseline_name(source, data.get("baseline") if isinstance(data, Mapping) else None)
        if base is None:
            raise OutsideFolder(f"{source}: its baseline must be a map in the studio's folder (or send it as 'map')")
        _, base_data, problems = workspace.read(base)
        if problems:
            raise ScenarioError(problems)
        baseline = read_journey(base_data, base)
    return read_hypothesis(data, source, baseline=baseline)


def _with_plot(result: dict, prediction) -> tuple[dict, Any]:
    """The prediction's JSON and, for the page, its lift histogram as a PNG data URL."""
    from journeysim.report.plots import plot_lift_distribution

    draws = np.asarray(prediction.samples.get("lift_rel", []), dtype=float)
    draws = draws[np.isfinite(draws)]
    low, high = prediction.lift_rel_interval
    plot = None
    if draws.size and low is not None and high is not None:
        png = plot_lift_distribution(draws, (low, high), metric=prediction.metric, level=prediction.interval_level,
                                     title=f"Predicted lift: {prediction.hypothesis}").png
        plot = "data:image/png;base64," + base64.b64encode(png).decode()
    return {"prediction": result, "plot": plot, "method": prediction.method}, prediction
