// Vigil console: a little progressive enhancement. Every page works
// without it; this only saves a reload (tabs), asks before destructive
// actions, ticks every box at once and copies references.
"use strict";

document.addEventListener("DOMContentLoaded", () => {
  // Tabs: links to ?tab=… that switch without a reload.
  for (const tabs of document.querySelectorAll("[data-tabs]")) {
    const links = tabs.querySelectorAll('[role="tab"]');
    const show = (name, push) => {
      for (const a of links) {
        const on = a.dataset.tab === name;
        a.setAttribute("aria-selected", on ? "true" : "false");
        const panel = document.getElementById(a.getAttribute("aria-controls"));
        if (panel) panel.hidden = !on;
      }
      if (push) {
        const url = new URL(location.href);
        url.searchParams.set("tab", name);
        history.replaceState(null, "", url);
      }
    };
    for (const a of links) {
      a.addEventListener("click", (e) => {
        if (e.metaKey || e.ctrlKey || e.shiftKey) return;
        e.preventDefault();
        show(a.dataset.tab, true);
      });
    }
  }

  // Confirm before a destructive form is sent.
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (e) => {
      if (!window.confirm(form.dataset.confirm)) e.preventDefault();
    });
  }

  // A checkbox that ticks every box of a name.
  for (const all of document.querySelectorAll("[data-check-all]")) {
    all.addEventListener("change", () => {
      for (const box of document.querySelectorAll('input[type="checkbox"][name="' + all.dataset.checkAll + '"]')) {
        box.checked = all.checked;
      }
    });
  }

  // Copy buttons.
  for (const btn of document.querySelectorAll("[data-copy], [data-copy-from]")) {
    btn.addEventListener("click", async () => {
      const text = btn.dataset.copy ?? document.getElementById(btn.dataset.copyFrom)?.textContent ?? "";
      try {
        await navigator.clipboard.writeText(text);
        const was = btn.textContent;
        btn.textContent = "Copied";
        setTimeout(() => { btn.textContent = was; }, 1200);
      } catch {
        // Clipboard access refused (plain http): nothing to do.
      }
    });
  }
});
