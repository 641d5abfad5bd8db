import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** An empty PostgreSQL database that exists for one benchmark run. */
export interface ScratchDatabase {
  /** DATABASE_URL of the scratch database. */
  url: string;
  name: string;
  drop(): Promise<void>;
}

async function onServer(baseUrl: string, statement: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}

/**
 * Creates `mcpe_bench_<random>` next to the database `baseUrl` names (which only serves to
 * connect). `drop` forces other sessions off, so an interrupted run still cleans up.
 */
export async function createScratchDatabase(baseUrl: string): Promise<ScratchDatabase> {
  const name = `mcpe_bench_${randomBytes(6).toString('hex')}`;
  await onServer(baseUrl, `create database ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => onServer(baseUrl, `drop database if exists ${name} with (force)`),
  };
}
