// Early keys: the first keys typed into a text field at once after tapping it are
// kept. A tap gives the field's <input> the browser's focus at once, but Flutter takes
// the field over only some 10-50 ms later (more on a slow phone): it starts listening
// to the <input>, then writes the field's text as it knows it into it. A key typed in
// between lands in the <input> unheard, and that write wipes it. So: what was typed
// before Flutter listened is noted, and typed again at Flutter's caret just after its
// write, as an input Flutter hears; an Enter pressed meanwhile in a one-line field
// (which submits it) is pressed again after the letters.
(() => {
  const unheard = new WeakMap();  // <input> -> {before, typed, enter}: what was typed unheard
  const heard = new WeakSet();  // the <input>s Flutter listens to

  const isField = (el) => el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement;
  const early = (event) => event.isTrusted && isField(event.target) && !heard.has(event.target);

  const note = (el) => {
    if (!unheard.has(el)) unheard.set(el, { before: el.value, typed: el.value, enter: false });
    return unheard.get(el);
  };
  document.addEventListener("beforeinput", (event) => {
    if (early(event)) note(event.target);
  }, true);
  // A textarea's Enter is a letter (a new line); an input's submits, Flutter hearing the keydown.
  document.addEventListener("keydown", (event) => {
    const submits = event.key === "Enter" && !event.isComposing;
    if (submits && early(event) && event.target instanceof HTMLInputElement) {
      note(event.target).enter = true;
    }
  }, true);
  document.addEventListener("input", (event) => {
    const noted = early(event) && unheard.get(event.target);
    if (noted) noted.typed = event.target.value;
  }, true);
  document.addEventListener("focusout", (event) => unheard.delete(event.target), true);

  const listen = EventTarget.prototype.addEventListener;
  EventTarget.prototype.addEventListener = function (type, listener, options) {
    if (type === "input" && isField(this)) heard.add(this);
    return listen.call(this, type, listener, options);
  };
  const unlisten = EventTarget.prototype.removeEventListener;
  EventTarget.prototype.removeEventListener = function (type, listener, options) {
    if (type === "input" && isField(this)) heard.delete(this);
    return unlisten.call(this, type, listener, options);
  };

  // The letters typed into `before` to make `typed`, or "" when keys also deleted some.
  function inserted(before, typed) {
    let start = 0;
    while (start < before.length && before[start] === typed[start]) start++;
    const kept = typed.length - (before.length - start);  // where the old text resumes
    const letters = typed.slice(start, kept);
    return before.slice(start) === typed.slice(kept) ? letters : "";
  }

  const ENTER = { key: "Enter", code: "Enter", keyCode: 13, which: 13, cancelable: true };

  // Puts `letters` at the field's caret, unless its text is still what was typed.
  function retype(el, value, letters, typed) {
    const now = value.get.call(el);
    if (!letters || now === typed) return;  // nothing to add, or nothing wiped
    const at = el.selectionStart ?? now.length;
    value.set.call(el, now.slice(0, at) + letters + now.slice(el.selectionEnd ?? at));
    el.setSelectionRange(at + letters.length, at + letters.length);
    el.dispatchEvent(new Event("input", { bubbles: true }));
  }

  for (const Field of [HTMLInputElement, HTMLTextAreaElement]) {
    const value = Object.getOwnPropertyDescriptor(Field.prototype, "value");
    Object.defineProperty(Field.prototype, "value", {
      ...value,
      set(text) {
        value.set.call(this, text);
        const noted = unheard.get(this);
        if (!noted || !heard.has(this)) return;
        unheard.delete(this);
        // After the rest of Flutter's write (it sets the caret next), in the same turn.
        queueMicrotask(() => {
          retype(this, value, inserted(noted.before, noted.typed), noted.typed);
          // Only on the field itself (no bubbling): the page's own key handling had it.
          if (noted.enter) this.dispatchEvent(new KeyboardEvent("keydown", ENTER));
        });
      },
    });
  }
})();
