"use strict";
// The neuron explorer. Live (served at / by the Serve app): neurons from /explorer/neurons and a
// user panel over /recommend, /users/{id}/profile and /explain, with the bearer token kept in
// sessionStorage, never in a URL. Static (a file saved with an SAE run): the neurons are embedded.

const embedded = JSON.parse(document.getElementById("data").textContent);
const TOKEN_KEY = "monorec-token";
const $ = (id) => document.getElementById(id);
const state = { payload: null, selected: null, user: null, baseline: [], edits: [] };

function element(tag, text, attributes = {}) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function fixed(value, digits = 2) {
  return value === null || value === undefined ? "–" : Number(value).toFixed(digits);
}

async function api(path, body) {
  const headers = { Authorization: "Bearer " + (sessionStorage.getItem(TOKEN_KEY) || "") };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    if (response.status === 401) sessionStorage.removeItem(TOKEN_KEY);  // a wrong token is not kept
    const reason = data.error || (response.status === 401 ? "missing or wrong API token" : `HTTP ${response.status}`);
    throw new Error(reason);
  }
  return data;
}

// ---- neurons -------------------------------------------------------------------------------

function showPayload(payload) {
  state.payload = payload;
  const ks = payload.purity_k.join("/");
  $("purity-head").textContent = `purity@${ks}`;
  if (payload.popularity_k) $("popularity-head").textContent = `popularity pct@${payload.popularity_k}`;
  if (payload.decade_k) $("decade-head").textContent = `decade share@${payload.decade_k}`;
  $("source").textContent = payload.title || "";
  renderNeurons();
  document.body.dataset.ready = String(Math.round(performance.now()));
}

function matches(neuron, query) {
  if (!query) return true;
  if (/^\d+$/.test(query)) return neuron.neuron === Number(query);
  return (neuron.label || "").toLowerCase().includes(query.toLowerCase());
}

function renderNeurons() {
  const query = $("search").value.trim();
  const labelledOnly = $("labelled-only").checked;
  const shown = state.payload.neurons.filter((n) => matches(n, query) && (!labelledOnly || n.label));
  const body = $("neurons").tBodies[0];
  body.replaceChildren();
  for (const n of shown) {
    const row = element("tr", undefined, { "data-neuron": n.neuron });
    const purity = state.payload.purity_k.map((k) => fixed(n.purity[k])).join(" / ");
    const cells = [n.neuron, n.label || "unlabelled", fixed(n.confidence), purity,
      fixed(n.popularity_percentile, 1), fixed(n.decade_share), fixed(n.frequency, 3)];
    cells.forEach((value, i) => row.append(element("td", value, i === 1 && !n.label ? { class: "unlabelled" } : {})));
    if (state.selected === n.neuron) row.classList.add("selected");
    row.addEventListener("click", () => showNeuron(n.neuron));
    body.append(row);
  }
  $("count").textContent = `${shown.length} of ${state.payload.neurons.length} neurons`;
  const total = state.payload.neurons.length;
  let message = "";
  if (shown.length === 0 && /^\d+$/.test(query)) message = `No neuron ${query}: this SAE has neurons 0..${total - 1}.`;
  else if (shown.length === 0) message = `No neuron is labelled like "${query}".`;
  $("search-message").textContent = message;
}

function showNeuron(id) {
  const n = state.payload.neurons[id];
  state.selected = id;
  $("neuron-panel").hidden = false;
  $("neuron-title").textContent = `Neuron ${n.neuron}: ${n.label || "unlabelled"}${n.family ? ` (${n.family})` : ""}`;
  const facts = $("neuron-facts");
  facts.replaceChildren();
  const add = (term, value) => facts.append(element("dt", term), element("dd", value));
  add("confidence", fixed(n.confidence));
  for (const k of state.payload.purity_k) add(`purity@${k}`, fixed(n.purity[k]));
  if (state.payload.popularity_k) add(`popularity percentile@${state.payload.popularity_k}`, fixed(n.popularity_percentile, 1));
  if (state.payload.decade_k) add(`decade share@${state.payload.decade_k}`, n.top_decade ? `${fixed(n.decade_share)} (${n.top_decade}s)` : "–");
  add("fires on", `${(100 * n.frequency).toFixed(1)}% of users and items${n.dead ? " (dead)" : ""}`);
  drawHistogram(n.histogram);
  const list = $("neuron-items");
  list.replaceChildren(...n.top_items.map((item) => {
    const entry = element("li", `${item.name} (${fixed(item.activation)})`);
    const pick = element("button", "add to history", { type: "button", class: "live-only" });
    pick.addEventListener("click", () => pickItem(item.item_id));
    entry.append(pick);
    return entry;
  }));
  if (n.top_items.length === 0) list.replaceChildren(element("li", "never active on an item"));
  renderNeurons();
}

function drawHistogram(histogram) {
  const svg = $("histogram");
  svg.replaceChildren();
  const width = 320, height = 100, counts = histogram.counts;
  const peak = Math.max(1, ...counts);
  const bar = width / counts.length;
  counts.forEach((count, i) => {
    const h = (height * count) / peak;
    const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
    rect.setAttribute("x", String(i * bar + 1));
    rect.setAttribute("y", String(height - h));
    rect.setAttribute("width", String(Math.max(bar - 2, 1)));
    rect.setAttribute("height", String(h));
    rect.append(document.createElementNS("http://www.w3.org/2000/svg", "title"));
    rect.firstChild.textContent = `${count} items`;
    svg.append(rect);
  });
  $("histogram-note").textContent =
    `activations from 0 to ${fixed(histogram.high)}; silent on ${histogram.silent} of ${state.payload.n_items} items`;
}

// ---- one user's list and steering ---------------------------------------------------------

// An edit moves one neuron ({neuron}) or a concept direction ({concept}: every neuron carrying it, weighted).
function interventions() {
  return state.edits.map((e) => ({
    ...(e.concept === undefined ? { neuron: e.neuron } : { concept: e.concept }),
    op: e.op, strength: e.strength, tower: e.tower,
  }));
}

// The user on show: {user_id} of the training data, or {history}: a new user folded in from item ids.
async function showUser(who) {
  ++pending;  // a steered list still on its way for the previous user must not land on this one
  $("user-message").textContent = "";
  try {
    const [profile, plain] = await Promise.all([
      who.user_id === undefined ? null : api(`/users/${encodeURIComponent(who.user_id)}/profile`),
      api("/recommend", { ...who, k: 10 }),
    ]);
    state.who = who;
    state.baseline = plain.items.map((item) => item.item_id);
    state.edits = [];
    $("user-view").hidden = false;
    if (profile) renderProfile(profile.neurons);
    else $("profile").replaceChildren(element("li", `a new user, folded in from ${who.history.length} item(s)`));
    renderEdits();
    renderList(plain, 0);
  } catch (error) {
    state.who = null;
    $("user-view").hidden = true;
    $("user-message").textContent = error.message;
  }
}

// Item ids pasted into the history box: separated by commas, spaces or new lines; numbers stay numbers.
function parseHistory(text) {
  return text.split(/[\s,]+/).filter(Boolean).map((id) => (/^\d+$/.test(id) ? Number(id) : id));
}

function pickItem(itemId) {
  const box = $("history");
  const ids = parseHistory(box.value);
  if (!ids.includes(itemId)) box.value = [...ids, itemId].join(", ");
}

function renderProfile(neurons) {
  const list = $("profile");
  list.replaceChildren();
  for (const n of neurons) {
    const entry = element("li", `${n.label} (neuron ${n.neuron}, activation ${fixed(n.activation)})`);
    for (const op of ["suppress", "boost"]) {
      const button = element("button", op, { type: "button" });
      button.addEventListener("click", () => addEdit(n.neuron, op));
      entry.append(button);
    }
    list.append(entry);
  }
  if (neurons.length === 0) list.append(element("li", "no labelled neuron is active for this user"));
}

function addEdit(neuron, op = "suppress") {
  state.edits.push({ neuron, op, strength: 1, tower: "user" });
  renderEdits();
  steer();
}

function renderEdits() {
  const box = $("edits");
  box.replaceChildren();
  state.edits.forEach((edit, index) => {
    const row = element("div", undefined, { class: "edit", "data-edit": index });
    const neuron = element("select", undefined, { "aria-label": "neuron or direction" });
    for (const n of state.payload.neurons) {
      const option = element("option", `${n.neuron} ${n.label || ""}`, { value: `n${n.neuron}` });
      if (edit.concept === undefined && n.neuron === edit.neuron) option.selected = true;
      neuron.append(option);
    }
    for (const name of state.payload.directions || []) {  // the live service's concept directions
      const option = element("option", `direction: ${name}`, { value: `c${name}` });
      if (edit.concept === name) option.selected = true;
      neuron.append(option);
    }
    const op = select(["suppress", "boost"], edit.op, "operation");
    const tower = select(["user", "item", "both"], edit.tower, "tower");
    const strength = element("input", undefined, { type: "range", min: "0", max: "4", step: "0.25", value: edit.strength, "aria-label": "strength" });
    const shown = element("output", fixed(edit.strength));
    const remove = element("button", "remove", { type: "button" });
    neuron.addEventListener("change", () => {
      const [kind, value] = [neuron.value[0], neuron.value.slice(1)];
      if (kind === "c") { edit.concept = value; delete edit.neuron; } else { edit.neuron = Number(value); delete edit.concept; }
      steer();
    });
    op.addEventListener("change", () => { edit.op = op.value; steer(); });
    tower.addEventListener("change", () => { edit.tower = tower.value; steer(); });
    strength.addEventListener("input", () => { edit.strength = Number(strength.value); shown.textContent = fixed(edit.strength); steer(); });
    remove.addEventListener("click", () => { state.edits.splice(index, 1); renderEdits(); steer(); });
    row.append(neuron, op, strength, shown, tower, remove);
    box.append(row);
  });
}

function select(options, chosen, label) {
  const node = element("select", undefined, { "aria-label": label });
  for (const value of options) {
    const option = element("option", value, { value });
    if (value === chosen) option.selected = true;
    node.append(option);
  }
  return node;
}

let pending = 0;
async function steer() {
  const ticket = ++pending;
  const started = performance.now();
  try {
    const result = await api("/recommend", { ...state.who, k: 10, interventions: interventions() });
    if (ticket === pending) renderList(result, performance.now() - started);
  } catch (error) {
    if (ticket === pending) $("user-message").textContent = error.message;
  }
}

function renderList(result, milliseconds) {
  $("user-message").textContent = "";
  const ids = result.items.map((item) => item.item_id);
  const list = $("recommendations");
  list.replaceChildren();
  for (const item of result.items) {
    const moved = !state.baseline.includes(item.item_id);
    const entry = element("li", item.name, moved ? { class: "moved-in", "data-item": item.item_id } : { "data-item": item.item_id });
    const why = element("button", "why?", { type: "button" });
    why.addEventListener("click", () => explain(item));
    entry.append(why);
    list.append(entry);
  }
  const left = state.baseline.filter((id) => !ids.includes(id)).length;
  const edits = result.interventions_applied.length;
  const effect = edits
    ? `${edits} edit(s): ${left} of the user's top-10 replaced (new ones highlighted)`
    : "the recommender's own top-10";
  $("effect").textContent = `${effect} · updated in ${Math.round(milliseconds)} ms`;
  $("effect").dataset.ms = String(milliseconds);
  $("effect").dataset.replaced = String(left);
}

async function explain(item) {
  const box = $("explanation");
  const who = state.who;
  try {
    const result = await api("/explain", { ...who, item_id: item.item_id });
    if (who !== state.who) return;  // the user changed meanwhile
    const lines = result.neurons.map((n) => `${n.label || "unlabelled"} (neuron ${n.neuron}): ${fixed(n.contribution)}`);
    box.replaceChildren(element("h3", `Why ${item.name}?`), ...lines.map((line) => element("p", line)));
  } catch (error) {
    box.replaceChildren(element("p", error.message, { class: "message" }));
  }
}

// ---- start ---------------------------------------------------------------------------------

async function connect() {
  $("status").textContent = "loading neurons...";
  try {
    showPayload(await api("/explorer/neurons"));
    $("status").textContent = "";
  } catch (error) {
    $("status").textContent = `Could not load the neurons: ${error.message}. Enter the service's API token above.`;
  }
}

$("search").addEventListener("input", () => state.payload && renderNeurons());
$("labelled-only").addEventListener("change", () => state.payload && renderNeurons());
$("user-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const id = $("user-id").value.trim();
  if (id) showUser({ user_id: id });
  else $("user-message").textContent = "Enter a user id.";
});
$("history-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const history = parseHistory($("history").value);
  if (history.length) showUser({ history });
  else $("user-message").textContent = "Paste item ids, or pick them from a neuron's top items.";
});
$("add-edit").addEventListener("click", () => addEdit(state.payload.neurons.find((n) => n.label)?.neuron ?? 0));
$("token-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, $("token").value);
  $("token").value = "";
  connect();
});

if (embedded === null) {
  connect();
} else {
  document.body.classList.add("static");
  showPayload(embedded);
}
