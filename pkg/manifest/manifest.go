// Package manifest reads Kubernetes manifests offline and returns the pods their workloads
// would create, for the `convert` command.
//
// Why: the advisor learns a policy from the pods the API server admits. Offline there is no API
// server and no controllers, so this package plays their part as far as the pod's security
// attributes are concerned: it finds every pod template in a manifest (Deployments,
// StatefulSets, CronJobs, bare Pods, …) and builds the pod a controller would submit from it.
// The API server's own changes to that pod (service-account token volume, host ports of
// hostNetwork pods, …) are the job of package defaulting, which the caller applies next.
//
// Input is what `kubectl apply -f` takes: multi-document YAML separated by `---` lines, or
// JSON (one object or a stream of concatenated objects), with `kind: List` (and typed lists such
// as PodList) expanded into their items. Decoding is strict, like `kubectl apply`'s default
// server-side field validation: unknown fields, duplicate fields and values of the wrong type
// in the workload kinds are errors, because a policy learned from a misread manifest would be
// wrong without anyone noticing.
package manifest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/pod-security-advisor/pod-security-advisor/pkg/owner"
)

// Object is one pod template found in a manifest, as a pod the API server would create.
type Object struct {
	// Source is the file name the object was read from ("-" for stdin).
	Source string
	// Document is the 1-based number of the YAML document (or JSON object) within Source. For
	// the items of a List it is the number of the List.
	Document int
	// Owner is the manifest object's own kind and name: offline, the manifest is the workload
	// (a Deployment's pods are owned by the Deployment, a CronJob's by the CronJob).
	Owner owner.Ref
	// Pod is the pod built from the template: namespace (the object's, else the default
	// namespace), name (the owner's name), labels and annotations from the template metadata,
	// and the template's spec.
	Pod *corev1.Pod
}

// Skipped names a document of a kind that has no pod template.
type Skipped struct {
	Source           string
	Document         int
	APIVersion, Kind string
	Name             string
}

// DefaultNamespace is the namespace used when neither the object nor the caller names one, as
// kubectl does without a context namespace.
const DefaultNamespace = "default"

// Read parses every document in r and returns the pod templates in input order, and the
// documents skipped because their kind has no pod template. Documents that are empty (only
// comments or whitespace, or null) are ignored.
//
// source names the input in Objects, Skipped entries and errors ("-" is shown as "stdin" in
// errors). defaultNamespace applies to objects without metadata.namespace; when empty,
// "default" is used.
//
// Any malformed document fails the whole read: the error names the source and document (and
// the item for Lists), and no objects are returned, so a caller never learns from part of a
// file.
func Read(r io.Reader, source, defaultNamespace string) ([]Object, []Skipped, error) {
	if defaultNamespace == "" {
		defaultNamespace = DefaultNamespace
	}
	display := source
	if display == "-" {
		display = "stdin"
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", display, err)
	}
	rd := reader{source: source, namespace: defaultNamespace}
	err = documents(data, func(number int, doc []byte) error {
		return rd.document(number, doc, nil)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", display, err)
	}
	return rd.objects, rd.skipped, nil
}

// reader collects the results of one Read.
type reader struct {
	source    string
	namespace string
	objects   []Object
	skipped   []Skipped
}

// itemPath is the position of a List item: item numbers from the outermost List inwards.
type itemPath []int

func where(doc int, items itemPath) string {
	var b strings.Builder
	fmt.Fprintf(&b, "document %d", doc)
	for _, i := range items {
		fmt.Fprintf(&b, ", item %d", i)
	}
	return b.String()
}

// header is the part of an object read before its kind is known.
type header struct {
	APIVersion string
	Kind       string
	Name       string
	fields     map[string]json.RawMessage
}

func readHeader(data []byte) (header, error) {
	var h header
	if err := json.Unmarshal(data, &h.fields); err != nil {
		return h, errors.New("not an object: a manifest document must be a mapping with apiVersion and kind")
	}
	str := func(m map[string]json.RawMessage, key, path string) (string, error) {
		raw, ok := m[key]
		if !ok || string(raw) == "null" {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", fmt.Errorf("%s must be a string, not %s", path, raw)
		}
		return s, nil
	}
	var err error
	if h.APIVersion, err = str(h.fields, "apiVersion", "apiVersion"); err != nil {
		return h, err
	}
	if h.Kind, err = str(h.fields, "kind", "kind"); err != nil {
		return h, err
	}
	if raw, ok := h.fields["metadata"]; ok && string(raw) != "null" {
		var meta map[string]json.RawMessage
		if err := json.Unmarshal(raw, &meta); err != nil {
			return h, fmt.Errorf("metadata must be an object, not %s", raw)
		}
		if h.Name, err = str(meta, "name", "metadata.name"); err != nil {
			return h, err
		}
		if h.Name == "" {
			if h.Name, err = str(meta, "generateName", "metadata.generateName"); err != nil {
				return h, err
			}
		}
	}
	return h, nil
}

// document handles one top-level document or List item, given as JSON.
func (rd *reader) document(number int, data []byte, items itemPath) error {
	at := where(number, items)
	h, err := readHeader(data)
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	switch {
	case h.APIVersion == "" && h.Kind == "":
		return fmt.Errorf("%s: apiVersion and kind are not set", at)
	case h.APIVersion == "":
		return fmt.Errorf("%s: %s: apiVersion is not set", at, h.Kind)
	case h.Kind == "":
		return fmt.Errorf("%s: apiVersion %s: kind is not set", at, h.APIVersion)
	}
	gv, err := schema.ParseGroupVersion(h.APIVersion)
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	if rawItems, hasItems := h.fields["items"]; h.Kind == "List" || hasItems && strings.HasSuffix(h.Kind, "List") {
		return rd.list(number, items, h, rawItems)
	}
	gvk := gv.WithKind(h.Kind)
	build, known := podTemplateKinds[gvk]
	if !known {
		if served, ok := servedVersion[h.Kind]; ok && workloadGroups[gv.Group] {
			return fmt.Errorf("%s: %s %s is not served by Kubernetes 1.30 and later; use apiVersion %s", at, h.APIVersion, h.Kind, served)
		}
		rd.skipped = append(rd.skipped, Skipped{Source: rd.source, Document: number, APIVersion: h.APIVersion, Kind: h.Kind, Name: h.Name})
		return nil
	}
	obj, _, err := decoder.Decode(data, nil, nil)
	if err != nil {
		return fmt.Errorf("%s: %s: %s", at, h.Kind, cleanDecodeError(err))
	}
	meta, err := metaOf(obj)
	if err != nil {
		return fmt.Errorf("%s: %w", at, err)
	}
	name := meta.Name
	if name == "" {
		name = strings.TrimSuffix(meta.GenerateName, "-")
	}
	if name == "" {
		return fmt.Errorf("%s: %s: metadata.name is not set", at, h.Kind)
	}
	tmpl, err := build(obj)
	if err != nil {
		return fmt.Errorf("%s: %s %s: %w", at, h.Kind, name, err)
	}
	ns := meta.Namespace
	if ns == "" {
		ns = rd.namespace
	}
	pod := &corev1.Pod{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Pod"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Namespace:   ns,
			Labels:      tmpl.Labels,
			Annotations: tmpl.Annotations,
		},
		Spec: tmpl.Spec,
	}
	rd.objects = append(rd.objects, Object{
		Source:   rd.source,
		Document: number,
		Owner:    owner.Ref{Kind: h.Kind, Name: name},
		Pod:      pod,
	})
	return nil
}

// list expands a List (v1 List, or a typed list such as PodList or DeploymentList). Items of a
// typed list may omit apiVersion and kind, as the API server's list responses do; they are
// taken from the list.
func (rd *reader) list(number int, items itemPath, h header, rawItems json.RawMessage) error {
	var elems []json.RawMessage
	if rawItems == nil {
		return nil // a List without items
	}
	if err := json.Unmarshal(rawItems, &elems); err != nil {
		return fmt.Errorf("%s: %s: items must be a list, not %s", where(number, items), h.Kind, abbreviate(rawItems))
	}
	itemKind := ""
	if h.Kind != "List" {
		itemKind = strings.TrimSuffix(h.Kind, "List")
	}
	for i, elem := range elems {
		path := append(append(itemPath{}, items...), i+1)
		if string(elem) == "null" {
			continue
		}
		if itemKind != "" {
			var err error
			if elem, err = withTypeMeta(elem, h.APIVersion, itemKind); err != nil {
				return fmt.Errorf("%s: %w", where(number, path), err)
			}
		}
		if err := rd.document(number, elem, path); err != nil {
			return err
		}
	}
	return nil
}

// withTypeMeta fills in apiVersion and kind of a typed list's item where the item omits them.
func withTypeMeta(item json.RawMessage, apiVersion, kind string) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(item, &fields); err != nil {
		return nil, errors.New("not an object: a list item must be a mapping")
	}
	changed := false
	for key, value := range map[string]string{"apiVersion": apiVersion, "kind": kind} {
		if raw, ok := fields[key]; !ok || string(raw) == "null" {
			fields[key], _ = json.Marshal(value)
			changed = true
		}
	}
	if !changed {
		return item, nil
	}
	return json.Marshal(fields)
}

func abbreviate(raw []byte) string {
	const max = 40
	if len(raw) > max {
		return string(raw[:max]) + "…"
	}
	return string(raw)
}

// decoder decodes the kinds with pod templates, strictly (unknown and duplicate fields are
// errors) and without defaulting or conversion: the pod is what the manifest says, and package
// defaulting adds what the API server would.
var decoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// cleanDecodeError trims the serializer's wrapping so the message says what is wrong.
//
//	json: cannot unmarshal string into Go struct field PodSpec.spec.hostNetwork of type bool
//
// becomes "cannot unmarshal string into field spec.hostNetwork of type bool".
func cleanDecodeError(err error) string {
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return goStructField.ReplaceAllString(msg, "field ")
}

var goStructField = regexp.MustCompile(`Go struct field [A-Za-z0-9_]+\.`)

func metaOf(obj runtime.Object) (*metav1.ObjectMeta, error) {
	type hasMeta interface{ GetObjectMeta() metav1.Object }
	m, ok := obj.(hasMeta)
	if !ok {
		return nil, fmt.Errorf("unexpected object %T", obj)
	}
	om, ok := m.GetObjectMeta().(*metav1.ObjectMeta)
	if !ok {
		return nil, fmt.Errorf("unexpected metadata in %T", obj)
	}
	return om, nil
}

// podTemplateKinds are the kinds that create pods, with how to get the pod template from each.
// Only the versions served by Kubernetes 1.30 and later are listed.
var podTemplateKinds = map[schema.GroupVersionKind]func(runtime.Object) (*corev1.PodTemplateSpec, error){
	corev1.SchemeGroupVersion.WithKind("Pod"): func(o runtime.Object) (*corev1.PodTemplateSpec, error) {
		p := o.(*corev1.Pod)
		return &corev1.PodTemplateSpec{ObjectMeta: p.ObjectMeta, Spec: p.Spec}, nil
	},
	corev1.SchemeGroupVersion.WithKind("PodTemplate"): func(o runtime.Object) (*corev1.PodTemplateSpec, error) {
		return &o.(*corev1.PodTemplate).Template, nil
	},
	corev1.SchemeGroupVersion.WithKind("ReplicationController"): func(o runtime.Object) (*corev1.PodTemplateSpec, error) {
		if t := o.(*corev1.ReplicationController).Spec.Template; t != nil {
			return t, nil
		}
		return nil, errors.New("spec.template is not set")
	},
	appsv1.SchemeGroupVersion.WithKind("Deployment"): func(o runtime.Object) (*corev1.PodTemplateSpec, error) {
		return &o.(*appsv1.Deployment).Spec.Template, nil
	},
	appsv1.SchemeGroupVersion.WithKind("ReplicaSet"): func(o runtime.Object) (*corev1.PodTemplateSpec, error) {
		return &o.(*appsv1.ReplicaSet).Spec.Template, nil
	},
	appsv1.SchemeGroupVersion.WithKind("DaemonSet"): func(o runtime.Object) (*corev1.PodTemplateSpec, error) {
		return &o.(*appsv1.DaemonSet).Spec.Template, nil
	},
	appsv1.SchemeGroupVersion.WithKind("StatefulSet"): func(o runtime.Object) (*corev1.PodTemplateSpec, error) {
		return statefulSetPodTemplate(o.(*appsv1.StatefulSet)), nil
	},
	batchv1.SchemeGroupVersion.WithKind("Job"): func(o runtime.Object) (*corev1.PodTemplateSpec, error) {
		return &o.(*batchv1.Job).Spec.Template, nil
	},
	batchv1.SchemeGroupVersion.WithKind("CronJob"): func(o runtime.Object) (*corev1.PodTemplateSpec, error) {
		return &o.(*batchv1.CronJob).Spec.JobTemplate.Spec.Template, nil
	},
}

// servedVersion is the apiVersion of each pod-template kind, for a clear error when a manifest
// uses one that has been removed (extensions/v1beta1 Deployment, batch/v1beta1 CronJob, …).
var servedVersion = func() map[string]string {
	m := map[string]string{}
	for gvk := range podTemplateKinds {
		m[gvk.Kind] = gvk.GroupVersion().String()
	}
	return m
}()

// workloadGroups are the API groups the pod-template kinds have ever been served from. A kind
// such as Job in another group (batch.volcano.sh) is someone's custom resource and is skipped.
var workloadGroups = map[string]bool{"": true, "apps": true, "extensions": true, "batch": true}

// statefulSetPodTemplate returns the template with the volumes the StatefulSet controller adds:
// one persistentVolumeClaim volume per volumeClaimTemplate, named like the template, replacing
// any template volume of the same name (pkg/controller/statefulset, updateStorage). The volume
// type is a policy attribute, and these volumes never appear in the pod template itself. The
// claim is the one of the first replica, <template>-<statefulset>-<ordinal>.
func statefulSetPodTemplate(set *appsv1.StatefulSet) *corev1.PodTemplateSpec {
	t := set.Spec.Template.DeepCopy()
	if len(set.Spec.VolumeClaimTemplates) == 0 {
		return t
	}
	ordinal := int32(0)
	if set.Spec.Ordinals != nil {
		ordinal = set.Spec.Ordinals.Start
	}
	claims := map[string]bool{}
	var volumes []corev1.Volume
	for _, c := range set.Spec.VolumeClaimTemplates {
		if claims[c.Name] {
			continue
		}
		claims[c.Name] = true
		volumes = append(volumes, corev1.Volume{
			Name: c.Name,
			VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{
				ClaimName: c.Name + "-" + set.Name + "-" + strconv.Itoa(int(ordinal)),
			}},
		})
	}
	for _, v := range t.Spec.Volumes {
		if !claims[v.Name] {
			volumes = append(volumes, v)
		}
	}
	t.Spec.Volumes = volumes
	return t
}

// documents splits a manifest into documents with apimachinery's YAML reader, the one kubectl
// uses, and calls fn with each document as JSON and its number, in input order. It stops at the
// first error.
//
// Documents are the chunks the reader returns, numbered from 1: the text before the first
// `---` line, between two of them and after the last. A chunk holding only comments or blank
// lines (or null) counts but is skipped; `---` lines with nothing at all between them, or on
// the first line, do not add a document. A `---` line followed by anything but a comment is an
// error, as in kubectl, reported for the document the reader was reading. A chunk is parsed as
// one YAML document, so text after a `...` end marker up to the next `---` is ignored, as by
// kubectl. The reader reads CRLF line ends; a UTF-8 byte order mark is dropped first.
//
// Input that is a single chunk starting with "{" is a JSON stream: one or more concatenated
// objects, numbered in order. If its first object is not valid JSON, the chunk is read as YAML
// (a YAML flow mapping also starts with "{"), and if that fails too the JSON error is reported.
func documents(data []byte, fn func(number int, doc []byte) error) error {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var chunks [][]byte
	var readErr error
	for {
		chunk, err := reader.Read()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				readErr = fmt.Errorf("document %d: %w", len(chunks)+1, err)
			}
			break
		}
		chunks = append(chunks, chunk)
	}
	if len(chunks) == 1 && readErr == nil && utilyaml.IsJSONBuffer(chunks[0]) {
		return jsonDocuments(chunks[0], fn)
	}
	for i, chunk := range chunks {
		if err := yamlDocument(i+1, chunk, fn); err != nil {
			return err
		}
	}
	return readErr
}

// yamlDocument converts one YAML document to JSON, strictly (duplicate keys are errors).
func yamlDocument(number int, chunk []byte, fn func(int, []byte) error) error {
	doc, err := yaml.YAMLToJSONStrict(chunk)
	if err != nil {
		msg := strings.TrimPrefix(err.Error(), "error converting YAML to JSON: ")
		msg = strings.TrimPrefix(msg, "yaml: ")
		// "unmarshal errors:\n  line 7: key \"spec\" already set in map" on one line.
		msg = strings.TrimPrefix(msg, "unmarshal errors:\n  ")
		msg = strings.ReplaceAll(msg, "\n  ", "; ")
		msg = yamlLine.ReplaceAllString(msg, "line $1 of the document:")
		return fmt.Errorf("document %d: invalid YAML: %s", number, msg)
	}
	if string(doc) == "null" {
		return nil
	}
	return fn(number, doc)
}

// yamlLine is a line number in a YAML parser message; they count from the document's start.
var yamlLine = regexp.MustCompile(`\bline (\d+):`)

// jsonDocuments reads a stream of concatenated JSON values.
func jsonDocuments(text []byte, fn func(int, []byte) error) error {
	dec := json.NewDecoder(bytes.NewReader(text))
	for n := 1; ; n++ {
		start := dec.InputOffset()
		var raw json.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			if n == 1 {
				if _, yamlErr := yaml.YAMLToJSONStrict(text); yamlErr == nil {
					return yamlDocument(1, text, fn)
				}
			}
			msg := strings.TrimPrefix(err.Error(), "json: ")
			var syntax *json.SyntaxError
			if errors.As(err, &syntax) {
				object := bytes.TrimLeft(text[start:syntax.Offset], " \t\r\n")
				msg = fmt.Sprintf("line %d of the document: %s", 1+bytes.Count(object, []byte("\n")), msg)
			}
			return fmt.Errorf("document %d: invalid JSON: %s", n, msg)
		}
		if string(raw) == "null" {
			continue
		}
		if err := fn(n, raw); err != nil {
			return err
		}
	}
}
