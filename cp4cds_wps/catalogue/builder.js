// The request builder's script (cp4cds_wps/catalogue/builder.py): sends the form again when
// a choice changes, submits the request to the WPS (KVP Execute, asynchronous) and follows
// its status document until it ends, then lists the outputs. Without it the page still
// works: the Update button, and the Execute URL as a link.
"use strict";

const WPS = "http://www.opengis.net/wps/1.0.0";
const OWS = "http://www.opengis.net/ows/1.1";

function headers() {
  const token = document.getElementById("token");
  return token && token.value ? { Authorization: "Bearer " + token.value.trim() } : {};
}

function show(state, percent, text) {
  document.getElementById("progress-line").hidden = false;
  const bar = document.getElementById("progress");
  bar.value = percent;
  const status = document.getElementById("job-status");
  status.textContent = text;
  status.dataset.state = state;
}

function exceptionText(xml) {
  const found = xml.getElementsByTagNameNS(OWS, "ExceptionText");
  return found.length ? found[0].textContent : "";
}

async function listFiles(item, href) {
  // the Metalink document of the results: a link per netCDF file
  const answer = await fetch(href, { headers: headers() });
  if (!answer.ok) return;
  const xml = new DOMParser().parseFromString(await answer.text(), "application/xml");
  const files = document.createElement("ul");
  for (const file of xml.getElementsByTagName("file")) {
    const url = file.getElementsByTagName("url")[0];
    if (!url) continue;
    const li = document.createElement("li");
    const a = document.createElement("a");
    a.href = url.textContent.trim();
    a.textContent = file.getAttribute("name");
    a.className = "result-file";
    li.appendChild(a);
    files.appendChild(li);
  }
  item.appendChild(files);
}

function listOutputs(xml) {
  const list = document.getElementById("outputs");
  list.innerHTML = "";
  for (const output of xml.getElementsByTagNameNS(WPS, "Output")) {
    const name = output.getElementsByTagNameNS(OWS, "Identifier")[0].textContent;
    const ref = output.getElementsByTagNameNS(WPS, "Reference")[0];
    const item = document.createElement("li");
    if (ref) {
      const a = document.createElement("a");
      a.href = ref.getAttribute("href") || ref.getAttributeNS("http://www.w3.org/1999/xlink", "href");
      a.textContent = name;
      a.className = "output";
      item.appendChild(a);
      if (name === "output") listFiles(item, a.href);
    } else {
      item.textContent = name;
    }
    list.appendChild(item);
  }
}

async function follow(location) {
  for (;;) {
    const answer = await fetch(location, { headers: headers(), cache: "no-store" });
    const xml = new DOMParser().parseFromString(await answer.text(), "application/xml");
    const status = xml.getElementsByTagNameNS(WPS, "Status")[0];
    if (!answer.ok || !status) {
      show("failed", 0, "cannot read the status document (HTTP " + answer.status + ")");
      return;
    }
    const step = status.firstElementChild;
    const percent = Number(step.getAttribute("percentCompleted") || 0);
    if (step.localName === "ProcessSucceeded") {
      show("succeeded", 100, "succeeded: " + step.textContent.trim());
      listOutputs(xml);
      return;
    }
    if (step.localName === "ProcessFailed") {
      show("failed", percent, "failed: " + exceptionText(xml));
      return;
    }
    show(step.localName === "ProcessStarted" ? "running" : "accepted", percent,
         (step.localName === "ProcessStarted" ? "running " + percent + " %: " : "accepted: ") +
         step.textContent.trim());
    await new Promise((done) => setTimeout(done, 1000));
  }
}

async function submit(button) {
  const job = document.getElementById("job");
  button.disabled = true;
  show("submitting", 0, "submitting …");
  try {
    const answer = await fetch(job.dataset.execute, { headers: headers() });
    const xml = new DOMParser().parseFromString(await answer.text(), "application/xml");
    const response = xml.getElementsByTagNameNS(WPS, "ExecuteResponse")[0];
    if (!answer.ok || !response) {
      show("failed", 0, "refused (HTTP " + answer.status + "): " + exceptionText(xml));
      return;
    }
    const location = response.getAttribute("statusLocation");
    document.getElementById("job").dataset.status = location;
    await follow(location);
  } catch (error) {
    show("failed", 0, "failed: " + error);
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("builder");
  if (form) {
    for (const control of form.querySelectorAll("[data-autosubmit]")) {
      control.addEventListener("change", () => form.submit());
    }
  }
  const button = document.getElementById("submit");
  if (button) {
    button.addEventListener("click", () => submit(button));
  }
});
