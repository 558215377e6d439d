// The drawing pad: strokes kept as point lists so undo can redraw; pointer events cover
// mouse, pen and touch alike.
const LINE_WIDTH = 20; // on a 280 px canvas: about an MNIST stroke after the 28x28 resize

export class DrawingPad {
  constructor(canvas, { onChange }) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.strokes = [];
    this.current = null;
    this.onChange = onChange;
    canvas.addEventListener("pointerdown", (e) => this.#down(e));
    canvas.addEventListener("pointermove", (e) => this.#move(e));
    canvas.addEventListener("pointerup", (e) => this.#up(e));
    canvas.addEventListener("pointercancel", (e) => this.#up(e));
    this.redraw();
  }

  get empty() {
    return this.strokes.length === 0;
  }

  #point(e) {
    const r = this.canvas.getBoundingClientRect();
    return [((e.clientX - r.left) * this.canvas.width) / r.width, ((e.clientY - r.top) * this.canvas.height) / r.height];
  }

  #down(e) {
    e.preventDefault();
    this.canvas.setPointerCapture(e.pointerId);
    this.current = [this.#point(e)];
    this.strokes.push(this.current);
    this.redraw();
    this.onChange({ final: false });
  }

  #move(e) {
    if (!this.current) return;
    e.preventDefault();
    // coalesced events: a fast pen sends several points per frame
    const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [e];
    for (const ev of events.length ? events : [e]) this.current.push(this.#point(ev));
    this.redraw();
    this.onChange({ final: false });
  }

  #up(e) {
    if (!this.current) return;
    e.preventDefault();
    this.current = null;
    this.onChange({ final: true });
  }

  undo() {
    this.strokes.pop();
    this.redraw();
    this.onChange({ final: true });
  }

  clear() {
    this.strokes = [];
    this.redraw();
    this.onChange({ final: true });
  }

  redraw() {
    const { ctx, canvas } = this;
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#fff";
    ctx.fillStyle = "#fff";
    ctx.lineWidth = LINE_WIDTH;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const stroke of this.strokes) {
      if (stroke.length === 1) {
        ctx.beginPath();
        ctx.arc(stroke[0][0], stroke[0][1], LINE_WIDTH / 2, 0, 2 * Math.PI);
        ctx.fill();
        continue;
      }
      ctx.beginPath();
      ctx.moveTo(...stroke[0]);
      for (const p of stroke.slice(1)) ctx.lineTo(...p);
      ctx.stroke();
    }
  }

  toPng() {
    return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
  }
}
