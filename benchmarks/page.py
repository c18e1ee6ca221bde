"""The web page's cost: a query asked through the page against the same query sent to /v1/query directly.

    python benchmarks/page.py                         # writes benchmarks/results/page.json
    python benchmarks/page.py --screenshots docs/images   # the docs' screenshots of the page

A store of 10,000 pairs (``make_pairs``) behind ``fuzzykv serve`` (one worker), and headless Chromium
(Debian's chromium, through Selenium) with the page open. Each query is a distinct vocabulary word
(frequency rank 1,000 to 50,000, fixed seed), never repeated. Interleaved, in the same browser tab:

- page: type the word, let the browser draw it, then time from submitting the form until the page has
  drawn the answer (its request: ``/v1/query``), and until it has placed the query on the map;
- direct: ``fetch('/v1/query')`` with the same body from the same tab, until its JSON is parsed.

Goal: the page's answer at most 1.2 x direct (medians). The map's mark follows the answer (it waits
for the answer's frame, then asks ``/v1/map:place``), so it is reported, not held to the goal. Also:
what a second visit to the page sends over the network (the HTML, revalidated; its assets come from
the browser's cache) and whether its data requests leave in one round.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from common import make_pairs, summary, write

from fuzzykv import Database, load_embeddings

PAIRS = 10_000
QUERIES = 200
WARMUP = 5

# one query through the page: submit, then wait for the map to show this query (drawn after the answer)
PAGE_QUERY = """
const [text, done] = [arguments[0], arguments[arguments.length - 1]];
const words = document.getElementById("words");
const marks = document.getElementById("map-marks");
let answered = null, start = null;
const placed = () => {
  const mark = document.querySelector("#map-query title");
  return answered !== null && mark && mark.textContent === "query: " + text;
};
// the answer is drawn when the word list is replaced; the query is placed when the map's mark names it
const onWords = new MutationObserver(() => { if (answered === null) answered = performance.now() - start; });
const onMap = new MutationObserver(() => {
  if (placed()) { onWords.disconnect(); onMap.disconnect(); done([answered, performance.now() - start]); }
});
// type the text, let the browser draw it (as a user's typing would be), then time from the Enter key
document.getElementById("q").value = text;
requestAnimationFrame(() => requestAnimationFrame(() => setTimeout(() => {
  onWords.observe(words, {childList: true});
  onMap.observe(marks, {subtree: true, childList: true});
  start = performance.now();
  document.getElementById("query-form").requestSubmit();
}, 0)));
"""
DIRECT_QUERY = """
const [text, done] = [arguments[0], arguments[arguments.length - 1]];
const start = performance.now();
fetch("/v1/query", {method: "POST", headers: {"Content-Type": "application/json", Accept: "application/json"},
                    body: JSON.stringify({text, k: 5, exact: false, attention_k: 10}), cache: "no-store"})
  .then((r) => r.json()).then((answer) => done([answer.words.length, performance.now() - start]));
"""
# what a visit sent: the document and each resource, with the bytes that crossed the network
VISIT = """
const nav = performance.getEntriesByType("navigation")[0];
return {document: {status: nav.responseStatus, transferred: nav.transferSize},
        resources: performance.getEntriesByType("resource").map((e) => ({
          name: new URL(e.name).pathname, transferred: e.transferSize, start: e.startTime, end: e.responseEnd}))};
"""


def distinct_queries(n: int, seed: int = 11) -> list[str]:
    words = [w for w in load_embeddings().words[1_000:50_000] if w.isalpha()]
    return random.Random(seed).sample(words, n)


@contextmanager
def served(store: Path, *args: str) -> Iterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "fuzzykv.serve", str(store), "--port", str(port), "--no-access-log",
               "--log-level", "warning", *args]
    process = subprocess.Popen(command, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the service did not start in 120 s") from None
                time.sleep(0.2)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


@contextmanager
def chromium(width: int = 1280, height: int = 1000) -> Iterator[Any]:
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--window-size={width},{height}", "--hide-scrollbars"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="fuzzykv-bench-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(options=options,
                              service=webdriver.ChromeService(shutil.which("chromedriver") or "/usr/bin/chromedriver"))
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, script: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not driver.execute_script(script):
        if time.monotonic() > deadline:
            raise RuntimeError(f"the page did not get to: {script}")
        time.sleep(0.05)


MAP_DRAWN = "return document.querySelectorAll('#map circle.point').length > 0"


def measure(count: int = QUERIES) -> None:
    queries = distinct_queries(2 * (count + WARMUP) + 1)
    with tempfile.TemporaryDirectory() as folder:
        store = Path(folder) / "bench.fkv"
        with Database.open(store) as db:
            db.update(make_pairs(PAIRS))
        with served(store) as url, chromium() as driver:
            httpx.post(f"{url}/v1/query", json={"text": queries.pop()}, timeout=300).raise_for_status()  # warm the index
            driver.get(url + "/")
            wait_for(driver, MAP_DRAWN)
            first = driver.execute_script(VISIT)
            driver.get(url + "/")  # a second visit: what crosses the network now
            wait_for(driver, MAP_DRAWN)
            second = driver.execute_script(VISIT)
            page_ms, answer_ms, direct_ms = [], [], []
            for i in range(count + WARMUP):
                page_text, direct_text = queries[2 * i], queries[2 * i + 1]
                order = [("page", page_text), ("direct", direct_text)]
                if i % 2:
                    order.reverse()  # interleaved, each first half the time
                for kind, text in order:
                    if kind == "page":
                        answered, placed = driver.execute_async_script(PAGE_QUERY, text)
                        if i >= WARMUP:
                            answer_ms.append(answered)
                            page_ms.append(placed)
                    else:
                        words, took = driver.execute_async_script(DIRECT_QUERY, text)
                        assert words == 5
                        if i >= WARMUP:
                            direct_ms.append(took)
    data = [r for r in second["resources"] if r["name"].startswith("/v1/")]
    report = {
        "pairs": PAIRS, "queries_each": count, "map_keys": 5_000,
        "page_query_until_answer_drawn": summary(answer_ms),
        "page_query_until_query_placed_on_map": summary(page_ms),
        "direct_v1_query_from_the_same_tab": summary(direct_ms),
        "ratio_answer_drawn_to_direct": statistics.median(answer_ms) / statistics.median(direct_ms),
        "ratio_placed_on_map_to_direct": statistics.median(page_ms) / statistics.median(direct_ms),
        "first_visit": {"document_bytes": first["document"]["transferred"],
                        "asset_bytes": sum(r["transferred"] for r in first["resources"] if r["name"].startswith("/assets/"))},
        "second_visit": {
            # a few hundred bytes: headers only, the HTML revalidated by its ETag (304)
            "document_bytes": second["document"]["transferred"],
            "assets_over_the_network": sum(1 for r in second["resources"]
                                           if r["name"].startswith("/assets/") and r["transferred"] > 0),
            "data_requests": sorted(r["name"] for r in data),
            "data_requests_in_one_round": bool(data) and max(r["start"] for r in data) < min(r["end"] for r in data),
        },
    }
    # the goal is on the answer: the map's mark follows it (after the answer's frame, one small request)
    report["targets"] = {"answer_at_most_1_2x_direct": report["ratio_answer_drawn_to_direct"] <= 1.2}
    path = write("page", report)
    print(path.read_text())


# -- screenshots for the docs -------------------------------------------------------------------------------

SHOWCASE = {
    "animal": "cat dog horse cow sheep goat lion tiger wolf fox bear rabbit mouse eagle owl duck".split(),
    "shape": "sphere cube circle square triangle cone cylinder pyramid oval rectangle".split(),
    "number": "one two three four five six seven eight nine ten hundred thousand".split(),
    "colour": "red green blue yellow purple orange pink brown black white grey".split(),
    "instrument": "guitar piano violin drum flute trumpet cello harp saxophone".split(),
    "fruit": "apple banana cherry grape lemon mango peach pear plum melon".split(),
}


def screenshots(folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        store = Path(scratch) / "showcase.fkv"
        with Database.open(store) as db:
            db.update({key: value for value, keys in SHOWCASE.items() for key in keys})
        with served(store) as url:
            httpx.post(f"{url}/v1/query", json={"text": "warm", "exact": True}, timeout=300).raise_for_status()
            with chromium(1280, 900) as driver:
                driver.get(url + "/?q=rhombsu&k=5&exact=1")
                wait_for(driver, "return !!document.getElementById('map-query')")
                time.sleep(0.3)
                driver.save_screenshot(str(folder / "page-query.png"))
                pairs = driver.find_element("id", "pairs-section")
                driver.find_element("id", "filter").send_keys("kitten")
                wait_for(driver, "return document.getElementById('pairs-status').textContent.includes('kitten')")
                driver.execute_script("arguments[0].scrollIntoView()", pairs)
                pairs.screenshot(str(folder / "page-pairs.png"))
                driver.find_element("id", "info-section").screenshot(str(folder / "page-info.png"))
        token = Path(scratch) / "token"
        token.write_text("a-long-random-token\n")
        with served(store, "--read-only", "--token-file", str(token)) as url, chromium(1280, 600) as driver:
            driver.get(url + "/")
            wait_for(driver, "return document.getElementById('token-dialog').open")
            driver.find_element("id", "token-input").send_keys("a wrong token\n")
            wait_for(driver, "return document.getElementById('token-message').textContent.includes('wrong')")
            time.sleep(0.3)
            driver.save_screenshot(str(folder / "page-token.png"))
    for name in ("page-query", "page-pairs", "page-info", "page-token"):
        print(folder / f"{name}.png")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--queries", type=int, default=QUERIES, help="queries of each kind")
    parser.add_argument("--screenshots", type=Path, help="write the docs' screenshots of the page here instead")
    arguments = parser.parse_args()
    if arguments.screenshots is not None:
        screenshots(arguments.screenshots)
    else:
        measure(arguments.queries)
