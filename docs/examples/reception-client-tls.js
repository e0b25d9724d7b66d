#!/usr/bin/env node
// reception-client.js over the network transport: TLS with a client certificate, no dependencies.
// Usage: node reception-client-tls.js HOST:PORT CLIENT_DIR NAME [count]
//   CLIENT_DIR holds NAME.pem, NAME.key and ca.pem from 'mynareader tls issue NAME --role reception --out CLIENT_DIR'.
// Prints one line per result: the session, how identity was confirmed, and the consents.
'use strict';
const fs = require('fs');
const path = require('path');
const tls = require('tls');

const [address, dir, name] = process.argv.slice(2, 5);
if (!address || !dir || !name) {
  console.error('usage: node reception-client-tls.js HOST:PORT CLIENT_DIR NAME [count]');
  process.exit(2);
}
const wanted = Number(process.argv[5] || Infinity);
const colon = address.lastIndexOf(':');
const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
let nextId = 1;
let buffered = '';
let results = 0;
const pending = new Map();

const sock = tls.connect({
  host,
  port: Number(address.slice(colon + 1)),
  ca: fs.readFileSync(path.join(dir, 'ca.pem')),           // trust the reader's own CA only
  cert: fs.readFileSync(path.join(dir, `${name}.pem`)),
  key: fs.readFileSync(path.join(dir, `${name}.key`)),
  minVersion: 'TLSv1.2',
});

function call(method, params) {
  const id = nextId++;
  sock.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
  return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
}

function onMessage(msg) {
  if (msg.id !== undefined && pending.has(msg.id)) {          // a reply
    const { resolve, reject } = pending.get(msg.id);
    pending.delete(msg.id);
    if (msg.error) reject(new Error(`${msg.error.data.name}: ${msg.error.message}`));
    else resolve(msg.result);
  } else if (msg.method === 'result') {                          // an event
    const r = msg.params;
    const consents = (r.consents || []).map((c) => `${c.item}=${c.value ? 'yes' : 'no'}`).join(',');
    console.log(`result session=${r.session_id} method=${r.identity.method} consents=${consents || '-'}`);
    if (++results >= wanted) sock.end();
  } else if (msg.error) {                                        // refused: revoked, or no role
    console.error(`refused: ${msg.error.message}`);
  }
}

sock.on('data', (chunk) => {
  buffered += chunk.toString('utf8');
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const line = buffered.slice(0, nl);
    buffered = buffered.slice(nl + 1);
    if (line.trim()) onMessage(JSON.parse(line));
  }
});

sock.on('secureConnect', async () => {
  const hello = await call('hello', {});
  console.log(`connected: protocol ${hello.protocol}, role ${hello.role}, ${sock.getProtocol()}`);
  await call('subscribe', { events: ['result'] });
  console.log('subscribed');
});

sock.on('error', (err) => {
  console.error(`cannot use ${address}: ${err.message}`);
  process.exit(2);
});
