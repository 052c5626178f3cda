// What the owner's pages (knowledge base, catalog) share: the API with the session's CSRF token, in-page
// notices, and revision history with a side-by-side look before a rollback. Text goes in with textContent only.
window.owner = (function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const $ = (id) => document.getElementById(id);
  const ACTIONS = { create: t("新建"), update: t("修改"), delete: t("删除"), rollback: t("恢复"), import: t("导入") };

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (cls) node.className = cls;
    return node;
  }
  function toast(message) {
    const box = $("toast");
    box.textContent = message;
    box.classList.add("show");
    clearTimeout(toast.timer);
    toast.timer = setTimeout(() => box.classList.remove("show"), 3000);
  }
  async function api(method, path, body, isForm) {
    const options = { method, headers: { "X-CSRF-Token": csrf } };
    if (body !== undefined) {
      if (isForm) options.body = body;
      else { options.body = JSON.stringify(body); options.headers["Content-Type"] = "application/json"; }
    }
    const response = await fetch(path, options);
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || t("请求失败（{status}）", { status: response.status }));
    return data;
  }

  // The record now and the chosen revision side by side, lines that differ marked; resolves to true on 恢复.
  function confirmRollback(now, change, fields) {
    const side = (box, mine, other) => {
      box.replaceChildren();
      const theirs = Object.fromEntries(mine && other ? fields(other) : []);
      for (const [label, value] of mine ? fields(mine) : []) {
        box.append(el("div", label, "diff-label"), el("div", value || "—", value === theirs[label] ? "diff-same" : "diff-changed"));
      }
      if (!mine) box.append(el("div", t("（已删除）"), "diff-changed"));
    };
    side($("diff-now"), now, change.after);
    side($("diff-then"), change.after, now);
    $("rollback-title").textContent = t("恢复到第 {n} 版？", { n: change.revision });
    $("diff-then-title").textContent = t("第 {n} 版", { n: change.revision }) + " · " + shopTime(change.at);
    const dialog = $("rollback");
    dialog.returnValue = "";
    dialog.showModal();
    return new Promise((resolve) => dialog.addEventListener("close", () => resolve(dialog.returnValue === "yes"), { once: true }));
  }

  // Newest first: who changed what when, a summary of each version, and 恢复到这一版 (asked first, then restore(n)).
  function showHistory(list, revisions, now, { fields, summary, restore }) {
    list.replaceChildren();
    for (const change of revisions.slice().reverse()) {
      const action = change.restored_from ? t("恢复第 {n} 版", { n: change.restored_from }) : ACTIONS[change.action] || change.action;
      const item = el("li", t("第 {n} 版", { n: change.revision }) + " · " + action + " · " + change.author + " · " + shopTime(change.at) + " ");
      if (change.after) {
        const button = el("button", t("恢复到这一版"), "link");
        button.addEventListener("click", async () => {
          if (await confirmRollback(now, change, fields)) restore(change.revision);
        });
        item.append(button);
        for (const line of summary(change.after)) item.append(el("div", line, "rev-text"));
      }
      list.append(item);
    }
  }

  return { $, el, toast, api, showHistory };
})();
