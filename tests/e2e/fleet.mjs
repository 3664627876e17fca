// The real parts the dashboard's browser tests run against: a private dbus-daemon with
// python-dbusmock playing systemd (tests/agent/systemd_mock.py), fleetdesk-server on a fresh
// SQLite database on loopback, and a real fleetdesk-agent enrolled to it and watching the mock.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const build = process.env.BUILD_DIR ? resolve(root, process.env.BUILD_DIR) : join(root, 'build');
export const serverBin = join(build, 'server/fleetdesk-server');
export const agentBin = join(build, 'agent/fleetdesk-agent');

async function waitFor(what, check, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function start(name, argv, dir, env = {}) {
  const log = join(dir, `${name}.log`);
  const child = spawn(argv[0], argv.slice(1), {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const keep = (chunk) => {
    text += chunk;
    writeFileSync(log, text);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  child.log = () => text;
  return child;
}

export class Fleet {
  async start() {
    this.dir = mkdtempSync(join(tmpdir(), 'fleetdesk-e2e-'));
    const bus = join(this.dir, 'bus');
    this.busAddress = `unix:path=${bus}`;
    writeFileSync(
      join(this.dir, 'bus.conf'),
      `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig><type>session</type><listen>${this.busAddress}</listen><auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/><allow eavesdrop="true"/><allow own="*"/></policy>
</busconfig>`,
    );
    this.processes = [];
    this.processes.push(
      start('dbus-daemon', ['/usr/bin/dbus-daemon', '--nofork', `--config-file=${join(this.dir, 'bus.conf')}`], this.dir),
    );
    await waitFor('the test bus', () => existsSync(bus));
    const busEnv = { DBUS_SYSTEM_BUS_ADDRESS: this.busAddress };
    this.processes.push(
      start('dbusmock', ['/usr/bin/python3', '-m', 'dbusmock', '--template', join(root, 'tests/agent/systemd_mock.py')], this.dir, busEnv),
    );
    await waitFor('dbusmock', () => {
      try {
        return execFileSync(
          'busctl',
          [
            `--address=${this.busAddress}`,
            'call',
            'org.freedesktop.DBus',
            '/org/freedesktop/DBus',
            'org.freedesktop.DBus',
            'NameHasOwner',
            's',
            'org.freedesktop.systemd1',
          ],
          { encoding: 'utf8' },
        ).includes('true');
      } catch {
        return false;
      }
    });
    this.addUnit('nginx.service', 'active', 'running');
    this.addUnit('postgresql.service', 'active', 'running');

    const data = join(this.dir, 'data');
    this.config = join(this.dir, 'server.toml');
    writeFileSync(
      this.config,
      `data_dir = "${data}"
log_level = "info"
[api]
listen = "127.0.0.1:0"
rate_limit = 1000
rate_burst = 2000
[agents]
listen = "127.0.0.1:0"
heartbeat_interval = "5s"
`,
    );
    const init = this.cli(['init']);
    this.adminPassword = /admin password: (\S+)/.exec(init)[1];
    this.server = start('server', [serverBin, '--config', this.config, 'serve'], this.dir);
    this.processes.push(this.server);
    const ready = await waitFor('the server', () => /api https:\/\/[^:]+:(\d+) agents wss:\/\/[^:]+:(\d+)/.exec(this.server.log()));
    this.url = `https://localhost:${ready[1]}`;
    this.apiToken = this.cli(['api-token', 'create', '--user', 'admin', '--ttl', '2h']).trim();

    const agentDir = join(this.dir, 'agent');
    mkdirSync(agentDir);
    const agentConfig = join(agentDir, 'agent.toml');
    writeFileSync(
      agentConfig,
      `state_dir = "${join(agentDir, 'state')}"
splay = "0s"
report_interval = "1s"
[reconnect]
min = "1s"
max = "2s"
[tasks]
units = ["nginx.service", "postgresql.service"]
`,
    );
    const token = this.cli(['enroll-token', 'create', '--ttl', '1h', '--max-hosts', '1']).trim();
    const fingerprint = this.cli(['ca-fingerprint']).trim();
    execFileSync(agentBin, ['--config', agentConfig, 'enroll', '--server', this.url, '--token', token, '--ca-fingerprint', fingerprint], {
      encoding: 'utf8',
    });
    this.agent = start('agent', [agentBin, '--config', agentConfig, 'run'], this.dir, busEnv);
    this.processes.push(this.agent);
    this.host = await waitFor("the agent's host", async () => {
      const hosts = await this.api('GET', '/api/v1/hosts');
      return hosts.items.find((h) => h.connected && (h.services ?? []).length >= 0);
    });
    await waitFor('the units reported', async () => {
      const host = await this.api('GET', `/api/v1/hosts/${this.host.id}`);
      return (host.services ?? []).some((s) => s.unit === 'nginx.service');
    });
    return this;
  }

  cli(args) {
    return execFileSync(serverBin, ['--config', this.config, ...args], {
      encoding: 'utf8',
    });
  }

  busctl(method, signature, ...args) {
    execFileSync('busctl', [
      `--address=${this.busAddress}`,
      'call',
      'org.freedesktop.systemd1',
      '/org/freedesktop/systemd1',
      'org.freedesktop.DBus.Mock',
      method,
      signature,
      ...args.map(String),
    ]);
  }

  addUnit(name, active, sub) {
    this.busctl('AddUnit', 'ssssu', name, `The ${name.replace('.service', '')} server`, active, sub, 1234);
  }

  setUnitState(name, active, sub, restarts = 0) {
    this.busctl('SetUnitState', 'sssu', name, active, sub, restarts);
  }

  // The REST API with the admin's token, over the server's own CA.
  async api(method, path, body) {
    const args = ['-s', '--cacert', join(this.dir, 'data/ca.crt'), '-X', method, '-H', `Authorization: Bearer ${this.apiToken}`];
    if (body !== undefined) args.push('-H', 'Content-Type: application/json', '-d', JSON.stringify(body));
    const out = execFileSync('curl', [...args, this.url + path], {
      encoding: 'utf8',
    });
    return out ? JSON.parse(out) : undefined;
  }

  async stop() {
    for (const p of this.processes.reverse()) {
      p.kill('SIGTERM');
      await new Promise((r) => (p.exitCode !== null || p.signalCode !== null ? r() : p.once('exit', r)));
    }
    if (!process.env.KEEP_E2E) rmSync(this.dir, { recursive: true, force: true });
  }

  logs() {
    return ['server', 'agent', 'dbusmock']
      .map((name) => {
        const file = join(this.dir, `${name}.log`);
        return existsSync(file) ? `--- ${name}\n${readFileSync(file, 'utf8').slice(-4000)}` : '';
      })
      .join('\n');
  }
}

export { waitFor };
