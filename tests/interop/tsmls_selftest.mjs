#!/usr/bin/env node
// tsmls_selftest.mjs: proves tsmls_peer.mjs against itself, the way the C
// interop test will drive it. Two peer processes A and B speak the line
// protocol: A makes a KeyPackage, B creates the group and adds A (Commit +
// Welcome), A joins, then EPOCHS commits with an UpdatePath from alternating
// sides, each processed by the other and merged by its sender. At every epoch:
// same epoch number, equal MLS-Exporter output (and different from the last
// epoch's), one application message each way. Plus negative cases: a
// tampered commit and a tampered application message are rejected and leave
// the state usable; a replayed commit is rejected.
//
// Usage: node tsmls_selftest.mjs [--suites 1,83] [--epochs 20] [--dump DIR]
//                                [--grease on|off (default off)]
// --dump writes the KeyPackage, Welcome and commits as binary files.
// Prints figures to stderr-free stdout, then "tsmls-selftest: N passed, N failed".
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const here = dirname(fileURLToPath(import.meta.url));
const peerPath = join(here, "tsmls_peer.mjs");

const argv = process.argv.slice(2);
function opt(name, dflt) {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
}
const suites = opt("--suites", "1,83").split(",").map(Number);
const EPOCHS = Number(opt("--epochs", "20"));
const dumpDir = opt("--dump", undefined);
const grease = opt("--grease", "off"); // off: fixed, reproducible sizes
const TIMEOUT_MS = 20000;

class Peer {
  constructor(name) {
    this.name = name;
    this.proc = spawn(process.execPath, [peerPath], { stdio: ["pipe", "pipe", "inherit"] });
    this.waiters = [];
    this.dead = false;
    createInterface({ input: this.proc.stdout }).on("line", (l) => {
      const w = this.waiters.shift();
      if (w) w.resolve(l);
    });
    this.proc.on("exit", () => {
      this.dead = true;
      for (const w of this.waiters.splice(0)) w.reject(new Error(`${name}: peer exited`));
    });
  }
  // Sends one command, resolves with the reply line (rejects on "error").
  cmd(line, { allowError = false } = {}) {
    if (this.dead) return Promise.reject(new Error(`${this.name}: peer exited`));
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${this.name}: timeout on ${line.slice(0, 40)}`)), TIMEOUT_MS);
      this.waiters.push({
        resolve: (l) => {
          clearTimeout(t);
          if (l.startsWith("error ") && !allowError)
            reject(new Error(`${this.name}: ${line.split(" ")[0]}: ${l}`));
          else resolve(l);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.proc.stdin.write(line + "\n");
    });
  }
  async quit() {
    if (!this.dead) await this.cmd("quit").catch(() => {});
    this.proc.stdin.end();
  }
}

let passed = 0;
let failed = 0;
function result(ok, what, detail) {
  if (ok) passed++;
  else {
    failed++;
    console.log(`FAIL ${what}${detail ? ": " + detail : ""}`);
  }
}
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

const nbytes = (h) => (h === "-" ? 0 : h.length / 2);
const rndHex = (n) => Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString("hex");
function flipByte(h, fromEnd) {
  const i = (h.length / 2 - fromEnd) * 2;
  const b = (parseInt(h.slice(i, i + 2), 16) ^ 0x01).toString(16).padStart(2, "0");
  return h.slice(0, i) + b + h.slice(i + 2);
}

async function checkEpoch(a, b, expectEpoch, lastExport) {
  const [ea, eb] = [await a.cmd("epoch"), await b.cmd("epoch")];
  check(ea === String(expectEpoch) && eb === String(expectEpoch), `epochs ${ea}/${eb}, want ${expectEpoch}`);
  const label = Buffer.from("EXPORTER-epochd-esp").toString("hex");
  const ctx = rndHex(8);
  const xa = await a.cmd(`export ${label} ${ctx} 64`);
  const xb = await b.cmd(`export ${label} ${ctx} 64`);
  check(xa === xb && xa.length === 128, "exporter differs");
  const xa2 = await a.cmd(`export ${label} - 32`);
  check(xa2 !== lastExport.value, "exporter unchanged from last epoch");
  lastExport.value = xa2;
  check((await b.cmd(`export ${label} - 32`)) === xa2, "exporter (empty context) differs");
  for (const [s, r] of [[a, b], [b, a]]) {
    const pt = rndHex(1 + Math.floor(Math.random() * 100));
    const ct = await s.cmd(`encrypt ${pt}`);
    check((await r.cmd(`decrypt ${ct}`)) === pt, `${s.name}->${r.name} plaintext differs`);
  }
}

async function runSuite(suite) {
  const a = new Peer("A");
  const b = new Peer("B");
  const fig = { suite };
  const dump = (name, h) => {
    if (dumpDir) writeFileSync(join(dumpDir, `suite${suite}-${name}.bin`), Buffer.from(h === "-" ? "" : h, "hex"));
  };
  try {
    const lastExport = { value: "" };
    // Handshake.
    try {
      await a.cmd(`suite ${suite}`);
      await b.cmd(`suite ${suite}`);
      await a.cmd(`grease ${grease}`);
      await b.cmd(`grease ${grease}`);
      await a.cmd(`identity ${Buffer.from("peer-a").toString("hex")}`);
      await b.cmd(`identity ${Buffer.from("peer-b").toString("hex")}`);
      const cpu0 = Number(await a.cmd("cpu_ms")) + Number(await b.cmd("cpu_ms"));
      const t0 = performance.now();
      const kp = await a.cmd("keypackage");
      await b.cmd(`create_group ${rndHex(16)}`);
      const [commit, welcome] = (await b.cmd(`add ${kp}`)).split(" ");
      check((await a.cmd(`join ${welcome}`)) === "ok epoch 1", "join epoch");
      check((await b.cmd("merge")) === "ok epoch 1", "merge epoch");
      fig.handshakeMs = performance.now() - t0;
      fig.handshakeCpu = Number(await a.cmd("cpu_ms")) + Number(await b.cmd("cpu_ms")) - cpu0;
      fig.kp = nbytes(kp);
      fig.welcome = nbytes(welcome);
      fig.addCommit = nbytes(commit);
      dump("keypackage", kp);
      dump("welcome", welcome);
      dump("add-commit", commit);
      check((await a.cmd("info")).includes("leaf=1 members=2"), "A info");
      await checkEpoch(a, b, 1, lastExport);
      result(true);
    } catch (e) {
      result(false, `suite ${suite} handshake`, e.message);
      return fig;
    }
    // Epochs, alternating committers; A (the joiner) first.
    const t1 = performance.now();
    const cpu1 = Number(await a.cmd("cpu_ms")) + Number(await b.cmd("cpu_ms"));
    const commitSizes = { A: [], B: [] };
    for (let i = 0; i < EPOCHS; i++) {
      const [s, r] = i % 2 === 0 ? [a, b] : [b, a];
      const want = 2 + i;
      try {
        const c = await s.cmd(i === 2 ? "commit_public" : "commit");
        // Until the merge the committer stays in the old epoch.
        check((await s.cmd("epoch")) === String(want - 1), "committer moved before merge");
        check((await r.cmd(`process ${c}`)) === `ok epoch ${want}`, "process epoch");
        check((await s.cmd("merge")) === `ok epoch ${want}`, "merge epoch");
        if (i === 2) fig.publicCommit = nbytes(c);
        else commitSizes[s.name].push(nbytes(c));
        if (i === 0) dump("path-commit-joiner", c);
        if (i === 1) dump("path-commit-creator", c);
        await checkEpoch(a, b, want, lastExport);
        result(true);
      } catch (e) {
        result(false, `suite ${suite} epoch ${want} (${s.name} commits)`, e.message);
        return fig;
      }
    }
    fig.epochMs = (performance.now() - t1) / EPOCHS;
    fig.epochCpu = (Number(await a.cmd("cpu_ms")) + Number(await b.cmd("cpu_ms")) - cpu1) / EPOCHS;
    fig.pathCommitA = commitSizes.A;
    fig.pathCommitB = commitSizes.B;
    // Negative cases: tampering is rejected and the state stays usable.
    const ep = Number(await a.cmd("epoch"));
    const lastExp = { value: "" };
    const negs = [
      ["tampered commit", async () => {
        const c = await a.cmd("commit");
        const r = await b.cmd(`process ${flipByte(c, 5)}`, { allowError: true });
        check(r.startsWith("error "), `accepted: ${r}`);
        await a.cmd("discard");
        await checkEpoch(a, b, ep, lastExp);
      }],
      ["tampered application message", async () => {
        const m = await b.cmd(`encrypt ${rndHex(20)}`);
        const r = await a.cmd(`decrypt ${flipByte(m, 3)}`, { allowError: true });
        check(r.startsWith("error "), `accepted: ${r}`);
        check(!(await a.cmd(`decrypt ${m}`)).startsWith("error"), "untampered copy rejected");
      }],
      ["replayed commit", async () => {
        const c = await b.cmd("commit");
        check((await a.cmd(`process ${c}`)) === `ok epoch ${ep + 1}`, "process");
        await b.cmd("merge");
        const r = await a.cmd(`process ${c}`, { allowError: true });
        check(r.startsWith("error "), `accepted: ${r}`);
        lastExp.value = "";
        await checkEpoch(a, b, ep + 1, lastExp);
      }],
      ["garbage and misuse", async () => {
        for (const [p, line] of [[a, "process 00"], [a, "decrypt zz"], [a, "merge"], [b, "join 0001"], [a, "export"]])
          check((await p.cmd(line, { allowError: true })).startsWith("error "), `accepted: ${line}`);
        check((await a.cmd("epoch")) === String(ep + 1), "state changed");
      }],
    ];
    for (const [name, f] of negs) {
      try {
        await f();
        result(true);
      } catch (e) {
        result(false, `suite ${suite} ${name}`, e.message);
      }
    }
  } finally {
    await a.quit();
    await b.quit();
  }
  return fig;
}

const fmt = (l) => (l && l.length ? (Math.min(...l) === Math.max(...l) ? `${l[0]}` : `${Math.min(...l)}..${Math.max(...l)}`) : "?");
if (dumpDir) mkdirSync(dumpDir, { recursive: true });
const t = performance.now();
for (const s of suites) {
  const f = await runSuite(s);
  console.log(
    `suite ${s}: KeyPackage ${f.kp} B, Welcome ${f.welcome} B, add commit ${f.addCommit} B, ` +
      `path commit (PrivateMessage) joiner ${fmt(f.pathCommitA)} B / creator ${fmt(f.pathCommitB)} B, ` +
      `PublicMessage ${f.publicCommit} B; handshake ${f.handshakeMs?.toFixed(1)} ms wall / ${f.handshakeCpu} ms CPU (both peers, first use), ` +
      `per epoch ${f.epochMs?.toFixed(1)} ms wall / ${f.epochCpu?.toFixed(1)} ms CPU (commit+process+merge+checks)`,
  );
}
console.log(`total ${(performance.now() - t).toFixed(0)} ms`);
console.log(`tsmls-selftest: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
