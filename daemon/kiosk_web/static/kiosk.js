// The patient screen. It shows what kiosk.current says (asked again after every event from the reader), so a
// reload mid-session lands on the same step. One WebSocket to the kiosk-web server; nothing else.
// Privacy: PIN digits live only in `pinDigits` until submit, then are overwritten; the DOM shows dots only,
// nothing is stored, logged or put in a URL, and the voice says "one digit entered", never the digit.
"use strict";

// ---- the one table from the reader's flow state to a screen (daemon/reception/transitions.py states) ----
const SCREEN_FOR_STATE = {
  idle: "place",
  reading: "working",
  choose_method: "method",
  code_b_read: "cardface",    // reading 照合番号B from the printed card face
  code_b_verify: "cardface",  // checking 照合番号B with the card
  face_photo: "face",
  face_matching: "face",
  pin_query: "working",
  pin_entry: "pin",
  pin_verify: "working",
  phone_unlock: "unlock",       // an iPhone refused: unlock it and hold it again
  certificate_read: "working",  // a phone's certificate, after its PIN or its unlock
  signing: "working",
  consent: "question",
  prescription_form: "question",
  registration_confirm: "question",
  take_card: "take",
};
// where the message, not the state, decides
function screenFor(cur) {
  if (cur.state === "choose_method" && cur.step && cur.step.message === "visual_wait") return "visual";
  return SCREEN_FOR_STATE[cur.state] || "working";
}
// messages of step.changed that are told once, on top of the screen that follows
const NOTICES = new Set(["pin_wrong", "pin_blocked", "pin_to_staff", "face_unavailable", "face_failed", "face_locked",
  "renewal_due", "grace", "slow_down"]);
const PATIENT_STATES_WITHOUT_CANCEL = new Set(["idle", "take_card"]);
const WARN_SECONDS = 30;

// ---- state ----
const DEFAULT_PREFS = { lang: "ja", large: false, voice: true };
let prefs = loadPrefs();
let texts = {};
let voiceAvailable = { ja: false, en: false };
let ws = null, linkUp = false, nextId = 1;
const waiting = new Map();
let cur = { state: "idle", step: null, timeout: null };
let refreshSeq = 0;
let notice = null;             // {ja, en, alert, shownOn}
let pageScreen = null;         // "removed" | "phone-choose" | "phone-how" | null: a page-made screen over the flow's
let phoneKind = null;          // "iphone" | "android": the phone the patient said they hold (guidance only)
let faultMessage = null;       // a reader fault: a red banner on every screen until reader.recovered
let registrationArmed = false; // the next card starts a registration (kiosk.current's next_mode)
let deadline = null;           // performance.now() ms when the idle timeout cancels, or null
let pinDigits = [];
let faceOffered = false;       // face was a choice on the last method screen: the PIN screen offers it too
let lastSpoken = null;
let shownScreen = null, shownKey = null;
let audio = null;

function loadPrefs() {
  // language, text size and voice survive a reload (never anything the patient typed)
  try { return Object.assign({}, DEFAULT_PREFS, JSON.parse(sessionStorage.getItem("kiosk-prefs") || "{}")); }
  catch (e) { return Object.assign({}, DEFAULT_PREFS); }
}
function savePrefs() { sessionStorage.setItem("kiosk-prefs", JSON.stringify(prefs)); }

const $ = (sel) => document.querySelector(sel);
const $$ = (sel) => Array.from(document.querySelectorAll(sel));
function t(key, n) {
  const entry = texts[key];
  if (!entry) return key;
  const s = entry[prefs.lang] || entry.ja;
  return n === undefined ? s : s.replace("{n}", String(n));
}
function pick(pair) { return pair ? (pair[prefs.lang] || pair.ja) : ""; }

// ---- the WebSocket to the kiosk-web server ----
function connect() {
  ws = new WebSocket(`ws://${location.host}/ws`);
  ws.onmessage = (ev) => {
    const msg = JSON.parse(ev.data);
    if (msg.type === "reply") {
      const w = waiting.get(msg.id);
      if (!w) return;
      waiting.delete(msg.id);
      if (msg.error) w.reject(msg.error); else w.resolve(msg.result);
    } else if (msg.type === "event") {
      onEvent(msg.method, msg.params || {});
    } else if (msg.type === "link") {
      linkUp = msg.up;
      if (linkUp) refresh(); else render();
    }
  };
  ws.onclose = () => {
    linkUp = false;
    for (const w of waiting.values()) w.reject({ name: "LinkDown" });
    waiting.clear();
    render();
    setTimeout(connect, 1000);
  };
}

function call(method, params) {
  return new Promise((resolve, reject) => {
    if (!ws || ws.readyState !== WebSocket.OPEN) { reject({ name: "LinkDown" }); return; }
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params: params || {} }));
  });
}

async function act(method, params) {
  try {
    return await call(method, params);
  } catch (err) {
    if (err && err.name === "Busy") showNotice(texts.busy, true);
    else if (err && err.name !== "WrongStep" && err.name !== "NoSession" && err.name !== "LinkDown")
      showNotice(texts.error, true);
    return null;
  } finally {
    refresh();
  }
}

async function refresh() {
  const seq = ++refreshSeq;
  let got;
  try { got = await call("kiosk.current"); } catch (e) { render(); return; }
  if (seq !== refreshSeq) return;        // a newer answer is on its way
  cur = got;
  // what the reader holds, not what this page remembers: a reload keeps registration armed and a fault shown
  registrationArmed = got.next_mode === "registration";
  faultMessage = got.fault === undefined ? faultMessage : got.fault;
  deadline = got.timeout ? performance.now() + got.timeout.seconds_left * 1000 : null;
  render();
}

// ---- events from the reader ----
function onEvent(method, p) {
  if (method === "session.started") {
    notice = null; pageScreen = null; phoneKind = null; registrationArmed = false; faultMessage = null; faceOffered = false;
  } else if (method === "step.changed" && NOTICES.has(p.message)) {
    notice = { ja: p.ja, en: p.en, alert: false, shownOn: null };
  } else if (method === "session.aborted" && p.reason === "card_removed") {
    pageScreen = "removed"; notice = null; resetPin();
  } else if (method === "session.ended" || method === "session.aborted") {
    resetPin();
  } else if (method === "reader.fault") {
    faultMessage = p.message || "";
  } else if (method === "reader.recovered") {
    faultMessage = null;
  } else if (method === "guidance" && p.data && p.data.flash) {
    runFlash(p.data.flash, pick(p));
  }
  refresh();
}

// ---- the face check's colours: the screen lights the patient's face (docs/protocol.md, guidance "flash") ----
function runFlash(flash, words) {
  const box = $("#flash");
  if (!box || !Array.isArray(flash.colours) || !flash.colours.length) return;   // cannot show: the reader falls back
  $("#flash-text").textContent = words || "";
  const colours = flash.colours.concat(["#ebebeb"]);     // white for one more step, then back to the page
  let i = 0;
  box.style.background = colours[0];
  box.hidden = false;
  // the first colour is on the glass after the next frame is painted: then tell the reader
  requestAnimationFrame(() => requestAnimationFrame(() => {
    call("kiosk.flash_shown", { nonce: flash.nonce }).catch(() => {});
    const t0 = performance.now();
    const next = () => {
      i = Math.floor((performance.now() - t0) / flash.step_ms);
      if (i >= colours.length) { box.hidden = true; return; }
      box.style.background = colours[i];
      requestAnimationFrame(next);
    };
    requestAnimationFrame(next);
  }));
}

// ---- rendering ----
let lastState = null;
function render() {
  if (lastState === "take_card" && cur.state === "idle") {
    prefs = Object.assign({}, DEFAULT_PREFS);    // the card was taken: the next patient starts in Japanese
    savePrefs();
  }
  lastState = cur.state;
  document.documentElement.lang = prefs.lang;
  document.documentElement.classList.toggle("large", prefs.large);
  for (const el of $$("[data-t]")) el.textContent = t(el.dataset.t);
  $("#btn-voice").textContent = t(prefs.voice ? "voice_on" : "voice_off");
  $("#btn-voice").setAttribute("aria-pressed", String(prefs.voice));
  $("#btn-size").setAttribute("aria-pressed", String(prefs.large));
  $("#btn-voice").hidden = $("#btn-repeat").hidden = !(voiceAvailable.ja || voiceAvailable.en);

  let screen;
  if (!linkUp) screen = "link";
  else if (pageScreen && cur.state === "idle") screen = pageScreen;   // the card pulled; the スマホ guidance
  else screen = screenFor(cur);
  if (pageScreen && cur.state !== "idle") pageScreen = null;

  const step = cur.step || {};
  const data = step.data || {};
  for (const el of $$(".screen")) el.hidden = el.id !== `screen-${screen}`;
  for (const el of $$(`#screen-${screen} .step-text`)) el.textContent = pick(step);
  $("#btn-cancel").hidden = !linkUp || PATIENT_STATES_WITHOUT_CANCEL.has(cur.state);

  const fill = { place: renderPlace, method: renderMethod, cardface: renderCardface, face: renderFace,
                 pin: renderPin, question: renderQuestion, visual: renderVisual, take: renderTake,
                 unlock: renderUnlock, "phone-how": renderPhoneHow }[screen];
  if (fill) fill(step, data);
  renderDots();
  renderNotice(screen);
  renderTimeout();

  const key = `${screen}|${cur.state}|${step.message || ""}|${step.ja || ""}|${prefs.lang}`;
  if (key !== shownKey) {
    if (screen !== shownScreen) { resetPinIfLeft(screen); hideOverlay("#overlay-last-try"); }
    shownScreen = screen; shownKey = key;
    speakScreen(screen, step);
  }
}

function renderNotice(screen) {
  const box = $("#notice");
  let show = null;
  if (notice) {
    if (notice.shownOn === null && !["working", "link"].includes(screen)) notice.shownOn = screen;
    if (notice.shownOn !== null && notice.shownOn !== screen) notice = null;
    else show = notice;
  }
  if (!show && faultMessage !== null)
    show = Object.assign({ alert: true }, texts.reader_fault);
  box.hidden = !show;
  if (show) { box.textContent = pick(show); box.classList.toggle("alert", !!show.alert); }
}

function showNotice(pair, alert) {
  if (!pair) return;
  notice = { ja: pair.ja, en: pair.en, alert, shownOn: null };
  render();
}

function renderPlace() {
  $("#register-armed").hidden = !registrationArmed;
  $("#btn-register").hidden = registrationArmed;
  $("#btn-register-back").hidden = !registrationArmed;
  $("#btn-phone").hidden = !cur.phone_reader || registrationArmed;   // phones register in their own app
}

function renderPhoneHow() {
  $("#phone-how-text").textContent = t(phoneKind === "iphone" ? "phone_how_iphone" : "phone_how_android");
}

function renderUnlock(step) {
  $("#unlock-options").replaceChildren(...(step.options || []).filter((o) => o !== "cancel").map((o) =>
    optionButton(t(o), t(`${o}_hint`), () => act("kiosk.choose_method", { method: o }), `opt-${o}`)));
}

function optionButton(label, hint, onClick, id) {
  const b = document.createElement("button");
  b.className = "option";
  if (id) b.id = id;
  b.textContent = label;
  if (hint) { const s = document.createElement("span"); s.className = "hint"; s.textContent = hint; b.append(s); }
  b.addEventListener("click", onClick);
  return b;
}

function renderMethod(step, data) {
  faceOffered = (step.options || []).includes("face");
  const reasons = [];
  if (data.face_unavailable && data.face_unavailable !== "face_off") {
    reasons.push(data.face_unavailable === "camera_unavailable" ? t("camera_gone_title") : t("face_reason"));
  }
  if (data.pin_unavailable === "pin_blocked") reasons.push(t("pin_blocked"));
  $("#method-reasons").textContent = reasons.join(" ");
  const box = $("#method-options");
  box.replaceChildren(...(step.options || []).map((o) =>
    optionButton(t(o), t(`${o}_hint`), () => act("kiosk.choose_method", { method: o }), `opt-${o}`)));
}

function renderCardface(step, data) {
  const read = cur.state === "code_b_verify";
  $("#cardface-read").hidden = !read;
  $("#cardface-hint").hidden = read;
}

function renderFace(step, data) {
  $("#cue-left").hidden = data.code !== "turn_left";
  $("#cue-right").hidden = data.code !== "turn_right";
  $("#face-attempt").textContent = data.attempt ? t("attempt", data.attempt) : "";
}

function renderDots() {
  $$(".dot").forEach((d, i) => d.classList.toggle("filled", i < pinDigits.length));
  $(".dots").setAttribute("aria-label", `${t("pin_dots")}: ${pinDigits.length}/4`);
}

function renderPin(step, data) {
  $("#pin-tries").textContent = data.tries_left ? t("tries_left", data.tries_left) : "";
  $("#key-enter").disabled = pinDigits.length !== 4;
  $("#btn-pin-face").hidden = !faceOffered;
  $("#btn-forgot").hidden = !!data.phone;          // a phone: no 目視; the top bar's help still calls staff
  if (data.needs_confirmation) showOverlay("#overlay-last-try");
}

function renderQuestion(step, data) {
  const titles = { consent: "consent_title", prescription_form: "prescription_title",
                   registration_confirm: "registration_title" };
  $("#question-title").textContent = t(titles[cur.state] || "consent_title");
  const screenName = cur.state === "registration_confirm" ? "registration" : data.screen;
  const label = (o) => {
    // wording from the reader (the consent catalogue); registration's buttons are the page's
    if (data[o] && data[o].ja) return pick(data[o]);
    if (data.choices && data.choices[o]) return pick(data.choices[o]);
    return t(cur.state === "registration_confirm" ? `register_${o === "agree" ? "yes" : "no"}` : o);
  };
  $("#question-options").replaceChildren(...(step.options || []).map((o) =>
    optionButton(label(o), "", () => act("kiosk.answer", { screen: screenName, answer: o }), `opt-${o}`)));
}

function renderVisual(step, data) {
  const others = (step.options || []).filter((o) => o !== "staff");
  $("#visual-options").replaceChildren(...others.map((o) =>
    optionButton(t(o), "", () => act("kiosk.choose_method", { method: o }), `opt-${o}`)));
}

function renderTake(step) {
  const titles = { done: "done_title", cancelled: "cancelled_title", idle_timeout: "cancelled_title" };
  $("#take-title").textContent = t(titles[step.message] || "take_card_title");
}

// ---- the PIN pad ----
function resetPin() { pinDigits.fill("x"); pinDigits = []; }
function resetPinIfLeft(screen) { if (screen !== "pin") resetPin(); }

function pinKey(digit) {
  if (pinDigits.length >= 4) return;
  pinDigits.push(digit);
  speakKey("pin_digit");
  render();
}
function pinClear() {
  if (!pinDigits.length) return;
  pinDigits.pop();
  speakKey("pin_digit_deleted");
  render();
}
function pinEnter() {
  if (pinDigits.length !== 4) return;
  const data = (cur.step && cur.step.data) || {};
  if (data.last_try) { showOverlay("#overlay-last-try"); return; }
  submitPin(false);
}
function submitPin(confirmLastTry) {
  const pin = pinDigits.join("");
  resetPin();
  hideOverlay("#overlay-last-try");
  render();
  act("kiosk.submit_pin", { pin, confirm_last_try: confirmLastTry });
}

// ---- overlays, countdown ----
function showOverlay(sel) { $(sel).hidden = false; }
function hideOverlay(sel) { $(sel).hidden = true; }

function renderTimeout() {
  const box = $("#overlay-timeout");
  if (deadline === null || !linkUp) { box.hidden = true; return; }
  const left = Math.max(0, Math.ceil((deadline - performance.now()) / 1000));
  const warnAt = Math.min(WARN_SECONDS, ((cur.timeout && cur.timeout.idle_timeout) || 120) / 2);
  const warn = left <= warnAt;
  if (warn && box.hidden) speakText(`${t("timeout_title")} ${t("timeout_left", left)}`);
  box.hidden = !warn;
  $("#timeout-left").textContent = t("timeout_left", left);
}

// ---- voice ----
function speakScreen(screen, step) {
  let text = "";
  if (screen === "place") text = `${t("place_card")}。${t("place_card_where")}`;
  else if (screen === "link") text = t("link_down");
  else if (screen === "removed") text = t("card_removed");
  else if (screen === "phone-choose") text = t("phone_choose_title");
  else if (screen === "phone-how") text = `${t("phone_hold_title")}。${$("#phone-how-text").textContent}`;
  else if (screen === "unlock") text = `${t("phone_unlock_title")}。${pick(step)}`;
  else text = pick(step);
  if (notice && notice.shownOn === screen) text = `${pick(notice)} ${text}`;
  speakText(text);
}
function speakText(text) { lastSpoken = { text }; say({ text, lang: prefs.lang }); }
function speakKey(key) { say({ key, lang: prefs.lang }); }
async function say(body) {
  if (!prefs.voice || !voiceAvailable[prefs.lang] || !(body.text || body.key)) return;
  try {
    const r = await fetch("/voice", { method: "POST", headers: { "Content-Type": "application/json" },
                                      body: JSON.stringify(body) });
    if (r.status !== 200) return;
    const url = URL.createObjectURL(await r.blob());
    if (audio) audio.pause();
    audio = new Audio(url);
    audio.onended = () => URL.revokeObjectURL(url);
    await audio.play();
  } catch (e) { /* no sound: the screen still says it */ }
}

// ---- buttons ----
function wire() {
  $("#btn-lang").addEventListener("click", () => { prefs.lang = prefs.lang === "ja" ? "en" : "ja"; savePrefs(); render(); });
  $("#btn-size").addEventListener("click", () => { prefs.large = !prefs.large; savePrefs(); render(); });
  $("#btn-voice").addEventListener("click", () => {
    prefs.voice = !prefs.voice; savePrefs();
    if (!prefs.voice && audio) audio.pause();
    render();
  });
  $("#btn-repeat").addEventListener("click", () => { if (lastSpoken) say({ text: lastSpoken.text, lang: prefs.lang }); });
  $("#btn-staff").addEventListener("click", async () => {
    showOverlay("#overlay-staff");
    speakKey("staff_called");
    try { await call("kiosk.call_staff", { reason: "help" }); } catch (e) { /* the overlay still says wait */ }
  });
  $("#btn-staff-ok").addEventListener("click", () => hideOverlay("#overlay-staff"));
  $("#btn-cancel").addEventListener("click", () => { resetPin(); act("kiosk.cancel"); });
  $("#btn-removed-ok").addEventListener("click", () => { pageScreen = null; render(); });
  $("#btn-phone").addEventListener("click", () => { pageScreen = "phone-choose"; render(); });
  for (const kind of ["iphone", "android"]) {
    $(`#opt-phone-${kind}`).addEventListener("click", () => { phoneKind = kind; pageScreen = "phone-how"; render(); });
  }
  for (const id of ["#btn-phone-back", "#btn-phone-how-back"]) {
    $(id).addEventListener("click", () => { pageScreen = null; phoneKind = null; render(); });
  }
  $("#btn-register").addEventListener("click", async () => {
    if (await act("mode.set", { mode: "registration" })) registrationArmed = true;
    render();
  });
  $("#btn-register-back").addEventListener("click", async () => {
    if (await act("mode.set", { mode: "reception" })) registrationArmed = false;
    render();
  });
  for (const k of $$(".key[data-digit]")) k.addEventListener("click", () => pinKey(k.dataset.digit));
  $("#key-clear").addEventListener("click", pinClear);
  $("#key-enter").addEventListener("click", pinEnter);
  $("#btn-forgot").addEventListener("click", () => {
    resetPin();
    call("kiosk.call_staff", { reason: "forgot_pin" }).catch(() => {});
    act("kiosk.choose_method", { method: "staff" });
  });
  $("#btn-pin-face").addEventListener("click", () => { resetPin(); act("kiosk.choose_method", { method: "face" }); });
  $("#btn-last-try-go").addEventListener("click", () => submitPin(true));
  $("#btn-last-try-staff").addEventListener("click", () => {
    resetPin(); hideOverlay("#overlay-last-try");
    const phone = cur.step && cur.step.data && cur.step.data.phone;
    if (phone) act("kiosk.cancel");                 // no 目視 for a phone: stop here, the patient asks at the desk
    else act("kiosk.choose_method", { method: "staff" });
  });
  $("#btn-still-here").addEventListener("click", () => act("kiosk.still_here"));
  setInterval(() => {
    renderTimeout();
    // taking the card after the end sends no event: ask until the reader is idle again
    if (linkUp && cur.state === "take_card") refresh();
  }, 1000);
}

async function start() {
  try {
    const r = await fetch("/texts.json");
    const body = await r.json();
    texts = body.texts;
    voiceAvailable = body.voice || voiceAvailable;
  } catch (e) { /* the labels show their keys; the flow still works */ }
  wire();
  render();
  connect();
}

document.addEventListener("DOMContentLoaded", start);
