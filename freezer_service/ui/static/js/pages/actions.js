// Actions: reusable freezer_action documents; list, create, edit, delete.
import { api, list } from "../api.js";
import { busy, confirmed, errorBox, go, h, render, table } from "../dom.js";
import { actionEditor, readAction } from "../forms.js";

export async function list_(main, { stale }) {
  const actions = await list("actions");
  if (stale()) return;
  const box = errorBox();
  const rows = actions.map((a) => {
    const fa = a.freezer_action || {};
    return [
      h("a", { href: `#/actions/${encodeURIComponent(a.action_id)}`, class: "mono" }, a.action_id),
      fa.action || "—", fa.mode || "—", fa.backup_name || "—", fa.path_to_backup || fa.restore_abs_path || "—",
      fa.storage || "—",
      h("button", {
        type: "button", class: "danger", "aria-label": `Delete action ${a.action_id}`,
        onclick: async (ev) => {
          if (!confirmed(`Delete action ${a.action_id}? Jobs keep their own copy.`)) return;
          const ok = await busy(ev.currentTarget, box, () => api("DELETE", `actions/${encodeURIComponent(a.action_id)}`));
          if (ok !== undefined) go("#/actions", "Action deleted");
        },
      }, "Delete"),
    ];
  });
  render(main,
    h("div", { class: "row spread" }, h("h1", {}, "Actions"), h("a", { class: "button primary", href: "#/actions/new" }, "New action")),
    box,
    table("Actions", ["Id", "Action", "Mode", "Backup name", "Path", "Storage", ""], rows, "No action yet."));
}
export { list_ as list };

export async function form(main, { id, stale }) {
  const doc = id ? await api("GET", `actions/${encodeURIComponent(id)}`) : { freezer_action: { action: "backup" } };
  if (stale()) return;
  const box = errorBox();
  const editor = actionEditor(doc, 0);
  const submit = h("button", { type: "submit", class: "primary" }, id ? "Save action" : "Create action");
  const el = h("form", { "aria-label": id ? "Edit action" : "New action" }, box, editor,
    h("div", { class: "actions-bar" }, submit, h("a", { class: "button", href: "#/actions" }, "Cancel")));
  el.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const done = await busy(submit, box, () => {
      const body = readAction(editor);
      return id ? api("PATCH", `actions/${encodeURIComponent(id)}`, body) : api("POST", "actions", body);
    });
    if (done) go("#/actions", id ? "Action saved" : `Action ${done.action_id} created`);
  });
  render(main, h("h1", {}, id ? `Action ${id}` : "New action"), el);
}
