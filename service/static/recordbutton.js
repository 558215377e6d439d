// The hold-to-record button: pressed (pointer, Space or Enter) starts the microphone, released
// stops it and hands the take's WAV to onRecorded. The recorder stops by itself at its limit.
import { Recorder } from "/static/recorder.js";

export class RecordButton {
  constructor(button, stateLabel, { onStart, onRecorded, onError }) {
    this.button = button;
    this.stateLabel = stateLabel;
    this.callbacks = { onStart, onRecorded, onError };
    this.recorder = new Recorder({ onAutoStop: () => this.stop() });
    this.starting = null; // the microphone's start, while it is being opened
    button.addEventListener("pointerdown", (e) => { e.preventDefault(); button.setPointerCapture(e.pointerId); this.start(); });
    button.addEventListener("pointerup", () => this.stop());
    button.addEventListener("pointercancel", () => this.stop());
    button.addEventListener("keydown", (e) => {
      if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); this.start(); }
    });
    button.addEventListener("keyup", (e) => {
      if (e.key === " " || e.key === "Enter") { e.preventDefault(); this.stop(); }
    });
  }

  pressed(on) {
    this.button.classList.toggle("on", on);
    this.button.setAttribute("aria-pressed", String(on));
  }

  async start() {
    if (this.recorder.recording || this.starting) return;
    this.callbacks.onStart();
    this.pressed(true);
    this.stateLabel.textContent = "Recording… release to search.";
    this.starting = this.recorder.start();
    try {
      await this.starting;
    } catch (err) {
      this.pressed(false);
      this.stateLabel.textContent = "";
      const denied = err && err.name === "NotAllowedError";
      this.callbacks.onError(denied ? "Microphone access was refused; allow it in the browser to record." : `Recording failed: ${err.message}`);
    } finally {
      this.starting = null;
    }
  }

  async stop() {
    if (this.starting) await this.starting.catch(() => {});
    if (!this.recorder.recording) return;
    this.pressed(false);
    const wav = await this.recorder.stop();
    this.stateLabel.textContent = wav ? `Recorded ${(wav.size / 1024).toFixed(0)} KB; searching…` : "";
    if (!wav) return this.callbacks.onError("Nothing was recorded: hold the button while you speak.");
    this.callbacks.onRecorded(wav);
  }
}
