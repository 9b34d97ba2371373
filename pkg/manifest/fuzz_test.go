package manifest

import (
	"bytes"
	"os"
	"testing"
)

// FuzzRead: any input ends in objects or in an error naming the source, never in a panic, and
// an error returns nothing half-read.
func FuzzRead(f *testing.F) {
	for _, seed := range []string{
		"apiVersion: v1\nkind: Pod\nmetadata: {name: a}\nspec: {containers: [{name: c, image: i}]}\n",
		"---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n  metadata: {name: d}\n",
		`{"apiVersion":"batch/v1","kind":"CronJob","metadata":{"name":"c"},"spec":{"schedule":"* * * * *"}}`,
		"apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
	} {
		f.Add([]byte(seed))
	}
	if data, err := os.ReadFile("../../cmd/webhook/testdata/legacy-mix.yaml"); err == nil {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objects, _, err := Read(bytes.NewReader(data), "fuzz.yaml", "default")
		if err != nil {
			if objects != nil {
				t.Fatalf("error %v with %d objects", err, len(objects))
			}
			if !bytes.Contains([]byte(err.Error()), []byte("fuzz.yaml")) {
				t.Fatalf("error does not name the source: %v", err)
			}
			return
		}
		for _, o := range objects {
			if o.Pod == nil || o.Pod.Namespace == "" {
				t.Fatalf("object without a pod or namespace: %+v", o)
			}
		}
	})
}
