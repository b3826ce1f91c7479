/**
 * etcd members of a test's own: one member, or a three-member static cluster, on free loopback
 * ports with data directories under the OS temp dir. A test may kill a member by its pid and
 * start it again on the same data directory; `destroy()` kills every member and removes the
 * directories. A cluster test finds the leader (`leader()`, from etcd's maintenance status),
 * the member holding a client's watches (`watchers()`, from its metrics), and can move the
 * leadership (`moveLeader()`). Suites use `describeWithEtcd` from services.ts; the live bench
 * starts its one member here too.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './own-redis'

/**
 * The etcd server binary (`TRIBUTARY_ETCD_BIN`, as services.ts reads it). Read here rather than
 * imported, so that this file loads outside jest too: bench/live.bench.ts starts its member with it.
 */
export const etcdBinary = process.env.TRIBUTARY_ETCD_BIN ?? 'etcd'

/** One etcd member. */
export interface EtcdMember {
  readonly name: string
  /** `http://127.0.0.1:<port>`: what clients connect to. */
  readonly clientUrl: string
  /** The process id while running. */
  readonly pid: number | undefined
  /** Starts the member on its data directory (again after a kill) and waits until it runs. */
  start(): Promise<void>
  /** Kills the member (SIGKILL, by its pid) and waits for it to exit. */
  kill(): Promise<void>
  /** etcd's status of this member: its id and the leader's id (both decimal strings). */
  status(): Promise<{ readonly member: string; readonly leader: string; readonly revision: string }>
  /** How many watches clients hold on this member now (etcd's `etcd_debugging_mvcc_watcher_total`). */
  watchers(): Promise<number>
}

/** Members started together; `destroy()` them at the end of the suite. */
export interface EtcdCluster {
  readonly members: readonly EtcdMember[]
  /** Every member's client URL. */
  readonly hosts: readonly string[]
  /** Waits until every running member sees the same leader, and returns that member. */
  leader(): Promise<EtcdMember>
  /** Makes `member` the leader (etcd's MoveLeader on the current leader) and waits until all agree. */
  moveLeader(member: EtcdMember): Promise<void>
  /** Kills every member and removes the data directories. */
  destroy(): Promise<void>
}

/**
 * Starts `size` members (1 or 3) as one static cluster (`--initial-cluster`) with short
 * heartbeats, so a new leader is elected within a second of the old one's death.
 */
export async function startEtcd(size = 1): Promise<EtcdCluster> {
  const root = mkdtempSync(join(tmpdir(), 'tributary-etcd-'))
  const specs = []
  for (let i = 0; i < size; i += 1) {
    specs.push({ name: `m${i}`, client: await freePort(), peer: await freePort() })
  }
  const initialCluster = specs.map((s) => `${s.name}=http://127.0.0.1:${s.peer}`).join(',')
  // One token for the whole cluster: members with different tokens get different cluster ids
  // and refuse each other, so no leader is ever elected.
  const token = `tributary-${specs[0]?.client ?? 0}`
  const members = specs.map((spec): EtcdMember => {
    let child: ChildProcess | undefined
    const running = (): boolean => child !== undefined && child.exitCode === null && child.signalCode === null
    const clientUrl = `http://127.0.0.1:${spec.client}`
    const peerUrl = `http://127.0.0.1:${spec.peer}`
    const args = [
      '--name', spec.name,
      '--data-dir', join(root, spec.name),
      '--listen-client-urls', clientUrl,
      '--advertise-client-urls', clientUrl,
      '--listen-peer-urls', peerUrl,
      '--initial-advertise-peer-urls', peerUrl,
      '--initial-cluster', initialCluster,
      '--initial-cluster-state', 'new',
      '--initial-cluster-token', token,
      '--heartbeat-interval', '50',
      '--election-timeout', '500',
      '--logger', 'zap',
      '--log-level', 'error',
    ] // prettier-ignore
    const member: EtcdMember = {
      name: spec.name,
      clientUrl,
      get pid() {
        return running() ? child?.pid : undefined
      },
      async start() {
        if (running()) return
        const started = spawn(etcdBinary, args, { stdio: ['ignore', 'ignore', 'pipe'] })
        let stderr = ''
        started.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2_000)))
        child = started
        // Running means the client port answers (a cluster member is healthy only with a quorum).
        for (let i = 0; i < 300; i += 1) {
          if (started.exitCode !== null) throw new Error(`etcd ${spec.name} exited: ${stderr}`)
          try {
            const response = await fetch(`${clientUrl}/version`, { signal: AbortSignal.timeout(1_000) })
            if (response.ok) return
          } catch {
            // not listening yet
          }
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
        throw new Error(`etcd ${spec.name} did not start: ${stderr}`)
      },
      async kill() {
        const current = child
        if (!running() || current?.pid === undefined) return
        const exited = new Promise((resolve) => current.once('exit', resolve))
        process.kill(current.pid, 'SIGKILL')
        await exited
      },
      async status() {
        const response = await fetch(`${clientUrl}/v3/maintenance/status`, {
          method: 'POST',
          body: '{}',
          signal: AbortSignal.timeout(2_000),
        })
        const body = (await response.json()) as {
          header: { member_id: string; revision: string }
          leader: string
        }
        return { member: body.header.member_id, leader: body.leader, revision: body.header.revision }
      },
      async watchers() {
        const metrics = await (
          await fetch(`${clientUrl}/metrics`, { signal: AbortSignal.timeout(2_000) })
        ).text()
        const line = /^etcd_debugging_mvcc_watcher_total (\d+)/m.exec(metrics)
        if (!line) throw new Error(`etcd ${spec.name}: no watcher gauge in /metrics`)
        return Number(line[1])
      },
    }
    return member
  })
  const cluster: EtcdCluster = {
    members,
    hosts: members.map((m) => m.clientUrl),
    async leader() {
      for (let i = 0; i < 200; i += 1) {
        const running = members.filter((m) => m.pid !== undefined)
        const statuses = await Promise.all(running.map((m) => m.status().catch(() => undefined)))
        const leaders = new Set(statuses.map((s) => s?.leader))
        const [leader] = [...leaders]
        if (leaders.size === 1 && leader !== undefined && leader !== '0') {
          const at = statuses.findIndex((s) => s?.member === leader)
          const found = running[at]
          if (found) return found
        }
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error('no etcd leader elected')
    },
    async moveLeader(member) {
      const current = await cluster.leader()
      if (current === member) return
      const { member: targetID } = await member.status()
      const response = await fetch(`${current.clientUrl}/v3/maintenance/transfer-leadership`, {
        method: 'POST',
        body: JSON.stringify({ targetID }),
        signal: AbortSignal.timeout(5_000),
      })
      if (!response.ok) throw new Error(`etcd MoveLeader to ${member.name}: ${await response.text()}`)
      for (let i = 0; i < 100; i += 1) {
        if ((await cluster.leader()) === member) return
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      throw new Error(`etcd leadership did not move to ${member.name}`)
    },
    async destroy() {
      await Promise.all(members.map((m) => m.kill()))
      rmSync(root, { recursive: true, force: true })
    },
  }
  try {
    await Promise.all(members.map((m) => m.start()))
    await cluster.leader()
  } catch (error) {
    await cluster.destroy()
    throw error
  }
  return cluster
}
