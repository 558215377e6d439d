// The "API key" field: shown when the service answers 401, hidden again once a key is given.
// The key stays in this tab's sessionStorage (api.js) and goes with every API call.
import { apiKey, onKeyNeeded } from "/static/api.js";

const ASK = "This service asks for an API key. Enter the key you were given; this tab keeps it until you close it.";
const REJECTED = "That API key was not accepted. Check it and enter it again.";

export class KeyPrompt {
  // onKey: called after the user entered a key (to retry what failed)
  constructor(form, { onKey }) {
    this.form = form;
    this.input = form.querySelector("input");
    this.message = form.querySelector(".key-message");
    onKeyNeeded(({ rejected }) => this.show(rejected));
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      const key = this.input.value.trim();
      if (!key) {
        this.message.textContent = "Enter the API key first.";
        return;
      }
      apiKey.set(key);
      this.input.value = "";
      this.hide();
      onKey();
    });
  }

  get shown() {
    return !this.form.hidden;
  }

  show(rejected) {
    if (rejected) apiKey.clear(); // stop sending a key the service refuses
    const text = rejected ? REJECTED : ASK;
    if (this.message.textContent !== text) this.message.textContent = text;
    if (this.form.hidden) {
      this.form.hidden = false;
      // take the focus only when the user is not busy with another control
      if (document.activeElement === document.body) this.input.focus();
    }
  }

  hide() {
    this.form.hidden = true;
    this.message.textContent = "";
  }
}
