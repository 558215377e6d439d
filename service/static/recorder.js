// Microphone -> Web Audio samples -> a 16-bit PCM WAV made here (no MediaRecorder: it
// gives WebM/Ogg, which the service does not take).
const MAX_SECONDS = 9.5; // the service refuses clips over 10 s

export function encodeWav(chunks, sampleRate) {
  const length = chunks.reduce((n, c) => n + c.length, 0);
  const buffer = new ArrayBuffer(44 + length * 2);
  const view = new DataView(buffer);
  const text = (offset, s) => [...s].forEach((ch, i) => view.setUint8(offset + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  view.setUint32(4, 36 + length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true); // fmt chunk size
  view.setUint16(20, 1, true); // PCM
  view.setUint16(22, 1, true); // mono
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * 2, true); // bytes per second
  view.setUint16(32, 2, true); // block align
  view.setUint16(34, 16, true); // bits per sample
  text(36, "data");
  view.setUint32(40, length * 2, true);
  let offset = 44;
  for (const chunk of chunks) {
    for (const s of chunk) {
      const v = Math.max(-1, Math.min(1, s));
      view.setInt16(offset, v < 0 ? v * 0x8000 : v * 0x7fff, true);
      offset += 2;
    }
  }
  return new Blob([buffer], { type: "audio/wav" });
}

export class Recorder {
  constructor({ onAutoStop }) {
    this.onAutoStop = onAutoStop;
    this.session = null;
  }

  get recording() {
    return this.session !== null;
  }

  async start() {
    if (this.session) return;
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      throw new Error("This browser cannot record audio here (recording needs https or localhost).");
    }
    const session = { chunks: [], stopped: false };
    this.session = session;
    try {
      session.stream = await navigator.mediaDevices.getUserMedia({
        audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
      });
      session.context = new AudioContext();
      await session.context.audioWorklet.addModule("/static/recorder-worklet.js");
      session.source = session.context.createMediaStreamSource(session.stream);
      session.node = new AudioWorkletNode(session.context, "capture");
      const limit = MAX_SECONDS * session.context.sampleRate;
      let total = 0;
      session.node.port.onmessage = (e) => {
        if (session.stopped) return;
        session.chunks.push(e.data);
        total += e.data.length;
        if (total >= limit) this.onAutoStop();
      };
      session.source.connect(session.node);
    } catch (err) {
      this.#release(session);
      this.session = null;
      throw err;
    }
  }

  async stop() {
    const session = this.session;
    if (!session) return null;
    this.session = null;
    session.stopped = true;
    const rate = session.context ? session.context.sampleRate : 48000;
    await this.#release(session);
    return session.chunks.length ? encodeWav(session.chunks, rate) : null;
  }

  async #release(session) {
    if (session.source) session.source.disconnect();
    if (session.stream) session.stream.getTracks().forEach((t) => t.stop());
    if (session.context) await session.context.close();
  }
}
