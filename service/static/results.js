// One result as a card: its digit, its image or recording (fetched with the key), its
// distance, and "more like this"; a user's own item is marked "yours" and can be deleted.
import { loadMedia } from "/static/api.js";

export function resultCard(r, onSimilar, onMediaError, onDelete) {
  const li = document.createElement("li");
  li.className = "result";
  li.dataset.id = r.id;
  li.dataset.label = String(r.label);
  li.dataset.modality = r.modality;
  const digit = document.createElement("span");
  digit.className = "digit";
  digit.textContent = String(r.label);
  let media;
  if (r.modality === "image") {
    media = document.createElement("img");
    media.alt = `handwritten ${r.label}`;
    media.width = 84;
    media.height = 84;
  } else {
    media = document.createElement("audio");
    media.controls = true;
    media.preload = "none";
    media.setAttribute("aria-label", `recording of ${r.label}${r.speaker ? ` by ${r.speaker}` : ""}`);
  }
  loadMedia(media, r.media_url).catch((err) => {
    onMediaError(`A result's ${r.modality === "image" ? "image" : "recording"} could not be loaded. ${err.message}`);
  });
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = `${r.speaker ? `${r.speaker} · ` : ""}distance ${r.distance.toFixed(3)}`;
  const more = document.createElement("button");
  more.type = "button";
  more.className = "similar";
  more.textContent = "More like this";
  more.setAttribute("aria-label", `More like this ${r.modality} of ${r.label}`);
  more.addEventListener("click", () => onSimilar(r.id));
  li.append(digit, media, meta, more);
  if (r.source === "user") {
    li.classList.add("mine");
    li.dataset.source = "user";
    const badge = document.createElement("span");
    badge.className = "badge";
    badge.textContent = "yours";
    digit.after(badge);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "delete";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete your ${r.modality} of ${r.label}`);
    remove.addEventListener("click", () => onDelete(r.id, remove));
    li.append(remove);
  }
  return li;
}
