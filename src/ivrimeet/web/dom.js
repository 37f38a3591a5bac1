// Small DOM helpers: build elements, announce to screen readers, ask for confirmation.

/**
 * Build an element: h("button", {class: "x", onclick: fn}, "text", child).
 * Attributes starting with "on" become listeners; `dataset` and `style` take objects;
 * `false`/`null` attributes are left out; children may be strings, nodes or arrays.
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value == null) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (name === "dataset") {
      Object.assign(el.dataset, value);
    } else if (name === "style") {
      for (const [prop, v] of Object.entries(value)) el.style.setProperty(prop, v);
    } else if (name in el && !name.includes("-") && name !== "list") {
      el[name] = value;
    } else {
      el.setAttribute(name, value === true ? "" : value);
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child == null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

/** Replace every child of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const announcer = () => document.getElementById("announcer");

/** Say `message` through the polite live region (screen readers read it once). */
export function announce(message) {
  const region = announcer();
  if (!region) return;
  region.textContent = "";
  // A fresh text node after a tick makes repeated identical messages read again.
  window.setTimeout(() => {
    region.textContent = message;
  }, 50);
}

/**
 * Ask a yes/no question in the modal dialog; resolves true when confirmed.
 * Escape, the cancel button and closing the dialog all resolve false.
 */
export function confirmAction({ title, text, confirmLabel }) {
  const dialog = document.getElementById("confirm-dialog");
  document.getElementById("confirm-title").textContent = title;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm-ok").textContent = confirmLabel;
  const opener = document.activeElement;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        if (opener instanceof HTMLElement && opener.isConnected) opener.focus();
        resolve(dialog.returnValue === "confirm");
      },
      { once: true },
    );
  });
}

/** Show `message` in a message element; `kind` is "error", "info" or "ok". */
export function showMessage(el, message, kind = "info") {
  el.textContent = message || "";
  el.dataset.kind = kind;
  el.hidden = !message;
}
