// Every call the pages make: the same /v2/{project}/... API the CLI uses, with X-Auth-Token.
const KEY = "freezer.session";

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

export function session() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY) || "null");
  } catch {
    return null;
  }
}

export function saveSession(value) {
  if (value) sessionStorage.setItem(KEY, JSON.stringify(value));
  else sessionStorage.removeItem(KEY);
}

// The message the API gave, as the CLI shows it: "title: description".
async function errorOf(resp) {
  let text = "";
  try {
    text = await resp.text();
    const doc = JSON.parse(text);
    const err = doc.error && typeof doc.error === "object" ? doc.error : doc;
    const title = err.title || "";
    const detail = err.description || err.message || "";
    if (title || detail) return `${title}${title && detail ? ": " : ""}${detail}`;
  } catch {
    // not JSON: fall through
  }
  if (resp.status === 404) return "Not found (it may have been deleted).";
  return text.trim() || `HTTP ${resp.status} ${resp.statusText}`;
}

async function send(method, url, token, body, quiet = false) {
  const headers = { Accept: "application/json" };
  if (token) headers["X-Auth-Token"] = token;
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (exc) {
    throw new ApiError(0, `Cannot reach freezer-api: ${exc.message}`);
  }
  if (!resp.ok) {
    const message = await errorOf(resp);
    if (resp.status === 401 && token && !quiet) window.dispatchEvent(new CustomEvent("freezer:unauthorized"));
    throw new ApiError(resp.status, `${message} (HTTP ${resp.status})`);
  }
  if (resp.status === 204) return null;
  const text = await resp.text();
  return text ? JSON.parse(text) : null;
}

// A call on the logged-in project: api("GET", "jobs", undefined, {limit: 1000}).
export function api(method, path, body, params) {
  const s = session();
  if (!s) throw new ApiError(401, "Not logged in");
  let url = `/v2/${encodeURIComponent(s.project_id)}/${path}`;
  if (params) {
    const query = new URLSearchParams(Object.entries(params).filter(([, v]) => v !== undefined && v !== ""));
    if ([...query].length) url += `?${query}`;
  }
  return send(method, url, s.token, body);
}

// Lists: one request for the whole list (the API's default page is 10).
export const LIST_LIMIT = 1000;
export async function list(kind, params) {
  const doc = await api("GET", kind, undefined, { limit: LIST_LIMIT, ...(params || {}) });
  return doc[kind] || [];
}

export async function login(token) {
  const who = await send("GET", "/ui/whoami", token, undefined, true);
  if (!who.project_id) throw new ApiError(403, "This token is not scoped to a project.");
  const s = { token, ...who };
  saveSession(s);
  return s;
}

export async function passwordLogin(username, password, project) {
  const answer = await send("POST", "/ui/login", null, { username, password, project });
  return login(answer.token);
}

export async function uiConfig() {
  try {
    return await send("GET", "/ui/config.json");
  } catch {
    return { login: "token" };
  }
}
