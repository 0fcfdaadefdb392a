// Coding a span of a note: whatever the reader selects inside #note-text (mouse, touch or
// shift+arrows) fills the form's start/end with positions in characters (code points, as the
// server and REFI-QDA count them; the browser counts UTF-16 units) and shows the selected text.
(() => {
  "use strict";

  const codePoints = (text) => Array.from(text).length;

  function offsetIn(container, node, offset) {
    const range = document.createRange();
    range.selectNodeContents(container);
    range.setEnd(node, offset);
    return codePoints(range.toString());
  }

  function show() {
    const text = document.getElementById("note-text");
    const start = document.getElementById("f-start");
    const end = document.getElementById("f-end");
    const output = document.getElementById("coding-selection");
    if (!text || !start || !end || !output) return;
    const from = Number(start.value), to = Number(end.value);
    output.textContent = start.value !== "" && end.value !== "" && to > from
      ? Array.from(text.textContent).slice(from, to).join("") : "";
  }

  document.addEventListener("selectionchange", () => {
    const text = document.getElementById("note-text");
    const selection = document.getSelection();
    if (!text || !selection || selection.rangeCount === 0) return;
    const range = selection.getRangeAt(0);
    // Clicking the code list afterwards collapses the selection: keep what was chosen.
    if (range.collapsed || !text.contains(range.startContainer) || !text.contains(range.endContainer)) return;
    document.getElementById("f-start").value = offsetIn(text, range.startContainer, range.startOffset);
    document.getElementById("f-end").value = offsetIn(text, range.endContainer, range.endOffset);
    show();
  });
  // Typed positions (keyboard users, or corrections) show their text too.
  document.addEventListener("input", (evt) => { if (evt.target.matches("#f-start, #f-end")) show(); });
})();
