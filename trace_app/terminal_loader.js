// The browser draws the terminals (terminal.js: xterm.js fed by the session's io
// document). It finds the terminal panes by their semantics tags, so Flutter's
// semantics tree is switched on (as a screen reader would) as soon as it is offered,
// and terminal.js is loaded when the first terminal pane is shown.
(() => {
  const watch = new MutationObserver(() => {
    document.querySelector("flt-semantics-placeholder")?.click();  // gone once it is on
    if (!document.querySelector('[flt-semantics-identifier^="xterm "]')) return;
    watch.disconnect();
    const script = document.createElement("script");
    script.src = flet.assetBase + "terminal.js";
    document.head.append(script);
  });
  watch.observe(document.documentElement, { childList: true, subtree: true, attributes: true,
    attributeFilter: ["flt-semantics-identifier"] });
})();
