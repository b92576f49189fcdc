// One local Lambda execution environment: loads a bundle once, then serves invocations one at a time over IPC.
// Plain JavaScript on purpose: it is forked with `execArgv: []` under plain node, so it must not need tsx.
// @ts-check

/**
 * Protocol (parent → child, JSON over the IPC channel):
 * @typedef {{ type: 'invoke'; id: number; event: unknown; deadlineMs: number; requestId: string }} InvokeMessage
 *
 * Protocol (child → parent):
 * @typedef {{ type: 'ready'; initMs: number; rssBytes: number; maxRssBytes?: number }} ReadyMessage
 * @typedef {{ type: 'init-error'; error: ErrorPayload }} InitErrorMessage
 * @typedef {{ name: string; message: string; stack?: string }} ErrorPayload
 * @typedef {{ type: 'result'; id: number; ok: true; result: unknown; rssBytes: number; maxRssBytes?: number }
 *   | { type: 'result'; id: number; ok: false; error: ErrorPayload; rssBytes: number; maxRssBytes?: number; fatal?: boolean }} ResultMessage
 *
 * Everything it needs comes from Lambda's own variables (`LAMBDA_TASK_ROOT`, `_HANDLER`, ...), so the
 * environment stays exactly what the function would see. `--measure-cold-start` only loads the bundle,
 * reports, and exits.
 */

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';

const loadStartedAt = performance.now();
/**
 * The environment's peak resident set so far: what Lambda reports as Max Memory Used. Linux's VmHWM
 * rather than ru_maxrss, which carries over the parent's peak from before the fork.
 */
function peakRssBytes() {
  try {
    const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (hwm) return Number(hwm[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}
const measureOnly = process.argv.includes('--measure-cold-start');

/** @type {string | undefined} the request being served, for the log prefix Lambda's console adds */
let currentRequestId;
/** @type {number | undefined} */
let currentId;

/**
 * @param {string} name
 * @param {string} message
 */
function namedError(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}

/** @param {unknown} err @returns {ErrorPayload} */
function toPayload(err) {
  if (err instanceof Error) {
    return { name: err.name || 'Error', message: err.message, stack: err.stack };
  }
  // Lambda reports thrown non-Errors as plain errors carrying their string form.
  return { name: 'Error', message: typeof err === 'string' ? err : format('%o', err) };
}

/**
 * @param {object} msg
 * @param {() => void} [then]
 */
function send(msg, then) {
  if (!process.send || !process.connected) return;
  process.send(msg, undefined, {}, () => then?.());
}

// Lambda's Node runtime prefixes console output with time, request id and level, and turns newlines into
// carriage returns so that one call is one log event; Powertools writes to stdout directly and is unaffected.
const levels = /** @type {const} */ ({ log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' });
for (const [method, level] of Object.entries(levels)) {
  /** @type {Record<string, (...args: unknown[]) => void>} */ (/** @type {unknown} */ (console))[method] = (...args) => {
    const text = format(...args).replace(/\n/g, '\r');
    process.stdout.write(`${new Date().toISOString()}\t${currentRequestId ?? 'undefined'}\t${level}\t${text}\n`);
  };
}

/**
 * Lambda's handler string is `path/to/module.export[.nested]`: the module ends at the first dot after the
 * last slash.
 * @param {string} taskRoot
 * @param {string} spec
 */
async function loadHandler(taskRoot, spec) {
  const lastSlash = spec.lastIndexOf('/');
  const firstDot = spec.indexOf('.', lastSlash + 1);
  if (firstDot <= lastSlash + 1 || firstDot === spec.length - 1) {
    throw namedError('Runtime.MalformedHandlerName', `Bad handler ${spec}`);
  }
  const modulePath = spec.slice(0, firstDot);
  const exportPath = spec.slice(firstDot + 1).split('.');
  const file = ['.mjs', '.js', '.cjs']
    .map((ext) => path.resolve(taskRoot, modulePath + ext))
    .find((candidate) => existsSync(candidate));
  if (!file) {
    throw namedError('Runtime.ImportModuleError', `Error: Cannot find module '${modulePath}'`);
  }
  let mod;
  try {
    mod = await import(pathToFileURL(file).href);
  } catch (err) {
    const p = toPayload(err);
    throw namedError(p.name === 'SyntaxError' ? 'Runtime.UserCodeSyntaxError' : 'Runtime.ImportModuleError', `${p.name}: ${p.message}`);
  }
  // A CommonJS bundle's exports arrive under `default` when imported as a module.
  const root = exportPath[0] !== undefined && !(exportPath[0] in mod) && mod.default ? mod.default : mod;
  /** @type {unknown} */
  let fn = root;
  for (const part of exportPath) {
    fn = fn == null ? undefined : /** @type {Record<string, unknown>} */ (fn)[part];
  }
  if (typeof fn !== 'function') {
    throw namedError('Runtime.HandlerNotFound', `${spec} is undefined or not exported`);
  }
  // nodejs24.x dropped callback-style handlers; failing here keeps local runs as strict as the cloud.
  if (fn.length >= 3) {
    throw namedError(
      'Runtime.CallbackHandlerNotSupported',
      `${spec} takes a callback; callback-based handlers are not supported on nodejs24.x, return a Promise instead`,
    );
  }
  return /** @type {(event: unknown, context: object) => unknown} */ (fn);
}

const taskRoot = process.env.LAMBDA_TASK_ROOT ?? process.cwd();
const handlerSpec = process.env._HANDLER ?? 'index.handler';
const functionName = process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'local';
const functionVersion = process.env.AWS_LAMBDA_FUNCTION_VERSION ?? '$LATEST';
const memoryLimitInMB = process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE ?? '128';
const region = process.env.AWS_REGION ?? 'us-east-1';

// Without a parent there is nothing to serve; an orphaned environment must not linger.
process.on('disconnect', () => process.exit(0));

// The Node runtime treats these as fatal: it fails the current invocation and the environment is replaced.
/** @param {unknown} err @param {boolean} rejection */
function fatal(err, rejection) {
  const error = toPayload(err);
  if (rejection) {
    error.message = `${error.name}: ${error.message}`;
    error.name = 'Runtime.UnhandledPromiseRejection';
  }
  if (currentId !== undefined) {
    send({ type: 'result', id: currentId, ok: false, error, rssBytes: process.memoryUsage().rss, fatal: true }, () =>
      process.exit(128),
    );
  } else {
    process.stderr.write(`${new Date().toISOString()}\tundefined\tERROR\t${error.name}: ${error.message}\n`);
    process.exit(128);
  }
}
process.on('unhandledRejection', (err) => fatal(err, true));
process.on('uncaughtException', (err) => fatal(err, false));

/** @type {(event: unknown, context: object) => unknown} */
let handler = () => undefined;
try {
  handler = await loadHandler(taskRoot, handlerSpec);
  const initMs = performance.now() - loadStartedAt;
  send({ type: 'ready', initMs, rssBytes: process.memoryUsage().rss, maxRssBytes: peakRssBytes() }, () => {
    if (measureOnly) process.exit(0);
  });
  if (!measureOnly) {
    process.on('message', (/** @type {InvokeMessage} */ msg) => {
      if (msg?.type === 'invoke') void serve(msg);
    });
  }
} catch (err) {
  // An environment whose init failed is never reused; the parent discards it.
  send({ type: 'init-error', error: toPayload(err) }, () => process.exit(1));
}

/** @param {InvokeMessage} msg */
async function serve(msg) {
  currentId = msg.id;
  currentRequestId = msg.requestId;
  const context = {
    awsRequestId: msg.requestId,
    functionName,
    functionVersion,
    memoryLimitInMB,
    invokedFunctionArn: `arn:aws:lambda:${region}:000000000000:function:${functionName}`,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME ?? `/aws/lambda/${functionName}`,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME ?? 'local',
    callbackWaitsForEmptyEventLoop: true,
    getRemainingTimeInMillis: () => Math.max(0, msg.deadlineMs - Date.now()),
  };
  /** @type {ResultMessage} */
  let reply;
  try {
    const result = await handler(msg.event, context);
    reply = { type: 'result', id: msg.id, ok: true, result: result === undefined ? null : result, rssBytes: 0 };
  } catch (err) {
    reply = { type: 'result', id: msg.id, ok: false, error: toPayload(err), rssBytes: 0 };
  }
  // Lambda serialises the result as JSON; a value that cannot be is the function's error, not ours.
  if (reply.ok) {
    try {
      JSON.stringify(reply.result);
    } catch (err) {
      reply = {
        type: 'result',
        id: msg.id,
        ok: false,
        error: { name: 'Runtime.MarshalError', message: `Unable to marshal response: ${toPayload(err).message}` },
        rssBytes: 0,
      };
    }
  }
  reply.rssBytes = process.memoryUsage().rss;
  reply.maxRssBytes = peakRssBytes();
  currentId = undefined;
  currentRequestId = undefined;
  send(reply);
}
