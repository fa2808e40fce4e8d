"""Server-side timing of every dashboard callback, page by page, through the real Flask app.

    python -m bizenv.bench_dashboard --database-url sqlite:////tmp/perf/demo.db --config /tmp/perf/config.yaml

For each page of the registry the page's own `layout()` is built first (timed as the row "layout"), which gives
the default filter values; then every callback the page's components feed (found in `/_dash-dependencies`) is
POSTed to `/_dash-update-component` with those values, `--runs` times, and the wall time around each request is
kept, with the CPU time of the serving thread beside it (steadier than wall time on a shared machine: it leaves
out the time spent waiting for a core). Reported: median and p95 per callback, once with the read cache off
(`BIZENV_CACHE=off`, every request reads the warehouse) and once warm (the first request fills the cache and is
not counted). `bizenv bench` runs the same timing inside its dashboard section.

Deterministic and bounded: pages in registry order, callbacks in registration order, a fixed number of runs (at
most 100), no randomness, garbage collected before each callback's runs (the app's own heap is frozen first, so
those collections are cheap and the timed requests' collections walk only what they allocate). Callbacks fired
only by a click (downloads, the language buttons, the phone menu) and pattern-matching ones are listed as skipped.
Nothing is written to the warehouse. The machine's other load shows in p95: compare runs made back to back.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import plotly.utils

SHELL = "(shell)"
LANG_STORE = "app-lang-store"
CLICK_PROPS = {"n_clicks", "n_clicks_timestamp", "n_submit", "contents"}  # fired by the reader only
TARGET_P95_MS = 100.0


@dataclass
class Timing:
    """One callback's (or layout's) timings in milliseconds on one page and cache state."""

    page: str
    name: str
    cache: str
    samples: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)  # this thread's CPU ms: what the request cost without queueing
    status: int = 200
    note: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def p95(self) -> float:
        """The 95th percentile, interpolated between samples (the only sample when there is one)."""
        if len(self.samples) < 2:
            return self.samples[0] if self.samples else float("nan")
        return statistics.quantiles(self.samples, n=20, method="inclusive")[-1]


@contextmanager
def cache_switch(state: str) -> Iterator[None]:
    """BIZENV_CACHE=off for a cold app, unset for a warm one, restored afterwards (read when the app is built)."""
    before = os.environ.get("BIZENV_CACHE")
    if state == "cold":
        os.environ["BIZENV_CACHE"] = "off"
    else:
        os.environ.pop("BIZENV_CACHE", None)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("BIZENV_CACHE", None)
        else:
            os.environ["BIZENV_CACHE"] = before


def plain(node: Any) -> Any:
    """A component tree as the JSON the browser receives."""
    return json.loads(json.dumps(node, cls=plotly.utils.PlotlyJSONEncoder))


def component_props(tree: Any) -> dict[str, dict[str, Any]]:
    """{id: {"type": …, "props": {…}}} of every component with a string id in a JSON layout."""
    found: dict[str, dict[str, Any]] = {}

    def walk(item: Any) -> None:
        if isinstance(item, dict):
            props = item.get("props")
            if "type" in item and "namespace" in item and isinstance(props, dict):
                if isinstance(props.get("id"), str):
                    found[props["id"]] = {"type": item["type"], "props": props}
            for value in item.values():
                walk(value)
        elif isinstance(item, list):
            for value in item:
                walk(value)

    walk(tree)
    return found


def prop_value(components: dict[str, dict[str, Any]], cid: str, prop: str, *, path: str, lang: str) -> Any:
    """The value the browser would send for a component property on first load."""
    if cid == LANG_STORE and prop == "data":
        return lang
    comp = components.get(cid)
    if comp is None:
        return None
    props = comp["props"]
    if prop in props:
        return props[prop]
    if comp["type"] == "Location":
        return {"pathname": path, "search": "", "hash": "", "href": f"http://localhost{path}"}.get(prop)
    return None


def _ids(items: Sequence[dict[str, Any]]) -> list[str]:
    return [i["id"] for i in items]


def _outputs(output: str) -> list[dict[str, str]]:
    """The outputs of a dependency's `output` string ('..a.children...b.figure..' or 'a.children')."""
    parts = output[2:-2].split("...") if output.startswith("..") else [output]
    out = []
    for part in parts:
        cid, _, prop = part.rpartition(".")
        out.append({"id": cid, "property": prop})
    return out


def callback_name(dep: dict[str, Any]) -> str:
    """A short, stable label: the first output and how many more there are."""
    outs = _outputs(dep["output"])
    first = f"{outs[0]['id']}.{outs[0]['property']}"
    return first + (f" +{len(outs) - 1}" if len(outs) > 1 else "")


def payload(dep: dict[str, Any], components: dict[str, dict[str, Any]], *, path: str, lang: str) -> dict[str, Any]:
    """The POST body of one callback on first load (a prevent_initial_call one as if its first input changed)."""
    outs = _outputs(dep["output"])

    def values(items: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        return [{"id": i["id"], "property": i["property"],
                 "value": prop_value(components, i["id"], i["property"], path=path, lang=lang)} for i in items]

    inputs = values(dep["inputs"])
    changed = [f"{i['id']}.{i['property']}" for i in inputs[:1]] if dep.get("prevent_initial_call") else []
    return {"output": dep["output"], "outputs": outs if dep["output"].startswith("..") else outs[0],
            "inputs": inputs, "state": values(dep.get("state", [])), "changedPropIds": changed}


def skip_reason(dep: dict[str, Any]) -> str | None:
    """Why a callback is not timed, or None."""
    if dep.get("clientside_function"):
        return "clientside"
    if any(not isinstance(i["id"], str) or i["id"].startswith("{") for i in dep["inputs"]):
        return "pattern-matching (download)"
    if dep.get("prevent_initial_call") and all(i["property"] in CLICK_PROPS for i in dep["inputs"]):
        return "fired by a click"
    return None


def build_app(config_path: str | None, database_url: str, cache: str):  # noqa: ANN201 - (Dash, Config)
    from dashboard.app import create_app
    from models.config import load_config
    from models.db import Warehouse

    config = load_config(config_path) if config_path else load_config()
    with cache_switch(cache):
        app = create_app(config, warehouse=Warehouse(database_url), login_required=False)
    return app, config


def _post(client: Any, body: dict[str, Any], timing: Timing, *, runs: int, warm: bool) -> None:
    """POST one callback `runs` times (plus one untimed first request when warm) into `timing`."""
    for i in range(runs + (1 if warm else 0)):
        start, cpu = time.perf_counter(), time.thread_time()
        response = client.post("/_dash-update-component", json=body)
        elapsed, spent = (time.perf_counter() - start) * 1000.0, (time.thread_time() - cpu) * 1000.0
        timing.status = response.status_code
        if timing.status not in (200, 204):
            timing.note = f"HTTP {timing.status}"
            return
        if not (warm and i == 0):
            timing.samples.append(elapsed)
            timing.cpu.append(spent)


def bench_app(app: Any, *, cache: str, runs: int, lang: str, pages: Sequence[str] | None) -> list[Timing]:
    """Time every page's layout and callbacks on one app, with the heap built so far frozen out of the collector."""
    gc.collect()
    gc.freeze()  # the per-callback collect then walks only new objects: ~10 ms instead of ~250 ms each
    try:
        return _bench_app(app, cache=cache, runs=runs, lang=lang, pages=pages)
    finally:
        gc.unfreeze()


def _bench_app(app: Any, *, cache: str, runs: int, lang: str, pages: Sequence[str] | None) -> list[Timing]:
    import dash

    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    with app.server.test_request_context("/"):
        shell = component_props(plain(app.layout))
    shell_ids = set(shell) | {"_pages_location", "_pages_content", "_pages_store", "_pages_dummy"}
    page_deps = {i: dep for i, dep in enumerate(deps)}
    claimed: set[int] = set()
    out: list[Timing] = []
    warm = cache == "warm"
    for page in dash.page_registry.values():
        module = page["module"].rsplit(".", 1)[-1]
        if pages and module not in pages:
            continue
        path = page["path"]
        layout = page["layout"]
        timing = Timing(module, "layout", cache)
        tree = None
        for i in range(runs + (1 if warm else 0)):
            with app.server.test_request_context(path):
                start, cpu = time.perf_counter(), time.thread_time()
                tree = layout(lang=lang) if callable(layout) else layout
                elapsed, spent = (time.perf_counter() - start) * 1000.0, (time.thread_time() - cpu) * 1000.0
            if not (warm and i == 0):
                timing.samples.append(elapsed)
                timing.cpu.append(spent)
        out.append(timing)
        components = {**shell, **component_props(plain(tree))}
        own = set(components) - shell_ids
        for index, dep in page_deps.items():
            ids = _ids(dep["inputs"]) + _ids(dep.get("state", [])) + [o["id"] for o in _outputs(dep["output"])]
            if index in claimed or not any(isinstance(i, str) and i in own for i in ids):
                continue
            claimed.add(index)
            timing = Timing(module, callback_name(dep), cache)
            reason = skip_reason(dep)
            if reason:
                timing.note = reason
                out.append(timing)
                continue
            gc.collect()
            _post(client, payload(dep, components, path=path, lang=lang), timing, runs=runs, warm=warm)
            out.append(timing)
    if not pages or SHELL in pages:
        for index, dep in page_deps.items():
            if index in claimed:
                continue
            timing = Timing(SHELL, callback_name(dep), cache)
            reason = skip_reason(dep) or ("page routing" if "_pages_content" in dep["output"] else None)
            if reason:
                timing.note = reason
            else:
                _post(client, payload(dep, shell, path="/", lang=lang), timing, runs=runs, warm=warm)
            out.append(timing)
    return out


def table(rows: Sequence[Timing], *, markdown: bool = False) -> str:
    """The timings side by side: cold median/p95 and warm median/p95 per page and callback."""
    keyed: dict[tuple[str, str], dict[str, Timing]] = {}
    for row in rows:
        keyed.setdefault((row.page, row.name), {})[row.cache] = row

    def cell(t: Timing | None) -> str:
        if t is None:
            return "—"
        if not t.samples:
            return t.note or "—"
        return f"{t.median:.0f} / {t.p95:.0f}"

    def cpu(t: Timing | None) -> str:
        return f"{statistics.median(t.cpu):.0f}" if t is not None and t.cpu else ""

    head = ["page", "callback", "cold med / p95 ms", "warm med / p95 ms", "cpu cold / warm", ""]
    lines = []
    for (page, name), by_cache in keyed.items():
        cold, warm = by_cache.get("cold"), by_cache.get("warm")
        worst = max((t.p95 for t in (cold, warm) if t is not None and t.samples), default=0.0)
        flag = "over" if worst > TARGET_P95_MS and (cold is not None and cold.samples and name != "layout") else ""
        lines.append([page, name, cell(cold), cell(warm), f"{cpu(cold)} / {cpu(warm)}" if cold or warm else "",
                      flag])
    if markdown:
        out = ["| " + " | ".join(head[:-1]) + " |", "|" + "---|" * (len(head) - 1)]
        out += ["| " + " | ".join(f"`{c}`" if i == 1 else c for i, c in enumerate(line[:-1])) + " |"
                for line in lines]
        return "\n".join(out)
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:<{w}}}" for w in widths)
    return "\n".join([fmt.format(*head), fmt.format(*("-" * w for w in widths)),
                      *(fmt.format(*line) for line in lines)])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench_dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get("BIZENV_DATABASE_URL"),
                        help="the warehouse to read (default: BIZENV_DATABASE_URL, else the config's)")
    parser.add_argument("--config", default=None, help="config.yaml (default: the project's)")
    parser.add_argument("--runs", type=int, default=20,
                        help="timed requests per callback (default 20; at most 100)")
    parser.add_argument("--cache", choices=("cold", "warm", "both"), default="both")
    parser.add_argument("--lang", default="zh", choices=("zh", "en"))
    parser.add_argument("--page", action="append", default=None,
                        help="only this page module (overview, ranking, county, …); repeatable")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--json", dest="json_path", default=None, help="also write the raw samples to this file")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    runs = max(1, min(int(args.runs), 100))
    url = args.database_url
    if not url:
        from models.config import load_config

        url = (load_config(args.config) if args.config else load_config()).database_url()
    states = ("cold", "warm") if args.cache == "both" else (args.cache,)
    rows: list[Timing] = []
    for state in states:
        app, _config = build_app(args.config, url, state)
        rows += bench_app(app, cache=state, runs=runs, lang=args.lang, pages=args.page)
        app.server.config["BIZENV"].warehouse.dispose()
    print(table(rows, markdown=args.markdown))
    timed = [r for r in rows if r.samples and r.name != "layout"]
    over = sorted({(r.page, r.name) for r in timed if r.p95 > TARGET_P95_MS})
    print(f"\n{len(timed)} callback timings, {runs} runs each; p95 over {TARGET_P95_MS:.0f} ms: {len(over)}")
    if args.json_path:
        with open(args.json_path, "w", encoding="utf-8") as fh:
            json.dump([{"page": r.page, "callback": r.name, "cache": r.cache, "ms": r.samples, "cpu_ms": r.cpu,
                        "status": r.status,
                        "note": r.note} for r in rows], fh, ensure_ascii=False, indent=1)
    failed = [r for r in rows if r.note.startswith("HTTP")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
