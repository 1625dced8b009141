// Clients: the machines registered by freezer-scheduler (or by hand), with delete.
import { api, list } from "../api.js";
import { busy, confirmed, errorBox, field, go, h, render, table } from "../dom.js";

export async function page(main, { stale }) {
  const clients = await list("clients");
  if (stale()) return;
  const box = errorBox();
  const rows = clients.map(({ client: c }) => [
    h("a", { href: `#/jobs?client=${encodeURIComponent(c.client_id)}` }, c.client_id),
    c.hostname || "—",
    c.description || "",
    c.is_central ? "yes" : "no",
    (c.supported_engines || []).join(", ") || "all",
    c.is_central ? "" : h("button", {
      type: "button", class: "danger", "aria-label": `Delete client ${c.client_id}`,
      onclick: async (ev) => {
        if (!confirmed(`Delete client ${c.client_id}? Its jobs stay.`)) return;
        const ok = await busy(ev.currentTarget, box, () => api("DELETE", `clients/${encodeURIComponent(c.client_id)}`));
        if (ok !== undefined) go("#/clients", `Client ${c.client_id} deleted`);
      },
    }, "Delete"),
  ]);
  const submit = h("button", { type: "submit", class: "primary" }, "Register");
  const form = h("form", { class: "card", "aria-labelledby": "reg-title" },
    h("h2", { id: "reg-title" }, "Register a client"),
    h("p", { class: "muted" }, "freezer-scheduler registers its machine itself; register one by hand to prepare jobs for it."),
    h("div", { class: "grid" },
      field("Client id", h("input", { name: "client_id", required: true, autocomplete: "off" }), "A host name, e.g. node1.example.org"),
      field("Host name", h("input", { name: "hostname", autocomplete: "off" })),
      field("Description", h("input", { name: "description", autocomplete: "off" }))),
    h("div", { class: "actions-bar" }, submit));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const data = Object.fromEntries([...new FormData(form)].filter(([, v]) => v !== ""));
    const done = await busy(submit, box, () => api("POST", "clients", data));
    if (done) go("#/clients", `Client ${done.client_id} registered`);
  });
  render(main, h("h1", {}, "Clients"), box,
    table("Clients", ["Client id", "Host name", "Description", "Central", "Engines", ""], rows,
      "No client registered yet."),
    form);
}
