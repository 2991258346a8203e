// imagegate dashboard: small progressive enhancements. Every page works without this file;
// with it, uploads show per-file progress and appear in the list as they finish, copy
// buttons copy, and previews follow the form.
"use strict";

(function () {
  const announcer = document.querySelector("[data-announce]");

  function announce(text) {
    if (!announcer) return;
    announcer.textContent = "";
    window.setTimeout(() => { announcer.textContent = text; }, 50);
  }

  // --- copy and reveal ---------------------------------------------------------------------

  async function copyText(input) {
    const text = input.value;
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch (_) { /* fall back below */ }
    }
    const type = input.type;
    if (type === "password") input.type = "text";
    input.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch (_) { copied = false; }
    if (type === "password") input.type = type;
    return copied;
  }

  function firstText(button) {
    for (const node of button.childNodes) {
      if (node.nodeType === Node.TEXT_NODE && node.textContent.trim()) return node;
    }
    return null;
  }

  document.querySelectorAll("[data-copy]").forEach((button) => {
    button.addEventListener("click", async () => {
      const input = document.getElementById(button.dataset.copy);
      if (!input) return;
      const ok = await copyText(input);
      const label = firstText(button);
      const before = label ? label.textContent : "";
      if (label) label.textContent = ok ? "Copied" : "Select and copy";
      button.dataset.copied = ok ? "true" : "false";
      announce(ok ? "Copied to the clipboard." : "Could not copy: select the text and copy it.");
      if (!ok) { input.type = "text"; input.focus(); input.select(); }
      window.setTimeout(() => { if (label) label.textContent = before; }, 2000);
    });
  });

  document.querySelectorAll("[data-reveal]").forEach((button) => {
    button.addEventListener("click", () => {
      const input = document.getElementById(button.dataset.reveal);
      if (!input) return;
      const show = input.type === "password";
      input.type = show ? "text" : "password";
      button.setAttribute("aria-pressed", show ? "true" : "false");
      const label = firstText(button);
      if (label) label.textContent = show ? "Hide" : "Show";
    });
  });

  document.querySelectorAll("[data-no-js]").forEach((el) => { el.hidden = true; });

  // --- signed URL lifetime -------------------------------------------------------------------

  document.querySelectorAll("[data-lifetime-form]").forEach((form) => {
    const box = form.querySelector("[data-custom-life]");
    if (!box) return;
    const sync = () => {
      const checked = form.querySelector("input[name=lifetime]:checked");
      box.hidden = !(checked && checked.value === "custom");
    };
    form.addEventListener("change", sync);
    sync();
  });

  // --- uploads -------------------------------------------------------------------------------

  const MB = 1024 * 1024;

  function setupUpload(form) {
    const input = form.querySelector("input[type=file]");
    const zone = form.querySelector("[data-dropzone]");
    const list = document.querySelector("[data-upload-list]");
    const status = document.querySelector("[data-upload-status]");
    const done = document.querySelector("[data-upload-done]");
    const submit = form.querySelector("[data-upload-submit]");
    const privateBox = form.querySelector("input[name=private]");
    const creatorBox = form.querySelector("input[name=creator]");
    const csrf = form.querySelector("input[name=csrf_token]").value;
    const maxBytes = Number(form.dataset.maxBytes) || 10 * MB;
    const queue = [];
    let running = 0, total = 0, succeeded = 0, failed = 0;

    input.required = false;
    if (submit) submit.hidden = true;

    function summary() {
      const finished = succeeded + failed;
      let text = `${finished} of ${total} file${total === 1 ? "" : "s"} finished`;
      if (failed) text += `, ${failed} failed`;
      status.textContent = text + ".";
    }

    // The list below is the server's: fetch this page again and put its list (and its
    // count) in place of ours, once per burst of finished uploads. If that fails (the
    // session ended, the network went), the link to reload the page is shown instead.
    const listing = document.querySelector("[data-image-list]");
    const shown = document.querySelector("[data-upload-shown]");
    let refreshing = null, again = false;

    async function refreshList() {
      if (!listing) { done.hidden = false; return; }
      if (refreshing) { again = true; return; }
      refreshing = (async () => {
        do {
          again = false;
          try {
            const answer = await fetch(window.location.href, {
              credentials: "same-origin", cache: "no-store", headers: { Accept: "text/html" },
            });
            const page = new DOMParser().parseFromString(await answer.text(), "text/html");
            const fresh = answer.ok ? page.querySelector("[data-image-list]") : null;
            if (!fresh) throw new Error("no list in the answer");
            listing.replaceChildren(...Array.from(fresh.childNodes, (n) => document.importNode(n, true)));
            const held = page.querySelector("[data-held]"), ours = document.querySelector("[data-held]");
            if (held && ours) ours.textContent = held.textContent;
            done.hidden = true;
            if (shown) shown.hidden = false;
          } catch (_) {
            done.hidden = false;
            if (shown) shown.hidden = true;
            again = false;
          }
        } while (again);
        refreshing = null;
      })();
    }

    function row(file) {
      const li = document.createElement("li");
      const name = document.createElement("span");
      name.className = "file";
      name.textContent = file.name;
      const state = document.createElement("span");
      state.className = "state";
      state.textContent = "Waiting";
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      bar.setAttribute("aria-label", `Upload of ${file.name}`);
      li.append(name, state, bar);
      li.dataset.state = "waiting";
      list.append(li);
      return { li, state, bar };
    }

    function finish(item, ok, words) {
      item.li.dataset.state = ok ? "done" : "failed";
      item.state.className = "state " + (ok ? "done" : "failed");
      item.state.textContent = words;
      if (ok) { item.bar.value = 100; succeeded += 1; } else { failed += 1; }
      running -= 1;
      summary();
      if (ok) refreshList();
      pump();
    }

    function send(item) {
      running += 1;
      item.li.dataset.state = "uploading";
      item.state.textContent = "Uploading";
      const body = new FormData();
      body.append("file", item.file, item.file.name);
      if (privateBox && privateBox.checked) body.append("private", "true");
      if (creatorBox && creatorBox.value.trim()) body.append("creator", creatorBox.value.trim());
      const xhr = new XMLHttpRequest();
      xhr.open("POST", form.action);
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", (event) => {
        if (!event.lengthComputable) return;
        const percent = Math.round((event.loaded / event.total) * 100);
        item.bar.value = percent;
        item.state.textContent = `Uploading ${percent}%`;
      });
      xhr.addEventListener("load", () => {
        let answer = null;
        try { answer = JSON.parse(xhr.responseText); } catch (_) { answer = null; }
        if (xhr.status === 200 && answer && answer.ok) {
          finish(item, true, answer.private ? "Uploaded (private)" : "Uploaded");
        } else {
          const why = answer && answer.error ? answer.error : `the server answered ${xhr.status}`;
          finish(item, false, `Failed: ${why}`);
        }
      });
      xhr.addEventListener("error", () => finish(item, false, "Failed: the connection to the server was lost."));
      xhr.addEventListener("abort", () => finish(item, false, "Cancelled."));
      xhr.send(body);
    }

    function pump() {
      while (running < 2 && queue.length) send(queue.shift());
    }

    function add(files) {
      for (const file of files) {
        const item = { file, ...row(file) };
        total += 1;
        if (file.size > maxBytes) {
          running += 1;  // finish() takes it back
          finish(item, false, `Failed: ${(file.size / MB).toFixed(1)} MB is over the ${(maxBytes / MB).toFixed(1)} MB limit.`);
          continue;
        }
        if (file.size === 0) {
          running += 1;
          finish(item, false, "Failed: the file is empty.");
          continue;
        }
        queue.push(item);
      }
      done.hidden = true;
      if (shown) shown.hidden = true;
      summary();
      pump();
    }

    input.addEventListener("change", () => {
      if (input.files && input.files.length) add(Array.from(input.files));
      input.value = "";
    });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (input.files && input.files.length) add(Array.from(input.files));
      input.value = "";
    });
    ["dragenter", "dragover"].forEach((type) => zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("over");
    }));
    ["dragleave", "drop"].forEach((type) => zone.addEventListener(type, () => zone.classList.remove("over")));
    zone.addEventListener("drop", (event) => {
      event.preventDefault();
      if (event.dataTransfer && event.dataTransfer.files.length) add(Array.from(event.dataTransfer.files));
    });
    // A file dropped beside the zone must not replace the page.
    window.addEventListener("dragover", (event) => event.preventDefault());
    window.addEventListener("drop", (event) => event.preventDefault());
  }

  document.querySelectorAll("form[data-upload]").forEach(setupUpload);

  // --- variant preview -------------------------------------------------------------------------

  const preview = document.querySelector("[data-preview-img]");
  if (preview) {
    const caption = document.querySelector("[data-preview-caption]");
    const fields = Array.from(document.querySelectorAll("[data-preview-field]"));
    let timer = 0;
    const update = () => {
      const params = new URLSearchParams();
      fields.forEach((field) => params.set(field.dataset.previewField, field.value));
      if (preview.dataset.variant) params.set("variant", preview.dataset.variant);
      const width = Number(params.get("width")), height = Number(params.get("height"));
      const whole = (n) => Number.isInteger(n) && n >= 1 && n <= 12000;
      if (!whole(width) || !whole(height)) {
        caption.textContent = "Enter a width and a height in whole pixels to see the preview.";
        return;
      }
      caption.textContent = `${params.get("fit")}, ${width}×${height}`;
      preview.src = `${preview.dataset.base}?${params.toString()}`;
    };
    const later = () => { window.clearTimeout(timer); timer = window.setTimeout(update, 300); };
    fields.forEach((field) => {
      field.addEventListener("input", later);
      field.addEventListener("change", later);
    });
    preview.addEventListener("error", () => {
      caption.textContent = "The preview could not be rendered with these settings.";
    });
  }
})();
