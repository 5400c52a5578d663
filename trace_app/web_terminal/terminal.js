// The web app's terminal, drawn by the browser.
//
// Every tab of the web app runs its app session in the server, so a terminal drawn
// by Flet costs the server a diff and a message per tab per frame. Here the tab's
// terminal pane only holds a placeholder tagged "xterm <io document> <terminal id>";
// this script lays an xterm.js terminal over it, fed by a read-only Yjs replica of
// that document over /sync (the sign-in cookie authenticates it, as it does the app),
// so the server only sends each tab the document's updates, framed once for all.
import { Terminal } from "@xterm/xterm";
import css from "@xterm/xterm/css/xterm.css";
import * as decoding from "lib0/decoding";
import * as encoding from "lib0/encoding";
import * as sync from "y-protocols/sync";
import * as Y from "yjs";

const TAG = "xterm ";
const PLACEHOLDERS = `[flt-semantics-identifier^="${TAG}"]`;
const MESSAGE_SYNC = 0;
const BACKGROUND = "#1e1e1e";
const FOREGROUND = "#d4d4d4";
const SCROLLBACK = 10000;  // lines: the live window (1,000-4,000) and older ones loaded
const RETRY_MS = [500, 1000, 2000, 5000, 10000];
const SEGMENT_WAIT_MS = 10000;

/** A read-only replica of one document, shared by the overlays that show it. */
class Replica {
  constructor(name) {
    this.name = name;
    this.doc = new Y.Doc();
    this.users = 0;
    this.problem = "";  // why the server refused it, shown in place
    this.watchers = new Set();
    this.tries = 0;
    this.closed = false;
    this.synced = new Promise((resolve) => (this.heardAll = resolve));
    this.connect();
  }

  connect() {
    const url = new URL(`/sync/${this.name}`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    socket.onopen = () => {
      const step1 = encoding.createEncoder();
      encoding.writeVarUint(step1, MESSAGE_SYNC);
      sync.writeSyncStep1(step1, this.doc);
      socket.send(encoding.toUint8Array(step1));
    };
    socket.onmessage = (message) => {
      const decoder = decoding.createDecoder(new Uint8Array(message.data));
      if (decoding.readVarUint(decoder) !== MESSAGE_SYNC) return;  // awareness: not shown here
      // The answer to the server's step 1 is not sent: this replica never writes.
      const kind = sync.readSyncMessage(decoder, encoding.createEncoder(), this.doc, this);
      if (kind === sync.messageYjsSyncStep2) this.heardAll();
      this.tries = 0;
      this.tell("");
    };
    socket.onclose = (event) => {
      if (this.closed) return;
      if (event.code >= 4000) this.tell(event.reason || `refused (${event.code})`);
      const wait = RETRY_MS[Math.min(this.tries++, RETRY_MS.length - 1)];
      this.retry = setTimeout(() => this.connect(), wait);
    };
    this.socket = socket;
  }

  tell(problem) {
    if (problem === this.problem) return;
    this.problem = problem;
    for (const watcher of this.watchers) watcher();
  }

  close() {
    this.closed = true;
    clearTimeout(this.retry);
    this.socket.close();
    this.doc.destroy();
  }
}

const replicas = new Map();  // document name -> Replica

function acquire(name) {
  let replica = replicas.get(name);
  if (!replica) replicas.set(name, (replica = new Replica(name)));
  replica.users++;
  return replica;
}

function release(replica) {
  if (--replica.users > 0) return;
  replicas.delete(replica.name);
  replica.close();
}

/** One terminal laid over its placeholder, fed by the output's deltas. */
class Overlay {
  constructor(tag) {
    const [name, id] = tag.slice(TAG.length).split(" ");
    this.id = id;
    this.session = name.slice(0, -"/io".length);  // "session/<id>"
    this.box = document.createElement("div");
    this.box.className = "trace-terminal";
    this.box.dataset.terminal = tag;
    this.problem = document.createElement("div");
    this.problem.className = "trace-terminal-problem";
    this.box.append(this.problem);
    document.body.append(this.box);
    this.term = new Terminal({
      cols: 80,
      rows: 24,
      scrollback: SCROLLBACK,
      disableStdin: true,  // typing goes through the pane's own field, to the API
      cursorBlink: false,
      fontFamily: '"DejaVu Sans Mono", monospace',
      fontSize: 13,
      theme: { background: BACKGROUND, foreground: FOREGROUND },
    });
    this.term.open(this.box);
    // It takes no key: Ctrl+C copies the selection (the browser's copy), and the app's keys work.
    this.term.attachCustomKeyEventHandler(() => false);
    this.replica = acquire(name);
    this.output = this.replica.doc.getMap("output");
    this.terminals = this.replica.doc.getMap("terminals");
    this.text = null;
    this.fed = 0;  // characters of the text written to the terminal
    this.older = "";  // sealed output loaded on scrolling to the top
    this.first = 0;  // where in the terminal's whole output what is shown starts
    this.onOutput = (events) => this.take(events);
    this.onInfo = () => this.resize();
    this.onProblem = () => this.show();
    this.output.observeDeep(this.onOutput);
    this.terminals.observe(this.onInfo);
    this.replica.watchers.add(this.onProblem);
    this.restart(this.output.get(this.id));
    this.resize();
    // A person scrolling up past the top asks for older output (a wheel, or a finger).
    this.box.addEventListener("wheel", (e) => e.deltaY < 0 && this.atTop() && this.loadOlder());
    this.box.addEventListener("touchend", () => this.atTop() && this.loadOlder());
  }

  /** Write the output's new characters; start over when the terminal's text is new. */
  take(events) {
    const text = this.output.get(this.id);
    if (text !== this.text) return this.restart(text);
    for (const event of events) {
      if (event.target !== text) continue;
      let at = 0;
      for (const op of event.delta) {
        if (op.retain) at += op.retain;
        else if (op.delete) this.fed -= Math.max(0, Math.min(op.delete, this.fed - at));
        else if (typeof op.insert === "string") {
          // Output is only appended; the window's front is cut when it is sealed.
          if (at >= this.fed) this.write(op.insert, at);
          at += op.insert.length;
        }
      }
    }
  }

  write(chars, at) {
    this.term.write(chars);
    this.fed = at + chars.length;
  }

  restart(text) {
    const info = this.terminals.get(this.id);
    if (text !== this.text) [this.older, this.first] = ["", info?.sealed_chars ?? 0];
    this.text = text instanceof Y.Text ? text : null;
    this.term.reset();
    this.fed = 0;
    this.term.write(this.older);
    if (this.text) this.write(this.text.toString(), 0);
  }

  atTop() {
    return this.term.buffer.active.viewportY === 0;
  }

  /** Replay from the newest sealed segment not shown yet, and every segment after it
   * (the window may have been sealed since it was shown): their log documents, read once. */
  async loadOlder() {
    const segments = this.replica.doc.getArray("segments").toArray()
      .filter((s) => s.terminal_id === this.id);
    const from = segments.findLastIndex((s) => s.first < this.first);
    if (this.loading || from < 0) return;
    this.loading = true;
    const logs = segments.slice(from).map((s) => acquire(`${this.session}/log/${s.name}`));
    try {
      const late = new Promise((resolve) => setTimeout(() => resolve("late"), SEGMENT_WAIT_MS));
      const all = Promise.all(logs.map((log) => log.synced));
      if ((await Promise.race([all, late])) === "late") return;  // tried again on scroll
      const sealed = logs.map((log) => log.doc.getArray("entries").toArray().join("")).join("");
      const windowStart = this.terminals.get(this.id)?.sealed_chars ?? 0;
      this.older = sealed.slice(0, windowStart - segments[from].first);
      this.first = segments[from].first;
      this.restart(this.text);
      this.term.scrollToTop();
    } finally {
      logs.forEach(release);
      this.loading = false;
    }
  }

  resize() {
    const info = this.terminals.get(this.id);
    if (!info || (info.cols === this.term.cols && info.rows === this.term.rows)) return;
    this.term.resize(Math.max(2, info.cols), Math.max(1, info.rows));
  }

  show() {
    this.problem.textContent = this.replica.problem
      ? `This terminal cannot be shown: ${this.replica.problem}`
      : "";
  }

  /** Lay the box over `rect`, cut to what `clip` leaves visible. */
  place(rect, clip) {
    const style = this.box.style;
    const at = `${rect.left}px,${rect.top}px,${rect.width}px,${rect.height}px`;
    if (this.at !== at) {
      this.at = at;
      Object.assign(style, {
        left: `${rect.left}px`,
        top: `${rect.top}px`,
        width: `${rect.width}px`,
        height: `${rect.height}px`,
      });
    }
    const inset = `inset(${Math.max(0, clip.top - rect.top)}px ${Math.max(0, rect.right - clip.right)}px `
      + `${Math.max(0, rect.bottom - clip.bottom)}px ${Math.max(0, clip.left - rect.left)}px)`;
    if (style.clipPath !== inset) style.clipPath = inset;
  }

  close() {
    this.output.unobserveDeep(this.onOutput);
    this.terminals.unobserve(this.onInfo);
    this.replica.watchers.delete(this.onProblem);
    release(this.replica);
    this.term.dispose();
    this.box.remove();
  }
}

/** What the placeholder's ancestors leave visible of it (a scrolled list clips it). */
function visible(node) {
  let clip = node.getBoundingClientRect();
  for (let up = node.parentElement; up && up !== document.body; up = up.parentElement) {
    if (getComputedStyle(up).overflow === "visible") continue;
    const r = up.getBoundingClientRect();
    clip = DOMRect.fromRect({
      x: Math.max(clip.left, r.left),
      y: Math.max(clip.top, r.top),
      width: Math.max(0, Math.min(clip.right, r.right) - Math.max(clip.left, r.left)),
      height: Math.max(0, Math.min(clip.bottom, r.bottom) - Math.max(clip.top, r.top)),
    });
  }
  return clip;
}

const overlays = new Map();  // placeholder tag -> Overlay

/** Every frame: an overlay for each placeholder on the page, where it is drawn. */
function follow() {
  try {
    const seen = new Set();
    for (const node of document.querySelectorAll(PLACEHOLDERS)) {
      const tag = node.getAttribute("flt-semantics-identifier");
      if (seen.has(tag)) continue;
      seen.add(tag);
      if (!overlays.has(tag)) overlays.set(tag, new Overlay(tag));
      overlays.get(tag).place(node.getBoundingClientRect(), visible(node));
    }
    for (const [tag, overlay] of overlays) {
      if (seen.has(tag)) continue;
      overlay.close();
      overlays.delete(tag);
    }
  } catch (error) {
    console.error("trace terminal:", error);  // the next frame tries again
  } finally {
    requestAnimationFrame(follow);
  }
}

const style = document.createElement("style");
style.textContent = `${css}
.trace-terminal { position: fixed; z-index: 10; overflow: auto; background: ${BACKGROUND}; }
.trace-terminal-problem { color: #f48771; font: 13px sans-serif; }
.trace-terminal-problem:empty { display: none; }
`;
document.head.append(style);
requestAnimationFrame(follow);
