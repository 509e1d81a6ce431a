package main

import (
	"archive/tar"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// TestArchive reads the archive `make image` wrote (AKSNET_IMAGE_ARCHIVE): its index names the
// tag, its config runs the binary as a non-root user with OCI labels, and the binary taken
// from its layer answers --version with the version of the labels.
func TestArchive(t *testing.T) {
	archive, version := os.Getenv("AKSNET_IMAGE_ARCHIVE"), os.Getenv("AKSNET_VERSION")
	if archive == "" || version == "" {
		t.Fatal("AKSNET_IMAGE_ARCHIVE and AKSNET_VERSION must be set (run through `make test-image`)")
	}
	dir := t.TempDir()
	untar(t, archive, dir)
	index, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("not an OCI layout: %v", err)
	}
	manifest, err := index.IndexManifest()
	if err != nil || len(manifest.Manifests) != 1 {
		t.Fatalf("one image in the index: %v %+v", err, manifest)
	}
	desc := manifest.Manifests[0]
	ref := desc.Annotations["org.opencontainers.image.ref.name"]
	if !strings.HasSuffix(ref, ":"+version) {
		t.Errorf("the image is tagged with its version, not %q", ref)
	}
	img, err := index.Image(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.User != "65532:65532" {
		t.Errorf("runs as non-root 65532:65532, not %q", cfg.Config.User)
	}
	if got := strings.Join(cfg.Config.Entrypoint, " "); got != "/aksnet-operator" {
		t.Errorf("entrypoint %q", got)
	}
	for key, want := range map[string]string{
		"org.opencontainers.image.version": version,
		"org.opencontainers.image.title":   "aksnet-operator",
	} {
		if got := cfg.Config.Labels[key]; got != want {
			t.Errorf("label %s = %q, want %q", key, got, want)
		}
	}
	if cfg.Config.Labels["org.opencontainers.image.revision"] == "" {
		t.Error("label org.opencontainers.image.revision is empty")
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("one layer: %v", err)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	root := t.TempDir()
	found := map[string]bool{}
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		found[hdr.Name] = true
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		writeFile(t, filepath.Join(root, hdr.Name), tr, os.FileMode(hdr.Mode))
	}
	for _, want := range []string{"aksnet-operator", "etc/ssl/certs/ca-certificates.crt"} {
		if !found[want] {
			t.Errorf("%s is not in the layer", want)
		}
	}
	out, err := exec.Command(filepath.Join(root, "aksnet-operator"), "--version").CombinedOutput()
	if err != nil {
		t.Fatalf("--version: %v: %s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != "aksnet-operator "+version {
		t.Errorf("--version says %q", got)
	}
}

func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			writeFile(t, filepath.Join(dir, hdr.Name), tr, 0o644)
		}
	}
}

func writeFile(t *testing.T, path string, r io.Reader, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, r); err != nil {
		t.Fatal(err)
	}
}
