// azure-mock against the official Azure SDK for JavaScript (@azure/arm-network, the identity
// library's client-secret flow): long-running operations polled to the end, paged lists followed
// through nextLink, back-references ARM computes, and ARM's errors as the SDK surfaces them.
// The mock runs as a process over TLS; its generated CA is trusted through an https.Agent.

import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import fs from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

import { ClientSecretCredential } from "@azure/identity";
import { NetworkManagementClient } from "@azure/arm-network";
import { ResourceManagementClient } from "@azure/arm-resources";

const SUB = "00000000-0000-0000-0000-0000000000dd";
const RG = "rg-js";
const LOCATION = "westeurope";
const here = path.dirname(fileURLToPath(import.meta.url));
const binary =
  process.env.AZURE_MOCK_BIN ?? path.resolve(here, "../../../../target/debug/azure-mock");

let mock;
let net;
let resources;
// Polls as fast as the mock answers.
const poll = { updateIntervalInMs: 10 };

before(async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "azure-mock-js-"));
  const ca = path.join(dir, "ca.pem");
  // Operations stay InProgress for a while, and lists come two items a page.
  mock = spawn(binary, ["--tls-self-signed", ca, "--operation-ms", "50", "--page-size", "2"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const first = await new Promise((resolve, reject) => {
    mock.once("error", reject);
    readline.createInterface({ input: mock.stdout }).once("line", resolve);
  });
  assert.match(first, /^READY url=/, `azure-mock did not start: ${first}`);
  const url = first.slice("READY url=".length).trim();
  const agent = new https.Agent({ ca: fs.readFileSync(ca) });
  const credential = new ClientSecretCredential("tenant-js", "client-js", "secret-js", {
    authorityHost: url,
    disableInstanceDiscovery: true,
    agent,
  });
  const options = {
    endpoint: url,
    credentialScopes: ["https://management.azure.com/.default"],
    agent,
  };
  net = new NetworkManagementClient(credential, SUB, options);
  resources = new ResourceManagementClient(credential, SUB, options);
  await resources.resourceGroups.createOrUpdate(RG, { location: LOCATION });
});

after(() => mock?.kill());

const id = (kind, name) =>
  `/subscriptions/${SUB}/resourceGroups/${RG}/providers/Microsoft.Network/${kind}/${name}`;

/** Every item of a paged list. */
async function all(pages) {
  const items = [];
  for await (const item of pages) items.push(item);
  return items;
}

/** The error a promise rejects with (failing when it does not). */
async function refusal(promise) {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  assert.fail("the call succeeded");
}

function publicIp(tags = {}) {
  return {
    location: LOCATION,
    sku: { name: "Standard" },
    publicIPAllocationMethod: "Static",
    tags,
  };
}

test("a public IP is created through its long-running operation, then read and listed", async () => {
  const poller = await net.publicIPAddresses.beginCreateOrUpdate(RG, "pip-a", publicIp({ a: "b" }), poll);
  const created = await poller.pollUntilDone();
  assert.equal(created.provisioningState, "Succeeded");
  assert.match(created.ipAddress, /^\d+\.\d+\.\d+\.\d+$/);
  assert.match(created.etag, /^W\/"/);
  const read = await net.publicIPAddresses.get(RG, "pip-a");
  assert.equal(read.ipAddress, created.ipAddress);
  assert.deepEqual(read.tags, { a: "b" });
  // Another name in another spelling of the group: ARM's names ignore case.
  const again = await net.publicIPAddresses.get(RG.toUpperCase(), "PIP-A");
  assert.equal(again.id.toLowerCase(), id("publicIPAddresses", "pip-a").toLowerCase());
});

test("lists follow nextLink to the last page", async () => {
  for (const n of ["pip-l1", "pip-l2", "pip-l3", "pip-l4", "pip-l5"]) {
    await net.publicIPAddresses.beginCreateOrUpdateAndWait(RG, n, publicIp(), poll);
  }
  const inGroup = (await all(net.publicIPAddresses.list(RG))).map((p) => p.name);
  for (const n of ["pip-l1", "pip-l2", "pip-l3", "pip-l4", "pip-l5"]) {
    assert.ok(inGroup.includes(n), `${n} missing from ${inGroup}`);
  }
  const everywhere = await all(net.publicIPAddresses.listAll());
  assert.equal(everywhere.length, inGroup.length);
  assert.equal(new Set(everywhere.map((p) => p.ipAddress)).size, everywhere.length, "addresses are unique");
});

test("a load balancer's children refer to each other, and its public IP knows its frontend", async () => {
  const pip = await net.publicIPAddresses.beginCreateOrUpdateAndWait(RG, "pip-lb", publicIp(), poll);
  const lbId = id("loadBalancers", "lb-a");
  const lb = await net.loadBalancers.beginCreateOrUpdateAndWait(
    RG,
    "lb-a",
    {
      location: LOCATION,
      sku: { name: "Standard" },
      frontendIPConfigurations: [{ name: "fe", publicIPAddress: { id: pip.id } }],
      backendAddressPools: [{ name: "pool" }],
      probes: [{ name: "tcp-80", protocol: "Tcp", port: 80, intervalInSeconds: 5, numberOfProbes: 2 }],
      loadBalancingRules: [
        {
          name: "tcp-80",
          protocol: "Tcp",
          frontendPort: 80,
          backendPort: 8080,
          frontendIPConfiguration: { id: `${lbId}/frontendIPConfigurations/fe` },
          backendAddressPool: { id: `${lbId}/backendAddressPools/pool` },
          probe: { id: `${lbId}/probes/tcp-80` },
        },
      ],
    },
    poll,
  );
  assert.equal(lb.provisioningState, "Succeeded");
  const fe = lb.frontendIPConfigurations[0];
  assert.equal(fe.id, `${lbId}/frontendIPConfigurations/fe`);
  assert.deepEqual(fe.loadBalancingRules.map((r) => r.id), [`${lbId}/loadBalancingRules/tcp-80`]);
  assert.deepEqual(lb.probes[0].loadBalancingRules.map((r) => r.id), [`${lbId}/loadBalancingRules/tcp-80`]);
  assert.equal(lb.loadBalancingRules[0].backendPort, 8080);

  const seen = await net.publicIPAddresses.get(RG, "pip-lb");
  assert.equal(seen.ipConfiguration.id, fe.id);
  const frontends = await all(net.loadBalancerFrontendIPConfigurations.list(RG, "lb-a"));
  assert.deepEqual(frontends.map((f) => f.name), ["fe"]);
  const pools = await all(net.loadBalancerBackendAddressPools.list(RG, "lb-a"));
  assert.deepEqual(pools.map((p) => p.name), ["pool"]);

  // In use: Azure refuses to delete it.
  const inUse = await refusal(net.publicIPAddresses.beginDeleteAndWait(RG, "pip-lb", poll));
  assert.equal(inUse.statusCode, 400);
  assert.equal(inUse.code, "PublicIPAddressCannotBeDeleted");

  // A write with a stale etag is refused, and the load balancer is unchanged.
  const stale = await refusal(
    net.loadBalancers.beginCreateOrUpdateAndWait(RG, "lb-a", { ...lb, probes: [] }, {
      ...poll,
      requestOptions: { customHeaders: { "If-Match": 'W/"stale"' } },
    }),
  );
  assert.equal(stale.statusCode, 412);
  assert.equal((await net.loadBalancers.get(RG, "lb-a")).probes.length, 1);

  await net.loadBalancers.beginDeleteAndWait(RG, "lb-a", poll);
  await net.publicIPAddresses.beginDeleteAndWait(RG, "pip-lb", poll);
  const gone = await refusal(net.loadBalancers.get(RG, "lb-a"));
  assert.equal(gone.statusCode, 404);
  assert.equal(gone.code, "ResourceNotFound");
});

test("NSG rules and routes are written as children and as part of their parent", async () => {
  const nsg = await net.networkSecurityGroups.beginCreateOrUpdateAndWait(
    RG,
    "nsg-a",
    {
      location: LOCATION,
      securityRules: [
        {
          name: "allow-web",
          protocol: "Tcp",
          access: "Allow",
          direction: "Inbound",
          priority: 500,
          sourceAddressPrefix: "Internet",
          sourcePortRange: "*",
          destinationAddressPrefixes: ["20.1.2.3", "20.1.2.4"],
          destinationPortRanges: ["80", "443"],
        },
      ],
    },
    poll,
  );
  assert.deepEqual(nsg.securityRules.map((r) => r.name), ["allow-web"]);
  assert.ok(nsg.defaultSecurityRules.some((r) => r.name === "DenyAllInBound"));
  const ssh = await net.securityRules.beginCreateOrUpdateAndWait(
    RG,
    "nsg-a",
    "deny-ssh",
    {
      protocol: "Tcp",
      access: "Deny",
      direction: "Inbound",
      priority: 600,
      sourceAddressPrefix: "*",
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: "22",
    },
    poll,
  );
  assert.equal(ssh.provisioningState, "Succeeded");
  const rules = (await all(net.securityRules.list(RG, "nsg-a"))).map((r) => r.name).sort();
  assert.deepEqual(rules, ["allow-web", "deny-ssh"]);

  // Two rules of one direction may not share a priority.
  const clash = await refusal(
    net.securityRules.beginCreateOrUpdateAndWait(
      RG,
      "nsg-a",
      "clash",
      { ...ssh, name: undefined, id: undefined, etag: undefined, destinationPortRange: "23" },
      poll,
    ),
  );
  assert.equal(clash.statusCode, 400);
  assert.equal(clash.code, "SecurityRuleConflict");

  await net.routeTables.beginCreateOrUpdateAndWait(
    RG,
    "rt-a",
    {
      location: LOCATION,
      routes: [{ name: "pods-0", addressPrefix: "10.244.0.0/24", nextHopType: "VirtualAppliance", nextHopIpAddress: "10.240.0.4" }],
    },
    poll,
  );
  await net.routes.beginCreateOrUpdateAndWait(
    RG,
    "rt-a",
    "pods-1",
    { addressPrefix: "10.244.1.0/24", nextHopType: "VirtualAppliance", nextHopIpAddress: "10.240.0.5" },
    poll,
  );
  const table = await net.routeTables.get(RG, "rt-a");
  assert.deepEqual(table.routes.map((r) => r.name).sort(), ["pods-0", "pods-1"]);
});

test("usages count what the subscription holds in the region", async () => {
  const usages = await all(net.usages.list(LOCATION));
  const pips = usages.find((u) => u.name.value === "PublicIPAddresses");
  assert.ok(pips, "PublicIPAddresses is among the usages");
  const held = (await all(net.publicIPAddresses.listAll())).length;
  assert.equal(pips.currentValue, held);
  assert.ok(pips.limit >= held);
});
