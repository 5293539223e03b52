// The connect page: asks /connect/info with the token kept in session storage, and shows what it answers.
// Everything shown is put in the page as text (textContent), never as HTML.
"use strict";

const KEY = "agent-bridge-token";
const PLACEHOLDER = "<value of AGENT_BRIDGE_TOKEN>"; // where a client has no syntax for a secret
let shown = null; // the last info drawn, redrawn when the fill-in box changes
const $ = (id) => document.getElementById(id);

function element(tag, text, className) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  if (className) node.className = className;
  return node;
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = element("textarea", text);
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  const label = button.textContent;
  button.textContent = "Copied";
  setTimeout(() => { button.textContent = label; }, 1500);
}

function copyButton(text, label) {
  const button = element("button", "Copy");
  button.type = "button";
  button.className = "copy";
  button.setAttribute("aria-label", `Copy ${label}`);
  button.addEventListener("click", () => copy(text, button));
  return button;
}

async function fetchInfo(agent) {
  const token = sessionStorage.getItem(KEY);
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const query = agent ? `?agent=${encodeURIComponent(agent)}` : "";
  const response = await fetch(`/connect/info${query}`, { headers, cache: "no-store" });
  if (response.status === 401) return { refused: true, hadToken: Boolean(token) };
  if (!response.ok) throw new Error(`the bridge answered HTTP ${response.status}`);
  return { info: await response.json() };
}

function showSignin(message) {
  $("connected").hidden = true;
  $("who").hidden = true;
  $("signin").hidden = false;
  const error = $("signin-error");
  error.hidden = !message;
  error.textContent = message || "";
}

function renderState(state) {
  const list = $("state-list");
  list.replaceChildren();
  list.append(element("li", state.ready ? "Ready: yes" : "Ready: starting", state.ready ? "ok" : "bad"));
  for (const up of state.upstream) {
    let text;
    let cls;
    if (up.reachable === null) {
      text = `Upstream ${up.backend}: no request yet`;
    } else {
      const said = up.status !== null ? `HTTP ${up.status}` : up.error;
      text = `Upstream ${up.backend}: ${up.reachable ? "reachable" : "unreachable"} (last answer ${said}, ${up.seconds_ago} s ago)`;
      cls = up.reachable ? "ok" : "bad";
    }
    list.append(element("li", text, cls));
  }
  list.append(element("li", `Calls in the last hour: ${state.calls_last_hour} (errors: ${state.errors_last_hour})`));
}

function renderAgents(info) {
  const body = $("agents").querySelector("tbody");
  body.replaceChildren();
  const select = $("target");
  const chosen = select.value;
  select.replaceChildren(element("option", "all my agents"));
  select.firstChild.value = "";
  for (const agent of info.agents) {
    const row = element("tr");
    row.append(element("td", `${agent.title} (${agent.name})`), element("td", agent.tools.join(", ")));
    const url = element("td");
    url.append(element("code", agent.mcp_url), " ", copyButton(agent.mcp_url, `${agent.name} URL`));
    row.append(url);
    body.append(row);
    const option = element("option", agent.title);
    option.value = agent.name;
    select.append(option);
  }
  select.value = chosen;
}

function renderEndpoints(endpoints) {
  const list = $("endpoints");
  list.replaceChildren();
  for (const [label, url] of Object.entries(endpoints)) {
    const item = element("li", `${label}: `);
    item.append(element("code", url), " ", copyButton(url, label));
    list.append(item);
  }
}

function filled(text) {
  const token = sessionStorage.getItem(KEY);
  return $("fill-token").checked && token ? text.split(PLACEHOLDER).join(token) : text;
}

function renderClients(clients) {
  const box = $("clients");
  box.replaceChildren();
  for (const client of clients) {
    const section = element("section");
    section.dataset.client = client.client;
    section.append(element("h3", client.title));
    for (const snippet of client.snippets) {
      const block = element("div", null, "snippet");
      block.append(element("div", snippet.title, "snippet-title"));
      const text = filled(snippet.text);
      const pre = element("pre");
      pre.append(element("code", text));
      block.append(pre, copyButton(text, `${client.client} snippet`));
      section.append(block);
    }
    box.append(section);
  }
}

function render(info) {
  shown = info;
  $("fill-label").hidden = !info.token;
  $("signin").hidden = true;
  $("connected").hidden = false;
  const who = $("who");
  who.hidden = false;
  who.textContent = info.token ? `Signed in with the token "${info.token}".` : "This bridge asks for no token.";
  $("forget").hidden = !info.token;
  renderState(info.state);
  renderAgents(info);
  renderEndpoints(info.endpoints);
  renderClients(info.clients);
  if (info.agents.length === 0) {
    $("clients").replaceChildren(element("p", "This token may not use any agent on this bridge."));
  }
}

async function load() {
  try {
    const answer = await fetchInfo($("target").value);
    if (answer.refused) {
      if (answer.hadToken) sessionStorage.removeItem(KEY);
      showSignin(answer.hadToken ? "That token is not valid for this bridge." : "");
      return;
    }
    render(answer.info);
  } catch (error) {
    showSignin(`Could not reach the bridge: ${error.message}`);
  }
}

// Every 15 s the live state alone is redrawn (the snippets stay put while someone selects text in them).
async function refreshState() {
  if ($("connected").hidden) return;
  try {
    const answer = await fetchInfo($("target").value);
    if (answer.refused) {
      showSignin("The bridge no longer accepts this token.");
      return;
    }
    renderState(answer.info.state);
  } catch {
    // the bridge is restarting or unreachable: keep what is shown, try again at the next tick
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const value = $("token").value.trim();
    $("token").value = "";
    if (value) sessionStorage.setItem(KEY, value);
    load();
  });
  $("forget").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    $("fill-token").checked = false;
    showSignin("");
  });
  $("fill-token").addEventListener("change", () => { if (shown) renderClients(shown.clients); });
  $("target").addEventListener("change", load);
  setInterval(refreshState, 15000);
  load();
});
