// The link watch: a tab whose server went away keeps its last view on screen under
// a banner that says so, instead of Flet's blank "Working..." page. Flet hears of
// the lost link only once the server answers again; it then reconnects at once, and
// the tab's address brings the new session back to the same place. Meanwhile taps and
// keys are held off: they would go nowhere.
(() => {
  const MESSAGE = "{message}";
  const FIRST_MS = 250, LONGEST_MS = 4000;
  const HELD_INPUT = ["keydown", "keyup", "keypress", "beforeinput", "paste"];
  const Native = window.WebSocket;
  let probing = null;
  let banner = null;

  const isFlet = (url) => new URL(url, location.href).pathname.endsWith("/ws");
  const swallow = (e) => { e.stopImmediatePropagation(); e.preventDefault(); };

  // Any reply will do: the server answers only once it has started.
  async function answers() {
    try {
      await fetch(location.href, { method: "HEAD", cache: "no-store" });
      return true;
    } catch {
      return false;
    }
  }

  function show() {
    if (banner) return;
    banner = document.createElement("div");
    banner.id = "trace-link";
    banner.setAttribute("role", "alert");
    banner.textContent = MESSAGE;
    banner.style.cssText = "position:fixed;top:0;left:0;right:0;z-index:2147483647;"
      + "padding:10px 16px;background:#b3261e;color:#fff;font:15px/1.3 sans-serif;"
      + "text-align:center;box-shadow:0 2px 6px rgba(0,0,0,.3)";
    const scrim = document.createElement("div");  // the last view shows through, untouchable
    scrim.style.cssText = "position:fixed;inset:0;z-index:2147483646;background:rgba(0,0,0,.12)";
    banner.scrim = scrim;
    document.body.append(scrim, banner);
    HELD_INPUT.forEach((type) => window.addEventListener(type, swallow, true));
  }

  function hide() {
    if (!banner) return;
    banner.scrim.remove();
    banner.remove();
    banner = null;
    HELD_INPUT.forEach((type) => window.removeEventListener(type, swallow, true));
  }

  // Resolves once the server answers: one probe loop however many sockets wait on it.
  function serverBack() {
    probing ??= (async () => {
      for (let delay = FIRST_MS; !(await answers()); delay = Math.min(delay * 2, LONGEST_MS)) {
        show();
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
      hide();
      probing = null;
    })();
    return probing;
  }

  const later = (listener) => function (event) {
    serverBack().then(() => listener.call(this, event));
  };

  window.WebSocket = class extends Native {
    #later = new Map();  // listener -> the same listener, held until the server is back

    constructor(url, protocols) {
      super(url, protocols);
      this.watched = isFlet(url);
    }

    #held(type, listener) {
      if (!this.watched || !listener || (type !== "close" && type !== "error")) return listener;
      if (!this.#later.has(listener)) this.#later.set(listener, later(listener));
      return this.#later.get(listener);
    }

    addEventListener(type, listener, options) {
      super.addEventListener(type, this.#held(type, listener), options);
    }

    removeEventListener(type, listener, options) {
      super.removeEventListener(type, this.#held(type, listener), options);
    }

    set onclose(listener) { super.onclose = this.#held("close", listener); }
    get onclose() { return super.onclose; }
    set onerror(listener) { super.onerror = this.#held("error", listener); }
    get onerror() { return super.onerror; }
  };
})();
