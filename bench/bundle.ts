// Builds bundle variants the template does not (SDK left out, a reference handler) with the bundling options of infra/node-function.ts.
import { mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type BuildOptions, build, type Metafile } from 'esbuild';
import { REPO_ROOT } from '../infra/node-function.js';

/**
 * What NodejsFunction runs for NodeFunction's `bundling` (ESM, node24, minified, linked source map
 * without sources). Kept in step by hand: the cold-start report prints how far the replica of the
 * trigger is from the synthesized bundle, so a drift shows.
 */
const NODE_FUNCTION_BUNDLING: BuildOptions = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node24',
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
  minify: true,
  sourcemap: true,
  sourcesContent: false,
};

export interface BuiltBundle {
  dir: string;
  bytes: number;
  metafile: Metafile;
}

export async function bundleLikeNodeFunction(
  entry: string,
  outdir: string,
  options: {
    /** `bundleAwsSDK: false` leaves these to the runtime's copy. */
    external?: string[];
    /** Links `node_modules` next to the bundle so the externals resolve, as the runtime's SDK would. */
    linkNodeModules?: boolean;
    /** Import paths (a package and its subpaths) replaced by a stub file, relative to the repository root. */
    stubs?: Record<string, string>;
  } = {},
): Promise<BuiltBundle> {
  mkdirSync(outdir, { recursive: true });
  const outfile = join(outdir, 'index.mjs');
  const result = await build({
    ...NODE_FUNCTION_BUNDLING,
    entryPoints: [join(REPO_ROOT, entry)],
    outfile,
    external: options.external ?? [],
    plugins: Object.entries(options.stubs ?? {}).map(([pkg, file]) => ({
      name: `stub ${pkg}`,
      setup(b) {
        const escaped = pkg.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
        b.onResolve({ filter: new RegExp(`^${escaped}(/.*)?$`) }, () => ({ path: join(REPO_ROOT, file) }));
      },
    })),
    absWorkingDir: REPO_ROOT,
    metafile: true,
    logLevel: 'silent',
  });
  if (options.linkNodeModules) symlinkSync(join(REPO_ROOT, 'node_modules'), join(outdir, 'node_modules'), 'dir');
  if (!result.metafile) throw new Error(`esbuild returned no metafile for ${entry}`);
  return { dir: outdir, bytes: statSync(outfile).size, metafile: result.metafile };
}

/** Which part of the dependency tree a bundled input belongs to. */
function groupOf(input: string): { group: string; pkg: string } {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input);
  if (!m) return { group: 'application code', pkg: input.split('/').slice(0, 2).join('/') };
  const pkg = m[1] as string;
  if (/^@aws-sdk\/(credential-provider-|nested-clients|token-providers)/.test(pkg)) return { group: 'SDK credential providers', pkg };
  if (pkg.startsWith('@aws-sdk/client-')) return { group: 'SDK service clients', pkg };
  if (pkg.startsWith('@aws-sdk/') || pkg.startsWith('@smithy/')) return { group: 'SDK core (@smithy, signing, middleware)', pkg };
  if (pkg.startsWith('@aws-lambda-powertools/')) return { group: 'Powertools', pkg };
  return { group: 'other dependencies', pkg };
}

/** Output bytes by dependency group and by package, from esbuild's metafile. */
export function attributeBytes(metafile: Metafile): { byGroup: Record<string, number>; topPackages: { name: string; bytes: number }[] } {
  const output = Object.values(metafile.outputs).find((o) => o.entryPoint !== undefined);
  const byGroup: Record<string, number> = {};
  const byPackage: Record<string, number> = {};
  for (const [input, { bytesInOutput }] of Object.entries(output?.inputs ?? {})) {
    const { group, pkg } = groupOf(input);
    byGroup[group] = (byGroup[group] ?? 0) + bytesInOutput;
    byPackage[pkg] = (byPackage[pkg] ?? 0) + bytesInOutput;
  }
  const topPackages = Object.entries(byPackage)
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([name, bytes]) => ({ name, bytes }));
  return { byGroup, topPackages };
}
