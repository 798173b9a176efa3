// supervisor-rs web UI: keeps the status page current through the same
// XML-RPC interface supervisorctl uses, runs the actions without a page
// load, filters and folds groups, and follows logs on the tail page.
// Every link and form also works without this script.
"use strict";
(function () {
  var POLL_MS = 2000;

  // ---- XML-RPC ---------------------------------------------------------
  function xmlEsc(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  }
  function encode(v) {
    if (typeof v === "boolean") return "<boolean>" + (v ? 1 : 0) + "</boolean>";
    if (typeof v === "number") return "<int>" + v + "</int>";
    return "<string>" + xmlEsc(v) + "</string>";
  }
  function decode(node) {
    var t = node.firstElementChild;
    if (!t) return node.textContent;
    switch (t.tagName) {
      case "int": case "i4": case "i8": case "double": return Number(t.textContent);
      case "boolean": return t.textContent.trim() === "1";
      case "array":
        return Array.prototype.map.call(t.querySelectorAll(":scope > data > value"), decode);
      case "struct":
        var o = {};
        Array.prototype.forEach.call(t.children, function (m) {
          o[m.querySelector("name").textContent] = decode(m.querySelector("value"));
        });
        return o;
      case "nil": return null;
      default: return t.textContent;
    }
  }
  function rpc(method, params) {
    var body = "<?xml version=\"1.0\"?><methodCall><methodName>" + method +
      "</methodName><params>" + (params || []).map(function (p) {
        return "<param><value>" + encode(p) + "</value></param>";
      }).join("") + "</params></methodCall>";
    return fetch("RPC2", {method: "POST", headers: {"Content-Type": "text/xml"}, body: body})
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (text) {
        var doc = new DOMParser().parseFromString(text, "text/xml");
        var fault = doc.querySelector("fault > value");
        if (fault) throw new Error(decode(fault).faultString);
        return decode(doc.querySelector("params > param > value"));
      });
  }

  // ---- status page -----------------------------------------------------
  var ACTIONS = {
    20: [["Restart", "restart"], ["Stop", "stop"], ["Clear Log", "clearlog"]],
    0: [["Start", "start"], ["Clear Log", "clearlog"]],
    100: [["Start", "start"], ["Clear Log", "clearlog"]],
    200: [["Start", "start"], ["Clear Log", "clearlog"]]
  };
  function cssClass(state) {
    return state === 20 ? "statusrunning" : (state === 200 || state === 30) ? "statuserror" : "statusnominal";
  }
  function namespec(p) { return p.group === p.name ? p.name : p.group + ":" + p.name; }
  function q(s) {
    return encodeURIComponent(s).replace(/[!'()*]/g, function (c) {
      return "%" + c.charCodeAt(0).toString(16).toUpperCase();
    }).replace(/%2F/g, "/");
  }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function link(href, text, attrs) {
    var a = el("a", attrs, text);
    a.setAttribute("href", href);
    return a;
  }
  function actionList(p) {
    var ns = q(namespec(p)), ul = el("ul");
    (ACTIONS[p.state] || [["Clear Log", "clearlog"]]).forEach(function (a) {
      var li = el("li");
      li.appendChild(link("index.html?processname=" + ns + "&action=" + a[1], a[0], {"data-action": a[1]}));
      ul.appendChild(li);
    });
    [["logtail/" + ns, "Tail -f Stdout"], ["logtail/" + ns + "/stderr", "Tail -f Stderr"]].forEach(function (t) {
      var li = el("li");
      li.appendChild(link(t[0], t[1], {target: "_blank"}));
      ul.appendChild(li);
    });
    return ul;
  }
  function newRow(p) {
    var ns = namespec(p), tr = el("tr", {"data-name": ns, "data-group": p.group});
    var st = el("td", {"class": "status"});
    st.appendChild(el("span"));
    tr.appendChild(st);
    tr.appendChild(el("td", {"class": "desc"}));
    var name = el("td", {"class": "name"});
    name.appendChild(link("tail.html?processname=" + q(ns), ns));
    tr.appendChild(name);
    tr.appendChild(el("td", {"class": "action"}));
    tr.dataset.state = "";
    return tr;
  }
  function fillRow(tr, p) {
    var span = tr.querySelector(".status span"), text = p.statename.toLowerCase();
    if (span.textContent !== text) span.textContent = text;
    span.className = cssClass(p.state);
    var desc = tr.querySelector(".desc");
    if (desc.textContent !== p.description) desc.textContent = p.description;
    // Only on a change of state, so keyboard focus stays put otherwise.
    if (tr.dataset.state !== String(p.state)) {
      var cell = tr.querySelector(".action"), had = cell.contains(document.activeElement);
      cell.replaceChildren(actionList(p));
      tr.dataset.state = String(p.state);
      if (had) { var first = cell.querySelector("a"); if (first) first.focus(); }
    }
  }
  function groupHeader(g, count) {
    var tr = el("tr", {"class": "group", "data-group": g});
    var th = el("th", {colspan: "4", scope: "rowgroup"});
    th.appendChild(el("button", {type: "button", "class": "toggle", "aria-expanded": "true"}, g));
    th.appendChild(document.createTextNode(" "));
    th.appendChild(el("span", {"class": "count"}, count + " processes"));
    tr.appendChild(th);
    return tr;
  }

  var tbody, timer = null, inFlight = false, collapsed = {};

  function render(list) {
    list.sort(function (a, b) {
      return a.group < b.group ? -1 : a.group > b.group ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
    });
    var rows = {}, heads = {}, counts = {};
    Array.prototype.forEach.call(tbody.children, function (tr) {
      if (tr.classList.contains("group")) heads[tr.dataset.group] = tr;
      else rows[tr.dataset.name] = tr;
    });
    list.forEach(function (p) { counts[p.group] = (counts[p.group] || 0) + 1; });
    var wanted = [];
    list.forEach(function (p, i) {
      if (counts[p.group] > 1 && (i === 0 || list[i - 1].group !== p.group)) {
        var h = heads[p.group] || groupHeader(p.group, counts[p.group]);
        h.querySelector(".count").textContent = counts[p.group] + " processes";
        delete heads[p.group];
        wanted.push(h);
      }
      var ns = namespec(p), tr = rows[ns] || newRow(p);
      delete rows[ns];
      fillRow(tr, p);
      wanted.push(tr);
    });
    Object.keys(rows).forEach(function (k) { rows[k].remove(); });
    Object.keys(heads).forEach(function (k) { heads[k].remove(); });
    // Put rows in order, moving only those out of place.
    var at = tbody.firstElementChild;
    wanted.forEach(function (tr) {
      if (tr === at) at = at.nextElementSibling;
      else tbody.insertBefore(tr, at);
    });
    document.getElementById("statustable").classList.toggle("hidden", list.length === 0);
    var empty = document.getElementById("empty");
    if (empty) empty.classList.toggle("hidden", list.length !== 0);
    applyFilter();
  }

  function applyFilter() {
    var f = document.getElementById("filter"), needle = f ? f.value.toLowerCase() : "";
    var visible = {};
    Array.prototype.forEach.call(tbody.children, function (tr) {
      if (tr.classList.contains("group")) return;
      var show = !needle || tr.dataset.name.toLowerCase().indexOf(needle) >= 0;
      if (show) visible[tr.dataset.group] = true;
      tr.hidden = !show || (!needle && !!collapsed[tr.dataset.group]);
    });
    Array.prototype.forEach.call(tbody.querySelectorAll("tr.group"), function (h) {
      h.hidden = !visible[h.dataset.group];
      h.querySelector("button").setAttribute("aria-expanded", collapsed[h.dataset.group] ? "false" : "true");
    });
  }

  function refresh() {
    if (inFlight) return;
    inFlight = true;
    rpc("supervisor.getAllProcessInfo").then(render, function (e) {
      say("ERROR: cannot refresh: " + e.message);
    }).then(function () {
      inFlight = false;
      schedule();
    });
  }
  // No request at all while the tab is hidden.
  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (document.visibilityState === "visible") timer = setTimeout(refresh, POLL_MS);
  }
  function say(text) {
    var m = document.getElementById("msg");
    m.textContent = text;
    m.className = "status_msg";
  }

  function act(a) {
    say(a.textContent + "...");
    fetch(a.getAttribute("href"), {headers: {"X-Supervisor-UI": "1"}})
      .then(function (r) { return r.text().then(function (t) { return [r, t]; }); })
      .then(function (rt) {
        var text = rt[1];
        if (rt[0].headers.get("Content-Type").indexOf("text/plain") !== 0) {
          var doc = new DOMParser().parseFromString(text, "text/html"), m = doc.getElementById("msg");
          text = m ? m.textContent : "HTTP " + rt[0].status;
        }
        say(text);
        refresh();
      }, function (e) { say("ERROR: " + e.message); });
  }

  function statusPage() {
    tbody = document.querySelector("#statustable tbody");
    document.addEventListener("click", function (ev) {
      var a = ev.target.closest("a[data-action]");
      if (a && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey && ev.button === 0) {
        ev.preventDefault();
        act(a);
        return;
      }
      var b = ev.target.closest("tr.group button");
      if (b) {
        var g = b.closest("tr").dataset.group;
        collapsed[g] = !collapsed[g];
        applyFilter();
      }
    });
    var form = document.getElementById("filterform");
    form.addEventListener("submit", function (ev) { ev.preventDefault(); applyFilter(); });
    document.getElementById("filter").addEventListener("input", applyFilter);
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") refresh();
      else schedule();
    });
    // The action's redirect left ?message= in the address bar: drop it so a
    // reload does not show it again.
    if (location.search.indexOf("message=") >= 0 && history.replaceState) {
      history.replaceState(null, "", location.pathname);
    }
    refresh();
  }

  // ---- tail page -------------------------------------------------------
  var MAX_TAIL = 1 << 20;
  function tailPage(pre) {
    var name = pre.dataset.name, live = document.getElementById("live");
    if (!name || !window.ReadableStream) return;
    var base = pre.textContent, first = true, decoder = new TextDecoder();
    var url = "logtail/" + q(name) + (pre.dataset.channel === "stderr" ? "/stderr" : "");
    var ctl = new AbortController();
    function show(text) { live.textContent = text; live.className = "live"; }
    function append(text) {
      if (first) {
        first = false;
        // The stream starts with the last 1024 bytes, which the page has.
        var tail = base.slice(-Math.min(base.length, 512));
        var at = tail ? text.indexOf(tail) : -1;
        if (at >= 0) text = text.slice(at + tail.length);
        else if (base) text = "\n" + text;
      }
      if (!text) return;
      var stick = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      pre.appendChild(document.createTextNode(text));
      if (pre.textContent.length > MAX_TAIL) pre.textContent = pre.textContent.slice(-MAX_TAIL / 2);
      if (stick) pre.scrollTop = pre.scrollHeight;
    }
    function follow() {
      fetch(url, {signal: ctl.signal}).then(function (r) {
        if (!r.ok) { show(r.status === 404 ? "no log file to follow" : "HTTP " + r.status); return; }
        show("following");
        var reader = r.body.getReader();
        function pump() {
          return reader.read().then(function (c) {
            if (c.done) { show("stopped"); return; }
            append(decoder.decode(c.value, {stream: true}));
            return pump();
          });
        }
        return pump();
      }).catch(function (e) { if (e.name !== "AbortError") show("stopped: " + e.message); });
    }
    // Follow only while the tab is visible.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible") {
        ctl = new AbortController();
        first = true;
        base = pre.textContent;
        follow();
      } else {
        ctl.abort();
        show("paused");
      }
    });
    pre.scrollTop = pre.scrollHeight;
    if (document.visibilityState === "visible") follow();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.documentElement.classList.add("js");
    var pre = document.getElementById("tailbody");
    if (pre) tailPage(pre);
    else if (document.getElementById("statustable")) statusPage();
  });
})();
