#!/usr/bin/env node
// tsmls_peer.mjs: ts-mls (npm, 1.6.4) as a line-oriented MLS peer, for the
// C interop tests. One process is one MLS client in one group.
//
// Protocol: one command per line on stdin, exactly one reply line per
// command on stdout. Bytes are lowercase hex both ways ("-" = empty).
// A failed command replies "error <message>" and leaves the state as it was.
// Nothing else is ever written to stdout (diagnostics go to stderr).
//
//   suite N                  -> ok             select cipher suite N (decimal
//                                              or 0x..; default 1) and make a
//                                              fresh Ed25519 (suite's)
//                                              signature key pair. Resets all
//                                              group state.
//   identity HEX             -> ok             BasicCredential identity for
//                                              later KeyPackages (default
//                                              "tsmls-peer")
//   grease on|off            -> ok             GREASE values in the
//                                              KeyPackage capabilities (ts-mls
//                                              default: on, random, each value
//                                              with p=0.1, so sizes vary by a
//                                              few bytes); off gives fixed sizes
//   signature_public_key     -> HEX
//   keypackage               -> HEX            MLSMessage(mls_key_package);
//                                              its private keys are kept for
//                                              `join`
//   create_group GROUPID_HEX -> ok             new one-member group (epoch 0)
//   add KEYPACKAGE_HEX       -> HEX_COMMIT HEX_WELCOME
//                                              commit adding the KeyPackage
//                                              (with an UpdatePath), and the
//                                              Welcome (MLSMessage mls_welcome,
//                                              GroupInfo carries the
//                                              ratchet_tree extension).
//                                              STAGED, see below.
//   commit [AD_HEX]          -> HEX            empty commit with UpdatePath,
//                                              as PrivateMessage, with the
//                                              given authenticated_data
//                                              (default empty). STAGED.
//   commit_public [AD_HEX]   -> HEX            the same as PublicMessage. STAGED.
//   merge                    -> ok epoch N     apply the staged commit
//   discard                  -> ok epoch N     drop the staged commit
//   join WELCOME_HEX         -> ok epoch N     join with the last keypackage
//   process MESSAGE_HEX      -> ok epoch N     a peer's commit (Private- or
//                               | app HEX      PublicMessage); or, for an
//                                              application message, its
//                                              plaintext
//   encrypt PT_HEX [AD_HEX]  -> HEX            application PrivateMessage
//                                              (authenticated_data default
//                                              empty)
//   decrypt MSG_HEX          -> HEX            plaintext (error if not an
//                                              application message)
//   export LABEL_HEX CONTEXT_HEX LEN -> HEX    MLS-Exporter (label must be
//                                              UTF-8: ts-mls takes a string)
//   last_ad                  -> HEX            authenticated_data of the last
//                                              message `process` or `decrypt`
//                                              accepted ("-" if empty or none)
//   epoch                    -> N
//   epoch_authenticator      -> HEX
//   info                     -> suite=N epoch=N leaf=N members=N staged=0|1
//   cpu_ms                   -> N              user+system CPU of this process
//   quit                     -> bye            and exit 0
//
// Commits are STAGED, not applied: ts-mls's createCommit returns the
// committer's next state at once, but MLS (and epochd, DESIGN.md §4) only
// moves to the new epoch once the peer has accepted the commit. So `add`,
// `commit` and `commit_public` keep the next state aside and the current epoch
// stays in force (encrypt/decrypt/export/process use it) until `merge`;
// `discard` drops it (lost collision). Only one commit can be staged: a new
// `add`/`commit` while one is staged is an error, and `process` of a peer's
// commit while one is staged discards ours first (the caller decided the
// peer's commit wins by sending it to us).
import { createInterface } from "node:readline";
import {
  acceptAll,
  createApplicationMessage,
  createCommit,
  createGroup,
  decodeMlsMessage,
  defaultCapabilities,
  defaultLifetime,
  emptyPskIndex,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  getCiphersuiteFromName,
  getCiphersuiteImpl,
  joinGroup,
  mlsExporter,
  processMessage,
  ciphersuites,
} from "ts-mls";

const enc = new TextEncoder();

function hex(b) {
  if (!b || b.length === 0) return "-";
  return Buffer.from(b).toString("hex");
}

function unhex(s) {
  if (s === undefined) throw new Error("missing argument");
  if (s === "-") return new Uint8Array(0);
  if (!/^([0-9a-fA-F]{2})*$/.test(s)) throw new Error("bad hex");
  return new Uint8Array(Buffer.from(s, "hex"));
}

function decodeWhole(bytes) {
  const r = decodeMlsMessage(bytes, 0);
  if (r === undefined) throw new Error("cannot decode MLSMessage");
  const [msg, off] = r;
  if (off !== bytes.length)
    throw new Error(`trailing bytes after MLSMessage (${bytes.length - off})`);
  return msg;
}

const st = {
  suiteId: 1,
  cs: undefined, // CiphersuiteImpl
  sig: undefined, // { signKey, publicKey }
  identity: enc.encode("tsmls-peer"),
  grease: true,
  kp: undefined, // { publicPackage, privatePackage } from `keypackage`
  group: undefined, // ClientState, current epoch
  staged: undefined, // ClientState after our staged commit
  lastAd: new Uint8Array(0), // authenticated_data of the last accepted message
};

async function selectSuite(id) {
  const name = Object.keys(ciphersuites).find((k) => ciphersuites[k] === id);
  if (name === undefined) throw new Error(`unknown suite ${id}`);
  const cs = await getCiphersuiteImpl(getCiphersuiteFromName(name));
  const sig = await cs.signature.keygen();
  Object.assign(st, { suiteId: id, cs, sig, kp: undefined, group: undefined, staged: undefined, lastAd: new Uint8Array(0) });
}

async function newKeyPackage() {
  return generateKeyPackageWithKey(
    { credentialType: "basic", identity: st.identity },
    st.grease
      ? defaultCapabilities()
      : { versions: ["mls10"], ciphersuites: Object.keys(ciphersuites), extensions: [], proposals: [], credentials: ["basic", "x509"] },
    defaultLifetime,
    [],
    st.sig,
    st.cs,
  );
}

function needGroup() {
  if (st.group === undefined) throw new Error("no group");
  return st.group;
}

function needNoStaged() {
  if (st.staged !== undefined) throw new Error("a commit is already staged (merge or discard it)");
}

const epochReply = () => `ok epoch ${needGroup().groupContext.epoch}`;

function argc(args, n, max = n) {
  if (args.length < n || args.length > max)
    throw new Error(`expected ${n === max ? n : `${n} to ${max}`} argument(s), got ${args.length}`);
}

// The authenticated_data in a Private- or PublicMessage's header.
function messageAd(m) {
  return m.wireformat === "mls_private_message"
    ? m.privateMessage.authenticatedData
    : m.publicMessage.content.authenticatedData;
}

async function stageCommit(options) {
  const g = needGroup();
  needNoStaged();
  const r = await createCommit({ state: g, cipherSuite: st.cs, pskIndex: emptyPskIndex }, options);
  st.staged = r.newState;
  return r;
}

const commands = {
  async suite(a) {
    argc(a, 1);
    const id = Number(a[0]);
    if (!Number.isInteger(id)) throw new Error("bad suite number");
    await selectSuite(id);
    return "ok";
  },
  async identity(a) {
    argc(a, 1);
    st.identity = unhex(a[0]);
    return "ok";
  },
  async grease(a) {
    argc(a, 1);
    if (a[0] !== "on" && a[0] !== "off") throw new Error("grease on|off");
    st.grease = a[0] === "on";
    return "ok";
  },
  async signature_public_key(a) {
    argc(a, 0);
    return hex(st.sig.publicKey);
  },
  async keypackage(a) {
    argc(a, 0);
    st.kp = await newKeyPackage();
    return hex(encodeMlsMessage({ keyPackage: st.kp.publicPackage, wireformat: "mls_key_package", version: "mls10" }));
  },
  async create_group(a) {
    argc(a, 1);
    const kp = await newKeyPackage();
    st.group = await createGroup(unhex(a[0]), kp.publicPackage, kp.privatePackage, [], st.cs);
    st.staged = undefined;
    return "ok";
  },
  async add(a) {
    argc(a, 1);
    const m = decodeWhole(unhex(a[0]));
    if (m.wireformat !== "mls_key_package") throw new Error(`not a KeyPackage: ${m.wireformat}`);
    const r = await stageCommit({
      extraProposals: [{ proposalType: "add", add: { keyPackage: m.keyPackage } }],
      ratchetTreeExtension: true,
    });
    if (r.welcome === undefined) throw new Error("no Welcome produced");
    return `${hex(encodeMlsMessage(r.commit))} ${hex(encodeMlsMessage({ welcome: r.welcome, wireformat: "mls_welcome", version: "mls10" }))}`;
  },
  async commit(a) {
    argc(a, 0, 1);
    const authenticatedData = a.length ? unhex(a[0]) : new Uint8Array(0);
    return hex(encodeMlsMessage((await stageCommit({ authenticatedData })).commit));
  },
  async commit_public(a) {
    argc(a, 0, 1);
    const authenticatedData = a.length ? unhex(a[0]) : new Uint8Array(0);
    return hex(encodeMlsMessage((await stageCommit({ wireAsPublicMessage: true, authenticatedData })).commit));
  },
  async merge(a) {
    argc(a, 0);
    if (st.staged === undefined) throw new Error("nothing staged");
    st.group = st.staged;
    st.staged = undefined;
    return epochReply();
  },
  async discard(a) {
    argc(a, 0);
    if (st.staged === undefined) throw new Error("nothing staged");
    st.staged = undefined;
    return epochReply();
  },
  async join(a) {
    argc(a, 1);
    if (st.kp === undefined) throw new Error("no keypackage");
    const m = decodeWhole(unhex(a[0]));
    if (m.wireformat !== "mls_welcome") throw new Error(`not a Welcome: ${m.wireformat}`);
    st.group = await joinGroup(m.welcome, st.kp.publicPackage, st.kp.privatePackage, emptyPskIndex, st.cs);
    st.staged = undefined;
    st.kp = undefined; // a KeyPackage is used once
    return epochReply();
  },
  async process(a) {
    argc(a, 1);
    const g = needGroup();
    const m = decodeWhole(unhex(a[0]));
    if (m.wireformat !== "mls_private_message" && m.wireformat !== "mls_public_message")
      throw new Error(`not a Private/PublicMessage: ${m.wireformat}`);
    const r = await processMessage(m, g, emptyPskIndex, acceptAll, st.cs);
    if (r.kind === "applicationMessage") {
      st.group = r.newState;
      st.lastAd = messageAd(m);
      return `app ${hex(r.message)}`;
    }
    if (r.actionTaken !== "accept") throw new Error(`message rejected (${r.actionTaken})`);
    st.group = r.newState;
    st.staged = undefined;
    st.lastAd = messageAd(m);
    return epochReply();
  },
  async encrypt(a) {
    argc(a, 1, 2);
    const ad = a.length > 1 ? unhex(a[1]) : new Uint8Array(0);
    const r = await createApplicationMessage(needGroup(), unhex(a[0]), st.cs, ad);
    st.group = r.newState;
    return hex(encodeMlsMessage({ privateMessage: r.privateMessage, wireformat: "mls_private_message", version: "mls10" }));
  },
  async decrypt(a) {
    argc(a, 1);
    const g = needGroup();
    const m = decodeWhole(unhex(a[0]));
    if (m.wireformat !== "mls_private_message") throw new Error(`not a PrivateMessage: ${m.wireformat}`);
    const r = await processMessage(m, g, emptyPskIndex, acceptAll, st.cs);
    if (r.kind !== "applicationMessage") throw new Error("not an application message");
    st.group = r.newState;
    st.lastAd = messageAd(m);
    return hex(r.message);
  },
  async last_ad(a) {
    argc(a, 0);
    return hex(st.lastAd);
  },
  async export(a) {
    argc(a, 3);
    const label = new TextDecoder("utf-8", { fatal: true }).decode(unhex(a[0]));
    const len = Number(a[2]);
    if (!Number.isInteger(len) || len < 0 || len > 65535) throw new Error("bad length");
    const g = needGroup();
    return hex(await mlsExporter(g.keySchedule.exporterSecret, label, unhex(a[1]), len, st.cs));
  },
  async epoch(a) {
    argc(a, 0);
    return String(needGroup().groupContext.epoch);
  },
  async epoch_authenticator(a) {
    argc(a, 0);
    return hex(needGroup().keySchedule.epochAuthenticator);
  },
  async cpu_ms(a) {
    argc(a, 0);
    const u = process.cpuUsage();
    return String(Math.round((u.user + u.system) / 1000));
  },
  async info(a) {
    argc(a, 0);
    const g = needGroup();
    const members = g.ratchetTree.filter((n, i) => i % 2 === 0 && n !== undefined).length;
    return `suite=${st.suiteId} epoch=${g.groupContext.epoch} leaf=${g.privatePath.leafIndex} members=${members} staged=${st.staged ? 1 : 0}`;
  },
};

async function main() {
  await selectSuite(1);
  const rl = createInterface({ input: process.stdin, crlfDelay: Infinity, terminal: false });
  for await (const raw of rl) {
    const line = raw.trim();
    if (line === "") continue;
    const [cmd, ...args] = line.split(/\s+/);
    if (cmd === "quit") {
      process.stdout.write("bye\n");
      break;
    }
    let reply;
    try {
      const f = Object.hasOwn(commands, cmd) ? commands[cmd] : undefined;
      if (f === undefined) throw new Error(`unknown command ${cmd}`);
      reply = await f(args);
    } catch (e) {
      reply = `error ${String(e?.message ?? e).replace(/\s+/g, " ")}`;
    }
    process.stdout.write(reply + "\n");
  }
  rl.close();
}

main().catch((e) => {
  process.stderr.write(`tsmls_peer: ${e?.stack ?? e}\n`);
  process.exit(1);
});
