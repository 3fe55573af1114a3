// Screenplay report: the stripboard is one link per strip; the arrow keys move between strips
// (Home / End to the first and last), Enter opens the scene in the table below.
const board = document.getElementById("stripboard");
if (board) {
  const strips = () => [...board.querySelectorAll("a.strip")];
  board.addEventListener("keydown", (e) => {
    const list = strips();
    const i = list.indexOf(document.activeElement);
    if (i < 0) return;
    const moves = { ArrowDown: i + 1, ArrowRight: i + 1, ArrowUp: i - 1, ArrowLeft: i - 1, Home: 0, End: list.length - 1 };
    if (!(e.key in moves)) return;
    e.preventDefault();
    const next = list[Math.max(0, Math.min(list.length - 1, moves[e.key]))];
    next.focus();
    next.scrollIntoView({ block: "nearest" });
  });
  // Roving tab stop: Tab enters the board once and leaves it once.
  const list = strips();
  list.forEach((a, j) => { a.tabIndex = j === 0 ? 0 : -1; });
  board.addEventListener("focusin", (e) => {
    if (!e.target.classList.contains("strip")) return;
    for (const a of strips()) a.tabIndex = a === e.target ? 0 : -1;
  });
}

// A scene opened from a strip or a search result: move focus to its row so it is read out.
function focusTarget() {
  const id = decodeURIComponent(location.hash.slice(1));
  if (!id.startsWith("scene-")) return;
  const row = document.getElementById(id);
  if (row) row.focus({ preventScroll: false });
}
window.addEventListener("hashchange", focusTarget);
if (location.hash) focusTarget();
