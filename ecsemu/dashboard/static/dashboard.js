// ecsemu's dashboard: polls /_ecsemu/ui/api/state about once a second and draws it.
//
// Rules this file keeps:
// - Every value from the server reaches the page as a text node or an attribute value set with
//   setAttribute (never innerHTML, never a URL built from data): names users chose cannot
//   inject markup.
// - Read-only: the only request it makes is GET of the state document.
// - A failed poll (server restarting, stopped) marks the page "disconnected" and keeps the
//   last view, dimmed; polling goes on, and the next answer brings the page back.
// - The page is redrawn only when the document changed, so it does not flicker or lose the
//   reader's text selection every second.
"use strict";

(() => {
  const API = "/_ecsemu/ui/api/state";
  const POLL_MS = 1000;
  const HIDDEN_POLL_MS = 5000; // a background tab asks less often
  const TIMEOUT_MS = 4000;

  let lastBody = null;
  let connected = null;

  // -- building DOM nodes (text only) --------------------------------------------------------

  function append(node, child) {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) {
      for (const item of child) append(node, item);
    } else if (child instanceof Node) {
      node.appendChild(child);
    } else {
      node.appendChild(document.createTextNode(String(child)));
    }
  }

  // el("td", {class: "x", "data-task-id": id}, "text", otherNode)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = String(value);
      else node.setAttribute(name, String(value));
    }
    append(node, children);
    return node;
  }

  function badge(text, kind) {
    return el("span", { class: `badge ${kind || ""}`, "data-value": text }, text);
  }

  function stateKind(value) {
    const text = String(value || "").toUpperCase();
    if (["RUNNING", "HEALTHY", "COMPLETED", "ACTIVE", "PRIMARY", "STEADY_STATE"].includes(text)) return "good";
    if (["STOPPED", "UNHEALTHY", "FAILED", "INACTIVE", "UNAVAILABLE"].includes(text)) return "bad";
    if (["DRAINING", "UNUSED", "STOPPING", "DEACTIVATING", "DEPROVISIONING"].includes(text)) return "muted";
    return "warn";
  }

  function stateBadge(value) {
    return badge(String(value), stateKind(value));
  }

  function time(seconds) {
    if (typeof seconds !== "number") return "";
    return new Date(seconds * 1000).toLocaleTimeString();
  }

  function omitted(count, what) {
    return count ? el("p", { class: "omitted" }, `… and ${count} more ${what} not shown`) : null;
  }

  function table(headers, rows, attrs) {
    return el(
      "table",
      attrs || {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col" }, h)))),
      el("tbody", {}, rows),
    );
  }

  function anchorId(scope) {
    return `scope-${scope.accountId}-${scope.region}`.replace(/[^A-Za-z0-9-]/g, "_");
  }

  // -- tasks ---------------------------------------------------------------------------------

  function portsOf(task) {
    const ports = [];
    for (const container of task.containers || []) {
      for (const port of container.ports || []) {
        const text = `${port.hostIp}:${port.hostPort} → ${port.containerPort}/${port.protocol}`;
        ports.push(el("div", { class: "port", "data-host-port": port.hostPort }, text));
      }
    }
    return ports.length ? ports : el("span", { class: "none" }, "—");
  }

  function targetsOf(task) {
    const targets = (task.targets || []).map((t) =>
      el(
        "div",
        { class: "target", "data-target-group": t.targetGroupName, "data-state": t.state, title: t.description || "" },
        `${t.targetGroupName} ${t.id}:${t.port} `,
        stateBadge(t.state),
      ),
    );
    return targets.length ? targets : el("span", { class: "none" }, "—");
  }

  // Logs are not emulated yet (no CloudWatch Logs): the page names where the awslogs driver
  // would write, as text — no link that leads nowhere.
  function logsOf(task) {
    const logs = [];
    for (const container of task.containers || []) {
      if (!container.logs) continue;
      const where = [`group ${container.logs.group}`];
      if (container.logs.stream) where.push(`stream ${container.logs.stream}`);
      if (container.logs.region) where.push(container.logs.region);
      logs.push(el("div", { class: "logs", title: `${container.name}: ${container.logs.driver}` }, where.join(" · ")));
    }
    return logs.length ? logs : el("span", { class: "none" }, "—");
  }

  function taskRow(task) {
    const health = [stateBadge(task.healthStatus)];
    for (const container of task.containers || []) {
      if (container.healthStatus && container.healthStatus !== "UNKNOWN" && (task.containers || []).length > 1) {
        health.push(el("div", { class: "small" }, `${container.name}: ${container.healthStatus}`));
      }
    }
    const reason = task.stoppedReason ? el("div", { class: "small reason" }, task.stoppedReason) : null;
    return el(
      "tr",
      { class: "task", "data-task-id": task.id, "data-task-arn": task.arn },
      el("td", { class: "task-id", title: task.arn }, task.id.slice(0, 12), reason),
      el("td", {}, task.taskDefinition),
      el("td", { class: "last-status" }, stateBadge(task.lastStatus)),
      el("td", { class: "desired-status" }, task.desiredStatus),
      el("td", { class: "health" }, health),
      el("td", { class: "ports" }, portsOf(task)),
      el("td", { class: "targets" }, targetsOf(task)),
      el("td", { class: "logs-cell" }, logsOf(task)),
      el("td", { class: "small" }, time(task.startedAt || task.createdAt)),
    );
  }

  function tasksTable(tasks, count, what) {
    if (!tasks.length) return el("p", { class: "none" }, `No ${what}.`);
    return [
      table(
        ["Task", "Task definition", "Last status", "Desired", "Health", "Ports (host → container)", "Targets", "Logs (awslogs)", "Started"],
        tasks.map(taskRow),
        { class: "tasks" },
      ),
      omitted(count, what),
    ];
  }

  // -- services ------------------------------------------------------------------------------

  function deploymentsTable(service) {
    const rows = (service.deployments || []).map((d) =>
      el(
        "tr",
        { class: "deployment", "data-deployment-id": d.id, "data-status": d.status },
        el("td", {}, stateBadge(d.status)),
        el("td", { class: "small" }, d.id),
        el("td", {}, d.taskDefinition.split("/").pop()),
        el("td", { class: "num" }, d.desiredCount),
        el("td", { class: "num" }, d.runningCount),
        el("td", { class: "num" }, d.pendingCount),
        el("td", { class: "num" }, d.failedTasks),
        el("td", { class: "rollout-state" }, stateBadge(d.rolloutState)),
        el("td", { class: "small" }, d.rolloutStateReason),
      ),
    );
    if (!rows.length) return null;
    return table(["Status", "Deployment", "Task definition", "Desired", "Running", "Pending", "Failed", "Rollout", "Reason"], rows, {
      class: "deployments",
    });
  }

  function taskSetsTable(service) {
    if (!service.taskSets || !service.taskSets.length) return null;
    const rows = service.taskSets.map((s) =>
      el(
        "tr",
        { "data-task-set-id": s.id },
        el("td", {}, stateBadge(s.status)),
        el("td", { class: "small" }, s.id),
        el("td", {}, s.taskDefinition.split("/").pop()),
        el("td", {}, s.scale),
        el("td", { class: "num" }, s.computedDesiredCount),
        el("td", { class: "num" }, s.runningCount),
        el("td", { class: "num" }, s.pendingCount),
        el("td", {}, stateBadge(s.stabilityStatus)),
      ),
    );
    return table(["Status", "Task set", "Task definition", "Scale", "Desired", "Running", "Pending", "Stability"], rows);
  }

  function eventsList(service) {
    const events = service.events || [];
    if (!events.length) return el("p", { class: "none" }, "No events yet.");
    return [
      el(
        "ol",
        { class: "events" },
        events.map((e) => el("li", {}, el("time", { class: "small" }, time(e.createdAt)), " ", e.message)),
      ),
      omitted(service.eventsOmitted, "events"),
    ];
  }

  function serviceCard(service) {
    const lbs = (service.loadBalancers || []).map((lb) =>
      el("span", { class: "chip" }, `${lb.targetGroupName || lb.targetGroupArn} ← ${lb.containerName}:${lb.containerPort}`),
    );
    return el(
      "article",
      { class: "service", "data-service": service.name, "data-rollout-state": service.rolloutState },
      el(
        "h4",
        {},
        service.name,
        " ",
        stateBadge(service.status),
        service.rolloutState ? [" ", el("span", { class: "service-rollout" }, stateBadge(service.rolloutState))] : null,
      ),
      el(
        "p",
        { class: "facts" },
        el("span", { class: "counts" }, `desired ${service.desiredCount} · running ${service.runningCount} · pending ${service.pendingCount}`),
        service.taskDefinition ? ` · ${service.taskDefinition.split("/").pop()}` : "",
        ` · ${service.launchType || "capacity provider"} · ${service.strategy} (${service.controller})`,
        lbs.length ? [" · ", lbs] : null,
      ),
      deploymentsTable(service),
      taskSetsTable(service),
      el("h5", {}, "Tasks"),
      tasksTable(service.tasks || [], service.tasksOmitted, "tasks"),
      el("h5", {}, "Recent events"),
      eventsList(service),
    );
  }

  function clusterSection(cluster) {
    const services = cluster.services || [];
    const standalone = cluster.tasks || [];
    return el(
      "section",
      { class: "cluster", "data-cluster": cluster.name },
      el(
        "h3",
        {},
        `Cluster ${cluster.name} `,
        stateBadge(cluster.status),
        el(
          "span",
          { class: "facts" },
          ` ${cluster.activeServices} services · ${cluster.runningTasks} running tasks · ${cluster.pendingTasks} pending`,
        ),
      ),
      services.map(serviceCard),
      omitted(cluster.servicesOmitted, "services"),
      standalone.length
        ? el(
            "article",
            { class: "standalone" },
            el("h4", {}, "Tasks outside services"),
            tasksTable(standalone, cluster.tasksOmitted, "tasks"),
          )
        : null,
      !services.length && !standalone.length ? el("p", { class: "none" }, "No services or tasks.") : null,
    );
  }

  // -- load balancers ------------------------------------------------------------------------

  function targetGroupBlock(group) {
    const rows = (group.targets || []).map((t) =>
      el(
        "tr",
        { class: "target-row", "data-target": `${t.id}:${t.port}`, "data-state": t.state },
        el("td", {}, t.id),
        el("td", { class: "num" }, t.port),
        el("td", { class: "target-state" }, stateBadge(t.state)),
        el("td", { class: "small" }, [t.reason, t.description].filter(Boolean).join(": ")),
      ),
    );
    return el(
      "div",
      { class: "target-group", "data-target-group": group.name },
      el("h5", {}, `Target group ${group.name} `, el("span", { class: "facts" }, `${group.protocol}:${group.port} · ${group.targetType} · ${group.healthCheck}`)),
      rows.length ? table(["Target", "Port", "Health", "Reason"], rows, { class: "targets-table" }) : el("p", { class: "none" }, "No targets."),
      omitted(group.targetsOmitted, "targets"),
    );
  }

  function listenerRows(listener) {
    const bound =
      listener.boundPort === null || listener.boundPort === undefined
        ? el("span", { class: "bad" }, listener.error ? `not bound: ${listener.error}` : "not bound yet")
        : el(
            "span",
            { class: listener.boundPort === listener.port ? "" : "warn" },
            `${listener.boundAddress || "127.0.0.1"}:${listener.boundPort}`,
          );
    const rules = (listener.rules || []).map((r) =>
      el("li", {}, el("span", { class: "chip" }, `priority ${r.priority}`), ` if ${r.conditions.join(" and ") || "always"} then ${r.actions.join(", ")}`),
    );
    return el(
      "tr",
      { class: "listener", "data-listener-port": listener.port, "data-bound-port": listener.boundPort },
      el("td", {}, listener.protocol),
      el("td", { class: "num" }, listener.port),
      el("td", { class: "bound" }, bound),
      el("td", {}, listener.defaultActions.join(", ")),
      el("td", {}, rules.length ? [el("ul", { class: "rules" }, rules), omitted(listener.rulesOmitted, "rules")] : el("span", { class: "none" }, "—")),
    );
  }

  function loadBalancerCard(lb) {
    const listeners = lb.listeners || [];
    return el(
      "article",
      { class: "load-balancer", "data-load-balancer": lb.name },
      el("h4", {}, `${lb.name} `, stateBadge(lb.state), el("span", { class: "facts" }, ` ${lb.type} · ${lb.dnsName}`)),
      listeners.length
        ? table(["Protocol", "Port asked", "Bound on", "Default action", "Rules"], listeners.map(listenerRows), { class: "listeners" })
        : el("p", { class: "none" }, "No listeners."),
      (lb.targetGroups || []).map(targetGroupBlock),
    );
  }

  // -- the whole page ------------------------------------------------------------------------

  function scalingSection(scope) {
    // Application Auto Scaling is not emulated yet; the section appears only when the state
    // document carries activities.
    const activities = scope.scalingActivities || [];
    if (!activities.length) return null;
    const rows = activities.map((a) =>
      el("tr", {}, el("td", {}, a.resourceId), el("td", {}, stateBadge(a.statusCode)), el("td", {}, a.description), el("td", { class: "small" }, time(a.startTime))),
    );
    return el("section", { class: "scaling" }, el("h3", {}, "Scaling activities"), table(["Resource", "Status", "Description", "Started"], rows));
  }

  function scopeSection(scope) {
    const clusters = scope.clusters || [];
    const lbs = scope.loadBalancers || [];
    const others = scope.otherTargetGroups || [];
    return el(
      "section",
      { class: "scope", id: anchorId(scope), "data-account": scope.accountId, "data-region": scope.region },
      el("h2", {}, `Account ${scope.accountId} · ${scope.region}`),
      clusters.length ? clusters.map(clusterSection) : el("p", { class: "none" }, "No clusters."),
      omitted(scope.clustersOmitted, "clusters"),
      lbs.length || others.length
        ? el(
            "section",
            { class: "load-balancers" },
            el("h3", {}, "Load balancers"),
            lbs.map(loadBalancerCard),
            others.length ? el("div", { class: "unused-groups" }, el("h4", {}, "Target groups no load balancer uses"), others.map(targetGroupBlock)) : null,
          )
        : null,
      scalingSection(scope),
    );
  }

  function render(data) {
    const scopes = data.scopes || [];
    const nav = document.getElementById("scopes");
    nav.replaceChildren(
      ...(scopes.length > 1 ? scopes.map((s) => el("a", { href: `#${anchorId(s)}` }, `${s.accountId} · ${s.region}`)) : []),
    );
    const content = document.getElementById("content");
    if (!scopes.length) {
      content.replaceChildren(
        el(
          "p",
          { class: "empty" },
          "Nothing here yet: create a cluster, a service or a load balancer through the AWS APIs (boto3, the AWS CLI, Terraform) and it appears here.",
        ),
      );
      return;
    }
    content.replaceChildren(...scopes.map(scopeSection));
  }

  // ok: the state arrived; otherwise why: "disconnected" (no answer) or "error" (an answer
  // that is not the state, e.g. HTTP 500), with a detail for the indicator's tooltip.
  function setConnection(ok, why, detail) {
    const indicator = document.getElementById("connection");
    const state = ok ? "connected" : why;
    if (ok) {
      document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
    }
    if (state === connected) return;
    connected = state;
    indicator.setAttribute("data-state", state);
    indicator.textContent = ok ? "live" : why === "error" ? `server error (${detail}) — retrying` : "disconnected — retrying";
    indicator.title = ok ? "" : String(detail || "");
    document.body.classList.toggle("stale", !ok);
  }

  async function poll() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
    try {
      const response = await fetch(API, { cache: "no-store", credentials: "same-origin", signal: controller.signal });
      if (!response.ok) {
        setConnection(false, "error", `HTTP ${response.status}`);
        return;
      }
      const body = await response.text();
      const data = JSON.parse(body);
      if (body !== lastBody) {
        render(data);
        lastBody = body;
      }
      setConnection(true);
    } catch (error) {
      setConnection(false, "disconnected", error);
    } finally {
      clearTimeout(timer);
      setTimeout(poll, document.hidden ? HIDDEN_POLL_MS : POLL_MS);
    }
  }

  poll();
})();
