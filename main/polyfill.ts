// Promise.withResolvers for Node 20 (libp2p 3 calls it; Node 22 and Electron's Node have it).
// Import this before libp2p in every entry point.

// Our lib is ES2022, which does not declare withResolvers (ES2024).
const P = Promise as PromiseConstructor & { withResolvers?: unknown };

if (typeof P.withResolvers !== 'function') {
  Object.defineProperty(Promise, 'withResolvers', {
    configurable: true,
    writable: true,
    value: function withResolvers<T>() {
      let resolve!: (value: T | PromiseLike<T>) => void;
      let reject!: (reason?: unknown) => void;
      const promise = new Promise<T>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      return { promise, resolve, reject };
    },
  });
}

export {};
