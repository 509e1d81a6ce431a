// Command kstatus prints the verdict of Flux's status library (sigs.k8s.io/cli-utils kstatus)
// for each Kubernetes object it reads: a JSON array of objects on stdin, one line
// `<status>\t<message>` per object on stdout. The e2e tests feed it AksNetworks the operator
// wrote, to check that Flux reads them as docs/gitops.md says.
package main

import (
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/json"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

func main() {
	if err := run(os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "kstatus: %v\n", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer) error {
	data, err := io.ReadAll(in)
	if err != nil {
		return err
	}
	// apimachinery's decoder keeps whole numbers int64, as unstructured objects need.
	var objects []map[string]interface{}
	if err := json.Unmarshal(data, &objects); err != nil {
		return fmt.Errorf("stdin is not a JSON array of objects: %w", err)
	}
	for i, o := range objects {
		res, err := status.Compute(&unstructured.Unstructured{Object: o})
		if err != nil {
			return fmt.Errorf("object %d: %w", i, err)
		}
		fmt.Fprintf(out, "%s\t%s\n", res.Status, res.Message)
	}
	return nil
}
