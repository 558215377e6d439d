// The "service ready / not ready" banner: polls /readyz and says why searches cannot run.
import { request, setNotReadyReasons } from "/static/api.js";

const POLL_MS = 5000; // while not ready
const READY_POLL_MS = 30000;

export class Readiness {
  // status: the banner; searchState: the note by the search controls; onReady: on becoming ready
  constructor(status, searchState, { onReady }) {
    this.status = status;
    this.searchState = searchState;
    this.onReady = onReady;
    this.ready = false;
    this.timer = null;
  }

  show(state, text, searchText) {
    this.status.dataset.state = state;
    this.status.textContent = text;
    this.searchState.textContent = searchText;
    document.body.dataset.ready = String(state === "ready");
  }

  async check() {
    clearTimeout(this.timer);
    let response = null;
    let body = {};
    try {
      response = await request("/readyz", { cache: "no-store" });
      body = await response.json();
    } catch {
      body = { reasons: ["the service does not answer"] };
    }
    const wasReady = this.ready;
    this.ready = Boolean(response && response.ok && body.status === "ready");
    if (response && response.status === 401) {
      // asking again would only repeat the 401: entering the key checks again
      return this.show(
        "needs-key", "The service needs an API key: enter it below.",
        "Searches run once the API key is entered at the top of the page.",
      );
    }
    const reasons = this.ready ? [] : body.reasons && body.reasons.length ? body.reasons : ["unknown reason"];
    setNotReadyReasons(reasons);
    if (this.ready) {
      this.show("ready", "Service ready.", "");
      if (!wasReady) this.onReady();
    } else {
      const why = reasons.join("; ");
      this.show(
        "not-ready", `Service not ready: ${why}. Searches will fail until it is.`,
        `Searching is unavailable until the service is ready (${why}).`,
      );
    }
    this.timer = setTimeout(() => this.check(), this.ready ? READY_POLL_MS : POLL_MS);
  }
}
