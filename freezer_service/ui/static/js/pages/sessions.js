// Sessions: jobs that run together; create, attach and detach jobs, start, delete.
import { api, list as listOf } from "../api.js";
import { badge, busy, confirmed, errorBox, field, fmtTime, go, h, render, select, table } from "../dom.js";
import { readSchedule, scheduleEditor } from "../forms.js";
import { summary } from "../schedule.js";

const url = (id) => `sessions/${encodeURIComponent(id)}`;

export async function list(main, { stale }) {
  const sessions = await listOf("sessions");
  if (stale()) return;
  const box = errorBox();
  const rows = sessions.map((s) => [
    h("a", { href: `#/sessions/${encodeURIComponent(s.session_id)}` }, s.description || s.session_id),
    badge(s.status), badge(s.result), String(s.session_tag ?? 0), String(Object.keys(s.jobs || {}).length),
    summary(s.schedule)]);
  const description = h("input", { name: "description", required: true, autocomplete: "off" });
  const holdOff = h("input", { name: "hold_off", inputmode: "numeric", value: "30" });
  const schedule = scheduleEditor({});
  const submit = h("button", { type: "submit", class: "primary" }, "Create session");
  const form = h("form", { class: "card", "aria-labelledby": "new-session" },
    h("h2", { id: "new-session" }, "New session"),
    h("div", { class: "grid" }, field("Description", description),
      field("Hold-off (s)", holdOff, "How long after the first job starts the others may still join.")),
    schedule, h("div", { class: "actions-bar" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const done = await busy(submit, box, () => {
      const body = { description: description.value.trim(), schedule: readSchedule(schedule) };
      const hold = holdOff.value.trim();
      if (hold) body.hold_off = Number.isInteger(Number(hold)) ? Number(hold) : hold;
      return api("POST", "sessions", body);
    });
    if (done) go(`#/sessions/${encodeURIComponent(done.session_id)}`, "Session created");
  });
  render(main, h("h1", {}, "Sessions"), box,
    table("Sessions", ["Description", "Status", "Result", "Tag", "Jobs", "Schedule"], rows, "No session yet."), form);
}

export async function detail(main, { id, stale }) {
  const [s, jobs] = await Promise.all([api("GET", url(id)), listOf("jobs")]);
  if (stale()) return;
  const box = errorBox();
  const members = s.jobs || {};
  const byId = Object.fromEntries(jobs.map((j) => [j.job_id, j]));
  const here = `#/sessions/${encodeURIComponent(id)}`;
  const rows = Object.entries(members).map(([jobId, m]) => [
    h("a", { href: `#/jobs/${encodeURIComponent(jobId)}` }, byId[jobId]?.description || jobId), m.client_id || "—",
    badge(byId[jobId]?.job_schedule?.status || m.status), badge(byId[jobId]?.job_schedule?.result || m.result),
    h("button", { type: "button", "aria-label": `Detach ${byId[jobId]?.description || jobId}`, onclick: async (ev) => {
      const ok = await busy(ev.currentTarget, box, () => api("DELETE", `${url(id)}/jobs/${encodeURIComponent(jobId)}`));
      if (ok !== undefined) go(here, "Job detached");
    } }, "Detach")]);
  const free = jobs.filter((j) => !(j.job_id in members));
  const pick = select("job", free.map((j) => [j.job_id, `${j.description || j.job_id} (${j.client_id})`]), undefined,
    { id: "attach-job" });
  const attach = h("button", { type: "submit" }, "Attach job");
  const attachForm = h("form", { class: "row", "aria-label": "Attach a job" }, field("Job", pick), attach);
  attachForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!pick.value) return;
    const ok = await busy(attach, box, () => api("PUT", `${url(id)}/jobs/${encodeURIComponent(pick.value)}`));
    if (ok !== undefined) go(here, "Job attached");
  });
  const start = h("button", { type: "button", class: "primary", disabled: !rows.length, onclick: async (ev) => {
    // Starting a session is starting its jobs: each scheduler then joins the session through the API.
    const answers = await busy(ev.currentTarget, box, () => Promise.all(Object.keys(members).map((jobId) =>
      api("POST", `jobs/${encodeURIComponent(jobId)}/event`, { start: null }))));
    if (answers) go(here, `Session started: ${answers.length} job(s) asked to start`);
  } }, "Start session");
  const remove = h("button", { type: "button", class: "danger", onclick: async (ev) => {
    if (!confirmed(`Delete session “${s.description || id}”?`)) return;
    const ok = await busy(ev.currentTarget, box, () => api("DELETE", url(id)));
    if (ok !== undefined) go("#/sessions", "Session deleted");
  } }, "Delete session");
  const kv = [["Session id", h("span", { class: "mono" }, s.session_id)], ["Status", badge(s.status)],
    ["Result", badge(s.result)], ["Tag", String(s.session_tag ?? 0)], ["Hold-off", `${s.hold_off ?? "—"} s`],
    ["Schedule", summary(s.schedule)], ["Started", fmtTime(s.time_start)], ["Ended", fmtTime(s.time_end)]];
  render(main, h("h1", {}, s.description || `Session ${id}`), box,
    h("div", { class: "actions-bar", role: "toolbar", "aria-label": "Session operations" }, start, remove),
    h("section", { class: "card", "aria-label": "Session" }, h("dl", { class: "kv" }, kv.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)]))),
    h("h2", {}, "Jobs in this session"),
    table("Jobs in the session", ["Job", "Client", "Status", "Result", ""], rows, "No job attached yet."),
    free.length ? attachForm : h("p", { class: "muted" }, "Every job is already in this session."));
}
