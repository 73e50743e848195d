// Run by skiff-host.sh uninstall with the bundle's own Node.js, while the agent still runs: removes
// every container (and its anonymous volumes) through the local engine socket, or with --stop only
// stops them. Node builtins only.
//
//   node remove-containers.mjs SOCKET [--stop]
import { request } from 'node:http';

const [socketPath, mode] = process.argv.slice(2);
if (!socketPath) {
  process.stderr.write('usage: node remove-containers.mjs SOCKET [--stop]\n');
  process.exit(2);
}

function call(method, path) {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method, path, timeout: 60_000 }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

try {
  const listed = await call('GET', '/v1.41/containers/json?all=1');
  if (listed.status !== 200) throw new Error(`listing containers: HTTP ${listed.status} ${listed.body}`);
  for (const container of JSON.parse(listed.body)) {
    const name = (container.Names?.[0] ?? container.Id).replace(/^\//, '');
    const done =
      mode === '--stop'
        ? await call('POST', `/v1.41/containers/${container.Id}/stop?t=5`)
        : await call('DELETE', `/v1.41/containers/${container.Id}?force=1&v=1`);
    if (done.status >= 300 && done.status !== 304 && done.status !== 404) {
      process.stderr.write(`container ${name}: HTTP ${done.status} ${done.body}\n`);
    } else {
      process.stdout.write(`${mode === '--stop' ? 'stopped' : 'removed'} container ${name}\n`);
    }
  }
} catch (error) {
  // The agent may be down already; the shims are killed after this anyway.
  process.stderr.write(`could not reach the engine at ${socketPath}: ${error.message}\n`);
}
