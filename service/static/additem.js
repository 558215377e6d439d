// "Add to the index": after a drawing, a file or a recording, offer to store that upload as the
// user's own item (POST /items), with the digit pre-filled from the prediction.
import { api } from "/static/api.js";

export class AddToIndex {
  constructor(form, { onAdded }) {
    this.form = form;
    this.label = form.querySelector("#add-label");
    this.state = form.querySelector("#add-state");
    this.error = form.querySelector("#add-error");
    this.button = form.querySelector("#add-submit");
    this.upload = null; // {blob, name} of the last upload searched
    this.onAdded = onAdded;
    form.addEventListener("submit", (e) => {
      e.preventDefault();
      this.add();
    });
  }

  offer(upload, predicted) {
    this.form.hidden = false;
    if (upload === this.upload) return; // the same upload searched again (paging, after adding)
    this.upload = upload;
    this.label.value = String(predicted);
    this.state.textContent = "";
    this.error.textContent = "";
    this.button.disabled = false;
    delete this.form.dataset.added;
  }

  withdraw() {
    this.upload = null;
    this.form.hidden = true;
  }

  async add() {
    if (!this.upload) return;
    const form = new FormData();
    form.append("file", this.upload.blob, this.upload.name);
    form.append("label", this.label.value);
    this.button.disabled = true;
    this.error.textContent = "";
    this.state.textContent = "Adding…";
    try {
      const item = await api("/items", { method: "POST", body: form });
      this.state.textContent = `In the index as your ${item.modality === "image" ? "image" : "recording"} of ${item.label}.`;
      this.form.dataset.added = item.id;
      this.onAdded(item);
    } catch (err) {
      this.state.textContent = "";
      this.error.textContent = err.message;
      this.button.disabled = false;
    }
  }
}
