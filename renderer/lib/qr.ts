// A QR code as one SVG path (no inline styles, so the page's CSP holds).
import { encode } from 'uqr';

export interface QrShape {
  /** Width and height in modules, quiet zone included. */
  size: number;
  /** One unit square per dark module. */
  path: string;
}

export function qrShape(text: string): QrShape {
  const qr = encode(text, { ecc: 'M', border: 4 });
  const parts: string[] = [];
  qr.data.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (dark) parts.push(`M${x} ${y}h1v1h-1z`);
    }),
  );
  return { size: qr.size, path: parts.join('') };
}
