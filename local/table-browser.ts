// The DynamoDB console's "Explore table items" locally: dynamodb-admin's web UI served in-process on a loopback port, reading the local table.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createServer, type RequestListener } from 'node:http';
import { createRequire } from 'node:module';
import { closeServer, listenOnLoopback } from './http.js';

const require = createRequire(import.meta.url);

export interface TableBrowser {
  /** http://127.0.0.1:PORT */
  url: string;
  /** The page of one table (scan, or query a table or index by its keys). */
  tableUrl(tableName: string): string;
  stop(): Promise<void>;
}

/**
 * Starts dynamodb-admin's Express app (its library entry, not its CLI: nothing opens a browser, and
 * its pages load their scripts and styles from the package, not the network).
 */
export async function startTableBrowser(options: { dynamodbEndpoint: string; region: string; port?: number }): Promise<TableBrowser> {
  const { createServer: createAdminApp } = require('dynamodb-admin') as { createServer(options: { dynamoDbClient: DynamoDBClient }): RequestListener };
  // dynalite does not check credentials; these only satisfy the SDK's signer.
  const client = new DynamoDBClient({ endpoint: options.dynamodbEndpoint, region: options.region, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const server = createServer(createAdminApp({ dynamoDbClient: client }));
  const port = await listenOnLoopback(server, options.port);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    tableUrl: (tableName) => `${url}/tables/${encodeURIComponent(tableName)}`,
    async stop() {
      await closeServer(server);
      client.destroy();
    },
  };
}
