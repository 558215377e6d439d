// Talking to the API: the API key (when the service has one), errors in plain words, and
// result media fetched with the key (an <img> or <audio> cannot send a header itself).
const KEY_STORAGE = "digitbridge.api-key"; // sessionStorage: this tab only, gone when it closes

export class ApiError extends Error {
  constructor(message, status = 0) {
    super(message);
    this.status = status;
  }
}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_STORAGE) || "",
  set: (key) => sessionStorage.setItem(KEY_STORAGE, key),
  clear: () => sessionStorage.removeItem(KEY_STORAGE),
};

// called with {rejected: true} when a key was sent and refused, {rejected: false} when none was sent
let keyNeeded = () => {};
export function onKeyNeeded(callback) {
  keyNeeded = callback;
}

// the latest reasons /readyz gave for not being ready (for the 503 message)
let notReadyReasons = [];
export function setNotReadyReasons(reasons) {
  notReadyReasons = reasons;
}

function plainError(status, body, keySent) {
  const message = body && body.error ? body.error.message : "";
  switch (status) {
    case 400: return `The service could not use this input: ${message}`;
    case 401: return keySent
      ? "The API key was not accepted: enter the right one at the top of the page."
      : "This service needs an API key: enter it at the top of the page.";
    case 403: return message; // read_only, not_user_item: the message says which
    case 404: return "That item is no longer in the index.";
    case 409: return message; // user_items_full
    case 413: return `The file is too large. ${message}`;
    case 415: return `This file type is not supported. ${message}`;
    case 422: return body && body.error && body.error.code === "unknown_digit_word"
      ? message
      : `Check the options: ${message}`;
    case 503: return notReadyReasons.length
      ? `The search service is not ready (${notReadyReasons.join("; ")}); searches work again once it is.`
      : "The search service is not available right now; try again in a few seconds.";
    default: return `Something went wrong (HTTP ${status}). ${message}`;
  }
}

// fetch with the key: the raw Response (any status); ApiError when nothing answers
export async function request(path, options = {}) {
  const key = apiKey.get();
  const headers = new Headers(options.headers || {});
  if (key) headers.set("X-API-Key", key);
  let response;
  try {
    response = await fetch(path, { ...options, headers });
  } catch {
    throw new ApiError("Could not reach the service. Is it running?");
  }
  if (response.status === 401) keyNeeded({ rejected: Boolean(key) });
  return response;
}

// the JSON body of a successful answer; ApiError in plain words otherwise
export async function api(path, options = {}) {
  const keySent = Boolean(apiKey.get());
  const response = await request(path, options);
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  if (!response.ok) throw new ApiError(plainError(response.status, body, keySent), response.status);
  return body;
}

// ---------------------------------------------------------------- result media
// Without a key the element loads the URL itself. With one, the page fetches the bytes with
// the key and hands the element an object URL (the page's CSP admits blob: for img and media).
let generation = 0;
const objectUrls = new Set();

export function releaseMedia() {
  generation += 1;
  for (const url of objectUrls) URL.revokeObjectURL(url);
  objectUrls.clear();
}

export async function loadMedia(element, url) {
  if (!apiKey.get()) {
    element.src = url;
    return;
  }
  const mine = generation;
  const response = await request(url);
  if (!response.ok) throw new ApiError(plainError(response.status, null, true), response.status);
  const objectUrl = URL.createObjectURL(await response.blob());
  if (mine !== generation) {
    URL.revokeObjectURL(objectUrl); // the results were replaced meanwhile
    return;
  }
  objectUrls.add(objectUrl);
  element.src = objectUrl;
}
