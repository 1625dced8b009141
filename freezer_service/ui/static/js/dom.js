// Small DOM helpers: element building (text is never parsed as HTML), formatting, messages.

export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function render(target, ...children) {
  target.replaceChildren();
  append(target, children);
}

export function pad(n) {
  return String(n).padStart(2, "0");
}

// Epoch seconds → "2024-05-01 10:00:00 UTC" (the API's times, the agent's restore dates: UTC).
export function fmtTime(epoch) {
  if (epoch === undefined || epoch === null || epoch === "" || Number(epoch) < 0) return "—";
  const d = new Date(Number(epoch) * 1000);
  if (Number.isNaN(d.getTime())) return String(epoch);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} UTC`;
}

// Epoch seconds → the value of an <input type="datetime-local"> in UTC.
export function isoInput(epoch) {
  const d = new Date(Number(epoch) * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}T` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

// A datetime-local value → the API's YYYY-MM-DDThh:mm:ss.
export function apiDate(value) {
  if (!value) return "";
  return /T\d\d:\d\d$/.test(value) ? `${value}:00` : value;
}

// A date the API stored → a datetime-local value.
export function inputDate(value) {
  if (!value) return "";
  return String(value).replace(/(\.\d+)?(Z|[+-]\d\d:\d\d)$/, "").slice(0, 19);
}

const TONES = {
  success: "ok", completed: "ok", available: "ok", active: "ok", online: "ok",
  fail: "bad", error: "bad", aborted: "bad", failed: "bad",
  running: "run", scheduled: "run", creating: "run",
  stop: "warn", aborting: "warn", deleting: "warn", removed: "warn", idle: "warn",
};

export function badge(text) {
  if (!text) return h("span", { class: "muted" }, "—");
  return h("span", { class: `badge ${TONES[text] || ""}` }, text);
}

// A table that becomes one card per row on phones; cells are [label, content] pairs.
export function table(caption, headers, rows, emptyText) {
  if (!rows.length) return h("p", { class: "card empty" }, emptyText || "Nothing here yet.");
  return h("table", { class: "responsive" },
    h("caption", { class: "skip" }, caption),
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.map((cells) => h("tr", {},
      cells.map((c, i) => h("td", { "data-label": headers[i] }, c))))));
}

export function errorBox() {
  return h("div", { class: "error", role: "alert", "aria-live": "assertive" });
}

export function showError(box, err) {
  box.textContent = err ? (err.message || String(err)) : "";
  if (err) box.scrollIntoView({ block: "nearest" });
}

// A message that survives the next navigation (e.g. "Job created").
export function flash(text) {
  const target = document.getElementById("flash");
  render(target, text ? h("p", {}, text) : null);
}

// Runs an async handler with the button disabled and errors shown in the box.
export async function busy(button, box, work) {
  if (button) button.disabled = true;
  showError(box, null);
  try {
    return await work();
  } catch (err) {
    showError(box, err);
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

export function field(labelText, input, hint) {
  const id = input.id || `f-${Math.random().toString(36).slice(2, 9)}`;
  input.id = id;
  const hintEl = hint ? h("small", { id: `${id}-hint` }, hint) : null;
  if (hintEl) input.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: id }, labelText), input, hintEl);
}

export function select(name, options, value, attrs) {
  return h("select", { name, ...(attrs || {}) }, options.map((o) => {
    const [v, label] = Array.isArray(o) ? o : [o, o];
    return h("option", { value: v, selected: v === value }, label);
  }));
}

export function confirmed(text) {
  return window.confirm(text);
}

// Go to another page, with a message shown there ("Job created").
export function go(hash, message) {
  window.__freezerFlash = message || null;
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}
