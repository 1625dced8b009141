// The single-page app: hash routes (#/jobs/ID ...), login state, navigation.
import { saveSession, session } from "./api.js";
import { flash, h, render } from "./dom.js";
import * as actions from "./pages/actions.js";
import * as backups from "./pages/backups.js";
import * as clients from "./pages/clients.js";
import * as dashboard from "./pages/dashboard.js";
import * as jobs from "./pages/jobs.js";
import * as loginPage from "./pages/login.js";
import * as sessions from "./pages/sessions.js";

const ROUTES = [
  [/^\/$/, dashboard.page, "/"],
  [/^\/clients$/, clients.page, "/clients"],
  [/^\/jobs$/, jobs.list, "/jobs"],
  [/^\/jobs\/new$/, jobs.form, "/jobs"],
  [/^\/jobs\/([^/]+)\/edit$/, jobs.form, "/jobs"],
  [/^\/jobs\/([^/]+)\/clone$/, jobs.cloneForm, "/jobs"],
  [/^\/jobs\/([^/]+)$/, jobs.detail, "/jobs"],
  [/^\/actions$/, actions.list, "/actions"],
  [/^\/actions\/new$/, actions.form, "/actions"],
  [/^\/actions\/([^/]+)$/, actions.form, "/actions"],
  [/^\/sessions$/, sessions.list, "/sessions"],
  [/^\/sessions\/([^/]+)$/, sessions.detail, "/sessions"],
  [/^\/backups$/, backups.list, "/backups"],
  [/^\/backups\/([^/]+)$/, backups.detail, "/backups"],
];

const main = document.getElementById("main");
let generation = 0;
let lastPath = null;

function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  return { path, query: new URLSearchParams(query || "") };
}

function chrome(s) {
  document.getElementById("nav").hidden = !s;
  document.getElementById("who").hidden = !s;
  if (s) {
    document.getElementById("who-name").textContent =
      `${s.user_name || s.user_id || "user"} · project ${s.project_name || s.project_id}`;
  }
}

async function route() {
  const mine = ++generation;
  const { path, query } = parseHash();
  const s = session();
  chrome(s);
  const pending = window.__freezerFlash;
  window.__freezerFlash = null;
  if (pending || (path !== lastPath && lastPath !== null)) flash(pending || null);
  lastPath = path;
  if (!s) {
    await loginPage.page(main, { query });
    return;
  }
  for (const [pattern, page, section] of ROUTES) {
    const m = pattern.exec(path);
    if (!m) continue;
    for (const a of document.querySelectorAll("#nav a")) {
      if (a.getAttribute("href") === `#${section}`) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
    render(main, h("p", { class: "muted", role: "status" }, "Loading…"));
    main.setAttribute("aria-busy", "true");
    try {
      await page(main, { id: m[1] ? decodeURIComponent(m[1]) : undefined, query, stale: () => mine !== generation });
    } catch (err) {
      if (mine === generation) {
        render(main, h("h1", {}, "Something went wrong"), h("div", { class: "error", role: "alert" }, err.message));
      }
    } finally {
      main.removeAttribute("aria-busy");
    }
    if (mine === generation) {
      const heading = main.querySelector("h1");
      document.title = heading ? `${heading.textContent} · Freezer` : "Freezer";
      if (heading) { heading.tabIndex = -1; heading.focus({ preventScroll: true }); }
    }
    return;
  }
  render(main, h("h1", {}, "Page not found"), h("p", {}, h("a", { href: "#/" }, "Back to the dashboard")));
}


document.getElementById("logout").addEventListener("click", () => {
  saveSession(null);
  flash(null);
  location.hash = "#/";
  route();
});
window.addEventListener("freezer:unauthorized", () => {
  saveSession(null);
  flash("Your token was refused: log in again.");
  route();
});
window.addEventListener("hashchange", route);
route();
