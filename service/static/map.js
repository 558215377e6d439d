// The embedding map: every indexed item at its PCA position (GET /map), coloured by digit,
// circle = image, square = recording; the query as a star and its results ringed; a user's
// own items ringed in blue.
export const DIGIT_COLOURS = [
  "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
];
export const QUERY_COLOUR = "#000000";
export const USER_COLOUR = "#0b63c5"; // --accent in style.css
const PAD = 14;

export class EmbeddingMapView {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.data = null;
    this.byId = new Map();
    this.query = null; // [x, y] in map units
    this.highlighted = [];
  }

  setData(data) {
    this.data = data;
    this.byId = new Map(data.points.map((p) => [p.id, p]));
    this.draw();
  }

  // query: [x, y] or null; resultIds: ids to ring
  show(query, resultIds) {
    this.query = query;
    this.highlighted = resultIds.map((id) => this.byId.get(id)).filter(Boolean);
    this.draw();
  }

  toCanvas([x, y]) {
    const { bounds } = this.data;
    const w = this.canvas.width - 2 * PAD;
    const h = this.canvas.height - 2 * PAD;
    const sx = w / (bounds.x[1] - bounds.x[0] || 1);
    const sy = h / (bounds.y[1] - bounds.y[0] || 1);
    const cx = PAD + (x - bounds.x[0]) * sx;
    const cy = PAD + h - (y - bounds.y[0]) * sy; // y grows upwards on the map
    // a query outside the items' extent is pinned to the edge rather than lost
    return [Math.max(PAD, Math.min(PAD + w, cx)), Math.max(PAD, Math.min(PAD + h, cy))];
  }

  nearestPoint(canvasX, canvasY, radius = 8) {
    if (!this.data) return null;
    let best = null;
    let bestD = radius * radius;
    for (const p of this.data.points) {
      const [x, y] = this.toCanvas([p.x, p.y]);
      const d = (x - canvasX) ** 2 + (y - canvasY) ** 2;
      if (d <= bestD) [best, bestD] = [p, d];
    }
    return best;
  }

  draw() {
    const { ctx, canvas } = this;
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    if (!this.data) return;
    ctx.globalAlpha = this.query ? 0.35 : 0.7;
    for (const p of this.data.points) {
      const [x, y] = this.toCanvas([p.x, p.y]);
      ctx.fillStyle = DIGIT_COLOURS[p.label];
      if (p.modality === "image") {
        ctx.beginPath();
        ctx.arc(x, y, 1.6, 0, 2 * Math.PI);
        ctx.fill();
      } else {
        ctx.fillRect(x - 2.2, y - 2.2, 4.4, 4.4);
      }
    }
    ctx.globalAlpha = 1;
    // a user's own items: a ring in the accent colour, so they stand out among the data sets
    ctx.strokeStyle = USER_COLOUR;
    ctx.lineWidth = 1.5;
    for (const p of this.data.points) {
      if (p.source !== "user") continue;
      const [x, y] = this.toCanvas([p.x, p.y]);
      ctx.beginPath();
      ctx.arc(x, y, 5, 0, 2 * Math.PI);
      ctx.stroke();
    }
    ctx.lineWidth = 2;
    for (const p of this.highlighted) {
      const [x, y] = this.toCanvas([p.x, p.y]);
      ctx.strokeStyle = "#000";
      ctx.beginPath();
      ctx.arc(x, y, 6, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.fillStyle = DIGIT_COLOURS[p.label];
      ctx.beginPath();
      ctx.arc(x, y, 4, 0, 2 * Math.PI);
      ctx.fill();
    }
    if (this.query) this.#star(...this.toCanvas(this.query));
  }

  #star(cx, cy) {
    const { ctx } = this;
    ctx.beginPath();
    for (let i = 0; i < 10; i += 1) {
      const r = i % 2 === 0 ? 11 : 4.5;
      const a = -Math.PI / 2 + (i * Math.PI) / 5;
      ctx.lineTo(cx + r * Math.cos(a), cy + r * Math.sin(a));
    }
    ctx.closePath();
    ctx.fillStyle = QUERY_COLOUR;
    ctx.fill();
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 1.5;
    ctx.stroke();
    // the centre stays solid query colour: tests read this pixel
    ctx.fillRect(Math.round(cx) - 2, Math.round(cy) - 2, 4, 4);
  }
}
