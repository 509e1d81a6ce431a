// Command testenv runs a real kube-apiserver (from the k8s.io/kubernetes module) on top of an
// embedded etcd, in one process on 127.0.0.1, for aksnet's end-to-end tests.
//
// It generates its own CA, serving certificate, admin client certificate (O=system:masters)
// and service-account key in a temporary directory, picks free ports, waits until /readyz
// answers and the default namespace exists, writes an admin kubeconfig to --kubeconfig
// (atomically) and prints one line starting with "READY". It stops on SIGTERM/SIGINT, or
// when its standard input closes (--exit-on-stdin-eof), removing its temporary state.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

type options struct {
	kubeconfig      string
	serviceCIDR     string
	nodePortRange   string
	exitOnStdinEOF  bool
	startupTimeout  time.Duration
	shutdownTimeout time.Duration
	verbosity       int
}

func main() {
	var o options
	flag.StringVar(&o.kubeconfig, "kubeconfig", "", "path to write the admin kubeconfig to (required)")
	flag.StringVar(&o.serviceCIDR, "service-cidr", "10.0.0.0/16", "service cluster IP range")
	flag.StringVar(&o.nodePortRange, "node-port-range", "30000-32767", "NodePort range")
	flag.BoolVar(&o.exitOnStdinEOF, "exit-on-stdin-eof", false, "shut down when standard input closes (so a crashed parent leaves no orphan)")
	flag.DurationVar(&o.startupTimeout, "startup-timeout", 120*time.Second, "how long to wait for the API server to become ready")
	flag.DurationVar(&o.shutdownTimeout, "shutdown-timeout", 15*time.Second, "how long to wait for a graceful API server stop")
	flag.IntVar(&o.verbosity, "v", 0, "kube-apiserver log verbosity")
	flag.Parse()
	if o.kubeconfig == "" {
		fmt.Fprintln(os.Stderr, "testenv: --kubeconfig is required")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "testenv: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) error {
	started := time.Now()
	dir, err := os.MkdirTemp("", "aksnet-testenv-")
	if err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	defer os.RemoveAll(dir)

	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdClientPort, etcdPeerPort, apiPort := ports[0], ports[1], ports[2]

	pki, err := writePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return err
	}

	etcd, err := startEtcd(filepath.Join(dir, "etcd"), etcdClientPort, etcdPeerPort)
	if err != nil {
		return err
	}
	defer etcd.Close()

	// kube-apiserver installs its own SIGTERM/SIGINT handler (genericapiserver.SetupSignalContext,
	// which may only be called once per process); we listen for the same signals to learn that
	// it is stopping. On stdin EOF we signal ourselves so both paths shut down the same way.
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	if o.exitOnStdinEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			_ = syscall.Kill(os.Getpid(), syscall.SIGTERM)
		}()
	}

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(apiserverArgs(o, dir, pki, etcdClientPort, apiPort))
	apiDone := make(chan error, 1)
	go func() { apiDone <- cmd.Execute() }()

	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	client, err := pki.adminHTTPClient()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.startupTimeout)
	defer cancel()
	if err := waitReady(ctx, client, server, apiDone); err != nil {
		return err
	}
	if err := writeKubeconfig(o.kubeconfig, server, pki); err != nil {
		return err
	}
	fmt.Printf("READY kubeconfig=%s server=%s state=%s startup=%s\n", o.kubeconfig, server, dir, time.Since(started).Round(time.Millisecond))

	select {
	case sig := <-signals:
		fmt.Fprintf(os.Stderr, "testenv: %s received, stopping\n", sig)
		select {
		case <-apiDone:
		case <-time.After(o.shutdownTimeout):
			fmt.Fprintln(os.Stderr, "testenv: API server did not stop in time; stopping anyway")
		}
		return nil
	case err := <-apiDone:
		return fmt.Errorf("kube-apiserver exited: %v", err)
	}
}

// freePorts reserves n distinct free loopback ports by binding to port 0 together.
func freePorts(n int) ([]int, error) {
	listeners := make([]net.Listener, 0, n)
	defer func() {
		for _, l := range listeners {
			_ = l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserve a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func startEtcd(dir string, clientPort, peerPort int) (*embed.Etcd, error) {
	cfg := embed.NewConfig()
	cfg.Name = "testenv"
	cfg.Dir = dir
	cfg.LogLevel = "error"
	cfg.UnsafeNoFsync = true
	clientURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(clientPort)}
	peerURL := url.URL{Scheme: "http", Host: "127.0.0.1:" + strconv.Itoa(peerPort)}
	cfg.ListenClientUrls = []url.URL{clientURL}
	cfg.AdvertiseClientUrls = []url.URL{clientURL}
	cfg.ListenPeerUrls = []url.URL{peerURL}
	cfg.AdvertisePeerUrls = []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("start embedded etcd: %w", err)
	}
	select {
	case <-e.Server.ReadyNotify():
		return e, nil
	case <-time.After(60 * time.Second):
		e.Close()
		return nil, errors.New("embedded etcd was not ready within 60s")
	}
}

func apiserverArgs(o options, dir string, pki *pki, etcdPort, apiPort int) []string {
	return []string{
		"--etcd-servers=http://127.0.0.1:" + strconv.Itoa(etcdPort),
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(apiPort),
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--client-ca-file=" + pki.caCert,
		"--service-account-issuer=https://127.0.0.1:" + strconv.Itoa(apiPort),
		"--service-account-key-file=" + pki.saPub,
		"--service-account-signing-key-file=" + pki.saKey,
		"--service-cluster-ip-range=" + o.serviceCIDR,
		"--service-node-port-range=" + o.nodePortRange,
		"--authorization-mode=RBAC",
		"--allow-privileged=true",
		"--disable-admission-plugins=ServiceAccount",
		"--v=" + strconv.Itoa(o.verbosity),
	}
}

// waitReady polls /readyz and then the default namespace, failing early if the server exits.
func waitReady(ctx context.Context, client *http.Client, server string, apiDone <-chan error) error {
	for _, path := range []string{"/readyz", "/api/v1/namespaces/default"} {
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, server+path, nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case err := <-apiDone:
				return fmt.Errorf("kube-apiserver exited before it was ready: %v", err)
			case <-ctx.Done():
				return fmt.Errorf("waiting for %s: %w", path, ctx.Err())
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

func (p *pki) adminHTTPClient() (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(p.adminCert, p.adminKey)
	if err != nil {
		return nil, fmt.Errorf("load admin certificate: %w", err)
	}
	caPEM, err := os.ReadFile(p.caCert)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	return &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}}},
	}, nil
}

// writeKubeconfig writes an admin kubeconfig with embedded credentials, atomically.
// JSON is valid YAML, so kubectl and kube-rs read it as a kubeconfig.
func writeKubeconfig(path, server string, p *pki) error {
	read := func(f string) ([]byte, error) { return os.ReadFile(f) }
	ca, err := read(p.caCert)
	if err != nil {
		return err
	}
	cert, err := read(p.adminCert)
	if err != nil {
		return err
	}
	key, err := read(p.adminKey)
	if err != nil {
		return err
	}
	cfg := map[string]any{
		"apiVersion":      "v1",
		"kind":            "Config",
		"current-context": "testenv",
		"clusters": []any{map[string]any{"name": "testenv", "cluster": map[string]any{
			"server": server, "certificate-authority-data": ca,
		}}},
		"users": []any{map[string]any{"name": "admin", "user": map[string]any{
			"client-certificate-data": cert, "client-key-data": key,
		}}},
		"contexts": []any{map[string]any{"name": "testenv", "context": map[string]any{
			"cluster": "testenv", "user": "admin", "namespace": "default",
		}}},
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	w, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	_, err = bw.Write(data)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write kubeconfig: %w", err)
	}
	return os.Rename(tmp, path)
}
