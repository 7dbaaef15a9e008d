// The host's controls: who is where, and admit / deny / remove / move to a private (caucus)
// room / bring back / ask to mute / end. Rendered from each "state" message; every button
// sends one protocol message (the server decides, and answers with the next state). What
// cannot be undone (deny, remove) stands apart at the row's far end and asks first.

import { aside } from "./words.js";

const CAUCUS_CHOICES = ["caucus-1", "caucus-2", "caucus-3"];

export function roomLabel(place, t) {
  if (place === null || place === undefined) return t.lobby;
  if (place === "main") return t.main_room;
  return t.caucus_room.replace("{x}", place.replace("caucus-", ""));
}

// How the roster and the tiles name someone: a guest of joint mediation as
// "name · unit · role" (their organisation and role come with the roster).
export function personLabel(person, t) {
  if (person.role !== "guest") return person.name;
  return [person.name, person.organisation, t[`guest_${person.guest_role}`] || person.guest_role]
    .filter(Boolean).join(" · ");
}

const ASK_FIRST = { deny: ["confirm_deny", "deny"], remove: ["confirm_remove", "remove"] };

function button(label, action, pid, extra = {}) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = action in ASK_FIRST ? "secondary danger-outline apart" : "secondary";
  b.textContent = label;
  b.dataset.action = action;
  if (pid) b.dataset.pid = pid;
  Object.assign(b.dataset, extra);
  return b;
}

export function renderHostPanel(panel, state, t, send, ask) {
  const places = new Map();
  places.set(null, []);
  for (const room of state.rooms) places.set(room, []);
  for (const person of state.people) {
    if (!places.has(person.place)) places.set(person.place, []);
    places.get(person.place).push(person);
  }
  const rooms = [...new Set([...state.rooms, ...CAUCUS_CHOICES])];
  const frag = document.createDocumentFragment();
  for (const [place, people] of places) {
    const box = document.createElement("section");
    box.className = "place";
    box.dataset.place = place ?? "lobby";
    const h = document.createElement("h3");
    h.textContent = aside(t, roomLabel(place, t), people.length);
    if (place !== null && place !== state.you.place) {
      h.append(" ", button(t.join_room, "move", state.you.pid, { room: place }));
    }
    box.append(h);
    const list = document.createElement("ul");
    for (const person of people) {
      const li = document.createElement("li");
      li.dataset.pid = person.pid;
      const name = document.createElement("span");
      name.className = "name";
      const label = personLabel(person, t);
      name.textContent = person.pid === state.you.pid ? aside(t, label, t.you) : label;
      if (!person.connected) name.classList.add("dropped");
      li.append(name);
      if (person.pid !== state.you.pid) {
        if (place === null) {
          li.append(button(t.admit, "admit", person.pid), button(t.deny, "deny", person.pid));
        } else if (person.role !== "host") {
          if (place !== "main") li.append(button(t.bring_back, "move", person.pid, { room: "main" }));
          const select = document.createElement("select");
          select.dataset.action = "move";
          select.dataset.pid = person.pid;
          select.setAttribute("aria-label", `${t.to_caucus}: ${person.name}`);  // axe select-name
          select.append(new Option(t.to_caucus, ""));
          for (const r of rooms) if (r !== place && r !== "main") select.append(new Option(roomLabel(r, t), r));
          li.append(select);
          if (person.role === "guest") {
            // The host decides whether this guest may enter private rooms (guest.caucus).
            const allow = !person.may_caucus;
            li.append(button(allow ? t.caucus_allow : t.caucus_deny, "guest.caucus", person.pid, { allow: String(allow) }));
          }
          li.append(button(t.ask_mute, "mute_request", person.pid));
          li.append(button(t.remove, "remove", person.pid));
        }
      }
      list.append(li);
    }
    box.append(list);
    frag.append(box);
  }
  panel.replaceChildren(frag);
  panel.onclick = async (ev) => {
    const b = ev.target.closest("button[data-action]");
    if (!b) return;
    const msg = { type: b.dataset.action, pid: b.dataset.pid };
    if (b.dataset.room) msg.room = b.dataset.room;
    if (b.dataset.allow) msg.allow = b.dataset.allow === "true";
    const confirm = ASK_FIRST[msg.type];
    if (confirm) {
      const who = state.people.find((p) => p.pid === msg.pid);
      const text = t[confirm[0]].replace("{name}", who ? who.name : "");
      if (!(await ask(text, t[confirm[1]]))) return;
    }
    send(msg);
  };
  panel.onchange = (ev) => {
    const s = ev.target.closest("select[data-action=move]");
    if (s && s.value) send({ type: "move", pid: s.dataset.pid, room: s.value });
  };
}
