// Placeholder for `npm start` until the custodian node and its CLI exist.
console.error("Conclave's custodian node is not built yet (see README: roadmap)");
process.exit(1);
