// Draws the app icon (five custodians around one shared key) as build/icon.svg, build/icon.png
// (512×512, for electron-builder) and build/tray.png (32×32), with nothing but Node: the shapes are
// signed distance functions, supersampled, and written as an RGBA PNG with zlib.
// Run `node scripts/make-icons.mjs` after changing the drawing; the outputs are committed.
import { Buffer } from 'node:buffer';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

const out = join(dirname(fileURLToPath(import.meta.url)), '..', 'build');

// The drawing, in a 1×1 square.
const BG = [0x1d, 0x24, 0x40];
const GOLD = [0xf0, 0xb4, 0x29];
const INSET = 0.03;
const CORNER = 0.2;
const RING = 0.28;
const DOT = 0.075;
const HUB = 0.1;
const SPOKE = 0.018;
const N = 5;
const dots = Array.from({ length: N }, (_, i) => {
  const a = -Math.PI / 2 + (2 * Math.PI * i) / N;
  return [0.5 + RING * Math.cos(a), 0.5 + RING * Math.sin(a)];
});

function roundedRect(x, y) {
  const h = 0.5 - INSET - CORNER;
  const qx = Math.abs(x - 0.5) - h;
  const qy = Math.abs(y - 0.5) - h;
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - CORNER;
}

function segment(x, y, [ax, ay], [bx, by]) {
  const px = x - ax;
  const py = y - ay;
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, (px * dx + py * dy) / (dx * dx + dy * dy)));
  return Math.hypot(px - t * dx, py - t * dy);
}

/** The colour at a point: [r, g, b, a] with a in 0..1. */
function shade(x, y) {
  if (roundedRect(x, y) > 0) return [0, 0, 0, 0];
  let gold = Math.hypot(x - 0.5, y - 0.5) <= HUB;
  for (const d of dots) {
    if (gold) break;
    gold = Math.hypot(x - d[0], y - d[1]) <= DOT || segment(x, y, [0.5, 0.5], d) <= SPOKE;
  }
  return gold ? [...GOLD, 1] : [...BG, 1];
}

function render(size, samples = 4) {
  const px = Buffer.alloc(size * size * 4);
  for (let j = 0; j < size; j++) {
    for (let i = 0; i < size; i++) {
      let r = 0;
      let g = 0;
      let b = 0;
      let a = 0;
      for (let sj = 0; sj < samples; sj++) {
        for (let si = 0; si < samples; si++) {
          const [cr, cg, cb, ca] = shade(
            (i + (si + 0.5) / samples) / size,
            (j + (sj + 0.5) / samples) / size,
          );
          r += cr * ca;
          g += cg * ca;
          b += cb * ca;
          a += ca;
        }
      }
      const o = (j * size + i) * 4;
      px[o] = a ? Math.round(r / a) : 0;
      px[o + 1] = a ? Math.round(g / a) : 0;
      px[o + 2] = a ? Math.round(b / a) : 0;
      px[o + 3] = Math.round((255 * a) / (samples * samples));
    }
  }
  return px;
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const byte of buf) c = CRC_TABLE[(c ^ byte) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

function png(size) {
  const rgba = render(size);
  // Each scanline starts with filter type 0 (none).
  const raw = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    rgba.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function svg() {
  const s = (v) => Number((v * 512).toFixed(2));
  const hex = (c) => `#${c.map((v) => v.toString(16).padStart(2, '0')).join('')}`;
  const lines = dots
    .map(([x, y]) => `<line x1="256" y1="256" x2="${s(x)}" y2="${s(y)}"/>`)
    .join('');
  const circles = dots
    .map(([x, y]) => `<circle cx="${s(x)}" cy="${s(y)}" r="${s(DOT)}"/>`)
    .join('');
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 512 512" width="512" height="512">` +
    `<title>Conclave</title>` +
    `<rect x="${s(INSET)}" y="${s(INSET)}" width="${s(1 - 2 * INSET)}" height="${s(1 - 2 * INSET)}" ` +
    `rx="${s(CORNER)}" fill="${hex(BG)}"/>` +
    `<g stroke="${hex(GOLD)}" stroke-width="${s(2 * SPOKE)}">${lines}</g>` +
    `<g fill="${hex(GOLD)}"><circle cx="256" cy="256" r="${s(HUB)}"/>${circles}</g>` +
    `</svg>\n`
  );
}

mkdirSync(out, { recursive: true });
writeFileSync(join(out, 'icon.svg'), svg());
writeFileSync(join(out, 'icon.png'), png(512));
writeFileSync(join(out, 'tray.png'), png(32));
console.log('wrote build/icon.svg, build/icon.png (512×512), build/tray.png (32×32)');
