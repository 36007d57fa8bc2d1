// The practice group's simulated co-custodians never share the person's name, and a second
// practice group on the same node gets a name of its own (group names are unique on a node).
import { describe, expect, it } from 'vitest';
import { freeGroupName, practiceNames } from '../../main/node/sandbox.js';

describe('practice members', () => {
  it('are Bob and Carol for most people', () => {
    expect(practiceNames('alice')).toEqual(['Bob (simulated)', 'Carol (simulated)']);
  });

  it('skip the person’s own first name, whatever its case', () => {
    expect(practiceNames('Carol')).toEqual(['Bob (simulated)', 'Dave (simulated)']);
    expect(practiceNames('  bob smith ')).toEqual(['Carol (simulated)', 'Dave (simulated)']);
    expect(practiceNames('CAROL')).not.toContain('Carol (simulated)');
  });
});

describe('practice group name', () => {
  it('adds a number when the name is taken', () => {
    expect(freeGroupName('Sandbox 10:30', [])).toBe('Sandbox 10:30');
    expect(freeGroupName('Sandbox 10:30', ['Sandbox 10:30'])).toBe('Sandbox 10:30 (2)');
    expect(freeGroupName('Sandbox 10:30', ['Sandbox 10:30', 'Sandbox 10:30 (2)'])).toBe(
      'Sandbox 10:30 (3)',
    );
  });
});
