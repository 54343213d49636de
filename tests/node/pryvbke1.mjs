#!/usr/bin/env node
// An independent PRYVBKE1 implementation (node:crypto and node:fs only), written from the
// wire format in docs/encryption.md, to cross-check pryv-backup's Rust implementation.
//
//   node pryvbke1.mjs seal-tree <plain-dir> <out-dir> (--public-key <pem-file> | passphrase)
//   node pryvbke1.mjs open-tree <encrypted-dir> <out-dir> (--private-key <pem-file> | passphrase)
//
// The passphrase is read from PRYV_BACKUP_PASSPHRASE (never from the command line); a
// private key's own passphrase from PRYV_BACKUP_KEY_PASSPHRASE.
// seal-tree writes encryption.json plus one sealed file per plain file; open-tree writes the
// plaintext of every file except encryption.json. Exit status 1 and a message on any error.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

const MAGIC = Buffer.from('PRYVBKE1', 'latin1');
const CHUNK = 65536;
const TAG_LEN = 16;
const KEY_LEN = 32;

function die (message) {
  process.stderr.write('pryvbke1.mjs: ' + message + '\n');
  process.exit(1);
}

function nonceFor (frameIndex) {
  const nonce = Buffer.alloc(12); // first 4 bytes stay zero
  nonce.writeBigUInt64BE(BigInt(frameIndex), 4);
  return nonce;
}

function fileKey (dataKey, salt) {
  return Buffer.from(crypto.hkdfSync('sha256', dataKey, salt, Buffer.from('pryv-backup-file-v1'), KEY_LEN));
}

function u32be (n) {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

function sealBytes (dataKey, plain) {
  const salt = crypto.randomBytes(16);
  const key = fileKey(dataKey, salt);
  const header = Buffer.from(JSON.stringify({ v: 1, salt: salt.toString('base64'), chunk: CHUNK }));
  const parts = [MAGIC, u32be(header.length), header];
  for (let frame = 0, at = 0; at < plain.length; frame++, at += CHUNK) {
    const gcm = crypto.createCipheriv('aes-256-gcm', key, nonceFor(frame));
    const body = Buffer.concat([gcm.update(plain.subarray(at, at + CHUNK)), gcm.final(), gcm.getAuthTag()]);
    parts.push(u32be(body.length), body);
  }
  return Buffer.concat(parts);
}

function openBytes (dataKey, sealed, name) {
  if (sealed.length < 12 || !sealed.subarray(0, 8).equals(MAGIC)) throw new Error(name + ': bad magic');
  const headerEnd = 12 + sealed.readUInt32BE(8);
  if (sealed.length < headerEnd) throw new Error(name + ': truncated header');
  const header = JSON.parse(sealed.subarray(12, headerEnd).toString('utf8'));
  if (header.v !== 1) throw new Error(name + ': unsupported header version');
  const key = fileKey(dataKey, Buffer.from(header.salt, 'base64'));
  const out = [];
  let at = headerEnd;
  for (let frame = 0; at < sealed.length; frame++) {
    if (at + 4 > sealed.length) throw new Error(name + ': truncated frame length');
    const len = sealed.readUInt32BE(at);
    at += 4;
    if (len < TAG_LEN || at + len > sealed.length) throw new Error(name + ': truncated frame ' + frame);
    const body = sealed.subarray(at, at + len);
    at += len;
    const gcm = crypto.createDecipheriv('aes-256-gcm', key, nonceFor(frame));
    gcm.setAuthTag(body.subarray(len - TAG_LEN));
    try {
      out.push(gcm.update(body.subarray(0, len - TAG_LEN)), gcm.final());
    } catch {
      throw new Error(name + ': authentication failed on frame ' + frame);
    }
  }
  return Buffer.concat(out);
}

function passphrase () {
  const p = process.env.PRYV_BACKUP_PASSPHRASE;
  if (!p) die('set PRYV_BACKUP_PASSPHRASE or give a key file');
  return p;
}

function newDataKey (opts) {
  if (opts.publicKey) {
    const dataKey = crypto.randomBytes(KEY_LEN);
    const wrapped = crypto.publicEncrypt(
      { key: fs.readFileSync(opts.publicKey, 'utf8'), padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      dataKey);
    return [dataKey, { v: 1, alg: 'AES-256-GCM-CHUNKED', chunk: CHUNK, mode: 'hybrid', wrap: 'RSA-OAEP-SHA256', wrappedKey: wrapped.toString('base64') }];
  }
  const salt = crypto.randomBytes(16);
  const cost = { N: 16384, r: 8, p: 1 };
  const dataKey = crypto.scryptSync(passphrase(), salt, KEY_LEN, cost);
  return [dataKey, { v: 1, alg: 'AES-256-GCM-CHUNKED', chunk: CHUNK, mode: 'symmetric', kdf: 'scrypt', salt: salt.toString('base64'), ...cost }];
}

function existingDataKey (envelope, opts) {
  if (envelope.mode === 'hybrid') {
    if (!opts.privateKey) die('hybrid backup: give --private-key');
    return crypto.privateDecrypt(
      { key: fs.readFileSync(opts.privateKey, 'utf8'), passphrase: process.env.PRYV_BACKUP_KEY_PASSPHRASE, padding: crypto.constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      Buffer.from(envelope.wrappedKey, 'base64'));
  }
  if (envelope.mode === 'symmetric') {
    return crypto.scryptSync(passphrase(), Buffer.from(envelope.salt, 'base64'), KEY_LEN,
      { N: envelope.N, r: envelope.r, p: envelope.p });
  }
  die('unknown mode ' + envelope.mode);
}

function filesUnder (root, rel = '') {
  const found = [];
  for (const entry of fs.readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const child = path.join(rel, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(root, child));
    else found.push(child);
  }
  return found;
}

function writeFile (file, bytes) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, bytes);
}

function main () {
  const [command, src, out, ...rest] = process.argv.slice(2);
  const opts = {};
  for (let i = 0; i < rest.length; i += 2) {
    if (rest[i] === '--public-key') opts.publicKey = rest[i + 1];
    else if (rest[i] === '--private-key') opts.privateKey = rest[i + 1];
    else die('unknown option ' + rest[i]);
  }
  if (!src || !out) die('usage: seal-tree|open-tree <src> <out> [--public-key F | --private-key F]');
  if (command === 'seal-tree') {
    const [dataKey, envelope] = newDataKey(opts);
    writeFile(path.join(out, 'encryption.json'), JSON.stringify(envelope, null, 2));
    for (const rel of filesUnder(src)) writeFile(path.join(out, rel), sealBytes(dataKey, fs.readFileSync(path.join(src, rel))));
  } else if (command === 'open-tree') {
    const envelope = JSON.parse(fs.readFileSync(path.join(src, 'encryption.json'), 'utf8'));
    const dataKey = existingDataKey(envelope, opts);
    for (const rel of filesUnder(src)) {
      if (rel === 'encryption.json') continue;
      writeFile(path.join(out, rel), openBytes(dataKey, fs.readFileSync(path.join(src, rel)), rel));
    }
  } else {
    die('unknown command ' + command);
  }
}

try {
  main();
} catch (e) {
  die(e.message);
}
