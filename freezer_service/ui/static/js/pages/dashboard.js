// Dashboard: clients and their scheduler activity, the last backup per client, failures.
import { list } from "../api.js";
import { badge, fmtTime, h, render, table } from "../dom.js";

const clientOf = (b, jobClient) => jobClient[b.backup_metadata?.job_id] || b.backup_metadata?.client_id || null;

export async function page(main, { stale }) {
  const [clients, jobs, backups] = await Promise.all([list("clients"), list("jobs"), list("backups")]);
  if (stale()) return;
  const jobClient = Object.fromEntries(jobs.map((j) => [j.job_id, j.client_id]));
  const byClient = new Map(clients.map((c) => [c.client.client_id, { doc: c.client, jobs: [], backups: [] }]));
  for (const j of jobs) byClient.get(j.client_id)?.jobs.push(j);
  for (const b of backups) {
    const cid = clientOf(b, jobClient);
    const hit = byClient.get(cid) || [...byClient.values()].find((c) => c.doc.hostname && c.doc.hostname === b.backup_metadata?.hostname);
    hit?.backups.push(b);
  }
  const online = (c) => c.jobs.some((j) => ["scheduled", "running"].includes(j.job_schedule?.status));
  const stamp = (b) => Number(b.backup_metadata?.time_stamp) || 0;
  const failedJobs = jobs.filter((j) => ["fail", "aborted"].includes(j.job_schedule?.result));
  const failedBackups = backups.filter((b) => b.status === "error");
  const running = jobs.filter((j) => j.job_schedule?.status === "running").length;
  const tiles = [
    ["Clients", clients.length], ["Clients online", [...byClient.values()].filter(online).length],
    ["Jobs", jobs.length], ["Running now", running], ["Backups", backups.length],
    ["Failures", failedJobs.length + failedBackups.length, failedJobs.length + failedBackups.length ? "bad" : ""],
  ];
  const rows = [...byClient.values()].map((c) => {
    const last = c.backups.reduce((best, b) => (!best || stamp(b) > stamp(best) ? b : best), null);
    const lastRun = c.jobs.filter((j) => Number(j.job_schedule?.time_ended) > 0)
      .sort((a, b) => b.job_schedule.time_ended - a.job_schedule.time_ended)[0];
    return [
      h("a", { href: `#/jobs?client=${encodeURIComponent(c.doc.client_id)}` }, c.doc.client_id),
      badge(online(c) ? "online" : "idle"),
      last ? h("a", { href: `#/backups/${encodeURIComponent(last.backup_id)}` },
        `${last.backup_metadata.backup_name || "?"} · ${fmtTime(last.backup_metadata.time_stamp)}`) : "—",
      last ? badge(last.status) : "—",
      lastRun ? h("span", {}, badge(lastRun.job_schedule.result), " ",
        h("a", { href: `#/jobs/${encodeURIComponent(lastRun.job_id)}` }, lastRun.description || lastRun.job_id)) : "—",
    ];
  });
  const failures = [
    ...failedJobs.map((j) => [h("a", { href: `#/jobs/${encodeURIComponent(j.job_id)}` }, j.description || j.job_id),
      "job", j.client_id, badge(j.job_schedule.result), fmtTime(j.job_schedule.time_ended)]),
    ...failedBackups.map((b) => [h("a", { href: `#/backups/${encodeURIComponent(b.backup_id)}` },
      b.backup_metadata?.backup_name || b.backup_id), "backup", clientOf(b, jobClient) || b.backup_metadata?.hostname || "—",
    badge(b.status), fmtTime(b.backup_metadata?.time_stamp)]),
  ];
  render(main,
    h("h1", {}, "Dashboard"),
    h("section", { class: "tiles", "aria-label": "Summary" }, tiles.map(([label, n, tone]) =>
      h("div", { class: `tile ${tone || ""}` }, h("span", { class: "n" }, n), label))),
    h("h2", {}, "Clients"),
    table("Clients and their last backup", ["Client", "Scheduler", "Last backup", "Backup status", "Last job run"], rows,
      "No client registered yet: start freezer-scheduler on a machine to register it."),
    h("p", { class: "muted" }, "A client is online when a scheduler has picked up its jobs (scheduled or running)."),
    h("h2", {}, "Failures"),
    table("Failed jobs and backups", ["Name", "Kind", "Client", "Result", "When"], failures, "No failure."));
}
