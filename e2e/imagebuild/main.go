// Command imagebuild writes an OCI image archive of the aksnet operator without a container
// engine: one layer holding the binary, the shared libraries it links and a CA bundle (what a
// distroless "cc" base holds), a config that runs it as a non-root user, and OCI labels.
// The archive is an OCI image layout in a tar file (`oci-archive:` for skopeo and podman).
//
//	imagebuild --binary target/image/aksnet-operator --out dist/aksnet-operator.oci.tar \
//	    --tag ghcr.io/aksnet/aksnet-operator:0.1.0 --version 0.1.0 --revision <git sha>
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The user and group the operator runs as (distroless's "nonroot").
const nonRoot = "65532:65532"

// The path of the binary in the image.
const entrypoint = "/aksnet-operator"

func main() {
	binary := flag.String("binary", "", "the operator binary to put in the image")
	out := flag.String("out", "", "the OCI archive (.tar) to write")
	tag := flag.String("tag", "", "the image reference, e.g. ghcr.io/aksnet/aksnet-operator:0.1.0")
	version := flag.String("version", "", "the version (org.opencontainers.image.version)")
	revision := flag.String("revision", "", "the source revision (org.opencontainers.image.revision)")
	flag.Parse()
	if *binary == "" || *out == "" || *tag == "" || *version == "" {
		fmt.Fprintln(os.Stderr, "imagebuild: --binary, --out, --tag and --version are required")
		os.Exit(2)
	}
	if err := build(*binary, *out, *tag, *version, *revision); err != nil {
		fmt.Fprintf(os.Stderr, "imagebuild: %v\n", err)
		os.Exit(1)
	}
}

// A file of the layer: where it is read from, and where it goes in the image.
type file struct {
	from, to string
	mode     int64
}

func build(binary, out, tag, version, revision string) error {
	files := []file{{from: binary, to: entrypoint, mode: 0o755}}
	libs, err := sharedLibraries(binary)
	if err != nil {
		return err
	}
	for _, lib := range libs {
		files = append(files, file{from: lib, to: lib, mode: 0o755})
	}
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		files = append(files, file{from: "/etc/ssl/certs/ca-certificates.crt", to: "/etc/ssl/certs/ca-certificates.crt", mode: 0o644})
	}
	layerTar, err := layerOf(files)
	if err != nil {
		return err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return fmt.Errorf("layer: %w", err)
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return fmt.Errorf("append layer: %w", err)
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cfg, err := img.ConfigFile()
	if err != nil {
		return err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	cfg.Config.User = nonRoot
	cfg.Config.Entrypoint = []string{entrypoint}
	cfg.Config.Env = []string{"SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"}
	cfg.Config.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	cfg.Config.Labels = map[string]string{
		"org.opencontainers.image.title":       "aksnet-operator",
		"org.opencontainers.image.description": "Makes an Azure network follow a Kubernetes cluster",
		"org.opencontainers.image.version":     version,
		"org.opencontainers.image.revision":    revision,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.source":      "https://github.com/aksnet/aksnet",
		"org.opencontainers.image.ref.name":    tag,
	}
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return writeArchive(img, out, tag)
}

// sharedLibraries lists the shared libraries `ldd` says the binary loads (with the loader).
func sharedLibraries(binary string) ([]string, error) {
	out, err := exec.Command("ldd", binary).Output()
	if err != nil {
		var exit *exec.ExitError
		if errors.As(err, &exit) && strings.Contains(string(exit.Stderr), "not a dynamic executable") {
			return nil, nil // static: nothing to add
		}
		return nil, fmt.Errorf("ldd %s: %w", binary, err)
	}
	path := regexp.MustCompile(`(/\S+)`)
	var libs []string
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "linux-vdso") {
			continue
		}
		if m := path.FindString(line); m != "" {
			libs = append(libs, m)
		}
	}
	sort.Strings(libs)
	return libs, nil
}

// layerOf is a tar of the files (and their parent directories), with fixed times and owners
// so the same inputs give the same layer digest.
func layerOf(files []file) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	epoch := time.Unix(0, 0).UTC()
	for _, f := range files {
		var parents []string
		for d := filepath.Dir(f.to); d != "/" && !dirs[d]; d = filepath.Dir(d) {
			parents = append([]string{d}, parents...)
			dirs[d] = true
		}
		for _, d := range parents {
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: epoch}); err != nil {
				return nil, err
			}
		}
		data, err := os.ReadFile(f.from)
		if err != nil {
			return nil, err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(f.to, "/"), Mode: f.mode, Size: int64(len(data)), ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(data); err != nil {
			return nil, err
		}
	}
	// /tmp for libraries that want one; the root file system is read-only in the Deployment.
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777, ModTime: epoch}); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeArchive writes img as an OCI image layout, tarred into out.
func writeArchive(img v1.Image, out, tag string) error {
	dir, err := os.MkdirTemp("", "imagebuild-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	if err := path.AppendImage(img, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		return fmt.Errorf("layout: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return tarDir(dir, out)
}

// tarDir writes the files under dir into the tar file out, paths relative to dir.
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.ModTime = time.Unix(0, 0).UTC()
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if info.IsDir() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}
