"""The page in a real browser: headless Chromium (Debian's chromium and chromium-driver), driven by
Selenium against a real ``fuzzykv serve`` on a free loopback port.

Two services cover the modes: read-write without a token, and read-only with one. Skipped when
Chromium or chromedriver is missing (.ci/run installs them).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest
from test_service import Server, start, stop

from fuzzykv import Database, Embeddings

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.common.exceptions import NoAlertPresentException, TimeoutException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(CHROMIUM is None or CHROMEDRIVER is None,
                                reason="needs Debian's chromium and chromium-driver (.ci/run installs them)")

TOKEN = "browser-token-3f9a"
XSS = "<img src=x onerror=alert(1)>"
GROUPS = {
    "animal": "cat dog horse cow sheep goat lion tiger wolf fox bear rabbit".split(),
    "shape": "sphere cube circle square triangle cone cylinder pyramid".split(),
    "number": "one two three four five six seven eight nine ten".split(),
    "colour": "red green blue yellow purple orange pink brown".split(),
    "fruit": "apple banana cherry grape lemon mango".split(),
}
PAIRS = {key: value for value, keys in GROUPS.items() for key in keys} | {XSS: "shape"}  # 45 pairs
T = TypeVar("T")


def make_store(path: Path) -> None:
    # unknown_stored="chars": the XSS key's words have no GloVe vector, so their vectors come from their spelling
    with Database.open(path, unknown_stored="chars") as db:
        db.update(PAIRS)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("page-browser")


@pytest.fixture(scope="module")
def writable(folder: Path, session_cache: Path, glove: Embeddings) -> Iterator[Server]:
    """Read-write, no token; its store is rebuilt by the tests that write."""
    make_store(folder / "rw.fkv")
    running = start(folder / "rw.fkv", session_cache, folder / "rw.log")
    # warm the vocabulary index and the exact decoder, so the browser's first query is not a cold build
    for exact in (False, True):
        httpx.post(f"{running.url}/v1/query", json={"text": "warm", "exact": exact}, timeout=300).raise_for_status()
    yield running
    stop(running)


@pytest.fixture(scope="module")
def guarded(folder: Path, session_cache: Path, glove: Embeddings) -> Iterator[Server]:
    """Read-only, with a token."""
    make_store(folder / "ro.fkv")
    running = start(folder / "ro.fkv", session_cache, folder / "ro.log", "--read-only", env={"FUZZYKV_TOKEN": TOKEN})
    yield running
    stop(running)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    options = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1280,1400"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="fuzzykv-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.binary_location = CHROMIUM
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture()
def page(browser: Any) -> Iterator[Any]:
    """The browser, with a fresh tab state (no token kept) and its console log emptied."""
    yield browser
    if browser.current_url.startswith("http"):
        browser.execute_script("sessionStorage.clear()")
    browser.get("about:blank")
    browser.get_log("browser")


def wait(driver: Any, until: Callable[[Any], T], seconds: float = 30) -> T:
    try:
        result: T = WebDriverWait(driver, seconds).until(lambda d: until(d))
    except TimeoutException:
        raise AssertionError(f"timed out; the page says: {driver.find_element(By.TAG_NAME, 'body').text}") from None
    return result


def text_of(driver: Any, selector: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, selector).text)


def texts(driver: Any, selector: str) -> list[str]:
    return [str(node.text) for node in driver.find_elements(By.CSS_SELECTOR, selector)]


def open_page(driver: Any, url: str) -> None:
    driver.get(url)
    wait(driver, lambda d: d.execute_script("return document.readyState") == "complete")


def pairs_loaded(driver: Any) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, "#pairs tbody tr"))


def console_errors(driver: Any) -> list[str]:
    return [entry["message"] for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def no_alert(driver: Any) -> bool:
    try:
        _ = driver.switch_to.alert
    except NoAlertPresentException:
        return True
    return False


# -- read-write, no token -----------------------------------------------------------------------------


def test_shareable_url_runs_its_query(page: Any, writable: Server) -> None:
    open_page(page, f"{writable.url}/?q=rhombus&k=3&exact=1")
    words = wait(page, lambda d: texts(d, "#words .label"))
    assert words[0] == "shape" and len(words) == 3
    assert page.find_element(By.ID, "k").get_attribute("value") == "3"
    assert page.find_element(By.ID, "exact").is_selected()
    heaviest = page.find_elements(By.CSS_SELECTOR, "#weights li")
    assert len(heaviest) == 10
    key, value = heaviest[0].find_element(By.CLASS_NAME, "label").text, heaviest[0].find_element(By.CLASS_NAME, "value").text
    assert value == "→ " + PAIRS[key]
    assert text_of(page, "#confidence").startswith("Confidence: ")
    assert not any("approximate index" in note for note in texts(page, "#notes li"))  # exact=1
    bar = page.find_element(By.CSS_SELECTOR, "#words li .fill").get_attribute("style")
    assert bar.startswith("width: ")
    assert console_errors(page) == []


def test_asking_puts_the_query_in_the_url_and_states_corrections(page: Any, writable: Server) -> None:
    open_page(page, writable.url + "/")
    box = page.find_element(By.ID, "q")
    box.send_keys("rhombsu", Keys.ENTER)
    wait(page, lambda d: texts(d, "#words .label"))
    query = parse_qs(urlsplit(page.current_url).query)
    assert query["q"] == ["rhombsu"] and query["k"] == ["5"] and "exact" not in query
    assert "Read ‘rhombsu’ as ‘rhombus’ (1 edit)." in texts(page, "#notes li")
    assert texts(page, "#words .label")[0] == "shape"
    # min_similarity above any key's: no answer, and the page says why
    minimum = page.find_element(By.ID, "min")
    minimum.send_keys("0.99")
    page.find_element(By.ID, "ask").click()
    wait(page, lambda d: "min_similarity=0.99" in d.current_url and "No key reaches" in text_of(d, "#confidence"))
    assert texts(page, "#words li") == ["No answer words."]
    page.back()  # the previous query comes back from the URL
    wait(page, lambda d: "min_similarity" not in d.current_url and texts(d, "#words .label")[:1] == ["shape"])


def test_a_bad_query_shows_the_service_message(page: Any, writable: Server) -> None:
    open_page(page, f"{writable.url}/?q={'x' * 1001}")
    # the URL's text is over the service's limit: the page shows the service's 422 message, not a blank
    status = wait(page, lambda d: text_of(d, "#query-status") if "failed" in text_of(d, "#query-status") else None)
    assert "1000" in status and "ValidationError" not in status


def test_paging_through_the_pairs(page: Any, writable: Server) -> None:
    open_page(page, writable.url + "/")
    wait(page, pairs_loaded)
    expected = list(httpx.get(f"{writable.url}/v1/pairs", params={"limit": 1000}).json()["pairs"])
    seen = []
    for number in range(1, 4):
        wait(page, lambda d, n=number: text_of(d, "#page-label") == f"Page {n}")
        seen.append(texts(page, "#pairs tbody td.key"))
        if number < 3:
            page.find_element(By.ID, "next").click()
    assert [len(keys) for keys in seen] == [20, 20, len(expected) - 40]
    assert sum(seen, []) == [pair["key"] for pair in expected]
    assert not page.find_element(By.ID, "next").is_enabled()
    page.find_element(By.ID, "prev").click()
    wait(page, lambda d: text_of(d, "#page-label") == "Page 2")
    assert texts(page, "#pairs tbody td.key") == seen[1]


def test_fuzzy_filter_lists_the_nearest_keys(page: Any, writable: Server) -> None:
    open_page(page, writable.url + "/")
    wait(page, pairs_loaded)
    page.find_element(By.ID, "filter").send_keys("kitten")
    wait(page, lambda d: "nearest keys to ‘kitten’" in text_of(d, "#pairs-status"))
    nearest = httpx.post(f"{writable.url}/v1/nearest", json={"text": "kitten", "k": 20}).json()["neighbours"]
    assert texts(page, "#pairs tbody td.key") == [n["key"] for n in nearest]
    assert page.find_element(By.ID, "similarity-head").is_displayed()


def test_add_edit_and_delete(page: Any, writable: Server) -> None:
    pair = f"{writable.url}/v1/pairs/kitten"
    open_page(page, writable.url + "/")
    wait(page, pairs_loaded)
    page.find_element(By.ID, "add-key").send_keys("kitten")
    page.find_element(By.ID, "add-value").send_keys("animal")
    page.find_element(By.ID, "add").click()
    wait(page, lambda d: text_of(d, "#write-status") == "Set ‘kitten’ to ‘animal’.")
    assert httpx.get(pair).json() == {"key": "kitten", "value": "animal"}
    # edit: find the row through the filter
    page.find_element(By.ID, "filter").send_keys("kitten")
    row = wait(page, lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, 'tr[data-key="kitten"]')), None))
    row.find_element(By.CSS_SELECTOR, "button.edit").click()
    field = row.find_element(By.CSS_SELECTOR, "input.edit-value")
    field.clear()
    field.send_keys("pet", Keys.ENTER)
    wait(page, lambda d: text_of(d, "#write-status") == "Set ‘kitten’ to ‘pet’.")
    assert httpx.get(pair).json()["value"] == "pet"
    # a write the service refuses shows its message: an empty value
    row = wait(page, lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, 'tr[data-key="kitten"]')), None))
    row.find_element(By.CSS_SELECTOR, "button.edit").click()
    row.find_element(By.CSS_SELECTOR, "input.edit-value").clear()
    row.find_element(By.CSS_SELECTOR, "button.save").click()
    refused = httpx.put(pair, json={"value": ""}).json()["error"]["message"]
    wait(page, lambda d: text_of(d, "#write-status") == f"Could not set ‘kitten’: {refused}")
    assert "error" in page.find_element(By.ID, "write-status").get_attribute("class")
    # delete takes two clicks
    row.find_element(By.CSS_SELECTOR, "button.cancel").click()
    row = wait(page, lambda d: next(iter(d.find_elements(By.CSS_SELECTOR, 'tr[data-key="kitten"] button.delete')), None))
    row.click()
    assert httpx.get(pair).status_code == 200
    page.find_element(By.CSS_SELECTOR, 'tr[data-key="kitten"] button.delete').click()
    wait(page, lambda d: text_of(d, "#write-status") == "Deleted ‘kitten’.")
    assert httpx.get(pair).status_code == 404


def test_keys_are_text_never_html(page: Any, writable: Server) -> None:
    open_page(page, f"{writable.url}/?q={quote(XSS)}")
    wait(page, lambda d: texts(d, "#weights .label"))
    assert XSS in texts(page, "#weights .label")
    for number in (2, 3):  # the key was stored last: it is on the last page
        wait(page, lambda d: not d.find_element(By.ID, "next").get_attribute("disabled"))
        page.find_element(By.ID, "next").click()
        wait(page, lambda d, n=number: text_of(d, "#page-label") == f"Page {n}")
    assert texts(page, "#pairs tbody td.key")[-1] == XSS
    titles = page.execute_script("return [...document.querySelectorAll('#map title')].map(t => t.textContent)")
    assert f"{XSS} → shape" in titles
    assert page.execute_script("return document.querySelectorAll('img').length") == 0
    assert no_alert(page)
    # and were one ever written as HTML, the policy would stop its inline handler
    page.execute_script("document.body.insertAdjacentHTML('beforeend', arguments[0])", XSS)
    time.sleep(0.5)
    assert no_alert(page)
    assert any("Content Security Policy" in message for message in console_errors(page))


def test_map_draws_one_point_per_key_and_highlights_the_query(page: Any, writable: Server) -> None:
    open_page(page, f"{writable.url}/?q=kitten")
    wait(page, lambda d: d.find_elements(By.ID, "map-query"))
    drawn = httpx.get(f"{writable.url}/v1/map").json()
    points = page.find_elements(By.CSS_SELECTOR, "#map circle.point")
    assert len(points) == drawn["sampled"] == drawn["total"] == len(PAIRS)
    assert {p.get_attribute("data-key") for p in points} == {p["key"] for p in drawn["points"]}
    heavy = {p.get_attribute("data-key") for p in page.find_elements(By.CSS_SELECTOR, "#map-marks circle.heavy")}
    assert heavy == set(texts(page, "#weights .label"))
    # every point of one value has that value's colour, and the legend names the values
    classes = {p.get_attribute("data-key"): p.get_attribute("class").split()[1] for p in points}
    for value in GROUPS:
        assert len({classes[key] for key in GROUPS[value]}) == 1
    legend = texts(page, "#legend li")
    assert "animal (12)" in legend and "the query" in legend and "heaviest keys of the query" in legend
    assert text_of(page, "#map-caption").startswith(f"All {len(PAIRS)} keys")


def test_info_panel(page: Any, writable: Server) -> None:
    open_page(page, writable.url + "/")
    wait(page, lambda d: "pairs" in text_of(d, "#summary"))
    info = httpx.get(f"{writable.url}/v1/info").json()
    panel = dict(zip(texts(page, "#info dt"), texts(page, "#info dd")))
    assert panel["pairs"] == str(info["pairs"]) and panel["version"] == info["version"]
    assert panel["setting: unknown_stored"] == '"chars"' and panel["limit: max_k"] == "100"
    assert text_of(page, "#mode") == "read-write"


def test_docs_are_served_offline(page: Any, writable: Server) -> None:
    open_page(page, writable.url + "/docs")
    wait(page, lambda d: d.find_elements(By.CSS_SELECTOR, ".swagger-ui .opblock"))
    assert "/v1/query" in page.find_element(By.ID, "swagger-ui").text
    open_page(page, writable.url + "/redoc")
    wait(page, lambda d: "/v1/map" in d.find_element(By.TAG_NAME, "body").text, 60)
    # ReDoc's footer asks for its logo from cdn.redoc.ly: the policy blocks it before it leaves the browser
    blocked = [m for m in console_errors(page) if "violates the following Content Security Policy" in m]
    for url in page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"):
        assert url.startswith(writable.url) or any(url in message for message in blocked), url


# -- read-only, with a token --------------------------------------------------------------------------------


def test_the_token_is_asked_once_and_a_wrong_one_is_named(page: Any, guarded: Server) -> None:
    open_page(page, f"{guarded.url}/?q=kitten")
    dialog = page.find_element(By.ID, "token-dialog")
    wait(page, lambda d: dialog.is_displayed())
    assert "needs a token" in dialog.text
    page.find_element(By.ID, "token-input").send_keys("not-the-token", Keys.ENTER)
    wait(page, lambda d: "it is wrong (401)" in text_of(d, "#token-message"))
    assert "it is wrong (401)" in text_of(page, "#banner")  # the page says so, it is not blank
    page.find_element(By.ID, "token-input").send_keys(TOKEN, Keys.ENTER)
    wait(page, lambda d: texts(d, "#words .label")[:1] == ["animal"])
    assert text_of(page, "#mode") == "read-only" and not page.find_element(By.ID, "banner").is_displayed()
    # kept for the tab: a reload asks no more; never in the URL or a cookie
    page.refresh()
    wait(page, lambda d: texts(d, "#words .label")[:1] == ["animal"])
    assert not page.find_element(By.ID, "token-dialog").is_displayed()
    assert TOKEN not in page.current_url and page.execute_script("return document.cookie") == ""
    assert page.execute_script("return sessionStorage.getItem('fuzzykv-token')") == TOKEN


def test_read_only_offers_no_writes(page: Any, guarded: Server) -> None:
    open_page(page, guarded.url + "/")
    page.find_element(By.ID, "token-input").send_keys(TOKEN, Keys.ENTER)
    wait(page, pairs_loaded)
    wait(page, lambda d: text_of(d, "#mode") == "read-only")
    assert not page.find_element(By.ID, "add-form").is_displayed()
    assert not any(b.is_displayed() for b in page.find_elements(By.CSS_SELECTOR, "#pairs button"))
    assert len(page.find_elements(By.CSS_SELECTOR, "#map circle.point")) == len(PAIRS)
    assert console_errors(page) == []
