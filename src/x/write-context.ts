/**
 * Who a write to X is for, carried to the X client without threading it through every call: the change
 * pipeline runs the send of a change inside `withWritePriority(origin.kind, …)`, and the write budget
 * (budget.ts) reads it when the write reaches the client. A write outside any change (a CLI command, a
 * kit's profile call) is a command: someone is waiting for it.
 */
import { AsyncLocalStorage } from 'node:async_hooks';

export type WritePriority = 'command' | 'schedule' | 'push';

const context = new AsyncLocalStorage<WritePriority>();

export function withWritePriority<T>(priority: WritePriority, fn: () => Promise<T>): Promise<T> {
  return context.run(priority, fn);
}

export function currentWritePriority(): WritePriority {
  return context.getStore() ?? 'command';
}
