#!/usr/bin/env node
// A minimal reception client for the mynareader socket, with no dependencies.
// Usage: node reception-client.js /run/mynareader/reception.sock [count]
// Prints one line per result: the session, how identity was confirmed, and the consents.
'use strict';
const net = require('net');

const path = process.argv[2] || '/run/mynareader/reception.sock';
const wanted = Number(process.argv[3] || Infinity);
let nextId = 1;
let buffered = '';
let results = 0;
const pending = new Map();

const sock = net.createConnection(path);

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

sock.on('connect', async () => {
  const hello = await call('hello', {});
  console.log(`connected: protocol ${hello.protocol}, role ${hello.role}`);
  await call('subscribe', { events: ['result'] });
  console.log('subscribed');
});

sock.on('error', (err) => {
  console.error(`cannot use ${path}: ${err.message}`);
  process.exit(2);
});
