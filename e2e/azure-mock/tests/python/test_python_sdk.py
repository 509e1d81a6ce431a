"""Conformance with the official Python SDKs (azure-mgmt-network, azure-mgmt-resource,
azure-identity) over TLS: pollers complete and errors carry ARM's codes.

azure-mgmt-network 33 models are REST-shaped (a nested `properties` object with ARM's names),
so request bodies here are written as ARM JSON."""

import ipaddress
import json
import urllib.error
import urllib.request

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError

from conftest import RG, SUB, start


def pip(sku="Standard"):
    return {"location": "westeurope", "sku": {"name": sku}, "properties": {"publicIPAllocationMethod": "Static"}}


def test_resource_group_and_public_ip_lifecycle(mock):
    rg = mock.resources.resource_groups.get(RG)
    assert rg.location == "westeurope"
    created = mock.network.public_ip_addresses.begin_create_or_update(RG, "pip-1", pip()).result()
    assert ipaddress.ip_address(created.properties.ip_address) in ipaddress.ip_network("203.0.113.0/24")
    assert created.properties.provisioning_state == "Succeeded"
    assert [p.name for p in mock.network.public_ip_addresses.list(RG)] == ["pip-1"]
    assert [p.name for p in mock.network.public_ip_addresses.list_all()] == ["pip-1"]
    tagged = mock.network.public_ip_addresses.update_tags(RG, "pip-1", {"tags": {"team": "net"}})
    assert tagged.tags == {"team": "net"}
    with pytest.raises(HttpResponseError) as err:
        mock.network.public_ip_addresses.update_tags(RG, "pip-1", {"tags": {"k8s.io/role": "x"}})
    assert err.value.error.code == "InvalidTagNameCharacters"
    # Generic resource calls by id: HEAD (CheckExistence) and GET.
    generic = mock.resources.resources
    assert generic.check_existence_by_id(created.id, api_version="2024-05-01")
    assert generic.get_by_id(created.id, api_version="2024-05-01").tags == {"team": "net"}
    mock.network.public_ip_addresses.begin_delete(RG, "pip-1").result()
    assert not generic.check_existence_by_id(created.id, api_version="2024-05-01")
    with pytest.raises(ResourceNotFoundError) as err:
        mock.network.public_ip_addresses.get(RG, "pip-1")
    assert err.value.error.code == "ResourceNotFound"


def test_load_balancer_in_use_public_ip_and_sku_mismatch(mock):
    net = mock.network
    net.public_ip_addresses.begin_create_or_update(RG, "web", pip()).result()
    lb_id = mock.id("loadBalancers", "kubernetes")
    lb = net.load_balancers.begin_create_or_update(RG, "kubernetes", {
        "location": "westeurope",
        "sku": {"name": "Standard"},
        "properties": {
            "frontendIPConfigurations": [{"name": "web", "properties": {"publicIPAddress": {"id": mock.id("publicIPAddresses", "web")}}}],
            "backendAddressPools": [{"name": "pool"}],
            "probes": [{"name": "p80", "properties": {"protocol": "Tcp", "port": 30080}}],
            "loadBalancingRules": [{"name": "r80", "properties": {
                "protocol": "Tcp", "frontendPort": 80, "backendPort": 80,
                "frontendIPConfiguration": {"id": f"{lb_id}/frontendIPConfigurations/web"},
                "backendAddressPool": {"id": f"{lb_id}/backendAddressPools/pool"},
                "probe": {"id": f"{lb_id}/probes/p80"},
            }}],
        },
    }).result()
    fe = lb.properties.frontend_ip_configurations[0]
    assert [r.id for r in fe.properties.load_balancing_rules] == [f"{lb_id}/loadBalancingRules/r80"]
    assert net.public_ip_addresses.get(RG, "web").properties.ip_configuration.id == fe.id
    with pytest.raises(HttpResponseError) as err:
        net.public_ip_addresses.begin_delete(RG, "web").result()
    assert err.value.error.code == "PublicIPAddressCannotBeDeleted"

    net.public_ip_addresses.begin_create_or_update(RG, "basic", {"location": "westeurope"}).result()
    with pytest.raises(HttpResponseError) as err:
        net.load_balancers.begin_create_or_update(RG, "other", {
            "location": "westeurope", "sku": {"name": "Standard"},
            "properties": {"frontendIPConfigurations": [
                {"name": "fe", "properties": {"publicIPAddress": {"id": mock.id("publicIPAddresses", "basic")}}}]},
        }).result()
    assert err.value.error.code == "PublicIPAndLBSkuDoNotMatch"


def test_security_rule_conflict_and_replace(mock):
    net = mock.network
    net.network_security_groups.begin_create_or_update(RG, "nsg", {"location": "westeurope"}).result()
    rule = {"priority": 500, "direction": "Inbound", "access": "Allow", "protocol": "Tcp",
            "sourceAddressPrefix": "Internet", "sourcePortRange": "*",
            "destinationAddressPrefix": "*", "destinationPortRange": "80"}
    net.security_rules.begin_create_or_update(RG, "nsg", "a", {"properties": rule}).result()
    with pytest.raises(HttpResponseError) as err:
        net.security_rules.begin_create_or_update(
            RG, "nsg", "b", {"properties": {**rule, "destinationPortRange": "443"}}).result()
    assert err.value.error.code == "SecurityRuleConflict"
    assert [r.name for r in net.security_rules.list(RG, "nsg")] == ["a"]
    assert len(net.network_security_groups.get(RG, "nsg").properties.default_security_rules) == 6
    net.network_security_groups.begin_create_or_update(RG, "nsg", {"location": "westeurope"}).result()
    assert list(net.security_rules.list(RG, "nsg")) == []


def test_pollers_wait_for_long_running_operations():
    mock = start("--operation-ms", "1500")
    try:
        poller = mock.network.route_tables.begin_create_or_update(RG, "rt", {"location": "westeurope"})
        assert mock.network.route_tables.get(RG, "rt").properties.provisioning_state == "Updating"
        assert poller.result().properties.provisioning_state == "Succeeded"
        mock.network.route_tables.begin_delete(RG, "rt").result()
        with pytest.raises(ResourceNotFoundError):
            mock.network.route_tables.get(RG, "rt")
        mock.admin("PUT", "/faults", {"failNextOperations": 1})
        with pytest.raises(HttpResponseError):
            mock.network.route_tables.begin_create_or_update(RG, "doomed", {"location": "westeurope"}).result()
    finally:
        mock.stop()


def test_route_limit_and_throttling_then_success():
    mock = start("--routes-per-table", "2")
    try:
        net = mock.network
        net.route_tables.begin_create_or_update(RG, "rt", {"location": "westeurope"}).result()
        route = lambda i: {"properties": {"addressPrefix": f"10.244.{i}.0/24", "nextHopType": "VnetLocal"}}
        for i in range(2):
            net.routes.begin_create_or_update(RG, "rt", f"r{i}", route(i)).result()
        with pytest.raises(HttpResponseError) as err:
            net.routes.begin_create_or_update(RG, "rt", "r2", route(2)).result()
        assert err.value.error.code == "RouteTableRouteLimitReached"

        mock.admin("PUT", "/faults", {"throttleNext": 2, "retryAfterSeconds": 1})
        assert net.route_tables.get(RG, "rt").name == "rt"
        journal = mock.admin("GET", "/journal")
        assert sum(1 for e in journal["entries"] if e["status"] == 429) == 2
    finally:
        mock.stop()


def test_public_ip_pool_quota_and_usages():
    mock = start("--public-ip-pool", "198.18.4.0/30", "--public-ips-per-subscription", "2")
    try:
        net = mock.network
        made = [net.public_ip_addresses.begin_create_or_update(RG, f"p{i}", pip()).result() for i in range(2)]
        assert [p.properties.ip_address for p in made] == ["198.18.4.1", "198.18.4.2"]
        with pytest.raises(HttpResponseError) as err:
            net.public_ip_addresses.begin_create_or_update(RG, "p2", pip()).result()
        assert err.value.error.code == "PublicIPCountLimitReached"
        usages = {u.name.value: (u.current_value, u.limit) for u in net.usages.list("westeurope")}
        assert usages["PublicIPAddresses"] == (2, 2)
        assert usages["StandardSkuPublicIpAddresses"] == (2, 2)
        assert usages["LoadBalancers"][0] == 0
    finally:
        mock.stop()


def test_resource_group_delete_is_polled_as_microsoft_resources_answers():
    mock = start("--operation-ms", "300")
    try:
        mock.network.public_ip_addresses.begin_create_or_update(RG, "gone-with-rg", pip()).result()
        poller = mock.resources.resource_groups.begin_delete(RG, polling_interval=0)
        poller.result()
        assert poller.status().lower() == "succeeded"
        # It was polled under Microsoft.Resources, with the Microsoft.Resources api-version.
        polls = [
            e for e in mock.admin("GET", "/journal")["entries"]
            if e["method"] == "GET" and "/operationresults/" in e["path"].lower()
        ]
        assert polls, "the delete was never polled"
        assert all(e["path"].startswith(f"/subscriptions/{SUB}/operationresults/") for e in polls)
        assert polls[-1]["status"] in (200, 204)
        assert polls[-1]["apiVersion"] == polls[0]["apiVersion"] is not None
        assert not mock.resources.resource_groups.check_existence(RG)
        with pytest.raises(HttpResponseError) as err:
            mock.network.public_ip_addresses.get(RG, "gone-with-rg")
        assert err.value.error.code == "ResourceGroupNotFound"
    finally:
        mock.stop()


def test_discovery_calls_clients_make_first(mock):
    # The cloud's endpoints, all of them the mock: what `az cloud register --endpoint-resource-manager` reads.
    import ssl

    ctx = ssl.create_default_context(cafile=mock.ca)
    with urllib.request.urlopen(f"{mock.url}/metadata/endpoints?api-version=2022-09-01", context=ctx) as r:
        clouds = json.loads(r.read())
    assert clouds[0]["resourceManager"] == f"{mock.url}/"
    assert clouds[0]["authentication"]["loginEndpoint"] == f"{mock.url}/"
    assert "https://management.azure.com/" in clouds[0]["authentication"]["audiences"]
    with urllib.request.urlopen(f"{mock.url}/metadata/endpoints?api-version=1.0", context=ctx) as r:
        legacy = json.loads(r.read())
    assert legacy["authentication"]["loginEndpoint"] == f"{mock.url}/"

    # Resource provider reads, as the SDK models them.
    network = mock.resources.providers.get("microsoft.network")
    assert network.namespace == "Microsoft.Network"
    assert network.registration_state == "Registered"
    types = {t.resource_type: t for t in network.resource_types}
    assert "2024-03-01" in types["loadBalancers"].api_versions
    assert "West Europe" in types["publicIPAddresses"].locations
    zones = {m.location: m.zones for m in types["publicIPAddresses"].zone_mappings}
    assert zones["West Europe"] == ["1", "2", "3"]
    assert "Microsoft.Network" in [p.namespace for p in mock.resources.providers.list()]
    with pytest.raises(HttpResponseError) as err:
        mock.resources.providers.get("Microsoft.Nope")
    assert err.value.status_code == 404
    assert err.value.error.code == "InvalidResourceNamespace"


def test_compute_reads_what_was_seeded(mock):
    base = f"/subscriptions/{SUB}/resourceGroups/{RG}/providers/Microsoft.Compute"
    nic = mock.id("networkInterfaces", "vm-0-nic")
    assert list(mock.compute.virtual_machines.list(RG)) == []
    mock.admin("PUT", f"/resources{base}/virtualMachines/vm-0", {
        "location": "westeurope",
        "properties": {"vmId": "0", "networkProfile": {"networkInterfaces": [{"id": nic}]}},
    })
    mock.admin("PUT", f"/resources{base}/virtualMachineScaleSets/pool", {"location": "westeurope", "sku": {"name": "Standard_D2s_v5", "capacity": 2}})
    for i in range(2):
        mock.admin("PUT", f"/resources{base}/virtualMachineScaleSets/pool/virtualMachines/{i}", {"location": "westeurope", "instanceId": str(i)})
    mock.admin("PUT", f"/resources{base}/availabilitySets/as", {"location": "westeurope"})

    vm = mock.compute.virtual_machines.get(RG, "vm-0")
    assert vm.name == "vm-0" and vm.type == "Microsoft.Compute/virtualMachines"
    assert vm.network_profile.network_interfaces[0].id == nic
    assert [v.name for v in mock.compute.virtual_machines.list_all()] == ["vm-0"]
    assert [s.name for s in mock.compute.virtual_machine_scale_sets.list(RG)] == ["pool"]
    assert sorted(v.instance_id for v in mock.compute.virtual_machine_scale_set_vms.list(RG, "pool")) == ["0", "1"]
    assert mock.compute.virtual_machine_scale_set_vms.get(RG, "pool", "1").name == "1"
    assert [a.name for a in mock.compute.availability_sets.list(RG)] == ["as"]
    with pytest.raises(HttpResponseError) as err:
        mock.compute.virtual_machines.get(RG, "missing")
    assert err.value.error.code == "ResourceNotFound"
    # Seeding names what it refuses: a compute type the mock does not serve.
    with pytest.raises(urllib.error.HTTPError) as bad:
        mock.admin("PUT", f"/resources{base}/disks/d0", {"location": "westeurope"})
    assert bad.value.code == 400
    assert "names no virtual machine" in json.loads(bad.value.read())["error"]["message"]


def test_generic_resource_lists_filter_and_page():
    mock = start("--page-size", "2")
    try:
        net = mock.network
        for name, team in [("web-1", "web"), ("web-2", "web"), ("db-1", "db")]:
            net.public_ip_addresses.begin_create_or_update(RG, name, {**pip(), "tags": {"team": team}}).result()
        net.route_tables.begin_create_or_update(RG, "rt", {"location": "westeurope"}).result()
        generic = mock.resources.resources
        everything = list(generic.list_by_resource_group(RG))
        assert sorted(r.name for r in everything) == ["db-1", "rt", "web-1", "web-2"]
        assert {r.type for r in everything} == {"Microsoft.Network/publicIPAddresses", "Microsoft.Network/routeTables"}
        assert next(r for r in everything if r.name == "web-1").tags == {"team": "web"}
        # The filter holds on every page (page size 2).
        pips = list(generic.list(filter="resourceType eq 'Microsoft.Network/publicIPAddresses'"))
        assert sorted(r.name for r in pips) == ["db-1", "web-1", "web-2"]
        web = list(generic.list_by_resource_group(RG, filter="tagName eq 'team' and tagValue eq 'web'"))
        assert sorted(r.name for r in web) == ["web-1", "web-2"]
        assert all(r.tags is None for r in web), "ARM leaves tags out of a tag-filtered list"
        named = list(generic.list(filter="substringof('web', name) and resourceType eq 'Microsoft.Network/publicIPAddresses'"))
        assert sorted(r.name for r in named) == ["web-1", "web-2"]
        assert len(list(generic.list(top=3))) == 3
        with pytest.raises(HttpResponseError) as err:
            list(generic.list(filter="sku eq 'Standard'"))
        assert err.value.error.code == "InvalidFilterInQueryString"
        with pytest.raises(HttpResponseError) as err:
            list(generic.list_by_resource_group("no-such-group"))
        assert err.value.error.code == "ResourceGroupNotFound"
    finally:
        mock.stop()
