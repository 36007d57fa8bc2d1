// The API contract between the custodian node and its clients (UI, CLI, browser mode) lives here.
export const API_VERSION = 1;
