// fuzzykv's page: query, pairs, map and info over the service's /v1 endpoints.
//
// Everything the service sends (keys, values, words, messages) is put into the page as text
// (textContent, createTextNode, SVG <title>), never as HTML. The token lives in this tab's
// sessionStorage and travels only as an Authorization header.
"use strict";

(function () {
  const TOKEN_KEY = "fuzzykv-token";
  const PAGE_SIZE = 20;
  const MAP_KEYS = 5000;
  const HEAVIEST = 10;
  const LABELLED = 5; // the heaviest keys named on the map
  const COLOURS = 9; // value colours c0..c8, then "other"
  const SVG = "http://www.w3.org/2000/svg";

  const $ = (id) => document.getElementById(id);
  const state = {
    tokenNeeded: document.querySelector('meta[name="fuzzykv-token"]').content === "required",
    readOnly: true,
    cursors: [null], // the `after` of each page seen so far (Previous goes back through them)
    next: null,
    filter: "",
    map: null, // the last GET /v1/map answer
    colourOf: new Map(),
    answer: null, // the last /v1/query answer
    placed: null, // where the last query landed on the map
    waitingForToken: null,
    queryRun: 0,
  };

  // -- elements, as text only -------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svg(tag, attributes) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
    return node;
  }

  function setStatus(id, text, kind) {
    const node = $(id);
    node.textContent = text;
    node.classList.toggle("error", kind === "error");
    node.classList.toggle("done", kind === "done");
  }

  function showBanner(text) {
    const banner = $("banner");
    banner.textContent = text;
    banner.hidden = !text;
  }

  const fixed = (x, digits) => (x === null || x === undefined ? "n/a" : Number(x).toFixed(digits));
  // attention weights span many orders of magnitude (a softmax at a low temperature): small ones in e-notation
  const weightText = (w) => (w > 0 && w < 0.001 ? w.toExponential(1) : w.toFixed(3));
  const quoted = (text) => "\u2018" + text + "\u2019";

  // -- the service ---------------------------------------------------------------------------------

  class ServiceError extends Error {
    constructor(status, type, message) {
      super(message);
      this.status = status;
      this.type = type;
    }
  }

  function token() {
    return sessionStorage.getItem(TOKEN_KEY);
  }

  // One request to the service: JSON in and out; a failure becomes a ServiceError with the service's message.
  async function api(method, path, body, options) {
    const headers = { Accept: "application/json" };
    const given = token();
    if (given) headers.Authorization = "Bearer " + given;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response;
    try {
      response = await fetch(path, {
        method, headers, body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
      });
    } catch (error) {
      throw new ServiceError(0, "NetworkError", "The service did not answer (" + error.message + "); is it still running?");
    }
    if (response.status === 204) return null;
    let parsed = null;
    try {
      parsed = await response.json();
    } catch (error) {
      parsed = null;
    }
    if (response.ok) return parsed;
    const detail = parsed && parsed.error ? parsed.error : {};
    const failure = new ServiceError(response.status, detail.type || "HTTPError",
      detail.message || "The service answered " + response.status + " " + response.statusText + ".");
    if (response.status === 401 && !(options && options.quiet)) askForToken(given ? "wrong" : "missing");
    throw failure;
  }

  // -- the token -------------------------------------------------------------------------------------

  function askForToken(why) {
    const messages = {
      missing: "This service needs a token. Enter it to see the store.",
      wrong: "The service refused the token: it is wrong (401). Enter the right one.",
      change: "Enter the token to use from now on.",
    };
    if (why === "wrong") sessionStorage.removeItem(TOKEN_KEY);
    showBanner(why === "change" ? "" : messages[why]);
    $("token-message").textContent = messages[why];
    $("token-input").value = "";
    const dialog = $("token-dialog");
    if (!dialog.open) dialog.showModal();
    $("token-input").focus();
  }

  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const given = $("token-input").value.trim();
    if (!given) {
      $("token-message").textContent = "The token is empty; enter the service's token.";
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, given);
    $("token-dialog").close();
    showBanner("");
    $("token-button").hidden = false;
    loadAll();
  });
  $("token-dialog").addEventListener("cancel", (event) => {
    event.preventDefault(); // Escape: the page cannot show anything without the token
  });
  $("token-button").addEventListener("click", () => askForToken("change"));

  // -- info ------------------------------------------------------------------------------------------

  async function loadInfo() {
    const info = await api("GET", "/v1/info");
    state.readOnly = info.read_only;
    $("summary").textContent = info.pairs.toLocaleString("en") + " pairs · " + info.dimension + "-d vectors · fuzzykv " + info.version;
    const mode = $("mode");
    mode.hidden = false;
    mode.textContent = info.read_only ? "read-only" : "read-write";
    mode.classList.toggle("read-only", info.read_only);
    const list = $("info");
    list.replaceChildren();
    const add = (term, value) => {
      list.append(el("dt", null, term), el("dd", null, value));
    };
    add("pairs", info.pairs.toLocaleString("en"));
    add("dimension", info.dimension);
    add("mode", info.read_only ? "read-only: writes are refused" : "read-write");
    add("version", info.version);
    for (const [name, value] of Object.entries(info.settings)) add("setting: " + name, value === null ? "default" : JSON.stringify(value));
    for (const [name, value] of Object.entries(info.limits)) add("limit: " + name, Number(value).toLocaleString("en"));
    applyMode();
  }

  function applyMode() {
    $("add-form").hidden = state.readOnly;
    $("actions-head").hidden = state.readOnly;
    for (const cell of document.querySelectorAll("td.actions")) cell.hidden = state.readOnly;
  }

  // -- query -----------------------------------------------------------------------------------------

  function queryOptions() {
    const k = Math.min(100, Math.max(1, parseInt($("k").value, 10) || 5));
    if ($("k").value !== String(k)) $("k").value = k;
    const min = $("min").value.trim();
    return { k, exact: $("exact").checked, min: min === "" ? null : Number(min) };
  }

  function shareURL(text, options) {
    const params = new URLSearchParams();
    params.set("q", text);
    params.set("k", options.k);
    if (options.exact) params.set("exact", "1");
    if (options.min !== null) params.set("min_similarity", options.min);
    return "?" + params.toString();
  }

  async function runQuery(push) {
    const text = $("q").value.trim();
    if (!text) {
      setStatus("query-status", "Type a word or a few first.", "error");
      return;
    }
    const options = queryOptions();
    const run = ++state.queryRun;
    // "Asking…" only for a slow answer: a redraw while the service works would compete with it for the CPU
    const slow = setTimeout(() => run === state.queryRun && setStatus("query-status", "Asking…"), 300);
    const body = { text, k: options.k, exact: options.exact, attention_k: HEAVIEST };
    if (options.min !== null) body.min_similarity = options.min;
    const { answer, error } = await api("POST", "/v1/query", body).then((answer) => ({ answer }), (error) => ({ error }));
    clearTimeout(slow);
    if (run !== state.queryRun) return; // a newer query has been asked meanwhile
    // the shareable URL, once the answer is drawn: pushState takes milliseconds the answer need not wait for
    const url = shareURL(text, options);
    const share = () => push && location.search !== url && history.pushState(null, "", url);
    if (error) {
      share();
      $("answer").hidden = true;
      setStatus("query-status", "The query failed: " + (error.status === 401 ? "the service needs its token." : error.message), "error");
      state.answer = null;
      state.placed = null;
      highlight();
      return;
    }
    state.answer = answer;
    renderAnswer(answer, options);
    await nextFrame(); // the answer is on screen before the URL and the map's marks are seen to
    share();
    // then where the query lands on the map (asked after the answer, so it never delays the answer)
    const placed = await place(text);
    if (run !== state.queryRun) return;
    state.placed = placed;
    highlight();
  }

  // Resolves after the browser has drawn the current changes.
  function nextFrame() {
    return new Promise((resolve) => requestAnimationFrame(() => setTimeout(resolve, 0)));
  }

  // Where a text lands on the drawn map (null before the map is drawn, or if the text cannot be placed).
  async function place(text) {
    if (!state.map || !state.map.points.length) return null;
    const placed = await api("POST", "/v1/map:place", { texts: [text], projection: state.map.projection }, { quiet: true })
      .catch(() => null);
    return placed && placed.points.length ? placed.points[0] : null;
  }

  function barRow(label, share, number, value) {
    const row = el("li");
    const track = el("span", "track");
    const fill = el("span", "fill");
    fill.style.width = (Math.max(0, Math.min(1, share)) * 100).toFixed(1) + "%"; // CSSOM, allowed by the CSP
    track.append(fill);
    row.append(el("span", "label", label), track, el("span", "number", number), el("span", "value", value || ""));
    return row;
  }

  function renderAnswer(answer, options) {
    $("answer").hidden = false;
    const words = $("words");
    words.replaceChildren();
    for (const candidate of answer.candidates) {
      words.append(barRow(candidate.word, candidate.similarity, fixed(candidate.similarity, 3), ""));
    }
    if (!answer.candidates.length) words.append(el("li", "muted", "No answer words."));
    const weights = $("weights");
    weights.replaceChildren();
    const heaviest = answer.attention.length ? answer.attention[0].weight : 1;
    for (const weight of answer.attention) {
      const value = weight.value === null || weight.value === undefined ? "(deleted)" : "→ " + weight.value;
      weights.append(barRow(weight.key, heaviest > 0 ? weight.weight / heaviest : 0, weightText(weight.weight), value));
    }
    if (!answer.attention.length) weights.append(el("li", "muted", "The store holds no keys."));
    const confidence = $("confidence");
    const best = answer.best_similarity;
    let level = "low";
    if (best === null) {
      confidence.textContent = "The store holds no pairs, so nothing answers.";
    } else {
      level = best >= 0.7 ? "high" : best >= 0.5 ? "moderate" : "low";
      let sentence = "Confidence: " + level + ". The closest key has cosine similarity " + fixed(best, 2) + " to the query";
      sentence += level === "low" ? ": the store hardly knows this text, so treat the answer as a guess." : ".";
      if (options.min !== null && best < options.min) {
        sentence = "No key reaches the minimum similarity " + options.min + " (the closest has " + fixed(best, 2) + "), so there is no answer.";
      }
      confidence.textContent = sentence;
    }
    confidence.classList.toggle("low", level === "low");
    const notes = $("notes");
    notes.replaceChildren();
    for (const correction of answer.corrections || []) {
      const edits = correction.distance === 1 ? "1 edit" : correction.distance + " edits";
      notes.append(el("li", null, "Read " + quoted(correction.typed) + " as " + quoted(correction.used) + " (" + edits + ")."));
    }
    for (const word of answer.spelled) {
      notes.append(el("li", null, "Guessed " + quoted(word) + " from its spelling: no word vector has it, so its meaning is a guess."));
    }
    for (const word of answer.ignored) notes.append(el("li", null, "Left out " + quoted(word) + ": it has no vector."));
    if (!options.exact) notes.append(el("li", "muted", "Words decoded through the approximate index; tick \u201cexact decode\u201d for the exact scan."));
    const took = answer.candidates.length ? "Answered " + quoted(answer.candidates[0].word) + "." : "Answered with no words.";
    setStatus("query-status", took, "done");
  }

  $("query-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runQuery(true);
  });

  function queryFromURL() {
    const params = new URLSearchParams(location.search);
    const text = params.get("q");
    if (params.has("k")) $("k").value = params.get("k");
    $("exact").checked = ["1", "true", "yes"].includes((params.get("exact") || "").toLowerCase());
    $("min").value = params.get("min_similarity") || "";
    if (text) {
      $("q").value = text;
      return runQuery(false);
    }
    return null;
  }

  window.addEventListener("popstate", () => queryFromURL());

  // -- pairs -----------------------------------------------------------------------------------------

  async function loadPairs() {
    const filter = state.filter;
    setStatus("pairs-status", "Loading…");
    let rows;
    let next = null;
    try {
      if (filter) {
        const found = await api("POST", "/v1/nearest", { text: filter, k: PAGE_SIZE });
        rows = found.neighbours;
      } else {
        const after = state.cursors[state.cursors.length - 1];
        const query = "?limit=" + PAGE_SIZE + (after === null ? "" : "&after=" + encodeURIComponent(after));
        const page = await api("GET", "/v1/pairs" + query);
        rows = page.pairs;
        next = page.next;
      }
    } catch (error) {
      if (filter !== state.filter) return;
      const why = error.status === 401 ? "the service needs its token." : error.message;
      setStatus("pairs-status", (filter ? "The filter failed: " : "The pairs could not be read: ") + why, "error");
      $("pairs").tBodies[0].replaceChildren();
      return;
    }
    if (filter !== state.filter) return; // a newer filter is on its way
    state.next = next;
    renderPairs(rows, Boolean(filter));
    const count = rows.length;
    if (filter) {
      setStatus("pairs-status", count ? "The " + count + " nearest keys to " + quoted(filter) + ", nearest first." : "The store holds no pairs.");
      $("page-label").textContent = "";
    } else {
      setStatus("pairs-status", count ? "" : "The store holds no pairs yet.");
      $("page-label").textContent = count ? "Page " + state.cursors.length : "";
    }
    $("prev").disabled = Boolean(filter) || state.cursors.length < 2;
    $("next").disabled = Boolean(filter) || next === null;
  }

  function renderPairs(rows, withSimilarity) {
    const body = $("pairs").tBodies[0];
    body.replaceChildren();
    $("similarity-head").hidden = !withSimilarity;
    for (const pair of rows) {
      const row = el("tr");
      row.dataset.key = pair.key;
      const valueCell = el("td", "text value", pair.value);
      row.append(el("td", "text key", pair.key), valueCell);
      if (withSimilarity) row.append(el("td", null, fixed(pair.similarity, 3)));
      const actions = el("td", "actions");
      actions.hidden = state.readOnly;
      const edit = el("button", "plain edit", "Edit");
      edit.type = "button";
      edit.addEventListener("click", () => startEdit(row, pair, valueCell, actions));
      const remove = el("button", "danger delete", "Delete");
      remove.type = "button";
      remove.addEventListener("click", () => removePair(pair.key, remove));
      actions.append(edit, remove);
      row.append(actions);
      body.append(row);
    }
  }

  function startEdit(row, pair, valueCell, actions) {
    const input = el("input", "edit-value");
    input.value = pair.value;
    input.maxLength = 1000;
    input.setAttribute("aria-label", "New value of " + pair.key);
    valueCell.replaceChildren(input);
    const save = el("button", "save", "Save");
    save.type = "button";
    const cancel = el("button", "plain cancel", "Cancel");
    cancel.type = "button";
    const saveIt = () => writePair(pair.key, input.value, save);
    save.addEventListener("click", saveIt);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") saveIt();
      if (event.key === "Escape") loadPairs();
    });
    cancel.addEventListener("click", () => loadPairs());
    actions.replaceChildren(save, cancel);
    input.focus();
  }

  function keyPath(key) {
    // encodeURIComponent leaves '.' alone, and a path segment '..' would be resolved away by the browser
    return "/v1/pairs/" + encodeURIComponent(key).replace(/\./g, "%2E");
  }

  async function writePair(key, value, button) {
    if (button) button.disabled = true;
    setStatus("write-status", "Saving " + quoted(key) + "…");
    try {
      await api("PUT", keyPath(key), { value });
    } catch (error) {
      if (button) button.disabled = false;
      setStatus("write-status", "Could not set " + quoted(key) + ": " + error.message, "error");
      return false;
    }
    setStatus("write-status", "Set " + quoted(key) + " to " + quoted(value) + ".", "done");
    refreshAfterWrite();
    return true;
  }

  async function removePair(key, button) {
    if (!button.classList.contains("armed")) {
      button.classList.add("armed");
      button.textContent = "Really delete?";
      return;
    }
    button.disabled = true;
    try {
      await api("DELETE", keyPath(key));
    } catch (error) {
      button.disabled = false;
      setStatus("write-status", "Could not delete " + quoted(key) + ": " + error.message, "error");
      return;
    }
    setStatus("write-status", "Deleted " + quoted(key) + ".", "done");
    refreshAfterWrite();
  }

  function refreshAfterWrite() {
    loadPairs();
    loadInfo().catch(() => {});
    loadMap().catch(() => {});
  }

  $("add-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = $("add-key").value;
    const value = $("add-value").value;
    if (!key.trim() || !value.trim()) {
      setStatus("write-status", "Give both a key and a value.", "error");
      return;
    }
    if (await writePair(key, value, $("add"))) {
      $("add-key").value = "";
      $("add-value").value = "";
      $("add").disabled = false;
    }
  });

  $("next").addEventListener("click", () => {
    if (state.next === null) return;
    state.cursors.push(state.next);
    loadPairs();
  });
  $("prev").addEventListener("click", () => {
    if (state.cursors.length < 2) return;
    state.cursors.pop();
    loadPairs();
  });

  let filterTimer = null;
  $("filter").addEventListener("input", () => {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      state.filter = $("filter").value.trim();
      state.cursors = [null];
      loadPairs();
    }, 250);
  });

  // -- map -------------------------------------------------------------------------------------------

  async function loadMap() {
    try {
      state.map = await api("GET", "/v1/map?limit=" + MAP_KEYS);
    } catch (error) {
      $("map-caption").textContent = error.status === 401 ? "The map needs the service's token." : "The map could not be drawn: " + error.message;
      throw error;
    }
    // the most frequent values get colours; the rest share "other"
    const counts = new Map();
    for (const point of state.map.points) counts.set(point.value, (counts.get(point.value) || 0) + 1);
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
    state.colourOf = new Map(ranked.slice(0, COLOURS).map(([value], i) => [value, "c" + i]));
    state.counts = ranked;
    if (state.answer) state.placed = await place(state.answer.text);
    drawMap();
  }

  // The whole map, when its data changes: one circle per key, coloured by value.
  function drawMap() {
    const map = state.map;
    const canvas = $("map");
    canvas.replaceChildren();
    $("map-marks").replaceChildren();
    state.dots = new Map();
    if (!map) return;
    const width = 600, height = 420, pad = 18;
    const xs = map.points.map((p) => p.x), ys = map.points.map((p) => p.y);
    const [x0, x1] = xs.length ? [Math.min(...xs), Math.max(...xs)] : [-1, 1];
    const [y0, y1] = ys.length ? [Math.min(...ys), Math.max(...ys)] : [-1, 1];
    // a query placed beyond the keys is drawn at the edge
    const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
    state.sx = (x) => clamp(pad + ((x - x0) / (x1 - x0 || 1)) * (width - 2 * pad), 4, width - 4);
    state.sy = (y) => clamp(height - pad - ((y - y0) / (y1 - y0 || 1)) * (height - 2 * pad), 4, height - 4);
    state.radius = map.points.length > 1000 ? 2.2 : map.points.length > 200 ? 3.5 : 5;
    const { sx, sy } = state;
    canvas.append(svg("line", { x1: sx(0), y1: pad, x2: sx(0), y2: height - pad, class: "axis" }),
      svg("line", { x1: pad, y1: sy(0), x2: width - pad, y2: sy(0), class: "axis" }));
    state.layer = svg("g");
    for (const point of map.points) {
      const dot = svg("circle", {
        cx: sx(point.x).toFixed(1), cy: sy(point.y).toFixed(1), r: state.radius,
        class: "point " + (state.colourOf.get(point.value) || "c-other"),
      });
      dot.dataset.key = point.key;
      const title = svg("title");
      title.textContent = point.key + " → " + point.value;
      dot.append(title);
      state.layer.append(dot);
      state.dots.set(point.key, { dot, point });
    }
    canvas.append(state.layer);
    highlight();
  }

  // The query's marks on the drawn map: its heaviest keys ringed and named, and where the query lands.
  function highlight() {
    const map = state.map;
    if (!map || !state.dots) return;
    const marks = $("map-marks");
    marks.replaceChildren();
    const { sx, sy } = state;
    const attention = state.answer ? state.answer.attention : [];
    let lit = 0;
    attention.forEach((weight, rank) => {
      const found = state.dots.get(weight.key);
      if (!found) return;
      lit += 1;
      const { point } = found;
      const ring = svg("circle", {
        cx: sx(point.x).toFixed(1), cy: sy(point.y).toFixed(1), r: state.radius + 3,
        class: "heavy " + (state.colourOf.get(point.value) || "c-other"),
      });
      ring.dataset.key = point.key;
      marks.append(ring);
      if (rank < LABELLED) {
        const label = svg("text", { x: (sx(point.x) + state.radius + 5).toFixed(1), y: (sy(point.y) + 4).toFixed(1), class: "label" });
        label.textContent = weight.key;
        marks.append(label);
      }
    });
    if (state.placed) {
      const x = sx(state.placed.x), y = sy(state.placed.y), s = 7;
      const star = svg("path", { d: `M${x} ${y - s}L${x + s} ${y}L${x} ${y + s}L${x - s} ${y}Z`, class: "query" });
      star.id = "map-query";
      const title = svg("title");
      title.textContent = "query: " + state.placed.text;
      star.append(title);
      const label = svg("text", { x: (x + s + 4).toFixed(1), y: (y - s).toFixed(1), class: "label" });
      label.textContent = state.placed.text;
      marks.append(star, label);
    }
    const share = map.explained.reduce((a, b) => a + b, 0);
    let caption = map.sampled === map.total
      ? "All " + map.total.toLocaleString("en") + " keys"
      : "An even sample of " + map.sampled.toLocaleString("en") + " of the " + map.total.toLocaleString("en") + " keys";
    caption += map.total ? ", by the two principal components of their vectors (" + (share * 100).toFixed(0) + "% of the variance). Hover a point for its key." : " (the store is empty).";
    const outside = attention.length - lit;
    if (outside) caption += " " + outside + " of the query's heaviest keys are outside the sample.";
    $("map-caption").textContent = caption;
    const legend = $("legend");
    legend.replaceChildren();
    const entry = (className, text, marker) => {
      const item = el("li");
      item.append(el("span", (marker ? "marker " : "swatch ") + className), el("span", null, text));
      legend.append(item);
    };
    let others = 0;
    for (const [value, count] of state.counts || []) {
      const colour = state.colourOf.get(value);
      if (colour) entry(colour, value + " (" + count + ")");
      else others += count;
    }
    if (others) entry("c-other", "other values (" + others + ")");
    if (lit) entry("heavy", "heaviest keys of the query", true);
    if (state.placed) entry("query", "the query", true);
  }

  // -- start -----------------------------------------------------------------------------------------

  async function loadAll() {
    showBanner("");
    const failures = [];
    const note = (what) => (error) => {
      if (error.status !== 401) failures.push(what + ": " + error.message);
    };
    // one round of requests, side by side: info, the first page, the map and the URL's query
    await Promise.all([loadInfo().catch(note("info")), loadPairs(), loadMap().catch(note("map")), queryFromURL()]);
    if (failures.length && !$("token-dialog").open) showBanner(failures.join(" · "));
  }

  if (state.tokenNeeded) $("token-button").hidden = false;
  if (state.tokenNeeded && !token()) askForToken("missing");
  else loadAll();
})();
