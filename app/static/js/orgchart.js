/* Vermittlerhierarchie: a searchable, collapsible org chart of intermediaries.
 *
 * The hierarchy can hold 50,000 intermediaries, ten levels deep, with single
 * supervisors having hundreds of direct reports. Creating a DOM element for
 * each of them would freeze the page for seconds, so:
 *
 *   - the JSON tree is flattened once per load into parallel arrays indexed
 *     in pre-order (= display order), iteratively, because recursion could
 *     exhaust the stack on deep or degenerate data;
 *   - DOM elements are created only when a node becomes visible, at most
 *     PAGE_SIZE children per parent at a time ("show N more" for the rest);
 *   - collapsing only hides a branch, so opening it again is free;
 *   - every operation that opens many branches at once (initial view,
 *     "expand all", search) runs against a budget of new DOM elements.
 *
 * Texts come from data-i18n-* attributes of #orgchart (translated by the
 * template); "{name}" placeholders in them are filled in here.
 *
 * Plain ES5 plus fetch/Promise/Intl, which every supported browser has;
 * no build step, no third-party code.
 */
(function () {
    "use strict";

    var PAGE_SIZE = 200;           // children rendered per parent per batch
    var INITIAL_BUDGET = 1500;     // new DOM nodes the first view may create
    var SEARCH_REVEAL_MAX = 200;   // matches whose path a search opens at once
    var SEARCH_DOM_BUDGET = 3000;  // new DOM nodes a search may create
    var SEARCH_MIN_LIVE = 2;       // shorter queries only run on Enter/button
    var SEARCH_DEBOUNCE_MS = 250;
    var RANK_COLOURS = 12;         // keep in sync with .oc-rank-N in orgchart.css
    var DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

    /* ------------------------------------------------------------------ */
    /* Small helpers                                                       */
    /* ------------------------------------------------------------------ */

    /** Fill "{key}" placeholders; unknown keys stay visible so a broken
     *  translation is noticed instead of silently dropping information. */
    function fmt(template, values) {
        return String(template).replace(/\{(\w+)\}/g, function (all, key) {
            return Object.prototype.hasOwnProperty.call(values, key) ? values[key] : all;
        });
    }

    /** Career ranks may be any integer; wrap them onto the fixed palette. */
    function rankClass(rank) {
        if (typeof rank !== "number" || !isFinite(rank)) {
            return "oc-rank-none";
        }
        var k = Math.floor(rank) - 1;
        return "oc-rank-" + (((k % RANK_COLOURS) + RANK_COLOURS) % RANK_COLOURS + 1);
    }

    function el(tag, className, text) {
        var e = document.createElement(tag);
        if (className) { e.className = className; }
        if (text !== undefined && text !== null) { e.textContent = text; }
        return e;
    }

    function withParam(url, name, value) {
        return url + (url.indexOf("?") === -1 ? "?" : "&") +
            encodeURIComponent(name) + "=" + encodeURIComponent(value);
    }

    /* ------------------------------------------------------------------ */
    /* The chart                                                           */
    /* ------------------------------------------------------------------ */

    function OrgChart(root) {
        var ds = root.dataset;
        this.root = root;
        this.url = ds.url;
        this.expandLevels = parseInt(ds.expandLevels, 10) || 3;
        this.expandMax = parseInt(ds.expandMax, 10) || 2000;
        this.t = {
            loading: ds.i18nLoading || "Loading…",
            empty: ds.i18nEmpty || "No intermediaries at this date",
            error: ds.i18nError || "The hierarchy could not be loaded.",
            retry: ds.i18nRetry || "Try again",
            invalidDate: ds.i18nInvalidDate || "Please enter a valid date.",
            summary: ds.i18nSummary || "{count} intermediaries on {date}",
            level: ds.i18nLevel || "Level",
            expand: ds.i18nExpand || "Expand",
            collapse: ds.i18nCollapse || "Collapse",
            descendants: ds.i18nDescendants || "{n} intermediaries in this branch",
            showMore: ds.i18nShowMore || "Show {n} more of {rest} remaining",
            matches: ds.i18nMatches || "{n} matches",
            noMatches: ds.i18nNoMatches || "No matches",
            matchesInBranch: ds.i18nMatchesInBranch || "{n} matches in this branch",
            matchesCapped: ds.i18nMatchesCapped || "Only the first {shown} matches were opened.",
            expandLimited: ds.i18nExpandLimited || "Limit reached: not every branch was expanded."
        };
        this.locale = (ds.locale || document.documentElement.lang || "de").replace("_", "-");
        try {
            this.numberFormat = new Intl.NumberFormat(this.locale);
        } catch (e) {
            this.numberFormat = new Intl.NumberFormat();
        }

        this.q = function (sel) { return root.querySelector(sel); };
        this.dateForm = this.q(".oc-date-form");
        this.dateInput = this.q(".oc-date");
        this.searchForm = this.q(".oc-search-form");
        this.searchInput = this.q(".oc-search");
        this.searchCount = this.q(".oc-search-count");
        this.prevBtn = this.q(".oc-prev");
        this.nextBtn = this.q(".oc-next");
        this.expandAllBtn = this.q(".oc-expand-all");
        this.collapseAllBtn = this.q(".oc-collapse-all");
        this.summary = this.q(".oc-summary");
        this.legend = this.q(".oc-legend");
        this.legendList = this.q(".oc-legend-list");
        this.notice = this.q(".oc-notice");
        this.message = this.q(".oc-message");
        this.viewport = this.q(".oc-viewport");
        this.tree = this.q(".oc-tree");

        this.loadSeq = 0;
        this.abortCtl = null;
        this.searchTimer = null;
        this.resetData();
        this.buildPrototypes();
        this.bind();
    }

    OrgChart.prototype.num = function (n) {
        return this.numberFormat.format(n);
    };

    OrgChart.prototype.formatDate = function (iso) {
        if (!DATE_RE.test(iso || "")) { return iso || ""; }
        var p = iso.split("-");
        try {
            // UTC on both sides so no time zone can shift the day.
            return new Intl.DateTimeFormat(this.locale, {
                year: "numeric", month: "2-digit", day: "2-digit", timeZone: "UTC"
            }).format(new Date(Date.UTC(+p[0], +p[1] - 1, +p[2])));
        } catch (e) {
            return iso;
        }
    };

    /* ---------------------------- events ------------------------------ */

    OrgChart.prototype.bind = function () {
        var self = this;

        this.dateForm.addEventListener("submit", function (ev) {
            ev.preventDefault();
            var value = self.dateInput.value;
            if (!DATE_RE.test(value)) {
                self.showNotice(self.t.invalidDate);
                self.dateInput.focus();
                return;
            }
            self.rememberDate(value);
            self.load(value);
        });

        this.searchForm.addEventListener("submit", function (ev) {
            ev.preventDefault();
            self.submitSearch(false);
        });
        // Enter on an unchanged query steps through the matches; the submit
        // event cannot tell Shift+Enter apart, so handle the key here.
        this.searchInput.addEventListener("keydown", function (ev) {
            if (ev.key === "Enter") {
                ev.preventDefault();
                self.submitSearch(ev.shiftKey);
            } else if (ev.key === "Escape" && self.searchInput.value) {
                ev.preventDefault();
                self.searchInput.value = "";
                self.search("");
            }
        });
        this.searchInput.addEventListener("input", function () {
            clearTimeout(self.searchTimer);
            self.searchTimer = setTimeout(function () {
                var value = self.searchInput.value.trim();
                if (value === self.query) { return; }
                if (value.length >= SEARCH_MIN_LIVE || value === "") {
                    self.search(value);
                }
            }, SEARCH_DEBOUNCE_MS);
        });
        this.prevBtn.addEventListener("click", function () { self.step(-1); });
        this.nextBtn.addEventListener("click", function () { self.step(1); });

        this.expandAllBtn.addEventListener("click", function () {
            self.clearNotice();
            var limited = self.expandBreadthFirst(self.expandLevels, self.expandMax);
            if (limited) { self.showNotice(self.t.expandLimited); }
        });
        this.collapseAllBtn.addEventListener("click", function () {
            self.clearNotice();
            self.collapseAll();
        });

        // One delegated listener instead of one per node: thousands of
        // listeners would cost more than the nodes themselves.
        this.tree.addEventListener("click", function (ev) {
            var btn = ev.target.closest("button");
            if (!btn || !self.tree.contains(btn)) { return; }
            if (btn.classList.contains("oc-toggle")) {
                self.toggle(+btn.closest("li").getAttribute("data-i"));
            } else if (btn.classList.contains("oc-more-btn")) {
                self.showMore(+btn.getAttribute("data-p"), btn);
            }
        });
        this.tree.addEventListener("keydown", function (ev) {
            self.onTreeKey(ev);
        });
    };

    OrgChart.prototype.submitSearch = function (backwards) {
        clearTimeout(this.searchTimer);
        var value = this.searchInput.value.trim();
        if (value && value === this.query && this.matches.length) {
            this.step(backwards ? -1 : 1);
        } else {
            this.search(value);
        }
    };

    /** Arrow keys move between the visible buttons of the tree and open or
     *  close branches, like a file tree; Tab still works as usual. */
    OrgChart.prototype.onTreeKey = function (ev) {
        var target = ev.target;
        if (target.tagName !== "BUTTON" || ev.altKey || ev.ctrlKey || ev.metaKey) { return; }
        var li = target.closest("li.oc-node");
        var i = li ? +li.getAttribute("data-i") : -1;
        var isToggle = target.classList.contains("oc-toggle");

        if (ev.key === "ArrowRight" && isToggle) {
            ev.preventDefault();
            if (!this.expanded[i]) { this.expand(i); }
            else { this.focusSibling(target, 1); }
        } else if (ev.key === "ArrowLeft") {
            ev.preventDefault();
            if (isToggle && this.expanded[i]) {
                this.collapse(i);
            } else {
                // Go to the parent's toggle ("show more" buttons belong to
                // the parent whose index they carry).
                var p = isToggle ? this.parent[i] : +target.getAttribute("data-p");
                if (p !== this.ROOT && this.li[p]) {
                    this.li[p].querySelector(".oc-toggle").focus();
                }
            }
        } else if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {
            ev.preventDefault();
            this.focusSibling(target, ev.key === "ArrowDown" ? 1 : -1);
        }
    };

    OrgChart.prototype.focusSibling = function (from, dir) {
        var all = this.tree.querySelectorAll("button");
        var visible = [];
        for (var k = 0; k < all.length; k++) {
            if (all[k].offsetParent !== null) { visible.push(all[k]); }
        }
        var at = visible.indexOf(from);
        var next = visible[at + dir];
        if (next) { next.focus(); }
    };

    OrgChart.prototype.rememberDate = function (value) {
        try {
            var u = new URL(window.location.href);
            u.searchParams.set("date", value);
            window.history.replaceState(window.history.state, "", u.toString());
        } catch (e) {
            // Very old browsers: the page still works, only the URL is stale.
        }
    };

    /* ---------------------------- loading ----------------------------- */

    OrgChart.prototype.load = function (date) {
        var self = this;
        var seq = ++this.loadSeq;
        this.currentDate = date;

        if (this.abortCtl) { this.abortCtl.abort(); }
        this.abortCtl = window.AbortController ? new AbortController() : null;

        this.resetData();
        this.clearNotice();
        this.tree.textContent = "";
        this.summary.textContent = "";
        this.legend.hidden = true;
        this.renderSearchStatus();
        this.setBusy(true);
        this.showMessage("loading", this.t.loading);

        fetch(withParam(this.url, "date", date), {
            credentials: "same-origin",
            headers: {"Accept": "application/json", "X-Requested-With": "XMLHttpRequest"},
            signal: this.abortCtl ? this.abortCtl.signal : undefined
        }).then(function (resp) {
            if (!resp.ok) { throw new Error("HTTP " + resp.status); }
            // An expired session ends on the HTML login page, not in JSON.
            var type = resp.headers.get("Content-Type") || "";
            if (type.indexOf("json") === -1) { throw new Error("HTTP " + resp.status + ", " + type); }
            return resp.json();
        }).then(function (data) {
            if (seq !== self.loadSeq) { return; }
            if (!data || !(Array.isArray(data.result) || Array.isArray(data.nodes))) { throw new Error("unexpected response"); }
            self.setData(data, date);
        }).catch(function (err) {
            if (seq !== self.loadSeq || (err && err.name === "AbortError")) { return; }
            self.resetData();
            self.showError(err);
        }).then(function () {
            if (seq === self.loadSeq) { self.setBusy(false); }
        });
    };

    OrgChart.prototype.setBusy = function (busy) {
        this.viewport.setAttribute("aria-busy", busy ? "true" : "false");
        this.root.classList.toggle("is-busy", busy);
        this.updateControls();
    };

    OrgChart.prototype.updateControls = function () {
        var busy = this.root.classList.contains("is-busy");
        var hasData = this.n > 0;
        this.expandAllBtn.disabled = busy || !hasData;
        this.collapseAllBtn.disabled = busy || !hasData;
        this.prevBtn.disabled = this.nextBtn.disabled = busy || this.matches.length === 0;
    };

    OrgChart.prototype.showMessage = function (kind, text) {
        var m = this.message;
        m.textContent = "";
        m.className = "oc-message oc-message-" + kind;
        // Only failures interrupt a screen reader; the rest is polite.
        m.setAttribute("role", kind === "error" ? "alert" : "status");
        if (kind === "loading") {
            m.appendChild(el("span", "oc-spinner")).setAttribute("aria-hidden", "true");
        }
        m.appendChild(el("span", "oc-message-text", text));
        m.hidden = false;
        return m;
    };

    OrgChart.prototype.showError = function (err) {
        var self = this;
        var m = this.showMessage("error", this.t.error);
        if (err && err.message) {
            m.appendChild(el("span", "oc-message-detail", "(" + err.message + ")"));
        }
        var retry = el("button", "btn btn-default btn-sm oc-retry", this.t.retry);
        retry.type = "button";
        retry.addEventListener("click", function () {
            self.load(self.currentDate);
        });
        m.appendChild(retry);
    };

    OrgChart.prototype.hideMessage = function () {
        this.message.hidden = true;
        this.message.textContent = "";
    };

    OrgChart.prototype.showNotice = function (text) {
        this.notice.textContent = text;
        this.notice.hidden = false;
    };

    OrgChart.prototype.clearNotice = function () {
        this.notice.hidden = true;
        this.notice.textContent = "";
    };

    /* ------------------------- data model ----------------------------- */

    OrgChart.prototype.resetData = function () {
        this.n = 0;
        this.ROOT = 0;
        this.kids = [[]];
        this.parent = new Int32Array(0);
        this.depth = new Int32Array(0);
        this.pos = new Int32Array(0);
        this.desc = new Int32Array(1);
        this.names = [];
        this.lower = [];
        this.levels = [];
        this.expanded = new Uint8Array(1);
        this.shown = new Int32Array(1);
        this.li = [];
        this.ul = [this.tree];
        this.moreLi = [];
        this.resetSearchState();
    };

    OrgChart.prototype.resetSearchState = function () {
        this.query = "";
        this.needle = "";
        this.matches = [];
        this.current = -1;
        this.isMatch = new Uint8Array(this.n);
        this.hitsBelow = new Int32Array(this.n + 1);
        this.hitAncestors = [];
    };

    /**
     * Flatten the JSON forest. Indices are assigned in pre-order, which is
     * the order nodes appear on screen, so "first match" is simply the
     * smallest index and every parent has a smaller index than its children.
     */
    OrgChart.prototype.flatten = function (roots) {
        var stack = [];
        var node, children, k, n = 0;

        // Pass 1: count, so the typed arrays can be allocated at once.
        for (k = roots.length - 1; k >= 0; k--) { stack.push(roots[k]); }
        while (stack.length) {
            node = stack.pop();
            if (!node || typeof node !== "object") { continue; }
            n++;
            children = node.children;
            if (Array.isArray(children)) {
                for (k = children.length - 1; k >= 0; k--) { stack.push(children[k]); }
            }
        }

        var ROOT = n;   // virtual parent of the roots; keeps the code uniform
        var parent = new Int32Array(n);
        var depth = new Int32Array(n);
        var pos = new Int32Array(n);
        var desc = new Int32Array(n + 1);
        var kids = new Array(n + 1);
        var names = new Array(n);
        var lower = new Array(n);
        var levels = new Array(n);
        var EMPTY = [];
        var stackParent = [];
        var stackDepth = [];
        var next = 0, p, d, name, lvl;

        // Pass 2: assign indices, parents, depths and child lists.
        kids[ROOT] = [];
        for (k = roots.length - 1; k >= 0; k--) {
            stack.push(roots[k]); stackParent.push(ROOT); stackDepth.push(0);
        }
        while (stack.length) {
            node = stack.pop(); p = stackParent.pop(); d = stackDepth.pop();
            if (!node || typeof node !== "object") { continue; }
            var i = next++;
            parent[i] = p;
            depth[i] = d;
            pos[i] = kids[p].length;
            kids[p].push(i);
            name = node.name === null || node.name === undefined ? "" : String(node.name);
            names[i] = name;
            lower[i] = name.toLowerCase();
            lvl = node.career_level;
            levels[i] = lvl && typeof lvl === "object" ? lvl : null;
            children = Array.isArray(node.children) ? node.children : EMPTY;
            kids[i] = children.length ? [] : EMPTY;
            for (k = children.length - 1; k >= 0; k--) {
                stack.push(children[k]); stackParent.push(i); stackDepth.push(d + 1);
            }
        }

        // Descendant counts bottom-up: children always come after parents.
        for (k = n - 1; k >= 0; k--) { desc[parent[k]] += desc[k] + 1; }

        this.n = n;
        this.ROOT = ROOT;
        this.parent = parent;
        this.depth = depth;
        this.pos = pos;
        this.desc = desc;
        this.kids = kids;
        this.names = names;
        this.lower = lower;
        this.levels = levels;
        this.expanded = new Uint8Array(n + 1);
        this.expanded[ROOT] = 1;
        this.shown = new Int32Array(n + 1);
        this.li = new Array(n);
        this.ul = new Array(n + 1);
        this.ul[ROOT] = this.tree;
        this.moreLi = new Array(n + 1);
        this.resetSearchState();
    };

    /** The data endpoint sends flat rows [id, name, level id, supervisor id],
     *  sorted by name, and the levels {id: [rank, name]}: much smaller and
     *  faster than a nested tree. Nest them here in one pass. */
    function nestRows(data) {
        var levels = {}, byId = {}, roots = [], rows = data.nodes, k, r, key, parent;
        for (key in data.levels) {
            if (Object.prototype.hasOwnProperty.call(data.levels, key)) {
                levels[key] = {rank: data.levels[key][0], name: data.levels[key][1]};
            }
        }
        for (k = 0; k < rows.length; k++) {
            r = rows[k];
            byId[r[0]] = {id: r[0], name: r[1],
                          career_level: r[2] === null ? null : (levels[r[2]] || null),
                          children: []};
        }
        for (k = 0; k < rows.length; k++) {
            r = rows[k];
            parent = r[3] === null ? null : byId[r[3]];
            (parent ? parent.children : roots).push(byId[r[0]]);
        }
        return roots;
    }

    OrgChart.prototype.setData = function (data, requestedDate) {
        this.flatten(Array.isArray(data.nodes) ? nestRows(data) : data.result);
        this.tree.textContent = "";
        this.hideMessage();
        this.renderSummary(data.date || requestedDate);
        this.renderLegend();

        if (this.n === 0) {
            this.summary.textContent = "";   // "0 intermediaries" would only repeat the message
            this.showMessage("empty", this.t.empty);
            this.updateControls();
            return;
        }
        this.renderChildren(this.ROOT, PAGE_SIZE);
        this.expandBreadthFirst(1, INITIAL_BUDGET);
        this.updateControls();

        // Keep an active search across date changes.
        var q = this.searchInput.value.trim();
        if (q) { this.search(q); }
    };

    OrgChart.prototype.renderSummary = function (date) {
        this.summary.textContent = fmt(this.t.summary, {
            count: this.num(this.n), date: this.formatDate(date)
        });
    };

    /** The legend shows the career levels that actually occur at this date,
     *  with their head count, ordered by rank. */
    OrgChart.prototype.renderLegend = function () {
        var byRank = {}, ranks = [], lvl, k;
        for (k = 0; k < this.n; k++) {
            lvl = this.levels[k];
            if (!lvl) { continue; }
            var key = String(lvl.rank);
            if (!byRank[key]) {
                byRank[key] = {rank: lvl.rank, name: lvl.name, count: 0};
                ranks.push(key);
            }
            byRank[key].count++;
        }
        ranks.sort(function (a, b) { return byRank[a].rank - byRank[b].rank; });

        this.legendList.textContent = "";
        var frag = document.createDocumentFragment();
        for (k = 0; k < ranks.length; k++) {
            var entry = byRank[ranks[k]];
            var item = el("li", "oc-legend-item " + rankClass(entry.rank));
            item.appendChild(this.makeBadge(entry));
            item.appendChild(el("span", "oc-legend-count", this.num(entry.count)));
            frag.appendChild(item);
        }
        this.legendList.appendChild(frag);
        this.legend.hidden = ranks.length === 0;
    };

    OrgChart.prototype.makeBadge = function (lvl) {
        var badge = el("span", "oc-badge", lvl.name);
        if (lvl.rank !== null && lvl.rank !== undefined) {
            badge.title = this.t.level + " " + lvl.rank;
        }
        return badge;
    };

    /* --------------------------- rendering ---------------------------- */

    /** Cloning a finished element is markedly faster than assembling each
     *  node from createElement calls. */
    OrgChart.prototype.buildPrototypes = function () {
        var li = el("li", "oc-node");
        var card = li.appendChild(el("div", "oc-card"));
        var toggle = card.appendChild(el("button", "oc-toggle"));
        toggle.type = "button";
        toggle.setAttribute("aria-expanded", "false");
        toggle.appendChild(el("span", "oc-chevron")).setAttribute("aria-hidden", "true");
        var body = card.appendChild(el("div", "oc-body"));
        // Names are German data whatever the UI language; lang lets the
        // browser hyphenate long ones correctly instead of breaking anywhere.
        body.appendChild(el("span", "oc-name")).setAttribute("lang", "de");
        body.appendChild(el("span", "oc-meta"));
        this.protoBranch = li;

        var leaf = li.cloneNode(true);
        var spacer = el("span", "oc-toggle oc-leaf");
        spacer.setAttribute("aria-hidden", "true");
        leaf.firstChild.replaceChild(spacer, leaf.firstChild.firstChild);
        this.protoLeaf = leaf;

        var count = el("span", "oc-count");
        count.appendChild(el("span", "fa fa-users")).setAttribute("aria-hidden", "true");
        count.appendChild(document.createTextNode(""));
        this.protoCount = count;
    };

    OrgChart.prototype.createNode = function (i) {
        var hasKids = this.kids[i].length > 0;
        var li = (hasKids ? this.protoBranch : this.protoLeaf).cloneNode(true);
        var card = li.firstChild;
        var body = card.lastChild;
        var lvl = this.levels[i];

        li.setAttribute("data-i", i);
        card.className = "oc-card " + (lvl ? rankClass(lvl.rank) : "oc-rank-none");
        if (hasKids) {
            var toggle = card.firstChild;
            // The button is named after the person; aria-expanded tells
            // screen readers the state, the tooltip tells mouse users.
            toggle.setAttribute("aria-label", this.names[i]);
            toggle.title = this.t.expand;
        }
        var meta = body.lastChild;
        if (lvl) { meta.appendChild(this.makeBadge(lvl)); }
        if (hasKids) {
            var count = this.protoCount.cloneNode(true);
            var total = this.num(this.desc[i]);
            count.lastChild.nodeValue = total;
            count.title = fmt(this.t.descendants, {n: total});
            meta.appendChild(count);
        }
        this.li[i] = li;
        this.paintSearch(i);
        return li;
    };

    /** Render children of p up to index upTo (exclusive); returns how many
     *  DOM nodes were created so callers can keep to their budget. */
    OrgChart.prototype.renderChildren = function (p, upTo) {
        var kids = this.kids[p];
        var start = this.shown[p];
        var end = Math.min(upTo, kids.length);
        if (end <= start) { return 0; }

        var ul = this.ul[p];
        if (!ul) {
            ul = this.ul[p] = el("ul", "oc-children");
            ul.hidden = true;
            this.li[p].appendChild(ul);
        }
        var frag = document.createDocumentFragment();
        for (var k = start; k < end; k++) {
            frag.appendChild(this.createNode(kids[k]));
        }
        ul.insertBefore(frag, this.moreLi[p] || null);
        this.shown[p] = end;
        this.updateMore(p);
        return end - start;
    };

    OrgChart.prototype.updateMore = function (p) {
        var rest = this.kids[p].length - this.shown[p];
        var more = this.moreLi[p];
        if (rest <= 0) {
            if (more) { more.parentNode.removeChild(more); this.moreLi[p] = null; }
            return;
        }
        if (!more) {
            more = this.moreLi[p] = el("li", "oc-more");
            var btn = more.appendChild(el("button", "btn btn-link btn-xs oc-more-btn"));
            btn.type = "button";
            btn.setAttribute("data-p", p);
            this.ul[p].appendChild(more);
        }
        more.firstChild.textContent = fmt(this.t.showMore, {
            n: this.num(Math.min(PAGE_SIZE, rest)), rest: this.num(rest)
        });
    };

    OrgChart.prototype.showMore = function (p, btn) {
        var hadFocus = document.activeElement === btn;
        var firstNew = this.shown[p];
        this.renderChildren(p, firstNew + PAGE_SIZE);
        // While entries remain, the button stays (now after the new ones) and
        // keeps focus. Once it is gone, focus would fall back to <body>; move
        // it to the first new entry that can take it, or to the parent.
        if (!hadFocus || btn.isConnected) { return; }
        var kids = this.kids[p];
        for (var k = firstNew; k < kids.length; k++) {
            var toggle = this.li[kids[k]] && this.li[kids[k]].querySelector("button.oc-toggle");
            if (toggle) { toggle.focus(); return; }
        }
        if (p !== this.ROOT) { this.li[p].querySelector("button.oc-toggle").focus(); }
    };

    /* ------------------------ expand / collapse ----------------------- */

    OrgChart.prototype.setOpen = function (i, open) {
        var li = this.li[i];
        this.expanded[i] = open ? 1 : 0;
        li.classList.toggle("is-open", open);
        var toggle = li.firstChild.firstChild;
        toggle.setAttribute("aria-expanded", open ? "true" : "false");
        toggle.title = open ? this.t.collapse : this.t.expand;
        this.ul[i].hidden = !open;
    };

    /** Returns the number of DOM nodes created. */
    OrgChart.prototype.expand = function (i) {
        if (this.expanded[i] || !this.kids[i].length) { return 0; }
        var created = this.shown[i] ? 0 : this.renderChildren(i, PAGE_SIZE);
        this.setOpen(i, true);
        return created;
    };

    OrgChart.prototype.collapse = function (i) {
        if (this.expanded[i] && i !== this.ROOT) { this.setOpen(i, false); }
    };

    OrgChart.prototype.toggle = function (i) {
        if (this.expanded[i]) { this.collapse(i); } else { this.expand(i); }
    };

    OrgChart.prototype.collapseAll = function () {
        for (var i = 0; i < this.n; i++) {
            if (this.expanded[i]) { this.setOpen(i, false); }
        }
    };

    /**
     * Open the shown nodes level by level, top down, until `levels` levels
     * are open or the next branch would exceed `budget` visible children.
     * Breadth-first so a cut leaves a consistent picture (whole upper
     * levels) rather than one deep branch. Returns true if the budget cut.
     */
    OrgChart.prototype.expandBreadthFirst = function (levels, budget) {
        var queue = this.kids[this.ROOT].slice(0, this.shown[this.ROOT]);
        var head = 0, i, k, kids, cost;
        budget -= queue.length;
        while (head < queue.length) {
            i = queue[head++];
            kids = this.kids[i];
            if (this.depth[i] >= levels || !kids.length) { continue; }
            cost = Math.max(this.shown[i], Math.min(PAGE_SIZE, kids.length));
            if (!this.expanded[i]) {
                if (cost > budget) { return true; }
                this.expand(i);
            }
            budget -= cost;
            for (k = 0; k < this.shown[i]; k++) { queue.push(kids[k]); }
        }
        return false;
    };

    /** Render and open everything between a root and node i (without
     *  opening i itself). Returns the number of DOM nodes created. */
    OrgChart.prototype.reveal = function (i) {
        var path = [], a, k, x, p, created = 0;
        for (a = i; a !== this.ROOT; a = this.parent[a]) { path.push(a); }
        for (k = path.length - 1; k >= 0; k--) {
            x = path[k];
            p = this.parent[x];
            if (this.shown[p] <= this.pos[x]) {
                // Render whole pages up to x so the list stays a prefix and
                // "show more" keeps working.
                created += this.renderChildren(p, Math.ceil((this.pos[x] + 1) / PAGE_SIZE) * PAGE_SIZE);
            }
            if (k > 0) { created += this.expand(x); }
        }
        return created;
    };

    /* ----------------------------- search ----------------------------- */

    OrgChart.prototype.search = function (value) {
        var k, i, a;
        var touched = this.matches.concat(this.hitAncestors);

        // Forget the previous search.
        for (k = 0; k < this.matches.length; k++) { this.isMatch[this.matches[k]] = 0; }
        for (k = 0; k < this.hitAncestors.length; k++) { this.hitsBelow[this.hitAncestors[k]] = 0; }
        this.markCurrent(-1);
        this.query = value;
        this.needle = value.toLowerCase();
        this.matches = [];
        this.hitAncestors = [];
        this.clearNotice();

        if (this.needle && this.n) {
            for (i = 0; i < this.n; i++) {
                if (this.lower[i].indexOf(this.needle) === -1) { continue; }
                this.matches.push(i);
                this.isMatch[i] = 1;
                // Count matches per branch so collapsed ancestors can show
                // that (and how much) is hidden below them.
                for (a = this.parent[i]; a !== this.ROOT; a = this.parent[a]) {
                    if (this.hitsBelow[a]++ === 0) { this.hitAncestors.push(a); }
                }
            }
        }

        // Repaint already rendered cards; new ones paint themselves.
        touched = touched.concat(this.matches, this.hitAncestors);
        for (k = 0; k < touched.length; k++) {
            if (this.li[touched[k]]) { this.paintSearch(touched[k]); }
        }

        if (this.matches.length) {
            // Start from a clean tree so the result shows the matches, not
            // whatever was open before.
            this.collapseAll();
            var created = 0, opened = 0;
            while (opened < this.matches.length && opened < SEARCH_REVEAL_MAX &&
                   (opened === 0 || created < SEARCH_DOM_BUDGET)) {
                created += this.reveal(this.matches[opened]);
                opened++;
            }
            if (opened < this.matches.length) {
                this.showNotice(fmt(this.t.matchesCapped, {shown: this.num(opened)}));
            }
            this.goTo(0);
        }
        this.renderSearchStatus();
        this.updateControls();
    };

    /** Bring a card in line with the current search: highlighted name,
     *  match styling and the "matches below" marker for collapsed nodes. */
    OrgChart.prototype.paintSearch = function (i) {
        var li = this.li[i];
        var card = li.firstChild;
        var body = card.lastChild;
        var nameEl = body.firstChild;
        var name = this.names[i];
        var match = this.isMatch[i] === 1;

        card.classList.toggle("is-match", match);
        nameEl.textContent = "";
        var at = match ? this.lower[i].indexOf(this.needle) : -1;
        // toLowerCase can change the length of a few characters (e.g. "İ");
        // then offsets do not line up and the whole name is marked instead.
        if (at !== -1 && this.lower[i].length === name.length) {
            if (at > 0) { nameEl.appendChild(document.createTextNode(name.slice(0, at))); }
            nameEl.appendChild(el("mark", null, name.slice(at, at + this.needle.length)));
            if (at + this.needle.length < name.length) {
                nameEl.appendChild(document.createTextNode(name.slice(at + this.needle.length)));
            }
        } else if (match) {
            nameEl.appendChild(el("mark", null, name));
        } else {
            nameEl.textContent = name || "–";
        }

        var meta = body.lastChild;
        var hits = meta.querySelector(".oc-hits");
        var n = this.hitsBelow[i];
        if (n > 0) {
            if (!hits) {
                hits = meta.appendChild(el("span", "oc-hits"));
                hits.appendChild(el("span", "fa fa-search")).setAttribute("aria-hidden", "true");
                hits.appendChild(document.createTextNode(""));
            }
            hits.lastChild.nodeValue = this.num(n);
            hits.title = fmt(this.t.matchesInBranch, {n: this.num(n)});
        } else if (hits) {
            meta.removeChild(hits);
        }
    };

    OrgChart.prototype.step = function (dir) {
        var total = this.matches.length;
        if (!total) { return; }
        this.goTo(((this.current + dir) % total + total) % total);
        this.renderSearchStatus();
    };

    OrgChart.prototype.goTo = function (k) {
        var i = this.matches[k];
        this.reveal(i);
        this.markCurrent(k);
        var card = this.li[i].firstChild;
        if (card.scrollIntoView) { card.scrollIntoView({block: "center", inline: "nearest"}); }
    };

    OrgChart.prototype.markCurrent = function (k) {
        var old = this.current >= 0 ? this.li[this.matches[this.current]] : null;
        if (old) { old.firstChild.classList.remove("is-current"); }
        this.current = k;
        if (k >= 0) { this.li[this.matches[k]].firstChild.classList.add("is-current"); }
    };

    OrgChart.prototype.renderSearchStatus = function () {
        var c = this.searchCount;
        c.textContent = "";
        if (!this.query) { return; }
        var total = this.matches.length;
        if (!total) {
            c.appendChild(el("span", "oc-search-none", this.t.noMatches));
            return;
        }
        c.appendChild(el("strong", null, fmt(this.t.matches, {n: this.num(total)})));
        c.appendChild(el("span", "oc-search-pos", this.num(this.current + 1) + "/" + this.num(total)));
    };

    /* ------------------------------------------------------------------ */

    function init() {
        var root = document.getElementById("orgchart");
        if (!root || root.getAttribute("data-oc-ready")) { return; }
        root.setAttribute("data-oc-ready", "1");
        var chart = new OrgChart(root);
        var date = root.getAttribute("data-date") || chart.dateInput.value;
        chart.load(date);
    }

    if (document.readyState === "loading") {
        document.addEventListener("DOMContentLoaded", init);
    } else {
        init();
    }
})();
