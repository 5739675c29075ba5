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

  const pg: { Pool: typeof Pool };
  export default pg;
}
