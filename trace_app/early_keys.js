// Early keys: the first letters typed into a text field at once after tapping it are
// kept. A tap gives the field's <input> the browser's focus at once, but Flutter takes
// the field over only some 10-50 ms later: it starts listening to the <input>, then
// writes the field's text as it knows it into it. A key typed in between lands in the
// <input> unheard, and that write wipes it. So: what was typed before Flutter listened
// is noted, and typed again at Flutter's caret just after its write, as an input
// Flutter hears.
(() => {
  const unheard = new WeakMap();  // <input> -> {before, typed}: its text before and after
  const heard = new WeakSet();  // the <input>s Flutter listens to

  const isField = (el) => el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement;
  const early = (event) => event.isTrusted && isField(event.target) && !heard.has(event.target);

  document.addEventListener("beforeinput", (event) => {
    const el = event.target;
    if (early(event) && !unheard.has(el)) unheard.set(el, { before: el.value, typed: el.value });
  }, true);
  document.addEventListener("input", (event) => {
    const note = early(event) && unheard.get(event.target);
    if (note) note.typed = event.target.value;
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

  for (const Field of [HTMLInputElement, HTMLTextAreaElement]) {
    const value = Object.getOwnPropertyDescriptor(Field.prototype, "value");
    Object.defineProperty(Field.prototype, "value", {
      ...value,
      set(text) {
        value.set.call(this, text);
        const note = unheard.get(this);
        if (!note || !heard.has(this)) return;
        unheard.delete(this);
        // After the rest of Flutter's write (it sets the caret next), in the same turn.
        queueMicrotask(() => {
          const letters = inserted(note.before, note.typed);
          const now = value.get.call(this);
          if (!letters || now === note.typed) return;  // nothing to add, or nothing wiped
          const at = this.selectionStart ?? now.length;
          value.set.call(this, now.slice(0, at) + letters + now.slice(this.selectionEnd ?? at));
          this.setSelectionRange(at + letters.length, at + letters.length);
          this.dispatchEvent(new Event("input", { bubbles: true }));
        });
      },
    });
  }
})();
