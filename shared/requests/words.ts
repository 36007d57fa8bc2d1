// Sentences the cards and the UI share, in a module with no imports so the renderer can use them
// without pulling in the request schemas' dependencies.

/** After a repair: the lost device's share keeps working until the group refreshes. */
export const REFRESH_AFTER_REPAIR =
  'After the repair, propose a refresh: until then the lost device’s share still works for whoever has it.';

/** On a card for a request that cannot be read. */
export const DO_NOT_APPROVE_UNREADABLE = 'Do not approve a request you cannot read.';
