// Package gosdk checks azure-mock with the official Azure SDK for Go (azidentity, armresources,
// armnetwork), the SDK the Azure cloud provider is built on: the identity flow with a custom
// authority, long-running operations polled as the Go poller polls them, NAT gateways with
// subnet back-references and in-use refusal, Private Link Services, list pagers, and a
// resource group delete polled through Microsoft.Resources.
//
// Run by `make test-go`; AZURE_MOCK_BIN names the mock binary.
package gosdk

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v6"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/resources/armresources"
)

const (
	sub      = "00000000-0000-0000-0000-0000000000cc"
	location = "eastus"
)

// world is a running azure-mock and SDK clients for it.
type world struct {
	rgs *armresources.ResourceGroupsClient
	net *armnetwork.ClientFactory
}

// start runs the mock over TLS and builds clients that trust its CA.
func start(t *testing.T) *world {
	t.Helper()
	bin := os.Getenv("AZURE_MOCK_BIN")
	if bin == "" {
		t.Fatal("AZURE_MOCK_BIN must name the azure-mock binary")
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	// Operations stay InProgress a while, so that every poller really polls.
	cmd := exec.Command(bin, "--tls-self-signed", ca, "--operation-ms", "300")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "READY url=") {
		t.Fatalf("azure-mock did not start: %q %v", line, err)
	}
	url := strings.TrimSpace(strings.TrimPrefix(line, "READY url="))
	pem, err := os.ReadFile(ca)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	httpc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	cfg := cloud.Configuration{
		ActiveDirectoryAuthorityHost: url + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: url, Audience: "https://management.core.windows.net/"},
		},
	}
	cred, err := azidentity.NewClientSecretCredential("tenant-go", "client-go", "secret-go",
		&azidentity.ClientSecretCredentialOptions{
			ClientOptions:            azcore.ClientOptions{Cloud: cfg, Transport: httpc},
			DisableInstanceDiscovery: true,
		})
	if err != nil {
		t.Fatal(err)
	}
	opts := &arm.ClientOptions{ClientOptions: policy.ClientOptions{Cloud: cfg, Transport: httpc}}
	rgs, err := armresources.NewResourceGroupsClient(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	net, err := armnetwork.NewClientFactory(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &world{rgs: rgs, net: net}
}

// poll is how often the pollers ask (the Go SDK's default is 30 s).
var poll = &runtime.PollUntilDoneOptions{Frequency: time.Second}

// done waits for a long-running operation, failing the test on any error.
func done[T any](t *testing.T, p *runtime.Poller[T], err error) T {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	v, err := p.PollUntilDone(context.Background(), poll)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// armCode is the ARM error code of a refused call.
func armCode(t *testing.T, err error) string {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("expected an ARM error, got %v", err)
	}
	return re.ErrorCode
}

// network creates a resource group with a VNet: subnet `nodes` (network policies as
// Azure defaults them) and subnet `pls` (Private Link Service policies disabled).
func (w *world) network(t *testing.T, rg string) armnetwork.VirtualNetwork {
	ctx := context.Background()
	if _, err := w.rgs.CreateOrUpdate(ctx, rg, armresources.ResourceGroup{Location: to.Ptr(location)}, nil); err != nil {
		t.Fatal(err)
	}
	subnet := func(name, prefix string, pls *armnetwork.VirtualNetworkPrivateLinkServiceNetworkPolicies) *armnetwork.Subnet {
		return &armnetwork.Subnet{Name: to.Ptr(name), Properties: &armnetwork.SubnetPropertiesFormat{
			AddressPrefix: to.Ptr(prefix), PrivateLinkServiceNetworkPolicies: pls}}
	}
	disabled := to.Ptr(armnetwork.VirtualNetworkPrivateLinkServiceNetworkPoliciesDisabled)
	p, err := w.net.NewVirtualNetworksClient().BeginCreateOrUpdate(ctx, rg, "vnet", armnetwork.VirtualNetwork{
		Location: to.Ptr(location),
		Properties: &armnetwork.VirtualNetworkPropertiesFormat{
			AddressSpace: &armnetwork.AddressSpace{AddressPrefixes: []*string{to.Ptr("10.0.0.0/16")}},
			Subnets:      []*armnetwork.Subnet{subnet("nodes", "10.0.0.0/24", nil), subnet("pls", "10.0.1.0/24", disabled)},
		},
	}, nil)
	return done(t, p, err).VirtualNetwork
}

func TestNatGatewayOnASubnet(t *testing.T) {
	w, ctx, rg := start(t), context.Background(), "rg-go-nat"
	w.network(t, rg)
	p, err := w.net.NewPublicIPAddressesClient().BeginCreateOrUpdate(ctx, rg, "nat-ip", armnetwork.PublicIPAddress{
		Location:   to.Ptr(location),
		SKU:        &armnetwork.PublicIPAddressSKU{Name: to.Ptr(armnetwork.PublicIPAddressSKUNameStandard)},
		Properties: &armnetwork.PublicIPAddressPropertiesFormat{PublicIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodStatic)},
	}, nil)
	pip := done(t, p, err)
	if pip.Properties.IPAddress == nil {
		t.Fatal("the public IP has no address")
	}
	nats := w.net.NewNatGatewaysClient()
	pn, err := nats.BeginCreateOrUpdate(ctx, rg, "nat", armnetwork.NatGateway{
		Location: to.Ptr(location),
		SKU:      &armnetwork.NatGatewaySKU{Name: to.Ptr(armnetwork.NatGatewaySKUNameStandard)},
		Properties: &armnetwork.NatGatewayPropertiesFormat{
			IdleTimeoutInMinutes: to.Ptr[int32](10),
			PublicIPAddresses:    []*armnetwork.SubResource{{ID: pip.ID}},
		},
	}, nil)
	nat := done(t, pn, err)
	if *nat.Properties.IdleTimeoutInMinutes != 10 || *nat.Properties.ProvisioningState != armnetwork.ProvisioningStateSucceeded {
		t.Fatalf("gateway as created: %+v", nat.Properties)
	}

	subnets := w.net.NewSubnetsClient()
	sn, err := subnets.Get(ctx, rg, "vnet", "nodes", nil)
	if err != nil {
		t.Fatal(err)
	}
	sn.Properties.NatGateway = &armnetwork.SubResource{ID: nat.ID}
	ps, err := subnets.BeginCreateOrUpdate(ctx, rg, "vnet", "nodes", sn.Subnet, nil)
	if got := done(t, ps, err); !strings.EqualFold(*got.Properties.NatGateway.ID, *nat.ID) {
		t.Fatalf("subnet's gateway: %s", *got.Properties.NatGateway.ID)
	}
	back, err := nats.Get(ctx, rg, "nat", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Properties.Subnets) != 1 || !strings.EqualFold(*back.Properties.Subnets[0].ID, *sn.ID) {
		t.Fatalf("gateway's subnets: %+v", back.Properties.Subnets)
	}
	ip, err := w.net.NewPublicIPAddressesClient().Get(ctx, rg, "nat-ip", nil)
	if err != nil || ip.Properties.NatGateway == nil || !strings.EqualFold(*ip.Properties.NatGateway.ID, *nat.ID) {
		t.Fatalf("public IP's gateway: %+v %v", ip.Properties, err)
	}

	// In use by a subnet: Azure refuses the delete.
	_, err = nats.BeginDelete(ctx, rg, "nat", nil)
	if err == nil {
		t.Fatal("an in-use NAT gateway was deleted")
	}
	if code := armCode(t, err); code != "InUseNatGatewayCannotBeDeleted" {
		t.Fatalf("code %s", code)
	}
	pager := nats.NewListAllPager(nil)
	count := 0
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		count += len(page.Value)
	}
	if count != 1 {
		t.Fatalf("listed %d gateways", count)
	}
}

func TestPrivateLinkServiceAndGroupDelete(t *testing.T) {
	w, ctx, rg := start(t), context.Background(), "rg-go-pls"
	vnet := w.network(t, rg)
	var nodes, plsSubnet *armnetwork.Subnet
	for _, s := range vnet.Properties.Subnets {
		switch *s.Name {
		case "nodes":
			nodes = s
		case "pls":
			plsSubnet = s
		}
	}
	pl, err := w.net.NewLoadBalancersClient().BeginCreateOrUpdate(ctx, rg, "ilb", armnetwork.LoadBalancer{
		Location: to.Ptr(location),
		SKU:      &armnetwork.LoadBalancerSKU{Name: to.Ptr(armnetwork.LoadBalancerSKUNameStandard)},
		Properties: &armnetwork.LoadBalancerPropertiesFormat{FrontendIPConfigurations: []*armnetwork.FrontendIPConfiguration{{
			Name:       to.Ptr("fe"),
			Properties: &armnetwork.FrontendIPConfigurationPropertiesFormat{Subnet: &armnetwork.Subnet{ID: nodes.ID}},
		}}},
	}, nil)
	frontend := done(t, pl, err).Properties.FrontendIPConfigurations[0]
	service := func(subnet *armnetwork.Subnet) armnetwork.PrivateLinkService {
		return armnetwork.PrivateLinkService{
			Location: to.Ptr(location),
			Properties: &armnetwork.PrivateLinkServiceProperties{
				LoadBalancerFrontendIPConfigurations: []*armnetwork.FrontendIPConfiguration{{ID: frontend.ID}},
				IPConfigurations: []*armnetwork.PrivateLinkServiceIPConfiguration{{
					Name: to.Ptr("cfg"),
					Properties: &armnetwork.PrivateLinkServiceIPConfigurationProperties{
						Subnet: &armnetwork.Subnet{ID: subnet.ID}, Primary: to.Ptr(true),
						PrivateIPAllocationMethod: to.Ptr(armnetwork.IPAllocationMethodDynamic),
					},
				}},
				Visibility:          &armnetwork.PrivateLinkServicePropertiesVisibility{Subscriptions: []*string{to.Ptr(sub)}},
				AutoApproval:        &armnetwork.PrivateLinkServicePropertiesAutoApproval{Subscriptions: []*string{to.Ptr(sub)}},
				Fqdns:               []*string{to.Ptr("web.example.com")},
				EnableProxyProtocol: to.Ptr(true),
			},
		}
	}
	plss := w.net.NewPrivateLinkServicesClient()
	pp, err := plss.BeginCreateOrUpdate(ctx, rg, "web", service(plsSubnet), nil)
	pls := done(t, pp, err)
	props := pls.Properties
	if !strings.HasPrefix(*props.Alias, "web.") || !strings.HasSuffix(*props.Alias, ".eastus.azure.privatelinkservice") {
		t.Fatalf("alias %s", *props.Alias)
	}
	if got := *props.IPConfigurations[0].Properties.PrivateIPAddress; !strings.HasPrefix(got, "10.0.1.") {
		t.Fatalf("address %s outside the pls subnet", got)
	}
	if !*props.EnableProxyProtocol || *props.Fqdns[0] != "web.example.com" || *props.Visibility.Subscriptions[0] != sub {
		t.Fatalf("settings not kept: %+v", props)
	}

	// A subnet with Private Link Service network policies enabled (Azure's default) is refused.
	_, err = plss.BeginCreateOrUpdate(ctx, rg, "refused", service(nodes), nil)
	if err == nil {
		t.Fatal("a Private Link Service was put in a subnet with network policies enabled")
	}
	if code := armCode(t, err); code != "PrivateLinkServiceCannotBeCreatedInSubnetThatHasNetworkPoliciesEnabled" {
		t.Fatalf("code %s", code)
	}

	// The group's delete is polled through Microsoft.Resources' operation, and takes all.
	pd, err := w.rgs.BeginDelete(ctx, rg, nil)
	done(t, pd, err)
	if _, err := w.rgs.Get(ctx, rg, nil); err == nil || armCode(t, err) != "ResourceGroupNotFound" {
		t.Fatalf("the group is still there: %v", err)
	}
	if _, err := plss.Get(ctx, rg, "web", nil); err == nil {
		t.Fatal("the Private Link Service outlived its group")
	}
}
