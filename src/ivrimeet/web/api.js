// The ivrimeet HTTP API as the page uses it: the token, requests, errors in plain words, uploads.

const TOKEN_KEY = "ivrimeet.apiToken";

/** The bearer token for this tab (sessionStorage: gone when the tab closes). */
export const token = {
  get() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || "";
    } catch {
      return "";
    }
  },
  set(value) {
    sessionStorage.setItem(TOKEN_KEY, value);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
};

/** An API call that failed: `status` (0 = no answer), a plain `message`, the server's `detail`. */
export class ApiError extends Error {
  constructor(status, message, detail = "") {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.detail = detail;
  }
}

const listeners = { unauthorized: [] };

/** Call `fn` whenever the server answers 401 (the page then asks for the token again). */
export function onUnauthorized(fn) {
  listeners.unauthorized.push(fn);
}

function authHeaders(extra = {}) {
  const value = token.get();
  return value ? { ...extra, Authorization: `Bearer ${value}` } : { ...extra };
}

/** The server's own explanation from an error body, first line only ("" if none). */
export function serverDetail(text) {
  if (!text) return "";
  let body;
  try {
    body = JSON.parse(text);
  } catch {
    return text.length < 300 && !text.trimStart().startsWith("<") ? text.trim() : "";
  }
  const candidates = [
    body?.error?.summary,
    body?.error?.message,
    typeof body?.error === "string" ? body.error : null,
    body?.summary,
    body?.message,
    typeof body?.detail === "string" ? body.detail : null,
    body?.detail?.summary,
    body?.detail?.message,
    Array.isArray(body?.detail) ? body.detail.map((d) => d.msg).join("; ") : null,
  ];
  const found = candidates.find((c) => typeof c === "string" && c.trim());
  return found ? found.trim().split("\n")[0] : "";
}

/** What an HTTP status means to someone using the page, with the server's detail when useful. */
export function plainMessage(status, detail, { maxUploadBytes } = {}) {
  switch (status) {
    case 0:
      return "The server could not be reached. Check your connection and try again.";
    case 401:
      return "The server did not accept the API token. Enter it again.";
    case 403:
      return "This token is not allowed to do that.";
    case 404:
      return "Not found: it may have been deleted.";
    case 409:
      return detail || "That conflicts with the meeting's current state. Reload and try again.";
    case 413: {
      const limit = maxUploadBytes ? ` (the limit is ${formatLimit(maxUploadBytes)})` : "";
      return `This file is too large for the server${limit}. Trim or compress the recording and try again.`;
    }
    case 415:
      return "The server cannot read this file as audio or video. Choose a recording such as MP3, WAV, M4A, Ogg, WebM or MP4.";
    case 422:
      return detail ? `The server did not accept the request: ${detail}` : "The server did not accept the request.";
    case 429:
      return "The server is busy. Wait a moment and try again.";
    default:
      if (status >= 500) {
        const why = detail ? `: ${detail}` : ".";
        return `The server had a problem (HTTP ${status})${why} Try again in a moment.`;
      }
      return detail || `The request failed (HTTP ${status}).`;
  }
}

function formatLimit(n) {
  const units = ["bytes", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${Number.isInteger(value) ? value : value.toFixed(1)} ${units[unit]}`;
}

async function failure(response) {
  const detail = serverDetail(await response.text().catch(() => ""));
  if (response.status === 401) listeners.unauthorized.forEach((fn) => fn());
  return new ApiError(response.status, plainMessage(response.status, detail), detail);
}

/** `fetch` with the token; throws ApiError on a network failure or an error status. */
export async function request(path, { method = "GET", json, headers = {}, signal } = {}) {
  const init = { method, headers: authHeaders(headers), signal, cache: "no-store" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, plainMessage(0));
  }
  if (!response.ok) throw await failure(response);
  return response;
}

/** GET/PATCH/... and parse the JSON answer (null for 204). */
export async function requestJson(path, options) {
  const response = await request(path, options);
  if (response.status === 204) return null;
  return response.json();
}

export const meetingPath = (id) => `/api/meetings/${encodeURIComponent(id)}`;
export const speakerPath = (id, sid) => `${meetingPath(id)}/speakers/${encodeURIComponent(sid)}`;

/** One page of meetings, newest first: {items, total, offset, limit}. */
export async function listMeetings({ offset = 0, limit = 20 } = {}) {
  const body = await requestJson(`/api/meetings?offset=${offset}&limit=${limit}`);
  if (Array.isArray(body)) return { items: body, total: body.length, offset, limit };
  const items = body.items ?? body.meetings ?? [];
  return {
    items,
    total: body.total ?? items.length,
    offset: body.offset ?? offset,
    limit: body.limit ?? limit,
  };
}

export const getMeeting = (id) => requestJson(meetingPath(id));
export const deleteMeeting = (id) => request(meetingPath(id), { method: "DELETE" });
export const renameSpeaker = (id, sid, name) =>
  requestJson(speakerPath(id, sid), { method: "PATCH", json: { name } });

/** The RTTM file as a Blob (needs the token, so it cannot be a plain link). */
export async function rttmBlob(id) {
  const response = await request(`${meetingPath(id)}/rttm`);
  return response.blob();
}

/**
 * A URL an <audio> element can play without an Authorization header.
 *
 * `url` is either already signed (a /media link the API minted: used as it is) or
 * an /api/ route that needs the token and answers with JSON `{url}` or a redirect
 * to a signed link. A redirect is followed with a
 * one-byte range request and the final URL is used. As a last resort (`allowBlob`,
 * small files only) the body itself is fetched and played from a blob: URL.
 */
export async function playableUrl(url, { allowBlob = false, signal } = {}) {
  const target = new URL(url, window.location.href);
  const here = window.location.origin;
  if (target.origin !== here || !target.pathname.startsWith("/api/")) return target.href;
  let response;
  try {
    response = await request(target.pathname + target.search, {
      headers: allowBlob
        ? { Accept: "application/json, audio/*;q=0.9" }
        : { Accept: "application/json, audio/*;q=0.9", Range: "bytes=0-0" },
      signal,
    });
  } catch (err) {
    // A redirect to another origin (S3) that does not allow this page to read it.
    if (err.status === 0) {
      throw new ApiError(0, "The audio is stored where this page cannot ask for it directly.");
    }
    throw err;
  }
  const type = response.headers.get("Content-Type") || "";
  if (type.includes("application/json")) {
    const body = await response.json();
    if (body && typeof body.url === "string") return new URL(body.url, target).href;
  }
  const final = new URL(response.url, window.location.href);
  if (final.origin !== here || !final.pathname.startsWith("/api/")) {
    response.body?.cancel();
    return final.href;
  }
  if (!allowBlob) {
    response.body?.cancel();
    throw new ApiError(0, "This audio needs the token and cannot be streamed to the player.");
  }
  return URL.createObjectURL(await response.blob());
}

/**
 * Upload a recording with XMLHttpRequest (fetch has no upload progress), as the raw body.
 *
 * `onProgress({loaded, total})` is called as bytes go out; returns
 * {promise, cancel}: the promise resolves to the new meeting or rejects with
 * ApiError (status 0 and `cancelled: true` when cancel() was called).
 */
export function uploadRecording(file, { title, onProgress, maxUploadBytes } = {}) {
  const xhr = new XMLHttpRequest();
  let cancelled = false;
  const promise = new Promise((resolve, reject) => {
    // The raw file as the body (the server sniffs what it really is); the title in the query.
    const query = title ? `?title=${encodeURIComponent(title)}` : "";
    const type = /^(audio|video)\//.test(file.type) ? file.type : "application/octet-stream";
    xhr.open("POST", `/api/meetings${query}`);
    const headers = authHeaders({ Accept: "application/json", "Content-Type": type });
    for (const [name, value] of Object.entries(headers)) xhr.setRequestHeader(name, value);
    xhr.responseType = "text";
    xhr.upload.addEventListener("progress", (event) => {
      if (event.lengthComputable) onProgress?.({ loaded: event.loaded, total: event.total });
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        try {
          resolve(JSON.parse(xhr.responseText));
        } catch {
          reject(new ApiError(xhr.status, "The server answered the upload with something unreadable."));
        }
        return;
      }
      const detail = serverDetail(xhr.responseText);
      if (xhr.status === 401) listeners.unauthorized.forEach((fn) => fn());
      reject(new ApiError(xhr.status, plainMessage(xhr.status, detail, { maxUploadBytes }), detail));
    });
    xhr.addEventListener("error", () => {
      reject(
        new ApiError(
          0,
          "The upload was interrupted: the connection to the server was lost. Try again.",
        ),
      );
    });
    xhr.addEventListener("abort", () => {
      const err = new ApiError(0, cancelled ? "Upload cancelled." : "The upload was stopped.");
      err.cancelled = cancelled;
      reject(err);
    });
    xhr.send(file);
  });
  return {
    promise,
    cancel() {
      cancelled = true;
      xhr.abort();
    },
  };
}
