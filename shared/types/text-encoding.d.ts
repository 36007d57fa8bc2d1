// TextDecoder is part of every runtime shared/ targets (Node, browsers, Electron), but ES2022's lib
// does not declare it and shared/ deliberately has no DOM or Node types.
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  decode(input?: Uint8Array): string;
}
