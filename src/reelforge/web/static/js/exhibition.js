// The public side of an exhibition: a slideshow that advances by itself. Keys: ← → to step,
// space to pause or play, f for fullscreen. Videos (latent walks) play muted and loop; an image
// stays IMAGE_MS on screen, a video VIDEO_MS (it loops meanwhile). Only the slide on screen and
// the next one are loaded.
import { t } from "/static/js/app.js";

const IMAGE_MS = 6000;
const VIDEO_MS = 10000;
const IDLE_MS = 2500;

const stage = document.getElementById("stage");
const slides = [...document.querySelectorAll(".slide")];
const count = document.getElementById("ex-count");
const bar = document.getElementById("ex-progress");
const playBtn = document.getElementById("ex-play");
let index = 0;
let playing = slides.length > 1;
let started = 0;
let elapsed = 0;  // time already shown of the current slide when it was paused

function load(slide) {
  if (!slide) return;
  const media = slide.querySelector(".media");
  if (media && !media.getAttribute("src") && media.dataset.src) media.setAttribute("src", media.dataset.src);
}

function duration() {
  return slides[index] && slides[index].dataset.kind === "video" ? VIDEO_MS : IMAGE_MS;
}

function show(i) {
  if (!slides.length) return;
  const prev = slides[index];
  index = (i + slides.length) % slides.length;
  const slide = slides[index];
  if (prev && prev !== slide) {
    prev.hidden = true;
    prev.classList.remove("on");
    const v = prev.querySelector("video");
    if (v) v.pause();
  }
  load(slide);
  slide.hidden = false;
  requestAnimationFrame(() => slide.classList.add("on"));  // fades in (CSS)
  const v = slide.querySelector("video");
  if (v) {
    v.muted = true;
    v.loop = true;
    v.play().catch(() => {});  // autoplay refused: the poster stays, the controls still work
  }
  load(slides[(index + 1) % slides.length]);  // ready before it is needed
  count.textContent = `${String(index + 1).padStart(2, "0")} / ${String(slides.length).padStart(2, "0")}`;
  started = performance.now();
  elapsed = 0;
  bar.style.width = "0%";
}

function tick(now) {
  if (playing) {
    const done = elapsed + (now - started);
    bar.style.width = `${Math.min(100, (100 * done) / duration())}%`;
    if (done >= duration()) show(index + 1);
  }
  requestAnimationFrame(tick);
}

function setPlaying(on) {
  if (on === playing) return;
  if (on) started = performance.now();
  else elapsed += performance.now() - started;
  playing = on;
  stage.classList.toggle("paused", !on);
  const label = on ? t("Pause") : t("Play");
  playBtn.setAttribute("aria-label", label);
  playBtn.title = `${label} (␣)`;
  playBtn.setAttribute("aria-pressed", on ? "false" : "true");
  playBtn.textContent = on ? "❚❚" : "▶";
}

function fullscreen() {
  if (document.fullscreenElement) document.exitFullscreen().catch(() => {});
  else (stage.requestFullscreen ? stage.requestFullscreen() : Promise.reject()).catch(() => {});
}

document.getElementById("ex-prev").addEventListener("click", () => show(index - 1));
document.getElementById("ex-next").addEventListener("click", () => show(index + 1));
playBtn.addEventListener("click", () => setPlaying(!playing));
document.getElementById("ex-full").addEventListener("click", fullscreen);

document.addEventListener("keydown", (e) => {
  if (e.altKey || e.ctrlKey || e.metaKey) return;
  if (e.key === "ArrowRight" || e.key === "PageDown") { e.preventDefault(); show(index + 1); }
  else if (e.key === "ArrowLeft" || e.key === "PageUp") { e.preventDefault(); show(index - 1); }
  else if (e.key === " " || e.key === "Spacebar") {
    // Space on a focused button presses it; everywhere else it pauses or plays.
    if (e.target.closest("button")) return;
    e.preventDefault();
    setPlaying(!playing);
  } else if (e.key === "f" || e.key === "F") { e.preventDefault(); fullscreen(); }
  else if (e.key === "Home") { e.preventDefault(); show(0); }
  else if (e.key === "End") { e.preventDefault(); show(slides.length - 1); }
});

// Controls and caption chrome fade when the pointer rests; any movement or key brings them back.
let idle = 0;
function wake() {
  stage.classList.remove("idle");
  clearTimeout(idle);
  idle = setTimeout(() => {
    if (!document.querySelector(".ex-controls").matches(":focus-within")) stage.classList.add("idle");
  }, IDLE_MS);
}
for (const ev of ["mousemove", "pointerdown", "keydown", "touchstart"]) document.addEventListener(ev, wake, { passive: true });

// Swipe on touch screens.
let touchX = null;
stage.addEventListener("touchstart", (e) => { touchX = e.touches[0].clientX; }, { passive: true });
stage.addEventListener("touchend", (e) => {
  if (touchX === null) return;
  const dx = e.changedTouches[0].clientX - touchX;
  touchX = null;
  if (Math.abs(dx) > 50) show(index + (dx < 0 ? 1 : -1));
});

// The tab hidden: the clock stops, so nobody comes back to a slideshow three slides on.
document.addEventListener("visibilitychange", () => {
  if (document.hidden && playing) { setPlaying(false); stage.dataset.autoPaused = "1"; }
  else if (!document.hidden && stage.dataset.autoPaused) { delete stage.dataset.autoPaused; setPlaying(true); }
});

if (slides.length) {
  stage.classList.toggle("paused", !playing);
  if (!playing) { playBtn.hidden = true; }
  show(0);
  wake();
  requestAnimationFrame(tick);
  stage.focus({ preventScroll: true });
}
