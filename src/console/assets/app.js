// The console's one script, loaded in <head> so that the theme is set before the page is
// drawn (no flash of the other theme); the rest waits for the page. The Content-Security-Policy
// allows no inline script, so everything lives here.

// Theme: "light" or "dark" as chosen in the header (kept in localStorage), or the system's
// setting when nothing is kept; style.css reads <html data-theme>.
(function () {
  const KEY = "console-theme";
  const apply = (theme) => {
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
    else delete document.documentElement.dataset.theme;
  };
  const kept = () => { try { return localStorage.getItem(KEY); } catch { return null; } };
  apply(kept());
  document.addEventListener("DOMContentLoaded", () => {
    const select = document.getElementById("theme");
    if (!select) return;
    select.value = kept() || "system";
    select.closest("label").hidden = false;
    select.addEventListener("change", () => {
      try {
        if (select.value === "system") localStorage.removeItem(KEY);
        else localStorage.setItem(KEY, select.value);
      } catch { /* storage refused (private mode): the choice lasts for this page */ }
      apply(select.value);
    });
  });
})();

document.addEventListener("DOMContentLoaded", () => {
  // Forms, or their buttons, that ask first (deleting a topic, redriving every dead letter):
  // the question is in data-confirm. A form sent once disables its buttons, so a double click
  // sends it once (the server also refuses to redo what it did: a redrive notes each dead
  // letter it sent).
  document.querySelectorAll("form").forEach((form) => {
    form.addEventListener("submit", (event) => {
      const question = event.submitter?.dataset.confirm || form.dataset.confirm;
      if (question && !window.confirm(question)) { event.preventDefault(); return; }
      if (form.method.toLowerCase() === "post") {
        setTimeout(() => form.querySelectorAll("button").forEach((b) => { b.disabled = true; }), 0);
      }
    });
  });

  // Live follow on a topic page: new messages arrive over Server-Sent Events and are added to
  // the top of the table. Everything else in the console works without script.
  const table = document.querySelector("table[data-live]");
  const toggle = document.getElementById("follow");
  if (!table || !toggle) return;
  let source = null;
  const cell = (text, cls) => {
    const td = document.createElement("td");
    if (cls) td.className = cls;
    const pre = document.createElement("pre");
    pre.textContent = text;
    td.appendChild(pre);
    return td;
  };
  toggle.addEventListener("change", () => {
    if (!toggle.checked) { if (source) source.close(); source = null; return; }
    source = new EventSource(table.dataset.live);
    source.onmessage = (event) => {
      const m = JSON.parse(event.data);
      const tr = document.createElement("tr");
      tr.className = "live";
      [[String(m.partition), "num"], [String(m.offset), "num"], [m.timestamp || "—"], [m.key ?? "(null)"],
       [m.headers.map(([k, v]) => `${k}: ${v}`).join("\n")], [m.value ?? "(null)"]].forEach(([t, c]) => tr.appendChild(cell(t, c)));
      table.tBodies[0].prepend(tr);
    };
  });
});
