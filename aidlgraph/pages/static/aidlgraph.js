// aidlgraph's pages work without this script; it only makes them quicker to use:
// - the topic box suggests the library's topics as you type (an ARIA combobox over GET /topics);
// - ticking "I know this" on a path page recomputes the path in place (the server renders it,
//   the same page a link or a browser without JavaScript gets), and the address follows.
(function () {
  "use strict";

  var topicsPromise = null;

  function loadTopics(url) {
    if (!topicsPromise) {
      topicsPromise = fetch(url, { headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
        .catch(function () { topicsPromise = null; return []; });
    }
    return topicsPromise;
  }

  function norm(text) {
    return (text || "").toLowerCase().replace(/[^a-z0-9+#]+/g, " ").trim();
  }

  // Topics matching every word typed, best first: a name starting with it, a word of the name
  // starting with it, an alias starting with it, then any match.
  function rank(topics, query) {
    var q = norm(query);
    if (!q) { return []; }
    var words = q.split(" ");
    var scored = [];
    topics.forEach(function (t) {
      var name = norm(t.name);
      var aliases = (t.aliases || []).map(norm);
      var all = [name].concat(aliases).join(" | ");
      if (!words.every(function (w) { return all.indexOf(w) >= 0; })) { return; }
      var score = 5, alias = "";
      if (name.indexOf(q) === 0) { score = 0; }
      else if ((" " + name).indexOf(" " + q) >= 0) { score = 1; }
      else {
        aliases.forEach(function (a, i) {
          if (score > 2 && (a.indexOf(q) === 0 || (" " + a).indexOf(" " + q) >= 0)) { score = 2; alias = t.aliases[i]; }
        });
        if (score > 2 && name.indexOf(q) >= 0) { score = 3; }
        if (score > 3) {
          aliases.forEach(function (a, i) { if (!alias && a.indexOf(words[0]) >= 0) { alias = t.aliases[i]; } });
          score = 4;
        }
      }
      scored.push({ topic: t, score: score, alias: alias });
    });
    scored.sort(function (a, b) { return a.score - b.score || a.topic.name.localeCompare(b.topic.name); });
    return scored.slice(0, 8);
  }

  function knownQuery(form) {
    var params = new URLSearchParams();
    form.querySelectorAll('input[type="hidden"][name="known"]').forEach(function (k) { params.append("known", k.value); });
    var text = params.toString();
    return text ? "?" + text : "";
  }

  function setupCombobox(input) {
    if (input.dataset.ready) { return; }
    input.dataset.ready = "1";
    var form = input.form;
    var listId = input.id + "-suggestions";
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggested topics");
    list.hidden = true;
    input.parentNode.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    var matches = [];
    var active = -1;
    var topics = [];

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function highlight(index) {
      var items = list.querySelectorAll('[role="option"]');
      items.forEach(function (li, i) { li.setAttribute("aria-selected", i === index ? "true" : "false"); });
      active = index;
      if (index >= 0 && items[index]) {
        input.setAttribute("aria-activedescendant", items[index].id);
        items[index].scrollIntoView({ block: "nearest" });
      } else {
        input.removeAttribute("aria-activedescendant");
      }
    }

    function choose(topic) {
      input.value = topic.name;
      close();
      window.location.href = input.dataset.path + encodeURIComponent(topic.id) + knownQuery(form);
    }

    function render() {
      matches = rank(topics, input.value);
      list.textContent = "";
      matches.forEach(function (m, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.topic = m.topic.id;
        li.textContent = m.topic.name;
        if (m.alias) {
          var span = document.createElement("span");
          span.className = "alias";
          span.textContent = "also: " + m.alias;
          li.appendChild(span);
        }
        li.addEventListener("mousedown", function (e) { e.preventDefault(); });
        li.addEventListener("click", function () { choose(m.topic); });
        list.appendChild(li);
      });
      if (matches.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        highlight(-1);
      } else {
        close();
      }
    }

    loadTopics(input.dataset.suggest).then(function (loaded) {
      if (!loaded.length) { return; }  // keep the server's <datalist> if the topics could not be had
      topics = loaded;
      input.removeAttribute("list");
      if (document.activeElement === input && input.value) { render(); }
    });
    input.addEventListener("input", render);
    input.addEventListener("focus", function () { if (input.value) { render(); } });
    input.addEventListener("blur", function () { setTimeout(close, 150); });
    input.addEventListener("keydown", function (e) {
      if (e.key === "ArrowDown") {
        if (list.hidden) { render(); }
        if (matches.length) { highlight((active + 1) % matches.length); }
        e.preventDefault();
      } else if (e.key === "ArrowUp") {
        if (matches.length) { highlight(active <= 0 ? matches.length - 1 : active - 1); }
        e.preventDefault();
      } else if (e.key === "Enter" && !list.hidden && active >= 0) {
        e.preventDefault();
        choose(matches[active].topic);
      } else if (e.key === "Escape" && !list.hidden) {
        e.preventDefault();
        close();
      }
    });
  }

  // The path page: a ticked or unticked topic fetches the same page for the new ?known= and
  // swaps it in; without fetch (or on any failure) the browser just follows the link.
  function setupKnownForm(form) {
    if (form.dataset.ready) { return; }
    form.dataset.ready = "1";
    var button = form.querySelector("button.update");
    if (button) { button.hidden = true; }
    form.addEventListener("change", function (e) {
      if (e.target.name !== "known") { return; }
      var params = new URLSearchParams(new FormData(form));
      var url = form.getAttribute("action") + (params.toString() ? "?" + params.toString() : "");
      update(url, e.target.value);
    });
  }

  function announce(text) {
    var status = document.getElementById("page-status");
    if (status) { status.textContent = text; }
  }

  function update(url, focusTopic) {
    announce("Updating the path…");
    document.body.setAttribute("aria-busy", "true");
    fetch(url, { headers: { Accept: "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.getElementById("main");
        var main = document.getElementById("main");
        if (!fresh || !main) { throw new Error("no page"); }
        main.innerHTML = fresh.innerHTML;
        document.title = doc.title;
        history.pushState({ aidlgraph: true }, "", url);
        init();
        var again = focusTopic && main.querySelector('input[name="known"][value="' + CSS.escape(focusTopic) + '"]:not([type="hidden"])');
        if (again) { again.focus(); }
        var summary = document.getElementById("path-summary");
        announce("Path updated: " + (summary ? summary.textContent : ""));
      })
      .catch(function () { window.location.href = url; })
      .then(function () { document.body.removeAttribute("aria-busy"); });
  }

  function init() {
    document.querySelectorAll("input[data-suggest]").forEach(setupCombobox);
    document.querySelectorAll("form.known-form").forEach(setupKnownForm);
  }

  window.addEventListener("popstate", function () { window.location.reload(); });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
