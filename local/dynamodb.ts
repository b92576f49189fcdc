// Embedded DynamoDB (dynalite) and table creation from a CloudFormation table definition.
import { CreateTableCommand, type CreateTableCommandInput, DynamoDBClient } from '@aws-sdk/client-dynamodb';
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

/** Starts dynalite on 127.0.0.1, on `port` (default: a free one). */
export async function startDynalite(port = 0): Promise<LocalDynamoDb> {
  const dynalite = require('dynalite') as (options: Record<string, unknown>) => DynaliteServer;
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
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

/** Creates a table exactly as the template defines its keys and indexes (billing is irrelevant locally). */
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
  } finally {
    client.destroy();
  }
}
