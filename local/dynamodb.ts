// Embedded DynamoDB (dynalite) and table creation from a CloudFormation table definition.
import { CreateTableCommand, type CreateTableCommandInput, DynamoDBClient, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface DynaliteServer {
  listen(port: number, host: string, callback: (error?: Error) => void): void;
  close(callback: () => void): void;
  closeAllConnections(): void;
  address(): AddressInfo;
}

export interface LocalDynamoDb {
  endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts dynalite on 127.0.0.1, on `port` (default: a free one). `createTableMs` is how long a new table stays CREATING
 * (default 0: a timer's turn); tests raise it to prove that callers wait for ACTIVE.
 */
export async function startDynalite(port = 0, { createTableMs = 0 }: { createTableMs?: number } = {}): Promise<LocalDynamoDb> {
  const dynalite = require('dynalite') as (options: Record<string, unknown>) => DynaliteServer;
  const server = dynalite({ createTableMs, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => server.listen(port, '127.0.0.1', (error) => (error ? reject(error) : resolve())));
  return {
    endpoint: `http://127.0.0.1:${server.address().port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Keep-alive sockets from SDK clients would hold close() open.
        server.closeAllConnections();
      }),
  };
}

/** The subset of AWS::DynamoDB::Table properties that define a table's keys and indexes. */
export interface CfnTableProperties {
  KeySchema: CreateTableCommandInput['KeySchema'];
  AttributeDefinitions: CreateTableCommandInput['AttributeDefinitions'];
  GlobalSecondaryIndexes?: CreateTableCommandInput['GlobalSecondaryIndexes'];
}

/**
 * Creates a table exactly as the template defines its keys and indexes (billing is irrelevant locally), and returns once it
 * is ACTIVE. Like DynamoDB, dynalite answers CreateTable with the table still CREATING and refuses reads and writes until it
 * turns ACTIVE; even at createTableMs 0 that is a timer later, which a loaded machine can let a first PutItem overtake.
 */
export async function createTableFromTemplate(endpoint: string, tableName: string, properties: CfnTableProperties): Promise<void> {
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        KeySchema: properties.KeySchema,
        AttributeDefinitions: properties.AttributeDefinitions,
        BillingMode: 'PAY_PER_REQUEST',
        GlobalSecondaryIndexes: properties.GlobalSecondaryIndexes?.map((index) => ({
          IndexName: index.IndexName,
          KeySchema: index.KeySchema,
          Projection: index.Projection,
        })),
      }),
    );
    await waitUntilTableExists({ client, minDelay: 0.02, maxDelay: 0.2, maxWaitTime: 10 }, { TableName: tableName });
  } finally {
    client.destroy();
  }
}
