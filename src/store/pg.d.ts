// The part of node-postgres (already installed for @keyv/postgres) that the store uses; pg ships no types.
declare module 'pg' {
  import { EventEmitter } from 'node:events';

  export interface PoolConfig {
    connectionString?: string;
    max?: number;
    connectionTimeoutMillis?: number;
    idleTimeoutMillis?: number;
    query_timeout?: number;
    keepAlive?: boolean;
  }

  export class Pool extends EventEmitter {
    constructor(config?: PoolConfig);
    query<Row = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
    end(): Promise<void>;
  }

  export interface ClientConfig extends PoolConfig {}

  export interface Notification {
    processId: number;
    channel: string;
    payload?: string;
  }

  /** One connection: the coordination's LISTEN (src/coordination/postgres.ts). */
  export class Client extends EventEmitter {
    constructor(config?: ClientConfig);
    /** The server process behind this connection, once connected. */
    readonly processID: number | null;
    connect(): Promise<void>;
    query<Row = Record<string, unknown>>(sql: string, values?: unknown[]): Promise<{ rows: Row[]; rowCount: number | null }>;
    end(): Promise<void>;
  }

  const pg: { Pool: typeof Pool; Client: typeof Client };
  export default pg;
}
