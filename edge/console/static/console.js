// The guard console. Every word on the page comes from /i18n/<lang>.json; the server sends
// codes (decision, reasons, health) over server-sent events, never display text.
"use strict";
// `pending`: a check on screen until a guard acts on it; decisions meanwhile are counted
// and the newest is named under it, but do not replace it.
// `card`: a reader is configured, so a visitor may be registered by a tap of their card;
// `tapping`: such a registration waits for the tap.
const state = { lang: localStorage.getItem("lang") || "zh-CN", words: {}, last: null,
                pending: null, behind: null, health: {}, counts: {}, csrf: null, guard: null,
                card: false, tapping: false, signinError: null };
const $ = (id) => document.getElementById(id);
const t = (key) => state.words[key] ?? key;
const ICONS = { pass: "✔", deny: "✖", check: "?" };

async function loadLanguage(lang) {
  const response = await fetch(`/i18n/${lang}.json`);
  state.words = await response.json();
  state.lang = lang;
  localStorage.setItem("lang", lang);
  document.documentElement.lang = lang;
  for (const [id, key] of [["signin-button", "sign_in"], ["allow", "allow"], ["deny", "deny"],
                           ["register-button", "register"], ["register-card", "register_by_card"],
                           ["lang", "other_language"],
                           ["signout", "sign_out"]]) {
    $(id).textContent = t(key);
  }
  $("guard").placeholder = t("guard_id");
  $("pin").placeholder = t("pin");
  $("unit").placeholder = t("unit");
  $("phone").placeholder = t("phone_last4");
  fill($("act-reason"), state.words.override_reasons || {});
  fill($("visit-reason"), state.words.visit_reasons || {});
  render();
}

function fill(select, options) {
  select.replaceChildren(...Object.entries(options).map(([value, label]) => {
    const option = document.createElement("option");
    option.value = value;
    option.textContent = label;
    return option;
  }));
}

function render() {
  const view = state.last;
  const verdict = $("verdict");
  verdict.dataset.decision = view ? view.decision : "";
  $("icon").textContent = view ? ICONS[view.decision] : "";
  $("word").textContent = view ? t(`decision_${view.decision}`) : t("waiting");
  $("reason").textContent = view ? view.reasons.map((r) => t(`reason_${r}`)).join(" · ") : "";
  $("who").textContent = view ? [view.color && t(`color_${view.color}`), view.name]
    .filter(Boolean).join(" · ") : "";
  $("temperature").textContent = view && view.temperature_c !== null
    ? `${t("screening_estimate")} ${view.temperature_c.toFixed(1)} °C` : "";
  $("behind").textContent = state.pending && state.behind
    ? `${t("meanwhile")}: ${t(`decision_${state.behind.decision}`)}` : "";
  $("act").hidden = !(view && state.csrf && (view.decision === "check" || view.decision === "deny"));
  $("register").hidden = !(view && view.decision === "check" && view.reasons.join() === "visitor");
  $("register-card").hidden = !state.card;
  $("act-status").textContent = state.tapping ? t("tap_prompt") : "";
  for (const id of ["register-button", "register-card"]) $(id).disabled = state.tapping;
  const counts = ["pass", "deny", "check"].map((d) => `${t(`decision_${d}`)} ${state.counts[d] || 0}`);
  $("counts").textContent = `${t("today")}: ${counts.join("  ")}`;
  $("health").replaceChildren(...Object.entries(state.health).map(([part, value]) => {
    const span = document.createElement("span");
    const bad = value.state !== "ok";
    span.className = bad ? "part bad" : "part";
    span.dataset.part = part;
    span.dataset.state = value.state;
    const figure = value.value === undefined || value.value === null ? ""
      : ` ${value.value}${part === "trust" ? t("hours") : ""}`;
    // the state in the page's language; a driver's own phrase after it, for the technician
    const detail = bad && value.detail ? ` (${value.detail})` : "";
    span.textContent = `${t(`part_${part}`)}: ${t(`state_${value.state}`)}${detail}${figure}`;
    return span;
  }));
  // a refused sign-in stays said until the next try, whatever else the page redraws
  $("signin-state").textContent = state.guard ? `${t("signed_in")} ${state.guard}`
    : state.signinError ? t(`error_${state.signinError}`) : "";
  $("signin").hidden = Boolean(state.guard);
  $("signout").hidden = !state.guard;
}

function listen() {
  const events = new EventSource("/events");
  events.addEventListener("decision", (e) => shown(JSON.parse(e.data)));
  events.addEventListener("counts", (e) => { state.counts = JSON.parse(e.data); render(); });
  events.addEventListener("health", (e) => { state.health = JSON.parse(e.data); render(); });
  events.addEventListener("settings", (e) => {   // what the config allows: preview, card
    const settings = JSON.parse(e.data);
    const preview = $("preview");
    preview.hidden = !settings.preview;
    if (!preview.hidden && !preview.src) preview.src = "/preview.mjpg";
    state.card = Boolean(settings.card);
    render();
  });
}

async function post(url, body, headers = {}) {
  const response = await fetch(url, { method: "POST", body: JSON.stringify(body),
    headers: { "Content-Type": "application/json", ...headers }, credentials: "same-origin" });
  return [response.ok, await response.json()];
}

function shown(view) {
  if (state.pending && !view.operator) {     // the check stays until the guard acts
    state.behind = view;
  } else {
    state.last = view;
    state.pending = view.decision === "check" ? view : null;
    state.behind = null;
    $("act-error").textContent = "";
  }
  sound(view.decision);
  render();
  // when the decision reached the screen: the next frame after it was drawn (the bench)
  requestAnimationFrame(() => { (window.shownAt = window.shownAt || {})[view.id] = Date.now(); });
}

async function act(body) {
  const [ok, answer] = await post("/api/actions", body, { "X-CSRF-Token": state.csrf });
  $("act-error").textContent = ok ? "" : t(`error_${answer.error}`);
  if (ok) {
    state.pending = null;
    state.behind = null;
    state.last = answer;
    render();
  }
}

// One sound per outcome, made here (no sound files): pass two rising tones, deny one long
// low tone, check three short middle tones. The kiosk allows sound without a click.
const TONES = { pass: [[660, 0.12], [880, 0.18]], deny: [[220, 0.7]],
                check: [[520, 0.1], [0, 0.08], [520, 0.1], [0, 0.08], [520, 0.1]] };
let audio = null;
function sound(decision) {
  window.soundsPlayed = (window.soundsPlayed || []).concat(decision);
  try {
    audio = audio || new AudioContext();
    let at = audio.currentTime;
    for (const [hz, seconds] of TONES[decision] || []) {
      if (hz) {
        const tone = audio.createOscillator();
        tone.frequency.value = hz;
        tone.connect(audio.destination);
        tone.start(at);
        tone.stop(at + seconds);
      }
      at += seconds;
    }
  } catch (error) {
    // no audio device: the screen still says it all
  }
}

$("signin").addEventListener("submit", async (e) => {
  e.preventDefault();
  const [ok, answer] = await post("/api/session", { guard: $("guard").value, pin: $("pin").value });
  $("pin").value = "";
  state.signinError = ok ? null : answer.error;
  if (ok) { state.csrf = answer.csrf; state.guard = answer.guard; }
  render();
});
$("signout").addEventListener("click", async () => {
  await fetch("/api/session", { method: "DELETE", credentials: "same-origin" });
  state.csrf = null;
  state.guard = null;
  render();
});
$("allow").addEventListener("click", () => act(actionFor(true)));
$("deny").addEventListener("click", () => act(actionFor(false)));
$("register").addEventListener("submit", async (e) => {
  e.preventDefault();
  const byCard = e.submitter && e.submitter.id === "register-card";
  const body = { kind: "register", of: state.last.id, unit: $("unit").value,
                 reason: $("visit-reason").value, phone_last4: $("phone").value || null };
  if (!byCard) { act(body); return; }
  // the server answers once the visitor has tapped (or the wait is over)
  state.tapping = true;
  $("act-error").textContent = "";
  render();
  try {
    await act({ ...body, by_card: true });
  } finally {
    state.tapping = false;
    render();
  }
});
$("lang").addEventListener("click", () => loadLanguage(state.lang === "zh-CN" ? "en" : "zh-CN"));

function actionFor(allow) {
  const kind = state.last.decision === "check" ? "check_done" : "override";
  return { kind, of: state.last.id, allow, reason: $("act-reason").value };
}

loadLanguage(state.lang).then(listen);
