// sdk.test.js: real Unleash SDKs against `sluice serve` (run by tests/e2e/server_flags.sh).
//
//   node sdk.test.js URL API_TOKEN PROJECT_ID SPEC_DIR
//
// 1. Every file of the Unleash client specification is imported into its own environment
//    (PUT .../feature_flags/environments/spec-NN/state), a client token is made for it and
//    the Node SDK `unleash-client` answers every isEnabled and getVariant case.
// 2. Every case again through the frontend API (POST /api/frontend with the case's exact
//    context), compared with what the specification expects.
// 3. The browser SDK `unleash-proxy-client` against /api/frontend.
// Prints `ok - ...` / `not ok - ...` lines and `N passed, M failed`; exits 1 on a failure.
'use strict';
const fs = require('fs');
const path = require('path');
const { Unleash, InMemStorageProvider } = require('unleash-client');
const { UnleashClient } = require('unleash-proxy-client');

const [url, apiToken, projectId, specDir] = process.argv.slice(2);
let pass = 0;
let fail = 0;
const ok = (name) => {
  pass++;
  console.log(`ok - ${name}`);
};
const bad = (name, detail) => {
  fail++;
  console.log(`not ok - ${name}`);
  if (detail) console.log(`#   ${String(detail).split('\n').join('\n#   ')}`);
};

async function api(method, p, body, token = `Bearer ${apiToken}`) {
  const res = await fetch(url + p, {
    method,
    headers: { Authorization: token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch (e) {
    json = null;
  }
  return { status: res.status, json, text };
}

async function token(type, environment) {
  const r = await api('POST', `/api/v1/projects/${projectId}/feature_flags/tokens`, {
    type,
    environment,
    allowed_origins: ['*'],
  });
  if (r.status !== 201) throw new Error(`token: ${r.status} ${r.text}`);
  return r.json.token;
}

// The variant as the specification states it, on the fields it states.
function sameVariant(want, got) {
  if (want.name !== got.name || want.enabled !== got.enabled) return false;
  if ('feature_enabled' in want && want.feature_enabled !== got.feature_enabled) return false;
  const wp = want.payload;
  const gp = got.payload;
  if (!wp) return !gp;
  return !!gp && wp.type === gp.type && wp.value === gp.value;
}

function startClient(environment, clientToken) {
  const client = new Unleash({
    appName: 'sluice-sdk-test',
    url: `${url}/api/`,
    customHeaders: { Authorization: clientToken },
    refreshInterval: 60000,
    disableMetrics: true,
    storageProvider: new InMemStorageProvider(),
  });
  client.on('error', () => {});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${environment}: no sync in 20 s`)), 20000);
    client.once('synchronized', () => {
      clearTimeout(timer);
      resolve(client);
    });
  });
}

async function specThroughSdks(files) {
  let nEnabled = 0;
  let nVariant = 0;
  let nFrontend = 0;
  for (const file of files) {
    const spec = JSON.parse(fs.readFileSync(path.join(specDir, file), 'utf8'));
    const env = `spec-${file.slice(0, 2)}`;
    const imp = await api('PUT', `/api/v1/projects/${projectId}/feature_flags/environments/${env}/state`, spec.state);
    if (imp.status !== 200) {
      bad(`${file}: the state is imported`, `${imp.status} ${imp.text}`);
      continue;
    }
    const client = await startClient(env, await token('client', env));
    const front = await token('frontend', env);
    const failures = [];
    const frontFailures = [];
    for (const t of spec.tests || []) {
      nEnabled++;
      const got = client.isEnabled(t.toggleName, t.context);
      if (got !== t.expectedResult) failures.push(`${t.description}: got ${got}`);
    }
    for (const t of spec.variantTests || []) {
      nVariant++;
      const got = client.getVariant(t.toggleName, t.context);
      if (!sameVariant(t.expectedResult, got))
        failures.push(`${t.description}: got ${JSON.stringify(got)}`);
    }
    // the frontend API evaluates here, for exactly the case's context
    for (const t of [...(spec.tests || []), ...(spec.variantTests || [])]) {
      nFrontend++;
      const r = await api('POST', '/api/frontend', { context: t.context }, front);
      const toggle = r.status === 200 && r.json.toggles.find((x) => x.name === t.toggleName);
      if (typeof t.expectedResult === 'boolean') {
        if (!!toggle !== t.expectedResult) frontFailures.push(`${t.description}: got ${!!toggle}`);
      } else {
        const v = toggle ? toggle.variant : { name: 'disabled', enabled: false, feature_enabled: false };
        if (!sameVariant(t.expectedResult, v))
          frontFailures.push(`${t.description}: got ${JSON.stringify(v)}`);
      }
    }
    client.destroy();
    if (failures.length === 0) ok(`${file}: unleash-client answers every case`);
    else bad(`${file}: unleash-client answers every case`, failures.join('\n'));
    if (frontFailures.length === 0) ok(`${file}: the frontend API answers every case`);
    else bad(`${file}: the frontend API answers every case`, frontFailures.join('\n'));
  }
  console.log(`# ${nEnabled} isEnabled and ${nVariant} getVariant cases through unleash-client, ${nFrontend} through /api/frontend`);
  if (nEnabled === 227 && nVariant === 52) ok('all 227 + 52 cases of the specification ran');
  else bad('all 227 + 52 cases of the specification ran', `${nEnabled} + ${nVariant}`);
}

// A second poll carries If-None-Match and gets 304 (the shell script reads the access log).
async function pollTwice() {
  const env = 'spec-01';
  const client = new Unleash({
    appName: 'sluice-etag-test',
    url: `${url}/api/`,
    customHeaders: { Authorization: await token('client', env) },
    refreshInterval: 200,
    metricsInterval: 200,
    storageProvider: new InMemStorageProvider(),
  });
  client.on('error', () => {});
  let polls = 0;
  await new Promise((resolve) => {
    client.on('unchanged', () => {
      polls++;
      resolve();
    });
    setTimeout(resolve, 20000);
  });
  if (polls > 0) ok('unleash-client: a later poll is answered "unchanged" (304)');
  else bad('unleash-client: a later poll is answered "unchanged" (304)');
  for (let i = 0; i < 5; i++) client.isEnabled('Feature.A');
  client.getVariant('Feature.A');
  await client.destroyWithFlush();
}

async function browserSdk() {
  const env = 'spec-08';
  const clientKey = await token('frontend', env);
  const sdk = new UnleashClient({
    url: `${url}/api/frontend`,
    clientKey,
    appName: 'sluice-browser-test',
    refreshInterval: 0,
    metricsInterval: 1,
    context: { userId: '123' },
  });
  const ready = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('unleash-proxy-client: not ready in 20 s')), 20000);
    sdk.on('ready', () => {
      clearTimeout(timer);
      resolve();
    });
    sdk.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(JSON.stringify(e)));
    });
  });
  await sdk.start();
  await ready;
  // what the SDK holds is what the frontend API answers for the context it sent
  const direct = await api('POST', '/api/frontend', { context: sdk.getContext() }, clientKey);
  const names = direct.json.toggles.map((t) => t.name).sort();
  const held = sdk.getAllToggles().map((t) => t.name).sort();
  if (JSON.stringify(names) === JSON.stringify(held) && held.length > 0)
    ok(`unleash-proxy-client holds the enabled flags (${held.length})`);
  else bad('unleash-proxy-client holds the enabled flags', `${held} vs ${names}`);
  let same = true;
  for (const t of direct.json.toggles) {
    const v = sdk.getVariant(t.name);
    same = same && sdk.isEnabled(t.name) && v.name === t.variant.name;
  }
  if (same) ok('unleash-proxy-client: isEnabled and getVariant as the frontend API says');
  else bad('unleash-proxy-client: isEnabled and getVariant as the frontend API says');
  if (!sdk.isEnabled('no-such-flag')) ok('unleash-proxy-client: an unknown flag is off');
  else bad('unleash-proxy-client: an unknown flag is off');
  await sdk.sendMetrics();
  sdk.stop();
}

(async () => {
  const files = fs
    .readdirSync(specDir)
    .filter((f) => /^\d\d-.*\.json$/.test(f))
    .sort();
  try {
    await specThroughSdks(files);
    await pollTwice();
    await browserSdk();
  } catch (e) {
    bad('the SDK tests ran to the end', e.stack || e);
  }
  console.log(`${pass} passed, ${fail} failed`);
  process.exit(fail ? 1 : 0);
})();
